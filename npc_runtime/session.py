"""One Converse stream: listening → thinking → speaking, barge-in, turn ids.

The session owns the per-conversation state (endpointer, history, the running
turn) and turns client events into turns. Shared models live in the Runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import enum
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .asr.transcriber import Transcript
from .asr.vad import (
    Endpointer,
    EndpointerConfig,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
)
from .audio import ASR_RATE, AudioFormatError, StreamResampler, pcm16_to_float, samples_to_ms
from .characters import Character
from .embodiment import Acted, Embodiment, Sensed, describe_report
from .emotion import Mood, Stimulus, trigger_stimulus
from .events import (
    ActionCommandOut,
    ActionResultIn,
    AudioEndIn,
    AudioIn,
    AudioOut,
    ClientIn,
    EmotionOut,
    ErrorCode,
    ErrorOut,
    GameTimeIn,
    InterruptIn,
    PlaybackIn,
    SceneUpdateIn,
    ServerOut,
    SessionReadyOut,
    SessionStartIn,
    SpeechStartedOut,
    TextIn,
    TextOut,
    TranscriptOut,
    TriggerIn,
    TurnCause,
)
from .llm.primer import PromptPrimer
from .llm.prompt import Exchange, history_window
from .memory import Recall
from .outbox import Outbox
from .scene.registry import SceneInbox
from .turn import Emitter, Turn, TurnConfig, TurnRequest, heard_text, recall_for
from .world import Perception, PlanReport, SceneDelta, SceneError, SceneSnapshot

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)


class SessionState(enum.Enum):
    LISTENING = "listening"  # waiting for the player
    THINKING = "thinking"  # transcribing or generating; nothing sent yet
    SPEAKING = "speaking"  # the NPC's text and audio are going out
    CLOSED = "closed"


_TRANSITIONS: dict[SessionState, set[SessionState]] = {
    SessionState.LISTENING: {SessionState.THINKING, SessionState.CLOSED},
    SessionState.THINKING: {SessionState.SPEAKING, SessionState.LISTENING, SessionState.CLOSED},
    SessionState.SPEAKING: {SessionState.LISTENING, SessionState.CLOSED},
    SessionState.CLOSED: set(),
}


class SessionError(Exception):
    """A SessionStart the server cannot honour; carries the gRPC-style code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _RunningTurn:
    turn: Turn
    task: asyncio.Task[None]


@dataclass
class Session:
    runtime: Runtime
    character: Character
    start: SessionStartIn
    outbox: Outbox = field(init=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: SessionState = SessionState.LISTENING
    history: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.runtime.settings
        paced = s.tts.realtime_pacing and not self.start.unpaced_audio
        self.outbox = Outbox(s.tts.pacing_lead_ms if paced else None)
        self.input_rate = self.start.input_audio.sample_rate_hz
        self.output_rate = self.start.output_audio.sample_rate_hz
        silence = self.start.end_of_speech_silence_ms or s.asr.end_of_speech_silence_ms
        self.endpointer = Endpointer(
            self.runtime.vad,
            EndpointerConfig(
                threshold=s.asr.vad_threshold,
                min_speech_ms=s.asr.min_speech_ms,
                end_of_speech_silence_ms=silence,
                max_utterance_ms=s.asr.max_utterance_ms,
                # Push-to-talk ends utterances by release: nothing to speculate on.
                speculate_after_ms=0 if self.start.push_to_talk_only else s.asr.speculate_after_ms,
            ),
        )
        # Adaptive end of speech only when the client left the silence to the server.
        self._adaptive = not self.start.end_of_speech_silence_ms
        self._spec: _Speculation | None = None
        self.speculations = self.runtime.speculations
        self.silence_ms = silence
        self._resampler = StreamResampler(self.input_rate, ASR_RATE)
        self._ptt_audio: list[np.ndarray] = []
        self._turn: _RunningTurn | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._turn_seq = 0
        self._utt_seq = 0
        self._utterance_id = ""
        self._pending_player_text = ""
        # Listening ahead: what the player has said so far in this utterance.
        self._heard_so_far: _HeardSoFar | None = None
        self._speaking = False  # counted in runtime.players_speaking
        self._interim_task: asyncio.Task[None] | None = None
        self._interim_next_ms = 0
        # Primes the prompt again when its mood line changes (see _prime).
        self._mood_timer: asyncio.TimerHandle | None = None
        # The utterance in progress and when it began (time.time()): its primings and
        # its turn read the mood as it was then (_utterance_mood_at).
        self._mood_since: tuple[str, float] | None = None
        self._played: dict[str, PlaybackIn] = {}
        self.game_time_h: float | None = self.start.game_time_hours
        synth = None
        if not self.start.text_only:
            synth = self.runtime.synthesizer(self.character)
        # Anonymous players get a feeling of their own for this session only.
        self.player_key = self.start.player_id or f"session:{self.id}"
        self.mood = Mood(self.runtime.emotions, self.character, self.player_key)
        self._visemes_unavailable = ""
        visemes = None
        if self.start.visemes and synth is not None:
            if synth.has_alignments:
                visemes = self.runtime.visemes
            else:
                self._visemes_unavailable = (
                    f"visemes need phoneme alignments, which voice {synth.model_path.name} does "
                    "not give (install the onnx package, or set tts.alignments = true); audio is "
                    "sent without visemes and the session continues"
                )
        self.turn_config = TurnConfig(
            character=self.character,
            llm=self.runtime.llm,
            synthesizer=synth,
            voice=self.runtime.voice_settings(self.character),
            output_rate=self.output_rate,
            chunk_ms=s.tts.chunk_ms,
            first_piece_ms=s.tts.first_piece_ms,
            first_clause_chars=s.tts.first_clause_chars,
            first_clause_min_chars=s.tts.first_clause_min_chars or None,
            hold_llm_for_first_sentence=s.tts.hold_llm_for_first_sentence,
            max_tokens=s.llm.max_tokens,
            temperature=s.llm.temperature,
            max_say_chars=s.llm.max_say_chars,
            reply_order=s.llm.reply_order,
            mood=self.mood,
            visemes=visemes,
            memory=self.runtime.memory,
            player_key=self.player_key,
            recall_tokens=s.memory.recall_tokens,
            reply_timeout_s=s.llm.reply_timeout_s,
            tts_timeout_s=s.tts.timeout_s,
            primer=PromptPrimer(
                self.runtime.llm, self.runtime.primes, self.runtime.primes_in_flight
            )
            if s.llm.prime_prompts
            else None,
        )
        if self.start.resume_session_id:
            self.history = list(self.runtime.histories.get(self.start.resume_session_id, []))
        # This NPC in the client's scene; None until a scene arrives.
        self.body: Embodiment | None = None
        self.npc_id = self.start.npc_id or self.character.id
        self._scene_problem: tuple[ErrorCode, str] | None = None
        # The last turn that ended, for the designer view (GET /v1/sessions/{id}/debug).
        self.last_turn: Turn | None = None

    # --- lifecycle -------------------------------------------------------------

    async def prepare(self) -> None:
        """Load what this player and character share from the store: the conversation
        so far (so a reconnect, even to another server process, resumes it) and how
        the character feels about them. Call before open()."""
        memory = self.runtime.memory
        await self.runtime.emotions.load(self.character, self.player_key)
        if self.start.scene is not None:
            # A bad scene is reported after SessionReady; the session goes on without one.
            self._scene_problem = await self._enter(self.start.scene)
        if self.history or memory is None or not self.start.player_id:
            return
        lines = await memory.conversation(self.character.id, self.start.player_id)
        # All of it, not the last history_turns: the prompt's window drops old exchanges
        # in blocks counted from the start (history_window), so the next session's prompt
        # begins like this one's and the engine's cache still holds it.
        self.history = exchanges_from_lines(lines)

    def open(self) -> None:
        self.outbox.emit(
            SessionReadyOut(
                self.id,
                self.character.id,
                self.input_rate,
                self.output_rate,
                self.silence_ms,
                self.character,
            )
        )
        if self._visemes_unavailable:
            self._error(ErrorCode.FAILED_PRECONDITION, self._visemes_unavailable)
        if self._scene_problem is not None:
            self._error(*self._scene_problem)
        if self.start.greet and self.character.greeting:
            self._start_turn(
                TurnCause.GREETING, "", time.perf_counter(), fixed=self.character.greeting
            )
        self._prime()

    async def finish(self, farewell: ServerOut | None = None) -> None:
        """The client half-closed (or the server is shutting down): finish the
        utterance and turn in flight, send `farewell` if given, then close."""
        self._end_utterance_now()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.body is not None:
            await self.body.executor.drain()
        if farewell is not None:
            self.outbox.emit(farewell)
        self.close()

    async def abort(self) -> None:
        """The client went away: stop everything now."""
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.close()
        if self.body is not None:
            await self.body.executor.drain()  # results that arrived still happened
            await self.body.aclose()  # the NPC stops what it was doing; its world lives on

    def close(self) -> None:
        self._player_speaking(False)
        if self.state is not SessionState.CLOSED:
            self._to(SessionState.CLOSED)
        self.runtime.histories[self.id] = list(self.history)
        self.outbox.close()
        if self.turn_config.primer is not None:
            # A priming in flight is a one-token request: let it end on its own.
            self.turn_config.primer.forget()
        self._stop_mood_timer()

    def _prime(
        self, recall: str = "", history: list[Exchange] | None = None, words: str = ""
    ) -> None:
        """Send the next turn's prompt prefix ahead while this session's LLM is idle: it
        is in the engine's cache by the time the player has spoken. `history`: the
        history the next turn will have, given while a turn's audio is still playing."""
        primer = self.turn_config.primer
        if primer is None or self.state is SessionState.CLOSED:
            return
        if history is None and (self._turn is not None or self._spec is not None):
            return  # the turn (or the one prepared on a pause) primes when it ends
        if self._scene() is not None:  # the player's lines go to a scene, not this NPC
            return
        self._stop_mood_timer()
        window = history_window(self.history if history is None else history, self._history_len())
        sensed = self.body.sense() if self.body is not None else None
        scene = sensed.perception.summary if sensed is not None else ""
        # A history given ahead is for the next utterance: its mood is read when it begins.
        mood_at = self._utterance_mood_at() if history is None else None
        primer.prime(self.turn_config.request(window, words, scene, recall, mood_at=mood_at))
        if mood_at is not None:
            return  # the line holds until this utterance's turn has run: nothing to re-prime
        # The mood line fades on a clock, not on an event: prime the same prefix again
        # when it reads differently, or the next turn reads everything after it. With
        # the session's history by then: a history given ahead (a turn's audio still
        # playing) is the session's once that turn ends, and while it runs no priming
        # may compete with it.
        changes_in = self.mood.line_changes_in()
        if changes_in is not None:
            self._mood_timer = asyncio.get_running_loop().call_later(
                changes_in, self._prime, recall, None, words
            )

    def _utterance_mood_at(self, utterance_id: str | None = None) -> float | None:
        """When the utterance in progress began, the time its prompts read the mood at;
        None between utterances (the mood as it is).

        Why: the mood line sits before the recall and the player's words in the prompt,
        and a feeling often fades a notch within seconds of the reply that raised it
        ("very happy" → "happy"): while the player answers. Read at each request's own
        time, the line changed between the listening-ahead priming and the turn, and the
        turn then read the mood, the recall and the words again (bench: 2 of 20 turns,
        131-147 tokens, 0.7-0.9 s) or waited for them to be primed again. A few seconds
        less faded is the same feeling to the player, and anything felt since still
        shows (Mood.current)."""
        since = self._mood_since
        if since is None or since[0] != (
            self._utterance_id if utterance_id is None else utterance_id
        ):
            return None
        return since[1]

    def _stop_mood_timer(self) -> None:
        if self._mood_timer is not None:
            self._mood_timer.cancel()
            self._mood_timer = None

    # --- listening ahead ---------------------------------------------------------

    def _maybe_listen_ahead(self) -> None:
        """Every asr.interim_every_ms of speech, transcribe what was said so far and
        recall for it, and prime the prompt with that recall: by the end of speech the
        engine has read all of the turn's prompt but the player's own words."""
        every = self.runtime.settings.asr.interim_every_ms
        if (
            not every
            or self.turn_config.primer is None
            or self.turn_config.memory is None
            or self._turn is not None
            or self._spec is not None
            # In a pause: it may be the end, and Whisper then has the utterance to
            # transcribe at once (measured: a final transcript waited 114-153 ms for an
            # interim one begun as the player stopped).
            or not self.endpointer.voicing
            or (self._interim_task is not None and not self._interim_task.done())
            # The engine is still reading the last priming: a newer one would queue
            # behind it, and the ASR would compete with it for the cores.
            or self.turn_config.primer.busy
        ):
            return
        speech_ms = self.endpointer.speech_ms
        if speech_ms < self._interim_next_ms:
            return
        audio = self.endpointer.audio_so_far()
        if audio is None:
            return
        self._interim_next_ms = speech_ms + every
        self._interim_task = self._spawn(self._listen_ahead(audio, self._utterance_id))

    async def _listen_ahead(self, audio: np.ndarray, utterance_id: str) -> None:
        language = self.start.language or self.character.language
        result = await self.runtime.transcriber.transcribe(audio, language)
        text = result.text.strip()
        if not text or self._listen_ahead_late(utterance_id):
            return
        heard = self._heard_so_far
        # Room for the ~2 words said before the next interim: the utterance may end there.
        if (
            heard is not None
            and heard.utterance_id == utterance_id
            and interim_covers(heard.text, text, spare_words=2)
        ):
            # The recall made for the earlier words still serves these, and its prompt is
            # read already. A new one would change the prompt at the recall and have the
            # engine read ~120 tokens again, often still reading when the player stops
            # (measured: turns waited 230-540 ms for such a priming).
            return
        history = history_window(self.history, self._history_len())
        recall = await recall_for(self.turn_config, history, text, self.game_time_h)
        if recall is None or self._listen_ahead_late(utterance_id):
            return
        self._heard_so_far = _HeardSoFar(utterance_id, text, recall)
        # The words so far too, but the last (it may have been cut off mid-way): the
        # turn's prompt starts with them when the recall is reused.
        self._prime(recall.text, words=" ".join(text.split()[:-1]))

    def _listen_ahead_late(self, utterance_id: str) -> bool:
        """The utterance is over, or a speculation on a pause has made its own request:
        a priming sent now would only hold that turn up (measured: a turn waited 650 ms
        for a priming of a recall it did not use)."""
        return (
            utterance_id != self._utterance_id or self._turn is not None or self._spec is not None
        )

    def _early_recall(self, utterance_id: str, text: str) -> Recall | None:
        """The recall made while the player spoke, if it was for most of what they
        said: the prompt it primed is then all cached. A line that went on to say
        much more gets its own recall."""
        heard = self._heard_so_far
        if heard is None or heard.utterance_id != utterance_id:
            log.debug("session %s: no interim recall for %r", self.id, text)
            return None
        if not interim_covers(heard.text, text):
            log.debug("session %s: interim %r does not cover %r", self.id, heard.text, text)
            return None
        self.speculations.early_recalls += 1
        return heard.recall

    def _to(self, new: SessionState) -> None:
        if new is self.state:
            return
        if new not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"session {self.id}: no transition {self.state} → {new}")
        log.debug("session %s: %s → %s", self.id, self.state.value, new.value)
        self.state = new

    def _error(self, code: ErrorCode, message: str, turn_id: str = "") -> None:
        self.outbox.emit(ErrorOut(code, message, session_alive=True, turn_id=turn_id))

    def _spawn(self, coro: object) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- client events ---------------------------------------------------------

    async def handle(self, event: ClientIn) -> None:
        if self.state is SessionState.CLOSED:
            return
        match event:
            case AudioIn(pcm=pcm):
                await self._on_audio(pcm)
            case AudioEndIn():
                self._end_utterance_now()
            case TextIn(text=text):
                self._on_text(text)
            case PlaybackIn():
                self._played[event.turn_id] = event
            case InterruptIn(turn_id=turn_id):
                running = self._turn
                if running and (not turn_id or turn_id == running.turn.turn_id):
                    await self._barge_in("interrupted by the client")
                elif self.body is not None and (
                    not turn_id or turn_id == self.body.executor.turn_id
                ):
                    await self.body.cancel("interrupted by the client")
            case TriggerIn():
                await self._on_trigger(event)
            case GameTimeIn(hours=hours):
                self.game_time_h = hours
            case SceneUpdateIn():
                await self._on_scene_update(event)
            case ActionResultIn():
                if self.body is None or not self.body.on_result(event):
                    # Late results (after a timeout or cancel) are normal: not an error.
                    log.debug("session %s: no step waits for %s", self.id, event.command_id)

    # --- the world -----------------------------------------------------------------

    async def _trigger_actions(self, trigger: TriggerIn, actions: list[dict[str, str]]) -> None:
        """What the character file says the NPC does on this event, planned and
        checked like a reply's actions (so guards and the scene still rule)."""
        assert self.body is not None
        names = {
            "source": trigger.source_id or self.start.player_id,
            "player": self.start.player_id,
        }
        raw = [
            {k: v.format_map(_Blank(names)) if isinstance(v, str) else v for k, v in a.items()}
            for a in actions
        ]
        seen = self.body.sense().perception
        acted = await self.body.act(raw, seen, self.mood.relationship(), turn_id="")
        if acted.rejected or acted.lines:
            log.info(
                "trigger %s: %d action(s) rejected, refused: %s",
                trigger.name,
                acted.rejected,
                "; ".join(acted.lines) or "none",
            )

    async def _enter(self, snapshot: SceneSnapshot) -> tuple[ErrorCode, str] | None:
        """Join (or load) the snapshot's world; the problem to report, if any."""
        old = self.body
        try:
            body = await Embodiment.join(
                self.runtime.worlds,
                snapshot,
                self.character,
                self.npc_id,
                self.runtime.settings.world,
                self._emit_action,
                self._on_plan_report,
            )
        except SceneError as e:
            return ErrorCode.INVALID_ARGUMENT, f"scene rejected: {e}; the scene was not changed"
        if old is not None and old.world is not body.world:
            await old.aclose()
        self.body = body
        missing = body.missing_self()
        return (ErrorCode.FAILED_PRECONDITION, missing) if missing else None

    async def _on_scene_update(self, update: SceneUpdateIn) -> None:
        delta = update.delta
        problem: tuple[ErrorCode, str] | None = None
        if delta.replace is not None and (
            self.body is None or delta.replace.world_id != self.body.world.id
        ):
            problem = await self._enter(delta.replace)
        elif self.body is None:
            if not delta.world_id:
                problem = (
                    ErrorCode.FAILED_PRECONDITION,
                    "scene_update without a scene: this session has none yet; send the scene "
                    "in SessionStart.scene or a SceneUpdate with replace (or world_id of a "
                    "world another session loaded)",
                )
            else:
                problem = await self._enter(SceneSnapshot(delta.world_id))
                if problem is None:
                    problem = await self._apply(delta)
        else:
            problem = await self._apply(delta)
        if problem is not None:
            self._error(*problem)

    async def _apply(self, delta: SceneDelta) -> tuple[ErrorCode, str] | None:
        assert self.body is not None
        try:
            await self.body.update(delta)
        except SceneError as e:
            return (
                ErrorCode.INVALID_ARGUMENT,
                f"scene_update rejected: {e}; the scene was not changed",
            )
        return None

    def _emit_action(self, command: ActionCommandOut) -> None:
        self.outbox.emit(command)

    def _on_plan_report(self, report: PlanReport) -> None:
        log.info(
            "plan %s %s after %d steps%s",
            report.plan_id,
            report.status.value,
            report.steps_done,
            f": {report.reason}" if report.reason else "",
        )
        memory, player = self.runtime.memory, self.start.player_id
        if memory is None or not player or not report.intents:
            return
        self.runtime.writes.spawn(
            memory.remember_event(
                self.character,
                player,
                describe_report(report),
                importance=5.0,
                game_time_h=self.game_time_h,
            )
        )

    async def _on_trigger(self, trigger: TriggerIn) -> None:
        """A game event: the character feels it at once (an Emotion event outside any
        turn, so the face reacts before a word is said), the world records it (flags
        the character's guards read), memory keeps it, and when asked — by the game
        or by the character file — the NPC answers it."""
        spec = self.character.triggers.get(trigger.name)
        configured = None
        if spec is not None and spec.emotion is not None:
            configured = Stimulus(spec.emotion, spec.intensity, spec.trust, spec.affinity)
        try:
            stimulus, _why = trigger_stimulus(trigger.name, trigger.parameters, configured)
        except ValueError as e:
            self._error(ErrorCode.INVALID_ARGUMENT, str(e))
            return
        if stimulus is not None:
            state = self.mood.feel(stimulus)
            self.outbox.emit(
                EmotionOut("", state.category, state.intensity, state.trust, state.affinity)
            )
        react, hint, what = trigger.react, "", describe_event(trigger)
        importance = 7.0 if stimulus is not None else 4.0
        if self.body is not None:
            outcome = self.body.trigger(
                trigger.name, trigger.parameters, trigger.react, trigger.source_id
            )
            react, hint, what = outcome.react, outcome.line_hint, outcome.event.text
            if outcome.spec is not None:
                importance = float(outcome.importance)
                if outcome.spec.actions:
                    await self._trigger_actions(trigger, outcome.spec.actions)
        elif spec is not None:
            react, hint = trigger.react or spec.react, spec.line_hint
            importance = float(spec.importance)
        memory = self.runtime.memory
        if memory is not None and self.start.player_id:
            self.runtime.writes.spawn(
                memory.remember_event(
                    self.character,
                    self.start.player_id,
                    f"Event: {what}.",
                    importance=importance,
                    game_time_h=self.game_time_h,
                )
            )
        if react:
            reference = time.perf_counter()
            await self._barge_in(f"trigger {trigger.name}")
            self._start_turn(TurnCause.TRIGGER, describe_trigger(what, hint), reference)

    async def _on_audio(self, pcm: bytes) -> None:
        try:
            audio = pcm16_to_float(pcm)
        except AudioFormatError as e:
            self._error(ErrorCode.INVALID_ARGUMENT, str(e))
            return
        audio16 = self._resampler.push(audio)
        if self.start.push_to_talk_only:
            if not self._ptt_audio and audio.size:
                await self._on_speech_started(int(self.endpointer.stream_ms))
            self._ptt_audio.append(audio16)
            return
        events = await asyncio.to_thread(self.endpointer.feed, audio16)
        now = time.perf_counter()
        for ev in events:
            if isinstance(ev, SpeechStarted):
                await self._on_speech_started(ev.offset_ms)
            elif isinstance(ev, SpeechPaused):
                await self._on_pause(ev, now)
            elif isinstance(ev, SpeechResumed):
                await self._drop_speculation(ev.end_ms)
            elif isinstance(ev, SpeechEnded):
                self._on_utterance(ev, now)
        if self.endpointer.in_speech:
            self._maybe_listen_ahead()

    async def _on_speech_started(self, offset_ms: int) -> None:
        self._player_speaking(True)
        self._utt_seq += 1
        self._utterance_id = f"{self.id[:8]}-u{self._utt_seq}"
        await self._barge_in("the player started speaking")
        self.outbox.emit(SpeechStartedOut(self._utterance_id, offset_ms))
        self._heard_so_far = None
        self._interim_next_ms = self.runtime.settings.asr.interim_every_ms
        self._mood_since = (self._utterance_id, time.time())
        self._prime()  # refreshes a prefix the mood or the scene changed since

    def _end_utterance_now(self) -> None:
        """AudioEnd or half-close: whatever the player said so far is the utterance."""
        if self.start.push_to_talk_only:
            self._end_ptt_utterance()
            return
        ended = self.endpointer.flush()
        if ended is not None:
            self._on_utterance(ended, time.perf_counter())

    def _end_ptt_utterance(self) -> None:
        self._player_speaking(False)
        if not self._ptt_audio:
            return
        audio = np.concatenate(self._ptt_audio)
        self._ptt_audio = []
        n = audio.size
        ended = SpeechEnded(
            audio=audio,
            start_ms=0,
            end_ms=int(samples_to_ms(n, ASR_RATE)),
            endpoint_ms=int(samples_to_ms(n, ASR_RATE)),
            forced=True,
        )
        self._on_utterance(ended, time.perf_counter())

    def _on_text(self, text: str) -> None:
        text = text.strip()
        limit = self.runtime.settings.server.max_text_chars
        if not text:
            self._error(ErrorCode.INVALID_ARGUMENT, "TextInput.text is empty: send some words")
            return
        if len(text) > limit:
            self._error(
                ErrorCode.INVALID_ARGUMENT,
                f"TextInput.text has {len(text)} characters; the limit is {limit}. "
                "Split it or raise server.max_text_chars",
            )
            return
        self._spawn(self._text_turn(text))

    async def _text_turn(self, text: str) -> None:
        reference = time.perf_counter()
        await self._barge_in("the player sent text")
        self._start_turn(TurnCause.TEXT, text, reference)

    # --- utterances ------------------------------------------------------------

    def _player_speaking(self, speaking: bool) -> None:
        """Count this player in the runtime's speaking players (background work waits
        for none: see Runtime.reflect)."""
        if speaking != self._speaking:
            self._speaking = speaking
            self.runtime.players_speaking += 1 if speaking else -1

    def _on_utterance(self, ended: SpeechEnded, now: float) -> None:
        self._player_speaking(False)
        eos_ms = float(ended.endpoint_ms - ended.end_ms)
        reference = now - eos_ms / 1000.0
        utterance_id = self._utterance_id or f"{self.id[:8]}-u{self._utt_seq}"
        if self.state is SessionState.LISTENING:
            self._to(SessionState.THINKING)
        spec, self._spec = self._spec, None
        if spec is not None and spec.end_ms == ended.end_ms and not ended.forced:
            # The pause was the end: what was started on it is the answer.
            self.speculations.used += 1
            self._spawn(self._promote(spec, eos_ms))
            return
        if spec is not None:
            self._cancel_speculation(spec)
        self._spawn(self._transcribe(ended, utterance_id, reference, eos_ms))

    # --- speculation -------------------------------------------------------------

    async def _on_pause(self, paused: SpeechPaused, now: float) -> None:
        """Transcribe (and answer) what was said so far while waiting to see whether
        the pause is the end; nothing reaches the client before it is."""
        await self._drop_speculation()
        if self._turn is not None or self._pending_player_text or not self._utterance_id:
            return
        silence_ms = paused.paused_at_ms - paused.end_ms
        spec = _Speculation(
            end_ms=paused.end_ms,
            utterance_id=self._utterance_id,
            reference=now - silence_ms / 1000.0,
            held=_Held(self),
        )
        self._spec = spec
        self.speculations.started += 1
        if self._adaptive:
            # Hold the end until the transcript says how finished the utterance is:
            # the answer is being prepared meanwhile, so holding costs nothing.
            self.endpointer.utterance_silence_ms = max(
                self.silence_ms, self.runtime.settings.asr.incomplete_silence_ms
            )
        spec.task = self._spawn(self._speculate(spec, paused))

    async def _speculate(self, spec: _Speculation, paused: SpeechPaused) -> None:
        language = self.start.language or self.character.language
        result = await self.runtime.transcriber.transcribe(paused.audio, language)
        heard_at = time.perf_counter()
        spec.transcript.set_result(result)
        text = result.text.strip()
        if self._adaptive and self._spec is spec:
            self.endpointer.utterance_silence_ms = self._silence_after(text)
        if not text:
            return
        if not self.runtime.settings.asr.speculative_generation or self._scene() is not None:
            await spec.promoted.wait()
            return
        turn = self._new_turn(
            TurnCause.SPEECH,
            text,
            spec.reference,
            utterance_id=spec.utterance_id,
            asr_ms=result.elapsed_ms,
            emitter=spec.held,
            gate=spec.promoted,
        )
        turn.timings.speculative = True
        turn.timings.asr_wait_ms = result.waited_ms
        turn.timings.transcript_at_ms = (heard_at - spec.reference) * 1000.0
        spec.turn = turn
        await turn.run()  # events held until the utterance is final
        await spec.promoted.wait()  # cancelled instead when the player goes on
        self._prime_after(turn)
        await self._finish_turn(turn)

    def _silence_after(self, text: str) -> int | None:
        """The silence that ends this utterance, judged by how finished it sounds."""
        asr = self.runtime.settings.asr
        words = text.lower().rstrip(" .,!?…").split()
        # Whisper marks a trailing-off utterance with "..." and often drops the last
        # "and"/"with", so both count as unfinished.
        trailing_off = text.rstrip().endswith(("...", "…", ","))
        if (trailing_off or (words and words[-1] in _TRAILING_WORDS)) and asr.incomplete_silence_ms:
            return asr.incomplete_silence_ms
        if text.rstrip().endswith(("?", ".", "!")) and asr.complete_silence_ms:
            return asr.complete_silence_ms
        return None  # the configured end_of_speech_silence_ms

    async def _promote(self, spec: _Speculation, eos_ms: float) -> None:
        try:
            async with asyncio.timeout(self.runtime.settings.asr.timeout_s):
                result = await asyncio.shield(spec.transcript)
        except TimeoutError:
            self._cancel_speculation(spec)
            await self._asr_timed_out(spec.utterance_id, spec.reference, eos_ms)
            return
        text = result.text.strip()
        self.outbox.emit(
            TranscriptOut(spec.utterance_id, text, True, result.language, int(result.audio_ms))
        )
        if not text:
            if self._turn is None and self.state is SessionState.THINKING:
                self._to(SessionState.LISTENING)
            return
        if spec.turn is None:  # transcript only, or the turn not yet built
            if not self.runtime.settings.asr.speculative_generation or self._scene() is not None:
                spec.promoted.set()
                self._start_turn(
                    TurnCause.SPEECH,
                    text,
                    spec.reference,
                    utterance_id=spec.utterance_id,
                    eos_ms=eos_ms,
                    asr_ms=result.elapsed_ms,
                )
                return
            # _speculate builds the turn in the same step that sets the transcript,
            # so no turn here means the speculation was cancelled or failed.
            return
        turn = spec.turn
        turn.timings.end_of_speech_ms = eos_ms
        self._turn = _RunningTurn(turn, spec.task)
        spec.held.release()
        spec.promoted.set()

    async def _drop_speculation(self, end_ms: int | None = None) -> None:
        spec = self._spec
        if spec is None or (end_ms is not None and spec.end_ms != end_ms):
            return
        self._spec = None
        self._cancel_speculation(spec)
        with contextlib.suppress(asyncio.CancelledError):
            await spec.task

    def _cancel_speculation(self, spec: _Speculation) -> None:
        self.speculations.discarded += 1
        spec.task.cancel()
        if spec.turn is not None:
            self.outbox.forget_turn(spec.turn.turn_id)

    async def _transcribe(
        self, ended: SpeechEnded, utterance_id: str, reference: float, eos_ms: float
    ) -> None:
        language = self.start.language or self.character.language
        try:
            async with asyncio.timeout(self.runtime.settings.asr.timeout_s):
                result = await self.runtime.transcriber.transcribe(ended.audio, language)
        except TimeoutError:
            await self._asr_timed_out(utterance_id, reference, eos_ms)
            return
        heard_at = time.perf_counter()
        text = result.text.strip()
        self.outbox.emit(
            TranscriptOut(utterance_id, text, True, result.language, int(result.audio_ms))
        )
        if not text:
            if self._turn is None and self.state is SessionState.THINKING:
                self._to(SessionState.LISTENING)
            return
        text = f"{self._pending_player_text} {text}".strip()
        if self.endpointer.in_speech or utterance_id != self._utterance_id:
            # The player is already talking again: answer both utterances together.
            self._pending_player_text = text
            return
        self._pending_player_text = ""
        await self._barge_in("a newer utterance")
        self._start_turn(
            TurnCause.SPEECH,
            text,
            reference,
            utterance_id=utterance_id,
            eos_ms=eos_ms,
            asr_ms=result.elapsed_ms,
        )
        if self._turn is not None:
            self._turn.turn.timings.asr_wait_ms = result.waited_ms
            self._turn.turn.timings.transcript_at_ms = (heard_at - reference) * 1000.0

    async def _asr_timed_out(self, utterance_id: str, reference: float, eos_ms: float) -> None:
        """Whisper took too long: the character says its fallback line, not nothing."""
        self._error(
            ErrorCode.DEADLINE_EXCEEDED,
            f"speech recognition took longer than {self.runtime.settings.asr.timeout_s:g} s "
            "(asr.timeout_s); the character said its fallback line — say it again",
        )
        await self._barge_in("a newer utterance")
        self._start_turn(
            TurnCause.SPEECH,
            "",
            reference,
            utterance_id=utterance_id,
            eos_ms=eos_ms,
            fixed=self.character.fallback_line,
        )

    # --- turns -------------------------------------------------------------------

    def _start_turn(
        self,
        cause: TurnCause,
        text: str,
        reference: float,
        utterance_id: str = "",
        eos_ms: float = 0.0,
        asr_ms: float = 0.0,
        fixed: str | None = None,
    ) -> None:
        if self._spec is not None:  # a new turn outranks a guess at the last one
            spec, self._spec = self._spec, None
            self._cancel_speculation(spec)
        if cause in (TurnCause.SPEECH, TurnCause.TEXT) and self._into_scene(text):
            return
        turn = self._new_turn(cause, text, reference, utterance_id, eos_ms, asr_ms, fixed)
        if self.state is SessionState.LISTENING:
            self._to(SessionState.THINKING)
        running = _RunningTurn(turn, self._spawn(self._run_turn(turn)))
        self._turn = running

    def _scene(self) -> SceneInbox | None:
        """A scene (RunScene) running where this session's player stands, if any."""
        if self.body is None or not self.start.player_id or not len(self.runtime.scenes):
            return None
        world = self.body.world
        return self.runtime.scenes.find(world.id, world.graph.place_of(self.start.player_id))

    def _into_scene(self, text: str) -> bool:
        """The player speaks into the scene around them: its characters answer there,
        on the scene's stream, instead of this session's NPC answering here."""
        scene = self._scene()
        if scene is None:
            return False
        scene.say(self.start.player_id, text)
        log.info("session %s: player line went to scene %s", self.id, scene.id)
        if self.state is SessionState.THINKING:
            self._to(SessionState.LISTENING)
        return True

    def _new_turn(
        self,
        cause: TurnCause,
        text: str,
        reference: float,
        utterance_id: str = "",
        eos_ms: float = 0.0,
        asr_ms: float = 0.0,
        fixed: str | None = None,
        emitter: Emitter | None = None,
        gate: asyncio.Event | None = None,
    ) -> Turn:
        self._turn_seq += 1
        request = TurnRequest(
            turn_id=f"{self.id[:8]}-t{self._turn_seq}",
            cause=cause,
            player_text=text,
            reference=reference,
            utterance_id=utterance_id,
            end_of_speech_ms=eos_ms,
            asr_ms=asr_ms,
            fixed_text=fixed,
            game_time_h=self.game_time_h,
            # The mood its primings read (_utterance_mood_at), for a line the player spoke.
            mood_at=self._utterance_mood_at(utterance_id) if utterance_id else None,
        )
        history = history_window(self.history, self._history_len())
        turn = Turn(self.turn_config, request, history, emitter or _Watch(self))
        if cause is TurnCause.SPEECH and utterance_id:
            turn.early_recall = self._early_recall(utterance_id, text)
        if self.body is not None and fixed is None:
            turn.world = _TurnBody(self, self.body, gate)
        return turn

    def _history_len(self) -> int:
        return max(0, self.runtime.settings.llm.history_turns)

    async def _run_turn(self, turn: Turn) -> None:
        await turn.run()
        if self._utterance_mood_at(turn.request.utterance_id) is not None:
            self._mood_since = None  # answered: the next prompts read the mood as it is
        self._prime_after(turn)
        await self._finish_turn(turn)

    async def _finish_turn(self, turn: Turn) -> None:
        # The turn is still speaking until its paced audio has left.
        await self.outbox.drained(turn.turn_id)
        if self._turn is not None and self._turn.turn is turn:
            self._turn = None
            self.last_turn = turn
            heard = self._remember(turn, interrupted=False)
            end = turn.end_event(False, heard)
            self.runtime.telemetry.turn_ended(self, turn, end)
            self.outbox.emit(end)
            self.outbox.forget_turn(turn.turn_id)
            if self.state is not SessionState.CLOSED:
                self._to(SessionState.LISTENING)
                self._prime()

    async def _barge_in(self, reason: str) -> None:
        running = self._turn
        if running is None:
            return
        self._turn = None
        turn = self.last_turn = running.turn
        self.outbox.drop_turn(turn.turn_id)
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running.task
        if self.body is not None and self.body.executor.turn_id == turn.turn_id:
            # Talking over the NPC stops what that turn set it doing.
            await self.body.cancel("barge-in")
        heard = self._remember(turn, interrupted=True)
        end = turn.end_event(True, heard, reason)
        self.runtime.telemetry.turn_ended(self, turn, end)
        self.outbox.emit(end)
        self.outbox.forget_turn(turn.turn_id)
        if self.state is SessionState.SPEAKING:
            self._to(SessionState.LISTENING)
        log.info("turn %s interrupted: %s; heard %r", turn.turn_id, reason, heard)

    def _remember(self, turn: Turn, interrupted: bool) -> str:
        """Put what the player actually heard into history and return it."""
        report = self._played.pop(turn.turn_id, None)
        if self.turn_config.synthesizer is None:
            heard = turn.text
        elif not interrupted:
            heard = _spoken(turn)
        else:
            # Played ms from the client's own report when there is one, else what was sent.
            played = (
                float(report.played_ms)
                if report is not None
                else self.outbox.sent_audio_ms.get(turn.turn_id, 0.0)
            )
            heard = heard_text(turn.spans, played)
        exchange = _exchange(turn, heard)
        if exchange is not None:
            self.history.append(exchange)
        self._store_turn(turn, heard)
        return heard

    def _prime_after(self, turn: Turn) -> None:
        """The reply is made and only its playback is left: prime the next prompt now,
        with the history as it will be once the player has heard it all. Playback
        lasts seconds; the engine is idle meanwhile. (A barge-in changes what was
        heard; the next speech start primes again.)"""
        heard = turn.text if self.turn_config.synthesizer is None else _spoken(turn)
        exchange = _exchange(turn, heard)
        if exchange is not None and not turn.error:
            self._prime(history=[*self.history, exchange])
        memory = self.runtime.memory
        if memory is not None and self.start.player_id and not turn.error:
            memory.prefetch_turn(_said(turn), heard)

    def _store_turn(self, turn: Turn, heard: str) -> None:
        """Into long-term memory, in the background: what was said and what was heard.
        Anonymous players are remembered for this session only."""
        memory, player = self.runtime.memory, self.start.player_id
        if memory is None or not player:
            return
        said = _said(turn)
        if not said and not heard:
            return
        self.runtime.writes.spawn(
            memory.remember_turn(
                self.character,
                player,
                player_text=said,
                heard_text=heard,
                emotion=turn.emotion,
                game_time_h=turn.request.game_time_h,
                add_history=True,
            )
        )


# A last word that says the player has not finished ("I'd like the ramen and...").
_TRAILING_WORDS = frozenset(
    {"and", "but", "or", "so", "because", "then", "um", "uh", "erm", "like", "if", "with"}
    | {"the", "a", "an", "to", "of", "my", "your", "for"}
)


def _said(turn: Turn) -> str:
    """What the player said to start the turn, as its memory records it."""
    return "" if turn.request.cause is TurnCause.GREETING else turn.request.player_text


def _spoken(turn: Turn) -> str:
    """All the turn's spoken sentences: what the player hears if nobody interrupts."""
    return " ".join(s.text for s in turn.spans)


def _exchange(turn: Turn, heard: str) -> Exchange | None:
    """The exchange a turn adds to the history, given what the player heard."""
    if turn.request.cause is TurnCause.GREETING:
        return Exchange("(the player arrives)", heard, turn.emotion) if heard else None
    if turn.request.player_text:
        return Exchange(turn.request.player_text, heard or "…", turn.emotion)
    return None


def _words(text: str) -> list[str]:
    return [w.strip(".,!?;:…\"'").lower() for w in text.split()]


def interim_covers(interim: str, final: str, spare_words: int = 0) -> bool:
    """Whether a recall made for `interim` (heard while the player spoke) serves the
    utterance `final`: the interim is most of the final's beginning and said at least
    half of it.

    The last interim word may have been cut off mid-way, so it need not match. Whisper
    hears a cut-off utterance less surely than a whole one ("reign" for "rain"), so up
    to one word in four may differ: the recall, made from the words' meaning, hardly
    changes, and redoing it re-reads its ~120 tokens on the turn's path (~400 ms).
    `spare_words`: room left for words the player has yet to say.
    """
    so_far, words = _words(interim)[:-1], _words(final)
    if 2 * (len(so_far) + 1) < len(words) + spare_words:
        return False
    head = words[: len(so_far) + 1]  # one spare word: an insertion shifts the rest
    same = sum(b.size for b in difflib.SequenceMatcher(None, so_far, head).get_matching_blocks())
    return 4 * same >= 3 * len(so_far)


@dataclass(frozen=True)
class _HeardSoFar:
    """An interim transcript of the utterance in progress and the recall made for it."""

    utterance_id: str
    text: str
    recall: Recall


@dataclass
class _Speculation:
    end_ms: int  # SpeechPaused.end_ms; the final SpeechEnded must match it
    utterance_id: str
    reference: float  # perf_counter at the end of the speech
    held: _Held
    task: asyncio.Task[None] = field(init=False)
    transcript: asyncio.Future[Transcript] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    promoted: asyncio.Event = field(default_factory=asyncio.Event)
    turn: Turn | None = None


@dataclass
class _Held:
    """A speculative turn's emitter: keeps its events until the utterance is final,
    then passes them on, in order, and everything after them at once."""

    session: Session
    events: list[ServerOut] = field(default_factory=list)
    live: bool = False

    def emit(self, event: ServerOut) -> None:
        if self.live:
            _Watch(self.session).emit(event)
        else:
            self.events.append(event)

    def release(self) -> None:
        self.live = True
        events, self.events = self.events, []
        watch = _Watch(self.session)
        for event in events:
            watch.emit(event)
        turn = self.session._turn.turn if self.session._turn else None
        if turn is not None and turn.timings.first_audio_made_at_ms:
            # Audio made while speculative leaves now, not when it was made.
            t = turn.timings
            t.first_audio_sent_at_ms = max(t.first_audio_sent_at_ms, turn.since_reference_ms())
            t.send_wait_ms = t.first_audio_sent_at_ms - t.first_audio_made_at_ms
        if turn is not None and turn.timings.first_text_sent_at_ms:
            t = turn.timings
            t.first_text_sent_at_ms = max(t.first_text_sent_at_ms, turn.since_reference_ms())


class _Blank(dict[str, str]):
    """format_map that leaves unknown {names} empty instead of failing."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class _TurnBody:
    """One turn's view of the NPC's body. A speculative turn may perceive and plan
    its prompt early, but acts only once its utterance is final (the gate)."""

    session: Session
    body: Embodiment
    gate: asyncio.Event | None

    def sense(self) -> Sensed:
        return self.body.sense()

    async def act(self, actions: object, seen: Perception, turn_id: str) -> Acted:
        if self.gate is not None:
            await self.gate.wait()  # cancelled with the turn when the player goes on
        return await self.body.act(actions, seen, self.session.mood.relationship(), turn_id)


def describe_event(trigger: TriggerIn) -> str:
    """'player looted store (item: noodles)'."""
    what = trigger.name.replace("_", " ").replace(".", " ").strip()
    params = ", ".join(f"{k}: {v}" for k, v in sorted(trigger.parameters.items()))
    return f"{what}{f' ({params})' if params else ''}"


def describe_trigger(what: str, hint: str = "") -> str:
    """The game event as the NPC's prompt sees it, in place of player speech."""
    steer = f' Something like: "{hint}"' if hint else ""
    return f"[Game event: {what}. React to it in character.{steer}]"


def exchanges_from_lines(lines: Sequence[tuple[str, ...]]) -> list[Exchange]:
    """Stored history lines (role, text[, emotion]), oldest first → player/NPC
    exchanges, as the session that lived them had them (see Session._remember)."""
    out: list[Exchange] = []
    pending: str | None = None
    for role, text, *rest in lines:
        if role == "player":
            if pending is not None:
                out.append(Exchange(pending, "…"))
            pending = text
        else:
            emotion = rest[0] if rest and rest[0] else "neutral"
            player = pending if pending is not None else "(the player arrives)"
            out.append(Exchange(player, text, emotion))
            pending = None
    if pending is not None:  # the last reply was cut off before a word was heard
        out.append(Exchange(pending, "…"))
    return out


@dataclass
class _Watch:
    """The turn's emitter: moves the session to SPEAKING at its first media event."""

    session: Session

    def emit(self, event: ServerOut) -> None:
        s = self.session
        if (
            isinstance(event, (TextOut, AudioOut))
            and s._turn is not None
            and event.turn_id == s._turn.turn.turn_id
            and s.state is SessionState.THINKING
        ):
            s._to(SessionState.SPEAKING)
        s.outbox.emit(event)
