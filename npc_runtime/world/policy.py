"""Designer policy: the verb allowlist and guards, enforced on every planned step.

The prompt is not a security boundary: whatever the player says, a step whose
verb the character does not list, or that a guard forbids in the current
relationship and narrative state, never becomes a command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..characters import Character, Guard
from .catalogue import ParamType, VerbSpec
from .rules import Step, View


@dataclass(frozen=True)
class PolicyContext:
    """What guards may look at: the relationship with the player (trust, affinity,
    each -1..1) and the world's narrative flags."""

    relationship: Mapping[str, float] = field(default_factory=dict)
    flags: frozenset[str] = frozenset()

    @classmethod
    def of(cls, relationship: Mapping[str, float] | None, flags: Iterable[str]) -> PolicyContext:
        return cls(dict(relationship or {}), frozenset(flags))


@dataclass(frozen=True)
class Denial:
    reason: str  # what the character says
    why: str  # what the log says


def _named_nodes(spec: VerbSpec | None, step: Step) -> list[str]:
    ids = [step.target_id] if step.target_id else []
    if spec is not None:
        ids += [
            step.args[p.name]
            for p in spec.params
            if p.type is ParamType.NODE and p.name in step.args
        ]
    return ids


def _applies(guard: Guard, spec: VerbSpec | None, step: Step, view: View) -> bool:
    if guard.verb not in ("*", step.verb):
        return False
    named = _named_nodes(spec, step)
    if guard.target and guard.target not in named:
        return False
    if guard.target_type:
        types = {n.type for i in named if (n := view.node(i)) is not None}
        if guard.target_type not in types:
            return False
    return True


def _holds(guard: Guard, ctx: PolicyContext) -> str | None:
    """The first unmet condition, or None when the guard lets the step through."""
    conditions = (
        guard.min_trust is not None
        or guard.min_affinity is not None
        or guard.flags
        or guard.not_flags
    )
    if not conditions:
        return "always refused"
    trust = ctx.relationship.get("trust", 0.0)
    if guard.min_trust is not None and trust < guard.min_trust:
        return f"trust {trust:.2f} < {guard.min_trust:.2f}"
    affinity = ctx.relationship.get("affinity", 0.0)
    if guard.min_affinity is not None and affinity < guard.min_affinity:
        return f"affinity {affinity:.2f} < {guard.min_affinity:.2f}"
    missing = [f for f in guard.flags if f not in ctx.flags]
    if missing:
        return f"flag {missing[0]!r} not set"
    present = [f for f in guard.not_flags if f in ctx.flags]
    if present:
        return f"flag {present[0]!r} is set"
    return None


class Policy:
    def __init__(self, character: Character) -> None:
        self.character = character
        self.allowed = frozenset(character.actions.verbs)
        self.guards = tuple(character.actions.guards)

    def check(
        self, spec: VerbSpec | None, step: Step, view: View, ctx: PolicyContext
    ) -> Denial | None:
        if step.verb not in self.allowed or spec is None:
            return Denial(
                _NOT_MINE.get(step.verb, "That's not something I do."),
                f"verb {step.verb!r} is not in {self.character.id}'s allowlist",
            )
        for guard in self.guards:
            if not _applies(guard, spec, step, view):
                continue
            unmet = _holds(guard, ctx)
            if unmet is not None:
                return Denial(
                    guard.reason or "No. I won't do that.",
                    f"guard on {guard.verb}/{guard.target or guard.target_type or '*'}: {unmet}",
                )
        return None


_NOT_MINE = {
    "move_to": "I'm staying right here.",
    "follow": "I'm not going anywhere with you.",
    "pick_up": "I can't fetch that for you.",
    "give": "I can't hand that over.",
    "open": "I can't open that.",
}
