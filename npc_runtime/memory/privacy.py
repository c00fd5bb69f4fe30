"""Everything stored about a player: found by key pattern, exported, forgotten."""

from __future__ import annotations

import json
import time
from typing import Any

from . import history, keys, relationship
from .connection import Redis, as_str_dict, call
from .episodic import MemoryRecord


async def player_keys(r: Redis, player_id: str, character_id: str | None = None) -> list[str]:
    pattern = keys.player_pattern(player_id, character_id)
    return sorted([k async for k in r.scan_iter(match=pattern, count=1000)])


def _split(key: str) -> tuple[str, str]:
    """(character id, kind) of a per-player key."""
    rest = key[key.index("}:") + 2 :]
    character, _, kind = rest.rpartition(":")
    return character, kind


async def _memories(r: Redis, key: str) -> list[dict[str, Any]]:
    size = int(await call(r, "VCARD", key))
    if size == 0:
        return []
    elements = await call(r, "VRANDMEMBER", key, size)
    async with r.pipeline(transaction=False) as pipe:
        for e in elements:
            pipe.execute_command("VGETATTR", key, e)
        attrs = await pipe.execute()
    records = [
        MemoryRecord.from_attrs(e, json.loads(a) if a else {})
        for e, a in zip(elements, attrs, strict=True)
    ]
    records.sort(key=lambda m: m.wall_time)
    return [dict(m.attrs(), id=m.id) for m in records]


async def export(r: Redis, player_id: str, character_id: str | None = None) -> dict[str, Any]:
    """JSON-ready: per character, its memories, history lines and relationship."""
    out: dict[str, Any] = {"player": player_id, "exported_at": time.time(), "characters": {}}
    for key in await player_keys(r, player_id, character_id):
        character, kind = _split(key)
        entry = out["characters"].setdefault(character, {})
        if kind == "mem":
            entry["memories"] = await _memories(r, key)
        elif kind == "history":
            lines = history.parse(await call(r, "LRANGE", key, 0, -1))
            entry["history"] = [{"role": role, "text": text} for role, text in lines]
        elif kind == "rel":
            entry["relationship"] = relationship.parse(as_str_dict(await call(r, "HGETALL", key)))
        elif kind == "refl":
            raw = await call(r, "HGET", key, "since")
            entry["importance_since_reflection"] = float(raw or 0)
    return out


async def forget(r: Redis, player_id: str, character_id: str | None = None) -> int:
    """Delete every key about the player (of one character, if given); returns how many."""
    found = await player_keys(r, player_id, character_id)
    for i in range(0, len(found), 500):
        await r.delete(*found[i : i + 500])
    return len(found)
