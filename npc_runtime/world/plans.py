"""Plans and refusals: what the planner returns."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from .intents import Intent
from .rules import Step


class RefusalCode(enum.StrEnum):
    NOT_ALLOWED = "not_allowed"
    GUARDED = "guarded"
    UNKNOWN_TARGET = "unknown_target"
    INVALID = "invalid"
    UNREACHABLE = "unreachable"
    LOCKED = "locked"
    NOT_PORTABLE = "not_portable"
    HELD_BY_OTHER = "held_by_other"
    TOO_COMPLEX = "too_complex"
    IMPOSSIBLE = "impossible"


@dataclass(frozen=True)
class Refusal:
    intent: Intent
    code: RefusalCode
    reason: str  # in character, for the NPC to say
    detail: str = ""  # for logs


@dataclass(frozen=True)
class Plan:
    plan_id: str
    steps: tuple[Step, ...]
    # Accepted intents, and for each step the index of the intent it serves.
    intents: tuple[Intent, ...]
    refusals: tuple[Refusal, ...]
    step_intents: tuple[int, ...] = ()

    @property
    def refused(self) -> bool:
        return not self.steps and bool(self.refusals)


class _Refuse(Exception):
    def __init__(self, code: RefusalCode, reason: str, detail: str = "") -> None:
        reason = reason[:1].upper() + reason[1:]  # labels start lowercase ("the axe")
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail or reason


def new_id() -> str:
    return uuid.uuid4().hex[:12]
