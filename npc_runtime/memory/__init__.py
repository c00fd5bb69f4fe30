"""Memory and knowledge in Redis 8: RAG, episodic memory, history, relationships, privacy.

Everything a session needs is on :class:`Memory` (all methods are async; the
embedder runs on a worker thread of its own, never on the event loop)::

    memory = await Memory.open(settings, reflect=llm_text)   # connect or start redis-server
    await memory.ingest(character)            # idempotent; also `npc-runtime kb ingest`

    r = await memory.recall(character, player_id, query, game_time_h=None, budget_tokens=300)
    r.text          # prompt section ('' when nothing); r.knowledge, r.memories: what went in
    r.embed_ms, r.search_ms, r.ok   # ok=False: Redis was unreachable, the turn goes on without

    await memory.remember_turn(character, player_id, player_text=..., heard_text=...,
                               actions=[...], emotion="joy", game_time_h=None,
                               importance=None, add_history=False)
    await memory.remember_event(character, player_id, "The player looted my store",
                                importance=8, game_time_h=None)

    await memory.history(character_id, player_id)        # [(role, text)], oldest first
    await memory.append_history(character_id, player_id, role, text)
    await memory.relationship(character_id, player_id)   # {trust, affinity, emotion, intensity,
    await memory.set_relationship(character_id, player_id, trust=0.4, emotion="joy")  # updated_at}

    await memory.forget_player(player_id, character_id=None)  # -> keys removed
    await memory.export_player(player_id, character_id=None)  # -> JSON-ready dict
    await memory.close()                                 # stops the embedded redis if it started it

Notes:
- remember_turn stores one episodic memory; it writes history lines only with
  add_history=True (otherwise call append_history yourself, once per line).
- `reflect` (constructor/open argument or attribute) is an async
  ``(prompt: str) -> str``; when the summed importance of new memories passes
  memory.reflection_threshold it is called in the background and its answer is
  stored as a memory of kind "reflection". ``await memory.wait_idle()`` waits for it.
- While Redis is down: recall returns ``Recall(ok=False)`` at once, history()
  returns [], relationship() returns neutral defaults, writes are queued
  (bounded) and written when Redis returns; ``memory.stats`` counts it.
- Character arguments take a :class:`~npc_runtime.characters.Character`
  (recall needs its shared lore list) or, for writes, its id.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .embedders import Embedder, EmbedderError, make_embedder
    from .guard import MemoryStats
    from .knowledge import Hit, IngestReport
    from .meta import IndexMismatch
    from .recall import Recall, RecalledMemory
    from .redis_server import RedisServerError
    from .relationship import Relationship
    from .service import Memory, Reflect

# Imported on first use: `npc-runtime --help` should not pay for redis, numpy and httpx.
_EXPORTS = {
    "Embedder": "embedders",
    "EmbedderError": "embedders",
    "make_embedder": "embedders",
    "Hit": "knowledge",
    "IngestReport": "knowledge",
    "IndexMismatch": "meta",
    "Recall": "recall",
    "RecalledMemory": "recall",
    "RedisServerError": "redis_server",
    "Relationship": "relationship",
    "Memory": "service",
    "MemoryStats": "guard",
    "Reflect": "service",
}
__all__ = [
    "Embedder",
    "EmbedderError",
    "Hit",
    "IndexMismatch",
    "IngestReport",
    "Memory",
    "MemoryStats",
    "Recall",
    "RecalledMemory",
    "RedisServerError",
    "Reflect",
    "Relationship",
    "make_embedder",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
