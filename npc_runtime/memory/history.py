"""Conversation lines per (character, player) in a capped Redis list.

Kept in Redis rather than in the session so a player who reconnects, or whose
next session lands on another server process, continues the same conversation.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from . import keys
from .vectors import Command

Role = Literal["player", "npc"]
ROLES: tuple[Role, ...] = ("player", "npc")


def append_commands(
    character_id: str, player_id: str, role: str, text: str, cap: int
) -> list[Command]:
    if role not in ROLES:
        raise ValueError(f"history role must be 'player' or 'npc', not {role!r}")
    key = keys.history(character_id, player_id)
    line = json.dumps({"role": role, "text": text, "t": round(time.time(), 3)}, ensure_ascii=False)
    return [("RPUSH", key, line), ("LTRIM", key, -cap, -1)]


def parse(raw: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in raw:
        line = json.loads(item)
        out.append((str(line["role"]), str(line["text"])))
    return out
