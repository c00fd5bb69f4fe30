"""The scene graph of one world: nodes, containment, walkable connections.

Storage is a networkx MultiDiGraph (edge key = relation kind). Containment
(in/on/held_by) gives every object and character at most one parent and never
a cycle; `connected` edges are stored both ways. Places and their connections
are mirrored into a small undirected walk graph, rebuilt only when places or
connections change, so paths stay fast on large scenes.

A delta is applied with an undo log and rolled back whole on the first error,
so a rejected delta leaves the graph exactly as it was. All mutation happens on
the event loop thread (the WorldStore serialises it per world).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial

import networkx as nx

from .model import (
    CONTAINMENT,
    Node,
    NodeKind,
    Relation,
    RelationKind,
    SceneDelta,
    SceneError,
    SceneSnapshot,
    check_node_fields,
)

Undo = list[Callable[[], None]]
# A door (place) may be walked through; None = every door is passable.
Passable = Callable[[str], bool]


class SceneGraph:
    def __init__(self) -> None:
        self._g: nx.MultiDiGraph = nx.MultiDiGraph()
        self.version = 0
        self._walk_dirty = True
        self._walk: nx.Graph = nx.Graph()

    # --- loading and deltas ------------------------------------------------

    @classmethod
    def from_snapshot(cls, snapshot: SceneSnapshot) -> SceneGraph:
        graph = cls()
        graph.apply(SceneDelta(upsert_nodes=snapshot.nodes, add_relations=snapshot.relations))
        return graph

    def load(self, snapshot: SceneSnapshot) -> None:
        """Replace everything; on error the old scene stays."""
        fresh = SceneGraph.from_snapshot(snapshot)
        self._g = fresh._g
        self._walk_dirty = True
        self.version += 1

    def apply(self, delta: SceneDelta) -> None:
        if delta.replace is not None:
            if delta.upsert_nodes or delta.remove_node_ids or delta.add_relations:
                raise SceneError(
                    "a scene update carries both `replace` and a delta; send one or the other"
                )
            if delta.remove_relations:
                raise SceneError(
                    "a scene update carries both `replace` and a delta; send one or the other"
                )
            self.load(delta.replace)
            return
        undo: Undo = []
        try:
            self._apply(delta, undo)
        except SceneError:
            for step in reversed(undo):
                step()
            raise
        self.version += 1

    def _apply(self, delta: SceneDelta, undo: Undo) -> None:
        for rel in delta.remove_relations:
            self._remove_relation(rel, undo)
        for node_id in delta.remove_node_ids:
            self._remove_node(node_id, undo)
        seen: set[str] = set()
        for node in delta.upsert_nodes:
            if node.id in seen:
                raise SceneError(
                    f"node id {node.id!r} appears twice in one update; ids must be unique — "
                    "merge the two entries"
                )
            seen.add(node.id)
            self._upsert(node, undo)
        for rel in delta.add_relations:
            self._add_relation(rel, undo)

    def _upsert(self, node: Node, undo: Undo) -> None:
        check_node_fields(node)
        old = self.node(node.id)
        if old is None:
            self._g.add_node(node.id, node=node)
            undo.append(lambda: self._g.remove_node(node.id))
            if node.kind is NodeKind.PLACE:
                self._walk_dirty = True
            return
        if old.kind is not node.kind:
            raise SceneError(
                f"node {node.id!r} is a {old.kind.value}; an update cannot make it a "
                f"{node.kind.value} — remove it and add it again with its relations"
            )
        if old.container and not node.container:
            inside = [c for k, c in self.children(node.id) if k is not RelationKind.HELD_BY]
            if inside:
                raise SceneError(
                    f"node {node.id!r} would stop being a container while {inside[0]!r} is in "
                    "or on it; move its contents out in the same update first"
                )
        self._g.nodes[node.id]["node"] = node
        undo.append(lambda: self._g.nodes[node.id].__setitem__("node", old))

    def _remove_node(self, node_id: str, undo: Undo) -> None:
        node = self._require(node_id, "remove")
        edges = list(self._g.in_edges(node_id, keys=True, data=True))
        edges += list(self._g.out_edges(node_id, keys=True, data=True))
        self._g.remove_node(node_id)

        def restore() -> None:
            self._g.add_node(node_id, node=node)
            self._g.add_edges_from(edges)

        undo.append(restore)
        if node.kind is NodeKind.PLACE:
            self._walk_dirty = True

    def _add_relation(self, rel: Relation, undo: Undo) -> None:
        subj = self._require(rel.subject_id, f"relate ({rel})")
        obj = self._require(rel.object_id, f"relate ({rel})")
        if subj.id == obj.id:
            raise SceneError(f"relation {rel} relates a node to itself; use two different ids")
        if rel.kind is RelationKind.CONNECTED:
            self._connect(subj, obj, rel.distance, undo)
            return
        if rel.kind in CONTAINMENT:
            self._check_containment(subj, rel.kind, obj)
        if self._g.has_edge(subj.id, obj.id, key=rel.kind.value):
            return  # the same relation again changes nothing
        self._g.add_edge(subj.id, obj.id, key=rel.kind.value)
        undo.append(lambda: self._g.remove_edge(subj.id, obj.id, key=rel.kind.value))

    def _connect(self, a: Node, b: Node, distance: float, undo: Undo) -> None:
        if a.kind is not NodeKind.PLACE or b.kind is not NodeKind.PLACE:
            raise SceneError(
                f"`connected` joins two places, but {a.id!r} is a {a.kind.value} and {b.id!r} "
                f"is a {b.kind.value}; put objects in places with `in`"
            )
        if not math.isfinite(distance) or distance < 0:
            raise SceneError(
                f"connection {a.id!r}–{b.id!r} has distance {distance}; use metres ≥ 0"
            )
        key = RelationKind.CONNECTED.value
        for u, v in ((a.id, b.id), (b.id, a.id)):
            if self._g.has_edge(u, v, key=key):
                data = self._g.edges[u, v, key]
                undo.append(partial(data.__setitem__, "distance", data["distance"]))
                data["distance"] = distance
            else:
                self._g.add_edge(u, v, key=key, distance=distance)
                undo.append(partial(self._g.remove_edge, u, v, key=key))
        self._walk_dirty = True
        undo.append(self._mark_walk_dirty)

    def _mark_walk_dirty(self) -> None:
        self._walk_dirty = True

    def _check_containment(self, subj: Node, kind: RelationKind, obj: Node) -> None:
        where = f"{subj.id!r} {kind.value} {obj.id!r}"
        if subj.kind is NodeKind.PLACE:
            raise SceneError(
                f"{where}: a place cannot be inside anything; join places with `connected`"
            )
        if kind is RelationKind.HELD_BY:
            if not obj.is_character:
                raise SceneError(
                    f"{where}: only characters hold things, and {obj.id!r} is a "
                    f"{obj.kind.value}; use `in` or `on` for containers"
                )
            if subj.is_character:
                raise SceneError(f"{where}: a character cannot be held; use `in` a place")
        elif obj.is_character:
            raise SceneError(f"{where}: use `held_by` for things a character carries")
        elif kind is RelationKind.ON and not obj.container:
            raise SceneError(
                f"{where}: {obj.id!r} is not a container; set container=true on it to put "
                "things on it"
            )
        elif kind is RelationKind.IN and not (obj.kind is NodeKind.PLACE or obj.container):
            raise SceneError(
                f"{where}: {obj.id!r} is not a place or a container; set container=true on it "
                "or put the object in a place"
            )
        current = self.parent(subj.id)
        if current is not None and current != (kind, obj.id):
            raise SceneError(
                f"{where}: {subj.id!r} is already {current[0].value} {current[1]!r} and cannot "
                "be in two places at once; remove that relation in the same update to move it"
            )
        ancestor: str | None = obj.id
        while ancestor is not None:
            if ancestor == subj.id:
                raise SceneError(
                    f"{where}: {obj.id!r} is itself inside {subj.id!r}, so this would be a "
                    "containment cycle; move one of them out first"
                )
            p = self.parent(ancestor)
            ancestor = p[1] if p else None

    def _remove_relation(self, rel: Relation, undo: Undo) -> None:
        self._require(rel.subject_id, f"unrelate ({rel})")
        self._require(rel.object_id, f"unrelate ({rel})")
        key = rel.kind.value
        pairs = [(rel.subject_id, rel.object_id)]
        if rel.kind in (RelationKind.CONNECTED, RelationKind.NEAR):
            pairs.append((rel.object_id, rel.subject_id))  # symmetric: either direction
        found = False
        for u, v in pairs:
            if self._g.has_edge(u, v, key=key):
                data = dict(self._g.edges[u, v, key])
                self._g.remove_edge(u, v, key=key)
                undo.append(partial(self._g.add_edge, u, v, key=key, **data))
                found = True
        if not found:
            raise SceneError(
                f"cannot remove relation {rel}: the scene has no such relation; check the ids "
                "and the kind, or resend the full snapshot if client and server disagree"
            )
        if rel.kind is RelationKind.CONNECTED:
            self._walk_dirty = True
            undo.append(self._mark_walk_dirty)

    def _require(self, node_id: str, action: str) -> Node:
        node = self.node(node_id)
        if node is None:
            raise SceneError(
                f"cannot {action}: no node {node_id[:80]!r} in the scene; add it first (in "
                "this update's upsert_nodes or an earlier one)"
            )
        return node

    # --- queries -------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._g.number_of_nodes())

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._g

    def node(self, node_id: str) -> Node | None:
        data = self._g.nodes.get(node_id)
        return None if data is None else data["node"]  # type: ignore[no-any-return]

    def nodes(self) -> Iterator[Node]:
        for _, data in self._g.nodes(data="node"):
            yield data

    def relations(self) -> Iterator[Relation]:
        for u, v, k, d in self._g.edges(keys=True, data="distance", default=0.0):
            kind = RelationKind(k)
            if kind is RelationKind.CONNECTED and u > v:
                continue  # stored both ways, reported once
            yield Relation(u, kind, v, float(d))

    def snapshot(self, world_id: str = "") -> SceneSnapshot:
        return SceneSnapshot(world_id, tuple(self.nodes()), tuple(self.relations()))

    def parent(self, node_id: str) -> tuple[RelationKind, str] | None:
        """The one in/on/held_by relation of a node, as (kind, parent id)."""
        if node_id not in self._g:
            return None
        for _, v, k in self._g.out_edges(node_id, keys=True):
            kind = RelationKind(k)
            if kind in CONTAINMENT:
                return kind, v
        return None

    def children(self, node_id: str) -> list[tuple[RelationKind, str]]:
        if node_id not in self._g:
            return []
        out = []
        for u, _, k in self._g.in_edges(node_id, keys=True):
            kind = RelationKind(k)
            if kind in CONTAINMENT:
                out.append((kind, u))
        return out

    def near(self, node_id: str) -> set[str]:
        key = RelationKind.NEAR.value
        out = {v for _, v, k in self._g.out_edges(node_id, keys=True) if k == key}
        return out | {u for u, _, k in self._g.in_edges(node_id, keys=True) if k == key}

    def place_of(self, node_id: str) -> str | None:
        """The place a node is ultimately in (itself for a place), or None if unplaced."""
        current: str | None = node_id
        for _ in range(len(self._g) + 1):
            node = self.node(current) if current is not None else None
            if node is None:
                return None
            if node.kind is NodeKind.PLACE:
                return node.id
            p = self.parent(node.id)
            current = p[1] if p else None
        return None

    def holder(self, node_id: str) -> str | None:
        """The character carrying a node, directly or inside something it carries."""
        current = node_id
        while (p := self.parent(current)) is not None:
            kind, current = p
            if kind is RelationKind.HELD_BY:
                return current
        return None

    def walk_graph(self) -> nx.Graph:
        if self._walk_dirty:
            walk = nx.Graph()
            for n, node in self._g.nodes(data="node"):
                if node.kind is NodeKind.PLACE:
                    walk.add_node(n)
            key = RelationKind.CONNECTED.value
            for u, v, k, d in self._g.edges(keys=True, data="distance"):
                if k == key:
                    walk.add_edge(u, v, distance=d)
            self._walk = walk
            self._walk_dirty = False
        return self._walk

    def neighbours(self, place_id: str) -> dict[str, float]:
        walk = self.walk_graph()
        if place_id not in walk:
            return {}
        return {v: float(d["distance"]) for v, d in walk[place_id].items()}

    def path(
        self, source: str, target: str, passable: Passable | None = None
    ) -> tuple[float, list[str]] | None:
        """Shortest walk (metres, places) between two places; doors must be `passable`."""
        walk = self.walk_graph()
        if source not in walk or target not in walk:
            return None
        if source == target:
            return 0.0, [source]

        def weight(u: str, v: str, d: dict[str, float]) -> float | None:
            # A closed door cannot be walked through, but may be the goal itself.
            if passable is not None and v != target and not passable(v):
                return None
            return d["distance"]

        try:
            length, nodes = nx.bidirectional_dijkstra(walk, source, target, weight=weight)
        except nx.NetworkXNoPath:
            return None
        return float(length), list(nodes)

    def can_reach(self, source: str, target: str, passable: Passable | None = None) -> bool:
        """Whether any walk joins two places: a plain search, cheaper than a shortest path."""
        walk = self.walk_graph()
        if source not in walk or target not in walk:
            return False
        seen = {source}
        frontier = [source]
        adj = walk.adj
        while frontier:
            nxt = []
            for u in frontier:
                for v in adj[u]:
                    if v == target and (passable is None or passable(v)):
                        return True
                    if v not in seen and (passable is None or passable(v)):
                        seen.add(v)
                        nxt.append(v)
            frontier = nxt
        return source == target

    def reachable(
        self, source: str, cutoff: float | None = None, passable: Passable | None = None
    ) -> dict[str, float]:
        """Places reachable from `source` with their walking distance."""
        walk = self.walk_graph()
        if source not in walk:
            return {}

        def weight(u: str, v: str, d: dict[str, float]) -> float | None:
            if passable is not None and u != source and not passable(u):
                return None
            return d["distance"]

        lengths = nx.single_source_dijkstra_path_length(walk, source, cutoff=cutoff, weight=weight)
        return {k: float(v) for k, v in lengths.items()}

    def contents(self, node_id: str) -> Iterator[tuple[int, str]]:
        """Everything in/on/held by a node, depth first, as (depth, id)."""
        stack = [(1, c) for _, c in sorted(self.children(node_id), key=lambda kc: kc[1])]
        stack.reverse()
        while stack:
            depth, n = stack.pop()
            yield depth, n
            kids = sorted(self.children(n), key=lambda kc: kc[1], reverse=True)
            stack.extend((depth + 1, c) for _, c in kids)
