"""Episodic memories of one (character, player) as Redis commands and parsed records.

A memory lives in the pair's vector set (text, importance and times as the
element's attributes, so VSIM returns everything in one reply) and, while it
is among the newest, in a capped list too, so recency needs no scan. A recent
memory that is not among the nearest gets the lowest relevance VSIM returned:
its true relevance is no higher, and looking it up would cost a round trip.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import keys
from .scoring import Candidate
from .vectors import Command, vadd, vsim


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    text: str
    importance: float
    wall_time: float
    game_time_h: float | None = None
    kind: str = "turn"  # "turn", "event" or "reflection"

    def attrs(self) -> dict[str, Any]:
        a: dict[str, Any] = {
            "text": self.text,
            "imp": round(self.importance, 2),
            "t": round(self.wall_time, 3),
            "kind": self.kind,
        }
        if self.game_time_h is not None:
            a["g"] = self.game_time_h
        return a

    @classmethod
    def from_attrs(cls, element: str, a: dict[str, Any]) -> MemoryRecord:
        g = a.get("g")
        return cls(
            id=element,
            text=str(a.get("text", "")),
            importance=float(a.get("imp", 1.0)),
            wall_time=float(a.get("t", 0.0)),
            game_time_h=None if g is None else float(g),
            kind=str(a.get("kind", "turn")),
        )

    def candidate(self, relevance: float) -> Candidate:
        return Candidate(
            self.id,
            self.text,
            self.importance,
            self.wall_time,
            self.game_time_h,
            relevance,
            self.kind,
        )


def new_id(wall_time: float) -> str:
    """Sortable by time; the random tail keeps two processes from colliding."""
    return f"m{int(wall_time * 1000):013d}{secrets.token_hex(3)}"


def add_commands(
    character_id: str, player_id: str, record: MemoryRecord, vector: np.ndarray, recent_cap: int
) -> list[Command]:
    """VADD to the vector set, push on the recent list, add to the reflection sum."""
    recent = dict(record.attrs(), id=record.id)
    cmds: list[Command] = [
        vadd(keys.memories(character_id, player_id), vector, record.id, record.attrs())
    ]
    if recent_cap > 0:
        rkey = keys.recent(character_id, player_id)
        cmds += [
            ("LPUSH", rkey, json.dumps(recent, ensure_ascii=False)),
            ("LTRIM", rkey, 0, recent_cap - 1),
        ]
    cmds.append(
        (
            "HINCRBYFLOAT",
            keys.reflection(character_id, player_id),
            "since",
            round(record.importance, 2),
        )
    )
    return cmds


def recall_commands(
    character_id: str, player_id: str, vector: np.ndarray, count: int, recent: int
) -> list[Command]:
    return [
        vsim(keys.memories(character_id, player_id), vector, count),
        ("LRANGE", keys.recent(character_id, player_id), 0, max(0, recent - 1)),
    ]


def candidates(
    vsim_rows: list[tuple[str, float, dict[str, Any]]], recent_raw: list[str]
) -> list[Candidate]:
    """Nearest and newest memories, each once, with its relevance to the question."""
    out: dict[str, Candidate] = {}
    for element, score, attrs in vsim_rows:
        out[element] = MemoryRecord.from_attrs(element, attrs).candidate(score)
    floor = min((c.relevance for c in out.values()), default=0.0)
    for raw in recent_raw:
        a = json.loads(raw)
        if a["id"] not in out:
            out[a["id"]] = MemoryRecord.from_attrs(a["id"], a).candidate(floor)
    return list(out.values())


def recent_records(recent_raw: list[str]) -> list[MemoryRecord]:
    return [MemoryRecord.from_attrs(a["id"], a) for a in map(json.loads, recent_raw)]
