"""A server-directed scene: characters take the floor in turn and speak.

Each line is an ordinary Turn (prompt → LLM → chunker → TTS) in the speaker's
voice, with the speaker's own knowledge recalled (memory recall is scoped per
character) and a prompt from its point of view (scene/prompt.py). Floor control
is scene/floor.py; this module decides when to stop and keeps everyone's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Protocol

from ..characters import Character
from ..emotion import Mood
from ..events import ErrorOut, ServerOut, TranscriptOut, TurnCause
from ..llm.base import ChatMessage
from ..llm.prompt import Exchange
from ..memory import keys
from ..turn import Turn, TurnConfig, TurnRequest
from .events import LineSummary, SceneOut, SceneSummary, StopReason
from .floor import Floor, FloorDecision, Participant, mentioned
from .prompt import SceneLine, SceneSetting, heard, scene_messages, since_last
from .spec import SceneSpec, says_goodbye, stop_phrase_in

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

# Recall per line, in tokens (at most llm's recall_tokens): the scene's own lines are
# already in the prompt, and every token of recall is prompt the engine cannot cache.
SCENE_RECALL_TOKENS = 160


class PlayerSource(Protocol):
    """Where the player's lines come from: asked after every NPC line (and once
    before the first with npc_lines=0); None or '' = the player stays silent."""

    async def line_after(self, npc_lines: int, last: SceneLine | None) -> str | None: ...


class ScriptedPlayer:
    """Lines listed in advance, each after a number of NPC lines."""

    def __init__(self, lines: Sequence[tuple[int, str]]) -> None:
        self._lines = sorted(lines, key=lambda x: x[0])

    async def line_after(self, npc_lines: int, last: SceneLine | None) -> str | None:
        due = [t for n, t in self._lines if n <= npc_lines]
        self._lines = [(n, t) for n, t in self._lines if n > npc_lines]
        return " ".join(due) if due else None


class SceneDirector:
    def __init__(
        self, runtime: Runtime, spec: SceneSpec, player: PlayerSource | None = None
    ) -> None:
        spec.check(runtime.characters.ids())
        self.runtime = runtime
        self.spec = spec
        self.id = spec.scene_id or uuid.uuid4().hex[:12]
        self.characters: dict[str, Character] = {c: runtime.characters.get(c) for c in spec.cast}
        self.floor = Floor([Participant(c.id, c.name) for c in self.characters.values()])
        sources: list[PlayerSource] = []
        if spec.player_lines:
            sources.append(ScriptedPlayer([(p.after_npc_lines, p.text) for p in spec.player_lines]))
        if player is not None:
            sources.append(player)
        self._players = sources
        self.memory_key = spec.player_id or f"scene:{self.id}"
        self.lines: list[SceneLine] = []
        self.summaries: list[LineSummary] = []
        self.turns: list[Turn] = []  # the NPC lines' turns (their prompts' recall, timings)
        self.prompts: list[list[ChatMessage]] = []  # what each NPC line's LLM was given
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._out: asyncio.Queue[SceneOut | None] = asyncio.Queue()
        self._configs = {cid: self._turn_config(c) for cid, c in self.characters.items()}
        self._setting = {cid: self._setting_for(c) for cid, c in self.characters.items()}
        self._start = 0.0
        self._memories: list[tuple[Character, str]] = []  # written when the scene ends

    # --- set-up ------------------------------------------------------------------

    def _turn_config(self, character: Character) -> TurnConfig:
        rt, s = self.runtime, self.runtime.settings
        synth = None if self.spec.text_only else rt.synthesizer(character)
        visemes = rt.visemes if self.spec.visemes and synth and synth.has_alignments else None
        return TurnConfig(
            character=character,
            llm=rt.llm,
            synthesizer=synth,
            voice=rt.voice_settings(character),
            output_rate=self.spec.output_rate,
            chunk_ms=s.tts.chunk_ms,
            first_piece_ms=s.tts.first_piece_ms,
            first_clause_chars=s.tts.first_clause_chars,
            first_clause_min_chars=s.tts.first_clause_min_chars or None,
            hold_llm_for_first_sentence=s.tts.hold_llm_for_first_sentence,
            max_tokens=self.spec.max_tokens or s.llm.max_tokens,
            temperature=s.llm.temperature,
            max_say_chars=s.llm.max_say_chars,
            reply_order=s.llm.reply_order,
            mood=Mood(rt.emotions, character, self.memory_key),
            visemes=visemes,
            memory=rt.memory,
            player_key=self.memory_key,
            recall_tokens=min(s.memory.recall_tokens, SCENE_RECALL_TOKENS),
        )

    def _setting_for(self, character: Character) -> SceneSetting:
        others = tuple(c.name for c in self.characters.values() if c.id != character.id)
        return SceneSetting(
            premise=self.spec.premise,
            others=others,
            place=self._place(),
            player_name=self.spec.player_name if self._has_player() else "",
            player_role=self.spec.player_role if self._has_player() else "",
        )

    def _has_player(self) -> bool:
        return bool(self._players or self.spec.player_id or self.spec.world_id)

    def _place(self) -> str:
        spec = self.spec
        if not spec.place_id or spec.world_id not in self.runtime.worlds:
            return ""
        node = self.runtime.worlds.get(spec.world_id).graph.node(spec.place_id)
        if node is None:
            return ""
        return f"{node.name}{': ' + node.description if node.description else ''}"

    # --- the player --------------------------------------------------------------

    def say(self, player_id: str, text: str) -> None:
        """A player's line from outside (their Converse session); heard before the next line."""
        if text.strip():
            self._inbox.put_nowait(text.strip())

    async def _player_lines(self, npc_lines: int) -> list[str]:
        last = self.lines[-1] if self.lines else None
        out: list[str] = []
        while not self._inbox.empty():
            out.append(self._inbox.get_nowait())
        for source in self._players:
            text = await source.line_after(npc_lines, last)
            if text and text.strip():
                out.append(text.strip())
        return out

    # --- running -----------------------------------------------------------------

    async def events(self) -> AsyncGenerator[SceneOut, None]:
        """Run the scene, yielding its events; the last has the summary. Closing the
        iterator early (the client went away) stops the scene."""
        task = asyncio.create_task(self.run())
        try:
            while (item := await self._out.get()) is not None:
                yield item
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> SceneSummary:
        spec = self.spec
        self._start = time.perf_counter()
        registered = bool(spec.world_id)
        if registered:
            self.runtime.scenes.add(spec.world_id, spec.place_id, self)
        reason, detail = StopReason.MAX_TURNS, f"{spec.max_turns} lines"
        npc_lines = 0
        try:
            while True:
                for text in await self._player_lines(npc_lines):
                    self._player_line(text)
                if npc_lines >= spec.max_turns:
                    break
                remaining = spec.max_seconds - (time.perf_counter() - self._start)
                if remaining <= 0:
                    reason, detail = StopReason.MAX_SECONDS, f"{spec.max_seconds:g} s"
                    break
                decision = await self._decide()
                try:
                    text = await asyncio.wait_for(self._npc_line(decision), remaining)
                except TimeoutError:
                    reason, detail = StopReason.MAX_SECONDS, f"{spec.max_seconds:g} s"
                    break
                npc_lines += 1
                if phrase := stop_phrase_in(text, spec.stop_phrases):
                    reason, detail = StopReason.STOP_PHRASE, phrase
                    break
                if spec.stop_on_goodbye and says_goodbye(text):
                    reason, detail = StopReason.GOODBYE, f"{decision.speaker} said goodbye"
                    break
        except asyncio.CancelledError:
            reason, detail = StopReason.CANCELLED, "the client went away"
            raise
        except Exception as e:
            log.exception("scene %s failed", self.id)
            reason, detail = StopReason.ERROR, f"{type(e).__name__}: {e}"
        finally:
            if registered:
                self.runtime.scenes.remove(self)
            self._write_memories()
            summary = self._summary(reason, detail)
            self._out.put_nowait(SceneOut(self.id, "", len(self.lines), summary=summary))
            self._out.put_nowait(None)
            log.info(
                "scene_end",
                extra={"scene_id": self.id, "reason": reason.value, "lines": len(self.lines)},
            )
        return summary

    def _summary(self, reason: StopReason, detail: str) -> SceneSummary:
        first = next((s for s in self.summaries if not s.is_player), None)
        return SceneSummary(
            scene_id=self.id,
            reason=reason,
            detail=detail,
            lines=list(self.summaries),
            first_line_ms=(first.started_at_ms + first.first_output_ms) if first else 0.0,
            total_ms=(time.perf_counter() - self._start) * 1000.0,
        )

    def _since_start_ms(self) -> float:
        return (time.perf_counter() - self._start) * 1000.0

    async def _decide(self) -> FloorDecision:
        last = self.lines[-1] if self.lines else None
        last_speaker = last.speaker_id if last else None
        last_text = last.text if last else ""
        relevance: dict[str, float] = {}
        candidates = [p for p in self.floor.cast if p.id != last_speaker]
        # Relevance costs an embedding: only when it can decide something.
        if last_text and len(candidates) > 1 and not mentioned(last_text, candidates):
            relevance = await self._relevance(last_text, [p.id for p in candidates])
        return self.floor.next(last_speaker, last_text, relevance)

    async def _relevance(self, text: str, candidates: list[str]) -> dict[str, float]:
        """How close each candidate's own knowledge comes to `text` (best cosine score)."""
        memory = self.runtime.memory
        if memory is None or not memory.available:
            return {}
        try:
            qv = await memory.embedder.query(text)
            out: dict[str, float] = {}
            for cid in candidates:
                hits = await memory.kb.search([keys.character_collection(cid)], qv, 1)
                out[cid] = hits[0].score if hits else 0.0
            return out
        except Exception as e:  # relevance is a preference; rotation still works without it
            log.warning("scene %s: relevance unavailable: %s", self.id, e)
            return {}

    def _player_line(self, text: str) -> None:
        spec = self.spec
        index = len(self.lines)
        speaker = spec.player_speaker_id
        name = spec.player_name or "Player"
        self.lines.append(SceneLine(speaker, name, text, is_player=True))
        self.floor.spoke(speaker)
        self._emit(speaker, index, TranscriptOut(f"{self.id[:8]}-p{index}", text, True, "", 0))
        self.summaries.append(
            LineSummary(index, speaker, text, started_at_ms=self._since_start_ms(), is_player=True)
        )
        self._remember(speaker, name, text, "")

    async def _npc_line(self, decision: FloorDecision) -> str:
        character = self.characters[decision.speaker]
        index = len(self.lines)
        started_at = self._since_start_ms()
        addressee = self._name_of(decision.addressed_to)
        unanswered = since_last(self.lines, character.id)
        query = heard(unanswered) if unanswered else f"(The scene begins: {self.spec.premise})"
        setting, history = self._setting[character.id], list(self.lines)
        order = self._configs[character.id].reply_order

        def prompt(
            ch: Character, _h: list[Exchange], _text: str, context: str
        ) -> list[ChatMessage]:
            messages = scene_messages(ch, setting, history, addressee, context, order)
            self.prompts.append(messages)
            return messages

        config = dataclasses.replace(self._configs[character.id], prompt=prompt)
        opening = "" if self.turns else self.spec.opening_line.strip()
        request = TurnRequest(
            turn_id=f"{self.id[:8]}-l{index}",
            cause=TurnCause.SCENE,
            player_text=query,
            reference=time.perf_counter(),
            fixed_text=opening or None,
        )
        turn = Turn(config, request, [], _SceneEmitter(self, character.id, index))
        self.turns.append(turn)
        try:
            await turn.run()
        except asyncio.CancelledError:
            self._emit(character.id, index, turn.end_event(True, turn.text, "scene time limit"))
            raise
        self._emit(character.id, index, turn.end_event(False, turn.text))
        text = turn.text.strip() or "…"
        self.lines.append(SceneLine(character.id, character.name, text, turn.emotion))
        self.floor.spoke(character.id)
        t = turn.timings
        self.summaries.append(
            LineSummary(
                index=index,
                speaker_id=character.id,
                text=text,
                addressed_to=decision.addressed_to,
                floor_reason=decision.reason,
                started_at_ms=started_at,
                first_output_ms=t.first_audio_sent_at_ms or t.first_text_sent_at_ms,
                total_ms=t.total_ms,
                audio_ms=t.audio_ms,
                knowledge_sources=[h.source for h in turn.recalled.knowledge]
                if turn.recalled
                else [],
                emotion=turn.emotion,
            )
        )
        self._remember(character.id, character.name, text, addressee)
        return text

    def _name_of(self, speaker_id: str) -> str:
        if not speaker_id:
            return ""
        if speaker_id in self.characters:
            return self.characters[speaker_id].name
        return self.spec.player_name or "the player"

    def _remember(self, speaker_id: str, name: str, text: str, addressee: str) -> None:
        """Every participant will keep the line, under the scene's memory key."""
        for cid, character in self.characters.items():
            if cid == speaker_id:
                said = f"In a scene ({self.spec.premise.strip()[:120]}), I said"
                said += f' to {addressee}: "{text}"' if addressee else f': "{text}"'
            else:
                said = f'In a scene, {name} said: "{text}"'
            self._memories.append((character, said))

    def _write_memories(self) -> None:
        """Into memory once the scene is over: during it the lines are in every prompt
        already, and the writes' embedding would compete with the lines for the CPU."""
        memory, memories = self.runtime.memory, self._memories
        self._memories = []
        if memory is None:
            return
        for character, said in memories:
            self.runtime.writes.spawn(
                memory.remember_event(character, self.memory_key, said, importance=3.0)
            )

    def _emit(self, speaker_id: str, index: int, event: ServerOut) -> None:
        self._out.put_nowait(SceneOut(self.id, speaker_id, index, event=event))


class _SceneEmitter:
    """A line's Turn emitter: every event tagged with its speaker and line."""

    def __init__(self, director: SceneDirector, speaker_id: str, index: int) -> None:
        self.director, self.speaker_id, self.index = director, speaker_id, index

    def emit(self, event: ServerOut) -> None:
        if isinstance(event, ErrorOut):
            log.warning("scene %s line %d: %s", self.director.id, self.index, event.message)
        self.director._emit(self.speaker_id, self.index, event)
