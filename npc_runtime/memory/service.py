"""The memory service a session talks to: recall before a turn, remember after it.

Faults are contained (see guard.py): when Redis cannot be reached, recall
answers at once with ok=False and the turn goes on without memories, while
writes wait in a bounded queue until Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from ..characters import Character
from ..config import Settings
from . import episodic, history, keys, privacy, relationship
from .connection import Connection, Redis, as_str_dict, check_server
from .embedders import AsyncEmbedder, Embedder, make_embedder
from .guard import DOWN, MemoryStats, RedisGuard
from .knowledge import Hit, IngestReport, KnowledgeBase, collections_of
from .meta import IndexMismatch, check_meta
from .recall import Recall, render
from .relationship import Relationship
from .scoring import Weights, importance_of, rank
from .vectors import Command, parse_vsim
from .write_queue import WriteQueue

log = logging.getLogger(__name__)

Reflect = Callable[[str], Awaitable[str]]
REFLECTION_IMPORTANCE = 8.0
_REFLECT_PROMPT = (
    "You are {name}. These are your latest memories of one person you talk to:\n{memories}\n\n"
    "In one short first-person sentence (at most 25 words), write the most important "
    "conclusion you draw about this person or how you feel about them. Only the sentence."
)


def _cid(character: Character | str) -> str:
    return character if isinstance(character, str) else character.id


class Memory:
    """Knowledge, episodic memory, history and relationships of every character."""

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        embedder: AsyncEmbedder,
        *,
        reflect: Reflect | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.memory
        self.connection = connection
        self.embedder = embedder
        # async (prompt) -> text, the LLM; without it no reflections are written.
        self.reflect = reflect
        self.kb = KnowledgeBase(
            connection.redis, embedder, self.cfg.chunk_tokens, bulk=connection.bulk
        )
        self.guard = RedisGuard(
            connection.redis, self.cfg.write_queue_max, self.cfg.retry_interval_s
        )
        self.weights = Weights(
            self.cfg.weight_recency,
            self.cfg.weight_importance,
            self.cfg.weight_relevance,
            self.cfg.recency_decay_per_hour,
        )
        self._meta_checked = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Reflections in the background and whom they are about (character, player):
        # forgetting the player cancels them, or one finishing later (they wait for a
        # quiet engine) would write about the player again.
        self._reflections: dict[asyncio.Task[None], tuple[str, str]] = {}

    # --- life cycle -------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        reflect: Reflect | None = None,
    ) -> Memory:
        """Connect (or start the embedded Redis); a Redis that is down is retried later."""
        conn = await asyncio.to_thread(Connection.open, settings)
        mem = cls(
            settings,
            conn,
            AsyncEmbedder(embedder or make_embedder(settings.memory)),
            reflect=reflect,
        )
        try:
            await check_server(conn.redis, conn.url)
            await mem._check_memory_meta()
        except DOWN as e:
            mem.guard.mark_down(e, "open")
        except BaseException:
            await mem.close()
            raise
        mem.guard.start(on_reconnect=mem._check_memory_meta)
        return mem

    @property
    def redis(self) -> Redis:
        return self.connection.redis

    @property
    def available(self) -> bool:
        """False while Redis is unreachable (recall skipped, writes queued)."""
        return not self.guard.down

    @property
    def stats(self) -> MemoryStats:
        return self.guard.stats

    @property
    def queue(self) -> WriteQueue:
        return self.guard.queue

    async def close(self) -> None:
        """Finish reflections, write what is queued if Redis is back, stop what we started."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.wait_idle(), 5.0)
        await self.guard.stop()
        await self.connection.close()
        self.embedder.close()

    async def wait_idle(self) -> None:
        """Until background reflections are done and the write queue is empty (or Redis down)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if len(self.queue) and not self.guard.down:
            await self.guard.flush()

    # --- recall -----------------------------------------------------------------

    async def recall(
        self,
        character: Character | str,
        player_id: str,
        query: str,
        *,
        game_time_h: float | None = None,
        budget_tokens: int = 300,
        skip_said: Collection[str] = (),
    ) -> Recall:
        """Knowledge and memories for `query`, as a prompt section under `budget_tokens`.

        A character id instead of a Character reads its own knowledge only (the
        shared lore it lists is in its character file). Memories of the exchanges
        whose player lines are in `skip_said` are left out: the prompt's history
        already has them, and every prompt token costs time.
        """
        if self.guard.down:
            self.stats.recall_failures += 1
            return Recall(ok=False)
        t0 = time.perf_counter()
        qv = await self.embedder.query(query)
        t1 = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                self._search(character, player_id, qv, game_time_h, budget_tokens, skip_said),
                self.cfg.op_timeout_s * 2,
            )
        except DOWN as e:
            self.guard.mark_down(e, "recall")
            self.stats.recall_failures += 1
            return Recall(ok=False, embed_ms=(t1 - t0) * 1000)
        except RedisError as e:
            # A refused command (wrong key type, ...): this turn goes without, Redis is fine.
            log.error("recall failed: %s", e)
            self.stats.recall_failures += 1
            return Recall(ok=False, embed_ms=(t1 - t0) * 1000)
        result.embed_ms = (t1 - t0) * 1000
        result.search_ms = (time.perf_counter() - t1) * 1000
        return result

    async def _search(
        self,
        character: Character | str,
        player_id: str,
        qv: np.ndarray,
        game_time_h: float | None,
        budget_tokens: int,
        skip_said: Collection[str] = (),
    ) -> Recall:
        """Knowledge and memories for a query vector (the embedding is the caller's)."""
        live = await self._live_knowledge(self._collections(character))
        k = self.cfg.knowledge_hits
        cmds = [
            *self.kb.search_commands(live, qv, k),
            *episodic.recall_commands(
                _cid(character), player_id, qv, self.cfg.memory_candidates, self.cfg.recent_memories
            ),
        ]
        # One round trip for knowledge and memories.
        replies = await self.guard.run(cmds, transaction=False)
        hits = self.kb.hits(live, replies[:-2], k)
        kb_result = [h for h in hits if h.score >= self.cfg.knowledge_min_score]
        vsim_reply, recent_raw = replies[-2:]
        now = time.time()
        candidates = episodic.candidates(parse_vsim(vsim_reply), recent_raw)
        if skip_said:
            said = [f'"{line}"' for line in skip_said if line]
            candidates = [
                c for c in candidates if c.kind != "turn" or not any(q in c.text for q in said)
            ]
        ranked = rank(candidates, self.weights, now, game_time_h)
        text, hits, memories = render(
            kb_result,
            ranked,
            budget_tokens=budget_tokens,
            knowledge_share=self.cfg.knowledge_share,
            now_wall=now,
            now_game_h=game_time_h,
        )
        return Recall(text=text, knowledge=hits, memories=memories)

    async def _live_knowledge(self, collections: list[str]) -> list[str]:
        try:
            return await self.kb.live(collections)
        except IndexMismatch as e:
            # Loud in the log, but a stale index must not stop the character talking.
            log.error("%s", e)
            return []

    async def search_knowledge(self, character: Character, query: str, count: int) -> list[Hit]:
        """Knowledge hits for a question (as `kb search` prints them); raises if Redis is down."""
        qv = await self.embedder.query(query)
        return await self.kb.search(self._collections(character), qv, count)

    def _collections(self, character: Character | str) -> list[str]:
        if isinstance(character, str):
            return [keys.character_collection(character)]
        return [c for c, _ in collections_of(character, self.settings.characters_dir)]

    async def ingest(
        self,
        character: Character,
        *,
        rebuild: bool = False,
        progress: Callable[[str, str], None] | None = None,
    ) -> list[IngestReport]:
        """Ingest a character's knowledge folder and the shared lore it lists (idempotent)."""
        return [
            await self.kb.ingest(name, folder, rebuild=rebuild, progress=progress)
            for name, folder in collections_of(character, self.settings.characters_dir)
        ]

    # --- remember ---------------------------------------------------------------

    async def remember_turn(
        self,
        character: Character | str,
        player_id: str,
        *,
        player_text: str,
        heard_text: str,
        actions: list[str] | None = None,
        emotion: str = "neutral",
        game_time_h: float | None = None,
        importance: float | None = None,
        add_history: bool = False,
    ) -> None:
        """One turn as an episodic memory: what the player said and what they actually heard.

        add_history=True also appends both lines to the conversation history.
        """
        acts = actions or []
        text = turn_memory_text(player_text, heard_text, acts)
        if not text:
            return
        imp = importance if importance is not None else importance_of(text, emotion, len(acts))
        if add_history:
            # Written before the (slower) embedding: a reconnect right after the turn
            # already sees these lines.
            lines: list[Command] = []
            cid, cap = _cid(character), self.cfg.history_max
            if player_text.strip():
                lines += history.append_commands(cid, player_id, "player", player_text, cap)
            if heard_text.strip():
                lines += history.append_commands(cid, player_id, "npc", heard_text, cap, emotion)
            await self.guard.write(lines)
        await self._remember(character, player_id, text, imp, "turn", game_time_h)

    def prefetch_turn(self, player_text: str, heard_text: str) -> None:
        """Embed a turn's memory now, while its reply plays: remember_turn at the end of
        playback then finds it done instead of embedding as the player starts to speak."""
        text = turn_memory_text(player_text, heard_text, [])
        if text:
            self.embedder.prefetch_passage(text)

    async def remember_event(
        self,
        character: Character | str,
        player_id: str,
        text: str,
        *,
        importance: float,
        game_time_h: float | None = None,
    ) -> None:
        """Something that happened (a game trigger), with importance 1-10."""
        await self._remember(character, player_id, text, importance, "event", game_time_h)

    async def _remember(
        self,
        character: Character | str,
        player_id: str,
        text: str,
        importance: float,
        kind: str,
        game_time_h: float | None,
    ) -> None:
        now = time.time()
        record = episodic.MemoryRecord(
            episodic.new_id(now), text, max(1.0, min(10.0, importance)), now, game_time_h, kind
        )
        vector = (await self.embedder.passages([text]))[0]
        cid = _cid(character)
        cmds = episodic.add_commands(cid, player_id, record, vector, self.cfg.recent_memories)
        if kind == "reflection":
            cmds = cmds[:-1]  # reflections do not count towards the next reflection
        results = await self.guard.write(cmds)
        if kind != "reflection" and results is not None and self.reflect is not None:
            since = float(results[len(cmds) - 1])
            if since >= self.cfg.reflection_threshold:
                await self.guard.write([("HSET", keys.reflection(cid, player_id), "since", 0)])
                name = character if isinstance(character, str) else character.name
                task = self._spawn(self._reflect(cid, name, player_id, game_time_h))
                self._reflections[task] = (cid, player_id)
                task.add_done_callback(self._reflections.pop)

    async def _reflect(
        self, character_id: str, name: str, player_id: str, game_time_h: float | None
    ) -> None:
        assert self.reflect is not None
        raw = await self.guard.run([("LRANGE", keys.recent(character_id, player_id), 0, 19)])
        records = [r for r in episodic.recent_records(raw[0]) if r.kind != "reflection"]
        if not records:
            return
        lines = "\n".join(f"- {r.text}" for r in reversed(records))
        insight = (await self.reflect(_REFLECT_PROMPT.format(name=name, memories=lines))).strip()
        if insight:
            self.stats.reflections += 1
            await self._remember(
                character_id,
                player_id,
                insight[:400],
                REFLECTION_IMPORTANCE,
                "reflection",
                game_time_h,
            )

    # --- history and relationship ---------------------------------------------------

    async def history(self, character_id: str, player_id: str) -> list[tuple[str, str]]:
        """(role "player"/"npc", text), oldest first; [] when Redis is down."""
        return [(role, text) for role, text, _ in await self.conversation(character_id, player_id)]

    async def conversation(self, character_id: str, player_id: str) -> list[tuple[str, str, str]]:
        """(role, text, emotion) with the emotion of NPC lines ("" if not stored)."""
        if self.guard.down:
            return []
        try:
            raw = await self.guard.run([("LRANGE", keys.history(character_id, player_id), 0, -1)])
        except DOWN as e:
            self.guard.mark_down(e, "history")
            return []
        return history.parse_lines(raw[0])

    async def append_history(self, character_id: str, player_id: str, role: str, text: str) -> None:
        cmds = history.append_commands(character_id, player_id, role, text, self.cfg.history_max)
        await self.guard.write(cmds)

    async def relationship(self, character_id: str, player_id: str) -> Relationship:
        """The stored state, or neutral defaults when none (or Redis is down)."""
        if not self.guard.down:
            try:
                raw = await self.guard.run(
                    [("HGETALL", keys.relationship(character_id, player_id))]
                )
                stored = relationship.parse(as_str_dict(raw[0]))
                if stored is not None:
                    return stored
            except DOWN as e:
                self.guard.mark_down(e, "relationship")
        return relationship.default()

    async def set_relationship(
        self, character_id: str, player_id: str, **values: float | str
    ) -> None:
        """Update any of trust, affinity, emotion, intensity (updated_at is stamped)."""
        await self.guard.write(relationship.set_commands(character_id, player_id, **values))

    # --- privacy --------------------------------------------------------------------

    async def forget_player(self, player_id: str, character_id: str | None = None) -> int:
        """Delete everything stored about the player; returns the number of keys removed."""
        pending = [
            t
            for t, (cid, pid) in self._reflections.items()
            if pid == player_id and (character_id is None or cid == character_id)
        ]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.queue.drop_player(player_id, character_id)
        return await privacy.forget(self.connection.bulk, player_id, character_id)

    async def export_player(
        self, player_id: str, character_id: str | None = None
    ) -> dict[str, Any]:
        return await privacy.export(self.connection.bulk, player_id, character_id)

    # --- internals -------------------------------------------------------------------

    async def _check_memory_meta(self) -> None:
        if self._meta_checked:
            return
        await check_meta(
            self.redis,
            keys.MEMORY_META,
            self.embedder.name,
            await self.embedder.dim(),
            what="the stored episodic memories",
            fix="set memory.embedder back to that model, or remove the old memories with "
            "'npc-runtime memory forget --player P' for each player",
            record=True,
        )
        self._meta_checked = True

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except DOWN as e:
                self.guard.mark_down(e, "reflection")
            except Exception:
                log.exception("reflection failed")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def turn_memory_text(player_text: str, heard_text: str, actions: list[str]) -> str:
    """A turn as the episodic memory says it ('' when nothing was said or done)."""
    parts = []
    if player_text.strip():
        parts.append(f'The player said: "{player_text.strip()}"')
    if heard_text.strip():
        parts.append(f'I answered: "{heard_text.strip()}"')
    if actions:
        parts.append(f"I did: {', '.join(actions)}.")
    return " ".join(parts)
