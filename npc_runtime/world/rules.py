"""Preconditions and effects of every verb, over a read-only view of the scene.

The planner checks each step it produces against a simulated view (Overlay)
and the executor checks it again against the live graph right before sending
it, so a command only leaves the server when it can succeed in the scene as
the server knows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .catalogue import ParamType, VerbSpec, check_value
from .graph import Passable, SceneGraph
from .model import Node, NodeKind, Relation, RelationKind, SceneDelta


@dataclass(frozen=True)
class Step:
    """One command to the client: a verb, its target node and string arguments."""

    verb: str
    target_id: str = ""
    args: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in sorted(self.args.items()))
        return f"{self.verb}({self.target_id}{extra})"


@dataclass(frozen=True)
class Reparent:
    node_id: str
    kind: RelationKind
    parent_id: str


@dataclass(frozen=True)
class SetState:
    node_id: str
    values: Mapping[str, str]


Change = Reparent | SetState


class View(Protocol):
    def node(self, node_id: str) -> Node | None: ...
    def parent(self, node_id: str) -> tuple[RelationKind, str] | None: ...
    def neighbours(self, place_id: str) -> dict[str, float]: ...
    def can_reach(self, source: str, target: str, passable: Passable | None = None) -> bool: ...
    def path(
        self, source: str, target: str, passable: Passable | None = None
    ) -> tuple[float, list[str]] | None: ...


class Overlay:
    """The scene as it will be after some planned steps, without touching it."""

    def __init__(self, graph: SceneGraph) -> None:
        self.graph = graph
        self._parents: dict[str, tuple[RelationKind, str]] = {}
        self._nodes: dict[str, Node] = {}

    def node(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id) or self.graph.node(node_id)

    def parent(self, node_id: str) -> tuple[RelationKind, str] | None:
        return self._parents.get(node_id) or self.graph.parent(node_id)

    def neighbours(self, place_id: str) -> dict[str, float]:
        return self.graph.neighbours(place_id)

    def path(
        self, source: str, target: str, passable: Passable | None = None
    ) -> tuple[float, list[str]] | None:
        return self.graph.path(source, target, passable)

    def can_reach(self, source: str, target: str, passable: Passable | None = None) -> bool:
        return self.graph.can_reach(source, target, passable)

    def fork(self) -> Overlay:
        other = Overlay(self.graph)
        other._parents = dict(self._parents)
        other._nodes = dict(self._nodes)
        return other

    def apply(self, changes: list[Change]) -> None:
        for ch in changes:
            if isinstance(ch, Reparent):
                self._parents[ch.node_id] = (ch.kind, ch.parent_id)
            else:
                node = self.node(ch.node_id)
                assert node is not None
                self._nodes[ch.node_id] = _with_state(node, ch.values)


def _with_state(node: Node, values: Mapping[str, str]) -> Node:
    from dataclasses import replace

    return replace(node, state={**node.state, **values})


# --- queries over any view ---------------------------------------------------


def place_of(view: View, node_id: str) -> str | None:
    current = node_id
    for _ in range(256):  # containment is acyclic; the bound only guards corrupt input
        node = view.node(current)
        if node is None:
            return None
        if node.kind is NodeKind.PLACE:
            return current
        p = view.parent(current)
        if p is None:
            return None
        current = p[1]
    return None


def holder(view: View, node_id: str) -> str | None:
    current = node_id
    for _ in range(256):
        p = view.parent(current)
        if p is None:
            return None
        if p[0] is RelationKind.HELD_BY:
            return p[1]
        current = p[1]
    return None


def closed_containers(view: View, node_id: str) -> list[str]:
    """Closed containers a node is inside, outermost first (things `on` are reachable)."""
    out: list[str] = []
    current = node_id
    for _ in range(256):
        p = view.parent(current)
        if p is None or p[0] is RelationKind.HELD_BY:
            break
        kind, current = p
        node = view.node(current)
        if node is None or node.kind is not NodeKind.OBJECT:
            break
        if kind is RelationKind.IN and not node.is_open:
            out.append(current)
    out.reverse()
    return out


def open_doors(view: View) -> Passable:
    def passable(place_id: str) -> bool:
        node = view.node(place_id)
        return node is not None and node.is_open

    return passable


def label(view: View, node_id: str) -> str:
    node = view.node(node_id)
    return node.label if node else node_id


# --- preconditions -------------------------------------------------------------


def check(view: View, actor_id: str, spec: VerbSpec, step: Step) -> str | None:
    """Why `step` cannot be done now, in the actor's words, or None if it can."""
    actor = view.node(actor_id)
    if actor is None or not actor.is_character:
        return f"I am not in the scene as {actor_id!r}"
    if (why := check_params(view, spec, step)) is not None:
        return why
    here = place_of(view, actor_id)
    rule = _RULES.get(spec.name) if spec.builtin else _custom
    if rule is None:
        return None
    if here is None and spec.name not in ("stop", "wait", "emote", "look_at"):
        return "I don't know where I am"
    return rule(view, actor_id, here or "", spec, step)


def check_params(view: View, spec: VerbSpec, step: Step) -> str | None:
    if spec.target is None:
        if step.target_id:
            return f"{spec.name} takes no target"
    elif not step.target_id:
        return f"{spec.name} needs a target"
    elif (why := check_value(spec.target, step.target_id, view.node(step.target_id))) is not None:
        return why
    names = {p.name for p in spec.params}
    for key in step.args:
        if key not in names:
            return f"{spec.name} has no parameter {key[:32]!r}"
    for p in spec.params:
        value = step.args.get(p.name)
        if value is None:
            if p.required:
                return f"{spec.name} needs {p.name}"
            continue
        node = view.node(value) if p.type is ParamType.NODE else None
        if (why := check_value(p, value, node)) is not None:
            return why
    return None


Rule = Callable[[View, str, str, VerbSpec, Step], str | None]


def _move_to(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    dest = place_of(view, step.target_id)
    if dest is None:
        return f"I don't know where {label(view, step.target_id)} is"
    if dest != here and not view.can_reach(here, dest, open_doors(view)):
        return f"I can't get to {label(view, dest)} from here"
    return None


def _follow(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    if step.target_id == actor:
        return "I can't follow myself"
    return _move_to(view, actor, here, spec, step)


def _accessible(view: View, here: str, node_id: str) -> str | None:
    if place_of(view, node_id) != here:
        return f"{label(view, node_id)} is not here"
    closed = closed_containers(view, node_id)
    if closed:
        return f"{label(view, closed[0])} is closed"
    return None


def _pick_up(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    who = holder(view, step.target_id)
    if view.parent(step.target_id) == (RelationKind.HELD_BY, actor):
        return f"I already have {label(view, step.target_id)}"
    if who is not None and who != actor:  # out of a bag the actor carries is fine
        return f"{label(view, who)} has {label(view, step.target_id)}"
    return _accessible(view, here, step.target_id)


def _holds(view: View, actor: str, item: str) -> str | None:
    if view.parent(item) != (RelationKind.HELD_BY, actor):
        return f"I'm not holding {label(view, item)}"
    return None


def _put_down(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    if (why := _holds(view, actor, step.target_id)) is not None:
        return why
    if "in" in step.args and "on" in step.args:
        return "put_down takes `in` or `on`, not both"
    dest = step.args.get("in") or step.args.get("on")
    if dest is None:
        return None
    if dest == step.target_id or place_of(view, dest) is None:
        return f"I can't put {label(view, step.target_id)} there"
    current: str | None = dest
    while current is not None:  # not into something inside the item itself
        if current == step.target_id:
            return f"I can't put {label(view, step.target_id)} inside itself"
        p = view.parent(current)
        current = p[1] if p else None
    node = view.node(dest)
    if node is not None and node.kind is NodeKind.PLACE:
        return None if dest == here else f"I'm not in {node.label}"
    if (why := _accessible(view, here, dest)) is not None:
        return why
    if "in" in step.args and node is not None and not node.is_open:
        return f"{node.label} is closed"
    return None


def _give(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    if (why := _holds(view, actor, step.target_id)) is not None:
        return why
    to = step.args["to"]
    if to == actor:
        return "I already have it"
    if place_of(view, to) != here:
        return f"{label(view, to)} is not here"
    return None


def _reach_openable(view: View, here: str, target: str) -> str | None:
    node = view.node(target)
    assert node is not None
    if node.is_door:
        if here != target and target not in view.neighbours(here):
            return f"I'm not at {node.label}"
        return None
    return _accessible(view, here, target)


def _open(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    node = view.node(step.target_id)
    assert node is not None
    if node.is_open:
        return f"{node.label} is already open"
    if (why := _reach_openable(view, here, step.target_id)) is not None:
        return why
    if node.locked:
        key = step.args.get("key", "")
        if not key or key != node.key_id:
            return f"{node.label} is locked and I don't have the key"
        if holder(view, key) != actor:
            return f"{node.label} is locked and I don't have the key"
    return None


def _close(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    node = view.node(step.target_id)
    assert node is not None
    if not node.is_open:
        return f"{node.label} is already closed"
    return _reach_openable(view, here, step.target_id)


def _use(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    held = holder(view, step.target_id) == actor
    if not held and (why := _accessible(view, here, step.target_id)) is not None:
        return why
    on = step.args.get("on")
    if on and place_of(view, on) != here:
        return f"{label(view, on)} is not here"
    return None


def _custom(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    if spec.same_place and step.target_id and place_of(view, step.target_id) != here:
        return f"{label(view, step.target_id)} is not here"
    return None


def _always(view: View, actor: str, here: str, spec: VerbSpec, step: Step) -> str | None:
    return None


_RULES: dict[str, Rule] = {
    "move_to": _move_to,
    "follow": _follow,
    "stop": _always,
    "pick_up": _pick_up,
    "put_down": _put_down,
    "give": _give,
    "open": _open,
    "close": _close,
    "use": _use,
    "look_at": _always,
    "emote": _always,
    "wait": _always,
}


# --- effects ----------------------------------------------------------------------


def effects(view: View, actor_id: str, step: Step) -> list[Change]:
    """What a successful step changes in the scene (game-defined verbs: nothing)."""
    match step.verb:
        case "move_to":
            dest = place_of(view, step.target_id)
            if dest is None or place_of(view, actor_id) == dest:
                return []
            return [Reparent(actor_id, RelationKind.IN, dest)]
        case "pick_up":
            return [Reparent(step.target_id, RelationKind.HELD_BY, actor_id)]
        case "put_down":
            if "on" in step.args:
                return [Reparent(step.target_id, RelationKind.ON, step.args["on"])]
            dest = step.args.get("in") or place_of(view, actor_id)
            return [Reparent(step.target_id, RelationKind.IN, dest)] if dest else []
        case "give":
            return [Reparent(step.target_id, RelationKind.HELD_BY, step.args["to"])]
        case "open":
            return [SetState(step.target_id, {"open": "true", "locked": "false"})]
        case "close":
            return [SetState(step.target_id, {"open": "false"})]
    return []


def as_delta(graph: SceneGraph, changes: list[Change], world_id: str = "") -> SceneDelta:
    """The scene update that makes `changes` real."""
    remove: list[Relation] = []
    add: list[Relation] = []
    upsert: dict[str, Node] = {}
    for ch in changes:
        if isinstance(ch, Reparent):
            old = graph.parent(ch.node_id)
            if old == (ch.kind, ch.parent_id):
                continue
            if old is not None:
                remove.append(Relation(ch.node_id, old[0], old[1]))
            add.append(Relation(ch.node_id, ch.kind, ch.parent_id))
        else:
            node = upsert.get(ch.node_id) or graph.node(ch.node_id)
            if node is not None:
                upsert[ch.node_id] = _with_state(node, ch.values)
    return SceneDelta(world_id, tuple(upsert.values()), (), tuple(add), tuple(remove))
