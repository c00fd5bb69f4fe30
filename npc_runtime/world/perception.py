"""What an NPC perceives, as a short prompt summary and the ids it may name.

The NPC knows its own place and the places within `radius_m` walking distance
(doors included, so it knows what lies in the locked shed), plus anything with
a position within `sight_m` of its own. Hidden nodes, and everything inside
them, are left out. The summary lists the most relevant first — what it holds,
who is here, the latest events, what is here, then farther places — and stops
at the token budget (about four characters a token); only ids that made it
into the summary are returned, so the model is never offered a node it was
not told about.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .catalogue import node_tags
from .graph import SceneGraph
from .model import Node, RelationKind
from .store import World, WorldEvent


@dataclass(frozen=True)
class PerceptionConfig:
    radius_m: float = 40.0
    sight_m: float = 15.0
    token_budget: int = 350
    max_events: int = 6
    event_max_age_s: float = 900.0


@dataclass(frozen=True)
class Perception:
    npc_id: str
    place_id: str | None
    summary: str
    # Perceived node ids, most relevant first (the NPC itself excluded).
    ids: tuple[str, ...] = ()
    # node_tags of each id, so the actions schema can constrain by kind.
    tags: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _state_note(node: Node) -> str:
    notes = []
    if node.is_door or "open" in node.state or "locked" in node.state:
        notes.append("locked" if node.locked else "open" if node.is_open else "closed")
    for k, v in sorted(node.state.items()):
        if k not in ("open", "locked", "key") and len(notes) < 3:
            notes.append(f"{k}: {v}"[:40])
    return f" ({', '.join(notes)})" if notes else ""


def _item(node: Node) -> str:
    return f"{node.label} [{node.id}]{_state_note(node)}"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def _event_text(ev: WorldEvent, now: float) -> str:
    return f"{_ago(now - ev.at)}: {ev.text}"


class _Budget:
    """Greedy packing of lines (a prefix and items) into a character budget."""

    def __init__(self, chars: int) -> None:
        self.left = chars
        self.lines: list[str] = []
        self.ids: list[str] = []

    def line(self, prefix: str, items: list[tuple[str, str | None]], sep: str = "; ") -> None:
        taken: list[str] = []
        cost = len(prefix) + 2
        for text, node_id in items:
            extra = len(text) + (len(sep) if taken else 0)
            if cost + extra > self.left:
                break
            taken.append(text)
            cost += extra
            if node_id is not None:
                self.ids.append(node_id)
        if taken:
            self.lines.append(prefix + sep.join(taken) + ".")
            self.left -= cost


def _visible_contents(graph: SceneGraph, node_id: str) -> list[tuple[str, RelationKind, str]]:
    """(id, relation, parent) of everything in/on/held by a node, skipping hidden subtrees."""
    out: list[tuple[str, RelationKind, str]] = []
    stack = [(node_id, kind, child) for kind, child in graph.children(node_id)]
    stack.sort(key=lambda t: t[2], reverse=True)
    while stack:
        parent, kind, child = stack.pop()
        node = graph.node(child)
        if node is None or node.hidden:
            continue
        out.append((child, kind, parent))
        kids = [(child, k, c) for k, c in graph.children(child)]
        stack.extend(sorted(kids, key=lambda t: t[2], reverse=True))
    return out


def _place_items(graph: SceneGraph, place: str, skip: set[str]) -> list[tuple[str, str]]:
    """Characters first, then things, each with where it is if not loose in the place."""
    chars: list[tuple[str, str]] = []
    things: list[tuple[str, str]] = []
    for nid, kind, parent in _visible_contents(graph, place):
        if nid in skip:
            continue
        node = graph.node(nid)
        assert node is not None
        text = _item(node)
        if parent != place:
            holder = graph.node(parent)
            where = "held by" if kind is RelationKind.HELD_BY else kind.value
            text += f" {where} {holder.label if holder else parent}"
        (chars if node.is_character else things).append((text, nid))
    return chars + things


def perceive(
    world: World, npc_id: str, config: PerceptionConfig | None = None, now: float | None = None
) -> Perception:
    cfg = config or PerceptionConfig()
    now = time.time() if now is None else now
    graph = world.graph
    me = graph.node(npc_id)
    events = world.recent(cfg.max_events, cfg.event_max_age_s)
    budget = _Budget(cfg.token_budget * 4)
    here = graph.place_of(npc_id) if me else None
    here_node = graph.node(here) if here else None
    if me is None or here_node is None:
        budget.line("You are somewhere the scene does not say", [])
    else:
        budget.line(f"You are {me.label}, in ", [(_item(here_node), here)])
    held = {nid for nid, _, _ in _visible_contents(graph, npc_id)}
    if me is not None:
        budget.line("You hold: ", [(_item(n), n.id) for i in sorted(held) if (n := graph.node(i))])
    here_items = _place_items(graph, here, {npc_id, *held}) if here else []
    characters = [it for it in here_items if (n := graph.node(it[1])) and n.is_character]
    budget.line("Here: ", [(t, i) for t, i in characters])
    ev_items: list[tuple[str, str | None]] = [(_event_text(e, now), None) for e in events]
    budget.line("Recent events: ", ev_items[:3])
    budget.line("Also here: ", [(t, i) for t, i in here_items if (t, i) not in characters])
    seen = set(budget.ids) | {npc_id}
    if here:
        reach = graph.reachable(here, cutoff=cfg.radius_m)
        for place, dist in sorted(reach.items(), key=lambda kv: (kv[1], kv[0])):
            node = graph.node(place)
            if place == here or node is None or node.hidden:
                continue
            items: list[tuple[str, str | None]] = [(_item(node) + f", {dist:.0f} m", place)]
            items += [(t, i) for t, i in _place_items(graph, place, seen)]
            budget.line("Nearby: ", items)
    if me is not None and me.position is not None:
        sighted = _in_sight(graph, me, cfg.sight_m, set(budget.ids) | {npc_id})
        budget.line("In sight: ", [(_item(n), n.id) for n in sighted])
    budget.line("Earlier: ", ev_items[3:])
    ids = tuple(dict.fromkeys(budget.ids))
    tags = {i: node_tags(n) for i in ids if (n := graph.node(i)) is not None}
    return Perception(npc_id, here, "\n".join(budget.lines), ids, tags)


def _in_sight(graph: SceneGraph, me: Node, sight_m: float, skip: set[str]) -> list[Node]:
    assert me.position is not None
    found: list[tuple[float, Node]] = []
    for node in graph.nodes():
        if node.position is None or node.hidden or node.id in skip:
            continue
        d = math.dist(me.position, node.position)
        if d <= sight_m and not _inside_hidden(graph, node.id):
            found.append((d, node))
    found.sort(key=lambda t: (t[0], t[1].id))
    return [n for _, n in found]


def _inside_hidden(graph: SceneGraph, node_id: str) -> bool:
    current = node_id
    while (p := graph.parent(current)) is not None:
        current = p[1]
        node = graph.node(current)
        if node is None or node.hidden:
            return True
    return False
