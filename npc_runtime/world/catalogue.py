"""The actions catalogue: every verb's typed parameters.

Built-in verbs act on the scene graph (their preconditions and effects live in
rules.py); game-defined verbs come from character files (`[actions.custom.x]`)
and are performed by the game. A character may only use the verbs its file
lists — characters.py rejects unknown ones at load.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..characters import BUILTIN_VERBS, RESERVED_VERBS, ActionParam, Character, CustomVerb
from .model import Node

CANCEL_VERB = "cancel"
assert CANCEL_VERB in RESERVED_VERBS
GESTURES = (
    "wave",
    "nod",
    "shake_head",
    "shrug",
    "bow",
    "point",
    "laugh",
    "cross_arms",
    "facepalm",
    "thumbs_up",
)


class ParamType(enum.StrEnum):
    NODE = "node"
    STRING = "string"
    NUMBER = "number"


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: ParamType = ParamType.NODE
    required: bool = True
    # NODE: what the node may be (see node_tags).
    kinds: frozenset[str] = frozenset({"any"})
    enum: tuple[str, ...] = ()
    max_length: int = 32
    minimum: float | None = None
    maximum: float | None = None
    # False: filled in by the planner (e.g. which key opens a door), never by the LLM.
    from_model: bool = True


@dataclass(frozen=True)
class VerbSpec:
    name: str
    description: str
    target: ParamSpec | None = None
    params: tuple[ParamSpec, ...] = ()
    builtin: bool = True
    # Game-defined verbs: walk to the target's place first.
    same_place: bool = False
    # Lasts until stopped (follow): a "started" result completes the step.
    ongoing: bool = False

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


def node_tags(node: Node) -> frozenset[str]:
    """The words a parameter's `kinds` may use for this node."""
    tags = {"any", node.kind.value}
    if node.is_character:
        tags.add("character")
    if node.container:
        tags.add("container")
    if node.is_door:
        tags.add("door")
    if node.portable:
        tags.add("portable")
    if node.openable:
        tags.add("openable")
    return frozenset(tags)


def node_matches(kinds: frozenset[str], node: Node) -> bool:
    return not kinds.isdisjoint(node_tags(node))


def _node(name: str, *kinds: str, required: bool = True, from_model: bool = True) -> ParamSpec:
    return ParamSpec(name, ParamType.NODE, required, frozenset(kinds), from_model=from_model)


BUILTINS: dict[str, VerbSpec] = {
    v.name: v
    for v in (
        VerbSpec("move_to", "walk to a place, or to where a thing or someone is",
                 _node("target", "place", "object", "character")),
        VerbSpec("follow", "follow someone until told to stop", _node("target", "character"),
                 ongoing=True),
        VerbSpec("stop", "stop moving or following"),
        VerbSpec("pick_up", "pick something up", _node("target", "portable")),
        VerbSpec("put_down", "put something you hold down, in or on something",
                 _node("target", "portable"),
                 (_node("in", "container", "place", required=False),
                  _node("on", "container", required=False))),
        VerbSpec("give", "give something to someone", _node("target", "portable"),
                 (_node("to", "character"),)),
        VerbSpec("open", "open a door or a container", _node("target", "openable"),
                 (_node("key", "portable", required=False, from_model=False),)),
        VerbSpec("close", "close a door or a container", _node("target", "openable")),
        VerbSpec("use", "use a thing, optionally on something", _node("target", "object"),
                 (_node("on", "any", required=False),)),
        VerbSpec("look_at", "look at something or someone", _node("target", "any")),
        VerbSpec("emote", "make a gesture",
                 params=(ParamSpec("gesture", ParamType.STRING, enum=GESTURES),)),
        VerbSpec("wait", "wait a moment",
                 params=(ParamSpec("seconds", ParamType.NUMBER, minimum=0.5, maximum=30.0),)),
    )
}  # fmt: skip
assert tuple(BUILTINS) == BUILTIN_VERBS, "characters.BUILTIN_VERBS and the catalogue disagree"


def _param_from_file(name: str, p: ActionParam) -> ParamSpec:
    return ParamSpec(
        name,
        ParamType(p.type),
        p.required,
        frozenset(p.kinds),
        tuple(p.enum),
        p.max_length,
        p.minimum,
        p.maximum,
    )


def custom_verb(name: str, v: CustomVerb) -> VerbSpec:
    target = ParamSpec("target", ParamType.NODE, True, frozenset(v.target)) if v.target else None
    params = tuple(_param_from_file(n, p) for n, p in v.params.items())
    return VerbSpec(name, v.description or name.replace("_", " "), target, params, False,
                    v.same_place)  # fmt: skip


@dataclass(frozen=True)
class Catalogue:
    """The verbs one character may use, in the order its file lists them."""

    verbs: Mapping[str, VerbSpec]

    @classmethod
    def for_character(cls, character: Character) -> Catalogue:
        out: dict[str, VerbSpec] = {}
        for name in character.actions.verbs:
            custom = character.actions.custom.get(name)
            out[name] = custom_verb(name, custom) if custom else BUILTINS[name]
        return cls(out)

    def get(self, verb: str) -> VerbSpec | None:
        return self.verbs.get(verb)

    def __contains__(self, verb: object) -> bool:
        return verb in self.verbs


def check_value(spec: ParamSpec, value: str, node: Node | None) -> str | None:
    """Why a parameter value is wrong, or None. `node` is the scene node for NODE params."""
    if spec.type is ParamType.NODE:
        if node is None:
            return f"{spec.name}: there is no {value[:64]!r} in the scene"
        if node.hidden:
            return f"{spec.name}: {value!r} cannot be seen"
        if not node_matches(spec.kinds, node):
            wanted = " or ".join(sorted(spec.kinds))
            return f"{spec.name}: {node.label} is not a {wanted}"
        return None
    if spec.type is ParamType.NUMBER:
        try:
            x = float(value)
        except ValueError:
            return f"{spec.name}: {value[:32]!r} is not a number"
        if not math.isfinite(x):
            return f"{spec.name}: must be a finite number"
        if spec.minimum is not None and x < spec.minimum:
            return f"{spec.name}: at least {spec.minimum:g}"
        if spec.maximum is not None and x > spec.maximum:
            return f"{spec.name}: at most {spec.maximum:g}"
        return None
    if spec.enum and value not in spec.enum:
        return f"{spec.name}: {value[:32]!r} is not one of {', '.join(spec.enum)}"
    if len(value) > spec.max_length:
        return f"{spec.name}: longer than {spec.max_length} characters"
    return None
