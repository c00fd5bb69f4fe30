"""The scene's vocabulary: nodes, relations, snapshots and deltas, as plain dataclasses.

They mirror the npc.v1 SceneNode / SceneRelation / SceneSnapshot / SceneUpdate
messages field for field, so server/codec.py can convert without the world
package ever importing generated code.

State conventions (node.state, strings as on the wire):
- "open": "true"/"false". Missing means open, unless the node is locked.
- "locked": "true"/"false". Missing means unlocked. A locked node is closed.
- "key": id of the object that unlocks it.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_TRUE = frozenset({"true", "1", "yes", "on"})
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


class SceneError(ValueError):
    """A snapshot or delta was rejected whole; the message says what and how to fix it."""


class NodeKind(enum.StrEnum):
    PLACE = "place"
    OBJECT = "object"
    NPC = "npc"
    PLAYER = "player"


class RelationKind(enum.StrEnum):
    IN = "in"  # subject is inside a place or a container
    ON = "on"  # subject rests on a container (shelf, table, counter)
    HELD_BY = "held_by"  # subject is held by a character
    NEAR = "near"  # subject is near another node (informational)
    CONNECTED = "connected"  # walkable link between two places, symmetric, with a distance


# Relations that give a node its one parent.
CONTAINMENT = frozenset({RelationKind.IN, RelationKind.ON, RelationKind.HELD_BY})


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _TRUE


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    name: str = ""
    description: str = ""
    # What it is: "axe", "chest", "door", "stool". A place of type "door" is a doorway.
    type: str = ""
    state: Mapping[str, str] = field(default_factory=dict)
    portable: bool = False
    # Holds things in or on it: chests, shelves, tables, counters.
    container: bool = False
    # The client hides it from NPC perception.
    hidden: bool = False
    position: tuple[float, float, float] | None = None

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def is_character(self) -> bool:
        return self.kind in (NodeKind.NPC, NodeKind.PLAYER)

    @property
    def is_door(self) -> bool:
        """Doors are places of type "door" between the places they join (see planner)."""
        return self.kind is NodeKind.PLACE and self.type == "door"

    @property
    def locked(self) -> bool:
        return truthy(self.state.get("locked"))

    @property
    def is_open(self) -> bool:
        if self.locked:
            return False
        return "open" not in self.state or truthy(self.state.get("open"))

    @property
    def openable(self) -> bool:
        return self.is_door or self.container or "open" in self.state or "locked" in self.state

    @property
    def key_id(self) -> str:
        return self.state.get("key", "")


@dataclass(frozen=True)
class Relation:
    subject_id: str
    kind: RelationKind
    object_id: str
    # Walking distance in metres, for CONNECTED.
    distance: float = 0.0

    def __str__(self) -> str:
        extra = f" ({self.distance:g} m)" if self.kind is RelationKind.CONNECTED else ""
        return f"{self.subject_id} {self.kind.value} {self.object_id}{extra}"


@dataclass(frozen=True)
class SceneSnapshot:
    world_id: str
    nodes: Sequence[Node] = ()
    relations: Sequence[Relation] = ()


@dataclass(frozen=True)
class SceneDelta:
    """Applied in this order: remove relations, remove nodes, upsert nodes, add relations.

    Moving an object is one delta: remove its old in/on/held_by relation and add
    the new one. `replace` swaps in a whole snapshot instead.
    """

    world_id: str = ""
    upsert_nodes: Sequence[Node] = ()
    remove_node_ids: Sequence[str] = ()
    add_relations: Sequence[Relation] = ()
    remove_relations: Sequence[Relation] = ()
    replace: SceneSnapshot | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.upsert_nodes
            or self.remove_node_ids
            or self.add_relations
            or self.remove_relations
            or self.replace
        )


def check_node_fields(node: Node) -> None:
    """Reject malformed single nodes before they touch a graph."""
    if not NODE_ID.match(node.id):
        raise SceneError(
            f"node id {node.id[:80]!r} is invalid: use 1-128 letters, digits, '_', '-', '.', "
            "':' or '/', starting with a letter or digit"
        )
    if node.position is not None and not all(math.isfinite(c) for c in node.position):
        raise SceneError(f"node {node.id!r}: position must be finite numbers")
    if node.kind is NodeKind.PLACE and (node.portable or node.container):
        raise SceneError(
            f"node {node.id!r} is a place: places are neither portable nor containers; "
            "put things in a place with an `in` relation"
        )
