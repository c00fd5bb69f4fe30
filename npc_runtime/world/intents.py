"""Constrained intents: the JSON schema of the LLM's `actions`, and its parsing.

The schema lists only the character's verbs and, for every node parameter,
only ids of nodes the NPC perceives that fit the parameter (give takes
something portable, `to` someone), so even a small model can only name things
that exist. Parsing trusts nothing: whatever the model (or a jailbreak) wrote,
an invalid action becomes a rejection with a reason, never a command.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..characters import Character
from .catalogue import Catalogue, ParamSpec, ParamType, VerbSpec
from .perception import Perception

MAX_ACTIONS = 3


@dataclass(frozen=True)
class Intent:
    """What the model asked for, before planning."""

    verb: str
    target_id: str = ""
    args: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in sorted(self.args.items()))
        return f"{self.verb}({self.target_id}{extra})"


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass(frozen=True)
class ParsedActions:
    intents: list[Intent]
    rejected: list[Rejected]


def _tags(perceived: Perception | Sequence[str]) -> dict[str, frozenset[str]] | None:
    return dict(perceived.tags) if isinstance(perceived, Perception) else None


def _ids_for(
    spec: ParamSpec, perceived: Perception | Sequence[str], tags: dict[str, frozenset[str]] | None
) -> list[str]:
    ids = perceived.ids if isinstance(perceived, Perception) else perceived
    if tags is None:
        return list(ids)
    return [i for i in ids if not spec.kinds.isdisjoint(tags.get(i, frozenset()))]


def _value_schema(
    spec: ParamSpec, perceived: Perception | Sequence[str], tags: dict[str, frozenset[str]] | None
) -> dict[str, Any] | None:
    if spec.type is ParamType.NODE:
        ids = _ids_for(spec, perceived, tags)
        return {"type": "string", "enum": ids} if ids else None
    if spec.type is ParamType.NUMBER:
        out: dict[str, Any] = {"type": "number"}
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
        return out
    if spec.enum:
        return {"type": "string", "enum": list(spec.enum)}
    return {"type": "string", "maxLength": spec.max_length}


def _verb_schema(
    spec: VerbSpec, perceived: Perception | Sequence[str], tags: dict[str, frozenset[str]] | None
) -> dict[str, Any] | None:
    """One verb's action object, or None when nothing perceived fits its target."""
    props: dict[str, Any] = {"verb": {"type": "string", "enum": [spec.name]}}
    required = ["verb"]
    for p in (spec.target, *spec.params):
        if p is None or not p.from_model:
            continue
        value = _value_schema(p, perceived, tags)
        if value is None:
            if p.required:
                return None
            continue
        props[p.name] = value
        if p.required:
            required.append(p.name)
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": props,
        "required": required,
    }


def actions_schema(
    character: Character,
    perceived: Perception | Sequence[str],
    max_actions: int = MAX_ACTIONS,
) -> dict[str, Any]:
    """The JSON schema of the reply's `actions` array for this character now.

    Pass the Perception to also constrain each parameter by node kind; bare ids
    allow any perceived id for every node parameter (the planner still checks).
    """
    catalogue = Catalogue.for_character(character)
    tags = _tags(perceived)
    variants = [
        s for spec in catalogue.verbs.values() if (s := _verb_schema(spec, perceived, tags))
    ]
    if not variants or max_actions <= 0:
        return {"type": "array", "maxItems": 0, "items": {"type": "object"}}
    items = variants[0] if len(variants) == 1 else {"anyOf": variants}
    return {"type": "array", "maxItems": max_actions, "items": items}


def _as_str(spec: ParamSpec, value: Any) -> str | None:
    if spec.type is ParamType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        try:
            x = float(value)
        except ValueError:
            return None
        return f"{x:g}" if math.isfinite(x) else None
    return value if isinstance(value, str) else None


def _parse_one(item: Any, catalogue: Catalogue, perceived: frozenset[str] | None) -> Intent | str:
    if not isinstance(item, dict):
        return "an action must be an object with a verb"
    verb = item.get("verb")
    if not isinstance(verb, str) or not verb:
        return "the action has no verb"
    spec = catalogue.get(verb)
    if spec is None:
        return f"verb {verb[:32]!r} is not one this character may use"
    args: dict[str, str] = {}
    target = ""
    for key, value in item.items():
        if key == "verb":
            continue
        p = spec.target if key == "target" else spec.param(key)
        if p is None or not p.from_model:
            if key == "target" and value in ("", None):
                continue  # an empty target on a verb without one is harmless
            return f"{verb} has no parameter {str(key)[:32]!r}"
        text = _as_str(p, value)
        if text is None:
            return f"{verb}: {key} must be a {p.type.value}"
        if p.type is ParamType.NODE and perceived is not None and text not in perceived:
            return f"{verb}: {key} {text[:64]!r} is nothing I can perceive"
        if key == "target":
            target = text
        else:
            args[key] = text
    if spec.target is not None and not target:
        return f"{verb} needs a target"
    for p in spec.params:
        if p.required and p.from_model and p.name not in args:
            return f"{verb} needs {p.name}"
    return Intent(verb, target, args)


def parse_actions(
    raw: Any,
    character: Character | Catalogue,
    perceived: Perception | Sequence[str] | None = None,
    max_actions: int = MAX_ACTIONS,
) -> ParsedActions:
    """The model's `actions` value → intents to plan, and rejections with reasons.

    Checks shape, verbs (the character's only), parameter names and types, and
    that every node id is one the NPC perceives. Whether the scene allows the
    action is the planner's question.
    """
    catalogue = (
        character if isinstance(character, Catalogue) else Catalogue.for_character(character)
    )
    if isinstance(perceived, Perception):
        ids: frozenset[str] | None = frozenset(perceived.ids)
    else:
        ids = None if perceived is None else frozenset(perceived)
    if raw is None:
        return ParsedActions([], [])
    if not isinstance(raw, list):
        return ParsedActions([], [Rejected(0, "actions must be a list")])
    intents: list[Intent] = []
    rejected: list[Rejected] = []
    for i, item in enumerate(raw):
        if i >= max_actions:
            rejected.append(Rejected(i, f"at most {max_actions} actions per reply"))
            continue
        parsed = _parse_one(item, catalogue, ids)
        if isinstance(parsed, Intent):
            intents.append(parsed)
        else:
            rejected.append(Rejected(i, parsed))
    return ParsedActions(intents, rejected)
