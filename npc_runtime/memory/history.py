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
    character_id: str, player_id: str, role: str, text: str, cap: int, emotion: str = ""
) -> list[Command]:
    if role not in ROLES:
        raise ValueError(f"history role must be 'player' or 'npc', not {role!r}")
    key = keys.history(character_id, player_id)
    fields: dict[str, object] = {"role": role, "text": text, "t": round(time.time(), 3)}
    if emotion:
        # The prompt renders past replies with their emotion: a session that resumes
        # the conversation then builds the very prompt the last one cached.
        fields["emotion"] = emotion
    line = json.dumps(fields, ensure_ascii=False)
    return [("RPUSH", key, line), ("LTRIM", key, -cap, -1)]


def parse_lines(raw: list[str]) -> list[tuple[str, str, str]]:
    """(role, text, emotion) per stored line, oldest first; emotion "" when not stored."""
    out = []
    for item in raw:
        line = json.loads(item)
        out.append((str(line["role"]), str(line["text"]), str(line.get("emotion", ""))))
    return out


def parse(raw: list[str]) -> list[tuple[str, str]]:
    return [(role, text) for role, text, _ in parse_lines(raw)]
