"""One NPC turn: prompt → LLM (streamed JSON) → sentence chunker → TTS → events.

The LLM keeps generating while earlier sentences are synthesised, so the first
audio leaves after the first sentence, not after the whole reply. A turn is
cancelled by cancelling its task (barge-in); what it produced so far stays on
the object so the session can put only what was heard into history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .audio import StreamResampler, float_to_pcm16, split_ms
from .characters import EMOTIONS, Character, EmotionName
from .config import DEFAULT_REPLY_ORDER, ReplyOrder
from .emotion import EmotionBook, EmotionState, Mood, describe, llm_stimulus, shade_voice
from .events import (
    AudioOut,
    EmotionOut,
    ErrorCode,
    ErrorOut,
    ServerOut,
    TextOut,
    Timings,
    TurnCause,
    TurnEndOut,
    TurnStartedOut,
    VisemeOut,
)
from .llm.base import ChatMessage, GenerationRequest, LLMBackend, LLMError, LLMStream
from .llm.json_stream import FieldValue, ReplyStreamParser, SayDelta, SayDone
from .llm.primer import PromptPrimer
from .llm.prompt import Exchange, build_messages, reply_schema
from .memory import Memory, Recall
from .tts.chunker import SentenceChunker
from .tts.piper_tts import PiperSynthesizer, SpeechStream, VoiceSettings
from .tts.visemes import VisemeSpan, VisemeTable, slice_for_chunk

if TYPE_CHECKING:
    from .embodiment import Acted, Sensed
    from .world import Perception

log = logging.getLogger(__name__)


class Emitter(Protocol):
    def emit(self, event: ServerOut) -> None: ...


# (character, history, player_text, context) → the LLM messages; build_messages by default.
PromptBuilder = Callable[[Character, list[Exchange], str, str], list[ChatMessage]]


class TurnWorld(Protocol):
    """The scene side of one turn (the session binds an Embodiment to it)."""

    def sense(self) -> Sensed: ...

    async def act(self, actions: Any, seen: Perception, turn_id: str) -> Acted: ...


@dataclass(frozen=True)
class TurnConfig:
    """Per-session settings of the turn pipeline."""

    character: Character
    llm: LLMBackend
    synthesizer: PiperSynthesizer | None  # None: text-only session
    voice: VoiceSettings
    output_rate: int
    chunk_ms: int = 200
    # Decode about this much of each sentence's audio first and send it while piper
    # makes the rest (tts.first_piece_ms; 0 = whole sentences).
    first_piece_ms: float = 0.0
    first_clause_chars: int = 60
    first_clause_min_chars: int | None = None
    # Hold the LLM's reply while the first sentence is synthesised (tts settings).
    hold_llm_for_first_sentence: bool = False
    max_tokens: int = 160
    temperature: float = 0.7
    max_say_chars: int = 300
    # Which the model writes first, the spoken line or the emotion (llm.reply_order).
    reply_order: ReplyOrder = DEFAULT_REPLY_ORDER
    # This character's feeling towards this player; a private one when not given.
    mood: Mood | None = None
    # Phoneme → viseme table; None = no visemes (the session did not ask).
    visemes: VisemeTable | None = None
    # Knowledge and episodic memory (None: the prompt has neither).
    memory: Memory | None = None
    # Whose memories to recall: the player id, or a per-session key for anonymous players.
    player_key: str = ""
    recall_tokens: int = 300
    # How the prompt is built; None = build_messages (a scene passes its own).
    prompt: PromptBuilder | None = None
    # Longest the LLM may take on a reply and piper on a sentence (None = no limit).
    reply_timeout_s: float | None = None
    tts_timeout_s: float | None = None
    # Sends the session's next prompt prefix ahead (None: no priming).
    primer: PromptPrimer | None = None

    def the_mood(self) -> Mood:
        return self.mood or Mood(EmotionBook(), self.character, "")

    def request(
        self,
        history: list[Exchange],
        player_text: str,
        scene: str = "",
        recall: str = "",
        actions: dict[str, Any] | None = None,
        mood_at: float | None = None,
    ) -> GenerationRequest:
        """The LLM request of a turn; with no player text and no recall, the prefix
        the session primes. Context from the most to the least stable, so a priming
        made before the player spoke covers as much of it as possible: the scene,
        the mood, then the recall for what the player said. `mood_at`: describe the
        mood as it had faded by then (time.time()), not by now."""
        mood = self.the_mood()
        feeling = describe(mood.current(mood_at), mood.model)
        text = "\n\n".join(c for c in [scene, feeling, recall] if c)
        if self.prompt is not None:
            messages = self.prompt(self.character, history, player_text, text)
        else:
            messages = build_messages(self.character, history, player_text, text, self.reply_order)
        return GenerationRequest(
            messages=messages,
            # Only the character's verbs and ids the NPC perceives (empty without a scene).
            json_schema=reply_schema(self.max_say_chars, actions, self.reply_order),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )


@dataclass(frozen=True)
class TurnRequest:
    turn_id: str
    cause: TurnCause
    player_text: str
    # time.perf_counter() of the reference point: end of speech, or arrival of text.
    reference: float
    utterance_id: str = ""
    end_of_speech_ms: float = 0.0
    asr_ms: float = 0.0
    # Speak this line verbatim instead of asking the LLM (greetings, scripted lines).
    fixed_text: str | None = None
    game_time_h: float | None = None
    # time.time() the mood is read at (TurnConfig.request); None = when the turn asks.
    mood_at: float | None = None


@dataclass
class SentenceSpan:
    """Where one spoken sentence sits in the turn's audio."""

    text: str
    start_ms: float
    end_ms: float


@dataclass
class Turn:
    config: TurnConfig
    request: TurnRequest
    history: list[Exchange]
    out: Emitter
    timings: Timings = field(default_factory=Timings)
    text: str = ""
    emotion: EmotionName = "neutral"
    spans: list[SentenceSpan] = field(default_factory=list)
    error: str = ""
    feeling: EmotionState | None = None  # what the last Emotion event said
    # The reply named its emotion (once a turn). With the spoken line first it comes
    # after the first words, whose face and voice are then the mood's (_ensure_feeling).
    emotion_named: bool = False
    recalled: Recall | None = None  # what recall put into the prompt
    # The NPC's scene; None: no scene, so no perception and no actions.
    world: TurnWorld | None = None
    sensed: Sensed | None = None  # what the prompt got from the scene
    acted: Acted | None = None  # what became of the reply's actions
    reply_actions: Any = None  # the actions the reply asked for, as parsed (conversation log)
    # Recall made on what the player had said before they stopped (the session's
    # interim transcript); None = recall now, for the whole line.
    early_recall: Recall | None = None

    def __post_init__(self) -> None:
        self._mood = self.config.the_mood()
        # The reply's stream while it may be held for the first sentence's synthesis.
        self._holdable: LLMStream | None = None
        self._sequence = 0  # of the next NpcAudio chunk
        self._out_samples = 0  # audio sent so far, at the output rate

    @property
    def turn_id(self) -> str:
        return self.request.turn_id

    def since_reference_ms(self) -> float:
        return (time.perf_counter() - self.request.reference) * 1000.0

    async def run(self) -> None:
        """Generate and synthesise the whole turn. Cancellation propagates.

        The session sends TurnEnd once the audio has left (see Outbox pacing)."""
        req = self.request
        self.timings.end_of_speech_ms = req.end_of_speech_ms
        self.timings.asr_ms = req.asr_ms
        self.out.emit(TurnStartedOut(req.turn_id, req.cause, req.player_text, req.utterance_id))
        try:
            await self._generate_and_speak()
        except LLMError as e:
            self._fail(ErrorCode.UNAVAILABLE, f"language model failed: {e}")
        except Exception as e:  # a bug or model crash must not take the session down
            log.exception("turn %s failed", req.turn_id)
            self._fail(ErrorCode.INTERNAL, f"turn failed: {type(e).__name__}: {e}")

    def end_event(self, interrupted: bool, heard: str, reason: str = "") -> TurnEndOut:
        self.timings.total_ms = self.since_reference_ms()
        log.info(
            "turn_end",
            extra={
                "turn_id": self.turn_id,
                "cause": self.request.cause.value,
                "interrupted": interrupted,
                "timings": vars(self.timings),
            },
        )
        return TurnEndOut(
            self.turn_id, interrupted, self.timings, self.text, heard, reason or self.error
        )

    def _fail(self, code: ErrorCode, message: str) -> None:
        self.error = message
        self.out.emit(ErrorOut(code, message, session_alive=True, turn_id=self.turn_id))

    async def _generate_and_speak(self) -> None:
        cfg, req = self.config, self.request
        if req.fixed_text is not None:
            await self._speak_fixed(req.fixed_text)
            return
        sensed = self.sensed = self.world.sense() if self.world is not None else None
        scene = ""
        if sensed is not None:
            self.timings.perceive_ms = sensed.elapsed_ms
            scene = sensed.perception.summary
        gen = cfg.request(
            self.history,
            req.player_text,
            scene,
            await self._recall(),
            sensed.schema if sensed else None,
            mood_at=req.mood_at,
        )
        parser = ReplyStreamParser()
        chunker = SentenceChunker(
            cfg.first_clause_chars, first_clause_min_chars=cfg.first_clause_min_chars
        )
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        llm_start = time.perf_counter()
        self.timings.llm_start_at_ms = self.since_reference_ms()
        if cfg.primer is not None:
            # Model time: the engine is reading this very prefix for the session.
            self.timings.prime_wait_ms = await cfg.primer.settle()
        async with asyncio.TaskGroup() as tg:
            if cfg.synthesizer is not None:
                tg.create_task(self._speak(cfg.synthesizer, sentences))
            try:
                async with asyncio.timeout(cfg.reply_timeout_s):
                    async with cfg.llm.stream(gen) as stream:
                        if cfg.hold_llm_for_first_sentence and cfg.synthesizer is not None:
                            self._holdable = stream
                        async for delta in stream:
                            for ev in parser.feed(delta):
                                self._on_reply_event(ev, chunker, sentences, llm_start)
                        stats = stream.stats
            except TimeoutError:
                self._reply_timed_out(chunker, sentences, llm_start)
                for s in chunker.flush():
                    self._queue_sentence(s, sentences, llm_start)
                await sentences.put(None)
                return
            finally:
                self.timings.llm_total_ms = (time.perf_counter() - llm_start) * 1000.0
            self.timings.llm_first_token_ms = stats.first_token_ms
            self.timings.llm_prompt_tokens = stats.prompt_tokens
            self.timings.llm_cached_tokens = stats.cached_tokens
            self.timings.llm_prompt_read_ms = stats.prompt_read_ms
            self.timings.llm_completion_tokens = stats.completion_tokens
            reply = parser.finish()
            self.reply_actions = reply.get("actions")
            if not self.text and isinstance(reply.get("say"), str):
                # The say field arrived in a shape the streaming path missed.
                self._on_reply_event(SayDelta(reply["say"]), chunker, sentences, llm_start)
            if sensed is not None and self.world is not None:
                await self._act(reply.get("actions"), sensed, chunker, sentences, llm_start)
            for s in chunker.flush():
                self._queue_sentence(s, sentences, llm_start)
            await sentences.put(None)

    def _reply_timed_out(
        self, chunker: SentenceChunker, sentences: asyncio.Queue[str | None], llm_start: float
    ) -> None:
        """The model took too long: keep what it said, or say the fallback line."""
        said = bool(self.text)
        if not said:
            self._on_reply_event(
                SayDelta(self.config.character.fallback_line), chunker, sentences, llm_start
            )
        self._fail(
            ErrorCode.DEADLINE_EXCEEDED,
            f"the language model took longer than {self.config.reply_timeout_s:g} s "
            f"(llm.reply_timeout_s); the character "
            + ("stopped after what it had said" if said else "said its fallback line"),
        )

    async def _act(
        self,
        actions: Any,
        sensed: Sensed,
        chunker: SentenceChunker,
        sentences: asyncio.Queue[str | None],
        llm_start: float,
    ) -> None:
        """Hand the reply's actions to the world; say the refusals in character."""
        assert self.world is not None
        acted = self.acted = await self.world.act(actions, sensed.perception, self.turn_id)
        self.timings.plan_ms = acted.elapsed_ms
        for line in acted.lines:
            gap = " " if self.text and not self.text.endswith(" ") else ""
            self._on_reply_event(SayDelta(gap + line), chunker, sentences, llm_start)

    async def _recall(self) -> str:
        """What the character knows and remembers that bears on this turn."""
        if self.early_recall is not None:
            # Recalled while the player was still speaking, and primed with the prompt.
            self.recalled = self.early_recall
            return self.early_recall.text
        recall = await recall_for(
            self.config, self.history, self.request.player_text, self.request.game_time_h
        )
        if recall is None:
            return ""
        self.timings.recall_ms = recall.embed_ms + recall.search_ms
        self.recalled = recall
        return recall.text

    async def _speak_fixed(self, line: str) -> None:
        chunker = SentenceChunker(
            self.config.first_clause_chars,
            first_clause_min_chars=self.config.first_clause_min_chars,
        )
        sentences: asyncio.Queue[str | None] = asyncio.Queue()
        start = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            if self.config.synthesizer is not None:
                tg.create_task(self._speak(self.config.synthesizer, sentences))
            self._on_reply_event(SayDelta(line), chunker, sentences, start)
            for s in chunker.flush():
                self._queue_sentence(s, sentences, start)
            await sentences.put(None)

    def _on_reply_event(
        self,
        ev: object,
        chunker: SentenceChunker,
        sentences: asyncio.Queue[str | None],
        llm_start: float,
    ) -> None:
        if isinstance(ev, FieldValue) and ev.name == "emotion":
            if ev.value in EMOTIONS and not self.emotion_named:
                self.emotion, self.emotion_named = ev.value, True
                self._send_feeling(self._mood.feel(llm_stimulus(ev.value, self._mood.model)))
        elif isinstance(ev, SayDelta) and ev.text:
            if not self.text:
                self._ensure_feeling()
                self.timings.first_text_sent_at_ms = self.since_reference_ms()
            self.text += ev.text
            self.out.emit(TextOut(self.turn_id, ev.text))
            for s in chunker.push(ev.text):
                self._queue_sentence(s, sentences, llm_start)
        elif isinstance(ev, SayDone):
            for s in chunker.flush():
                self._queue_sentence(s, sentences, llm_start)

    def _send_feeling(self, state: EmotionState) -> None:
        self.feeling = state
        self.out.emit(
            EmotionOut(self.turn_id, state.category, state.intensity, state.trust, state.affinity)
        )

    def _ensure_feeling(self) -> None:
        """Every turn's face is set before its first word or sound: when the reply
        named no emotion (a scripted line, a model that skipped it), the current one."""
        if self.feeling is None:
            # Only before the reply named its emotion (that sets the feeling): the
            # category is the turn's unless the reply names its own later.
            state = self._mood.current()
            self._send_feeling(state)
            self.emotion = state.category

    def _queue_sentence(
        self, sentence: str, sentences: asyncio.Queue[str | None], llm_start: float
    ) -> None:
        if not sentence.strip():
            return
        if not self.timings.first_sentence_ms:
            self.timings.first_sentence_ms = (time.perf_counter() - llm_start) * 1000.0
            self.timings.first_sentence_at_ms = self.since_reference_ms()
            if self._holdable is not None:
                # Piper gets the cores for the audio the player is waiting for; the
                # rest of the reply is needed only when this sentence has played.
                self._holdable.hold()
        sentences.put_nowait(sentence.strip())

    async def _speak(self, synth: PiperSynthesizer, sentences: asyncio.Queue[str | None]) -> None:
        cfg = self.config
        while (sentence := await sentences.get()) is not None:
            self._ensure_feeling()
            assert self.feeling is not None
            voice = shade_voice(cfg.voice, cfg.character.voice, self.feeling)
            if not self.timings.tts_first_audio_ms:
                self.timings.tts_start_at_ms = self.since_reference_ms()
            stream = synth.stream(sentence, voice, cfg.first_piece_ms)
            spans_before = len(self.spans)
            try:
                await self._speak_sentence(stream, sentence)
            except TimeoutError:
                if len(self.spans) > spans_before:  # part of it was sent: that part is its span
                    span = self.spans[-1]
                    sent_ms = 1000.0 * self._out_samples / cfg.output_rate
                    self.spans[-1] = SentenceSpan(span.text, span.start_ms, sent_ms)
                    self.timings.audio_ms = sent_ms
                self._fail(
                    ErrorCode.DEADLINE_EXCEEDED,
                    f"speech synthesis took longer than {cfg.tts_timeout_s:g} s "
                    f"(tts.timeout_s) on {sentence[:40]!r}; the rest of it is sent as text only",
                )
            finally:
                self._release_reply()
                self.timings.tts_total_ms += stream.elapsed_ms

    async def _speak_sentence(self, stream: SpeechStream, sentence: str) -> None:
        """Send one sentence's audio piece by piece as piper makes it.

        Each piece's audio goes out at once, except the end of its lip-sync timeline
        that a closure further on may still move (VisemeTable.settled_samples)."""
        cfg = self.config
        rate = stream.sample_rate
        loop = asyncio.get_running_loop()
        deadline = None if cfg.tts_timeout_s is None else loop.time() + cfg.tts_timeout_s
        resampler = StreamResampler(rate, cfg.output_rate)
        made = np.zeros(0, dtype=np.float32)  # at the voice's rate
        n_sent = 0  # samples of it resampled and sent
        start = self._out_samples  # the sentence's first sample at the output rate
        index = len(self.spans)
        timeline: list[VisemeSpan] = []
        while True:
            async with asyncio.timeout_at(deadline):
                piece = await asyncio.to_thread(stream.next_piece)
            last = piece is None
            if piece is not None:
                if made.size == 0:
                    if not self.timings.tts_first_audio_ms:
                        self.timings.tts_first_audio_ms = stream.elapsed_ms
                        self.timings.first_audio_made_at_ms = self.since_reference_ms()
                    total_ms = 1000.0 * stream.total_samples / rate
                    # Known from the first piece on, so a barge-in mid-sentence knows
                    # how much of it was heard.
                    start_ms = 1000.0 * start / cfg.output_rate
                    self.spans.append(SentenceSpan(sentence, start_ms, start_ms + total_ms))
                    self.timings.audio_ms = start_ms + total_ms
                made = np.concatenate((made, piece))
            if made.size == 0:
                return  # nothing to say in it
            ready = made.size
            table = cfg.visemes
            if table is not None and stream.phonemes:
                timeline = table.timeline(stream.phonemes, rate, made)
                if not last:
                    ready = table.settled_samples(stream.phonemes, rate, made.size)
            if ready > n_sent or last:
                out = resampler.push(made[n_sent:ready], last=last)
                self._send_audio(out, timeline, index, start)
                n_sent = ready
            if last:
                return

    def _send_audio(
        self, audio: np.ndarray, timeline: list[VisemeSpan], index: int, sentence_start: int
    ) -> None:
        """Send audio that continues the turn's audio, in chunks of at most chunk_ms."""
        cfg = self.config
        if audio.size == 0:
            return
        for a, b in split_ms(audio.size, cfg.output_rate, cfg.chunk_ms):
            if self._sequence == 0:
                self.timings.first_audio_sent_at_ms = self.since_reference_ms()
            at = self._out_samples + a  # the chunk's first sample in the turn
            in_sentence_ms = 1000.0 * (at - sentence_start) / cfg.output_rate
            chunk_ms = 1000.0 * (b - a) / cfg.output_rate
            self.out.emit(
                AudioOut(
                    turn_id=self.turn_id,
                    sequence=self._sequence,
                    pcm=float_to_pcm16(audio[a:b]),
                    sample_rate_hz=cfg.output_rate,
                    offset_ms=round(1000.0 * at / cfg.output_rate),
                    sentence_index=index,
                    visemes=chunk_visemes(timeline, in_sentence_ms, in_sentence_ms + chunk_ms),
                )
            )
            self._sequence += 1
        self._out_samples += audio.size

    def _release_reply(self) -> None:
        """The first sentence is synthesised (or given up on): the reply goes on."""
        if self._holdable is not None:
            self._holdable.release()
            self._holdable = None


async def recall_for(
    cfg: TurnConfig, history: list[Exchange], text: str, game_time_h: float | None
) -> Recall | None:
    """Knowledge and memories for `text`, leaving out what the history already says;
    None without memory."""
    if cfg.memory is None or cfg.recall_tokens <= 0 or not text:
        return None
    return await cfg.memory.recall(
        cfg.character,
        cfg.player_key,
        text,
        game_time_h=game_time_h,
        budget_tokens=cfg.recall_tokens,
        skip_said=[e.player.strip() for e in history],
    )


def chunk_visemes(
    timeline: list[VisemeSpan], chunk_start_ms: float, chunk_end_ms: float
) -> tuple[VisemeOut, ...]:
    """The visemes of one audio chunk, in whole ms from its first sample.

    Ends are rounded, not durations, so consecutive visemes tile the chunk
    without gaps or overlaps from rounding."""
    out: list[VisemeOut] = []
    length = round(chunk_end_ms - chunk_start_ms)
    prev_end = 0
    for v in slice_for_chunk(timeline, chunk_start_ms, chunk_end_ms):
        # max(): float error can round a start just below the previous end.
        start = max(prev_end, round(v.start_ms))
        end = min(length, round(v.start_ms + v.duration_ms))
        if end > start:
            out.append(VisemeOut(v.viseme, start, end - start, round(v.weight, 3)))
            prev_end = end
    return tuple(out)


def heard_text(spans: list[SentenceSpan], played_ms: float) -> str:
    """The part of a reply the player heard after `played_ms` of its audio.

    Whole sentences that finished playing, plus the words of the sentence
    that was cut, in proportion to how much of it played.
    """
    words: list[str] = []
    for s in spans:
        if played_ms >= s.end_ms:
            words.extend(s.text.split())
        elif played_ms > s.start_ms:
            part = s.text.split()
            frac = (played_ms - s.start_ms) / max(1.0, s.end_ms - s.start_ms)
            words.extend(part[: int(len(part) * frac)])
            break
        else:
            break
    return " ".join(words)
