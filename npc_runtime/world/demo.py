"""A small farm scene for tests, demos and scenario scripts.

field (no path)        house ──5 m── yard ──8 m── shed_door ──1 m── shed
                       drawer(closed)  well          (locked,       axe, anvil
                        └ shed_key     chest(locked)   key=shed_key)
                       table            └ gold
                        └ vault_key    farmer, player (holds chest_key)
"""

from __future__ import annotations

from .model import Node, NodeKind, Relation, RelationKind, SceneSnapshot

IN, ON, HELD, CONN = RelationKind.IN, RelationKind.ON, RelationKind.HELD_BY, RelationKind.CONNECTED


def _place(id_: str, name: str, **kw: object) -> Node:
    return Node(id_, NodeKind.PLACE, name, **kw)  # type: ignore[arg-type]


def _obj(id_: str, name: str, **kw: object) -> Node:
    return Node(id_, NodeKind.OBJECT, name, **kw)  # type: ignore[arg-type]


def farm(
    world_id: str = "farm", npc_id: str = "farmer", player_id: str = "player"
) -> SceneSnapshot:
    nodes = [
        _place("yard", "the yard"),
        _place("house", "the farmhouse"),
        _place("shed", "the shed"),
        _place(
            "shed_door",
            "the shed door",
            type="door",
            state={"open": "false", "locked": "true", "key": "shed_key"},
        ),
        _place("field", "the far field"),
        _obj("axe", "the axe", type="axe", portable=True),
        _obj("anvil", "the anvil", type="anvil"),
        _obj("drawer", "the drawer", container=True, state={"open": "false"}),
        _obj("shed_key", "the shed key", type="key", portable=True),
        _obj("table", "the kitchen table", container=True),
        _obj("vault_key", "the vault key", type="key", portable=True),
        _obj("well", "the well"),
        _obj(
            "chest",
            "the chest",
            container=True,
            state={"open": "false", "locked": "true", "key": "chest_key"},
        ),
        _obj("gold", "a pouch of gold", type="gold", portable=True),
        _obj("chest_key", "the chest key", type="key", portable=True),
        _obj("scarecrow", "the scarecrow", portable=True),
        Node(npc_id, NodeKind.NPC, "the farmer"),
        Node(player_id, NodeKind.PLAYER, "the player"),
    ]
    relations = [
        Relation("house", CONN, "yard", 5.0),
        Relation("yard", CONN, "shed_door", 8.0),
        Relation("shed_door", CONN, "shed", 1.0),
        Relation("axe", IN, "shed"),
        Relation("anvil", IN, "shed"),
        Relation("drawer", IN, "house"),
        Relation("shed_key", IN, "drawer"),
        Relation("table", IN, "house"),
        Relation("vault_key", ON, "table"),
        Relation("well", IN, "yard"),
        Relation("chest", IN, "yard"),
        Relation("gold", IN, "chest"),
        Relation("chest_key", HELD, player_id),
        Relation("scarecrow", IN, "field"),
        Relation(npc_id, IN, "yard"),
        Relation(player_id, IN, "yard"),
    ]
    return SceneSnapshot(world_id, tuple(nodes), tuple(relations))
