"""Scene graph: snapshots, deltas rejected whole, containment, paths, the world store."""

from __future__ import annotations

import pytest

from npc_runtime.world.demo import farm
from npc_runtime.world.graph import SceneGraph
from npc_runtime.world.model import (
    Node,
    NodeKind,
    Relation,
    RelationKind,
    SceneDelta,
    SceneError,
    SceneSnapshot,
)
from npc_runtime.world.store import WorldStore

IN, ON, HELD, NEAR, CONN = (
    RelationKind.IN,
    RelationKind.ON,
    RelationKind.HELD_BY,
    RelationKind.NEAR,
    RelationKind.CONNECTED,
)


def _graph() -> SceneGraph:
    return SceneGraph.from_snapshot(farm())


def _state(g: SceneGraph) -> tuple[object, ...]:
    return (
        sorted(
            (n.id, n.kind, n.name, tuple(sorted(n.state.items())), n.container) for n in g.nodes()
        ),
        sorted((r.subject_id, r.kind, r.object_id, r.distance) for r in g.relations()),
    )


def test_snapshot_loads_and_answers_location_holder_and_paths() -> None:
    g = _graph()
    assert len(g) == 18
    assert g.place_of("shed_key") == "house"  # in the drawer, in the house
    assert g.place_of("chest_key") == "yard"  # held by the player, who is in the yard
    assert g.holder("chest_key") == "player"
    assert g.parent("vault_key") == (ON, "table")
    found = g.path("house", "shed")
    assert found is not None and found[1] == ["house", "yard", "shed_door", "shed"]
    assert found[0] == pytest.approx(14.0)
    # The locked door blocks the way when doors must be open.
    assert g.path("house", "shed", lambda p: g.node(p).is_open) is None  # type: ignore[union-attr]
    assert g.path("yard", "field") is None
    assert g.can_reach("house", "shed") and not g.can_reach("yard", "field")
    assert not g.can_reach("house", "shed", lambda p: g.node(p).is_open)  # type: ignore[union-attr]
    assert set(g.reachable("yard")) == {"yard", "house", "shed_door", "shed"}
    # connected is symmetric and reported once
    conns = [r for r in g.relations() if r.kind is CONN]
    assert len(conns) == 3


REJECTIONS = [
    (
        "missing node",
        SceneDelta(add_relations=[Relation("ghost", IN, "yard")]),
        "no node 'ghost'",
    ),
    (
        "duplicate id in one update",
        SceneDelta(upsert_nodes=[Node("x", NodeKind.OBJECT), Node("x", NodeKind.OBJECT)]),
        "appears twice",
    ),
    (
        "kind change",
        SceneDelta(upsert_nodes=[Node("axe", NodeKind.PLACE)]),
        "cannot make it a place",
    ),
    (
        "in two places at once",
        SceneDelta(add_relations=[Relation("axe", IN, "yard")]),
        "already in 'shed'",
    ),
    (
        "container put somewhere while already placed",
        SceneDelta(
            upsert_nodes=[Node("bag", NodeKind.OBJECT, container=True, portable=True)],
            add_relations=[
                Relation("bag", IN, "drawer"),
                # the drawer into the bag that is in the drawer
                Relation("drawer", IN, "bag"),
            ],
        ),
        "already in 'house'",
    ),
    (
        "in a non-container",
        SceneDelta(
            remove_relations=[Relation("axe", IN, "shed")],
            add_relations=[Relation("axe", IN, "anvil")],
        ),
        "not a place or a container",
    ),
    (
        "on a non-container",
        SceneDelta(
            remove_relations=[Relation("axe", IN, "shed")],
            add_relations=[Relation("axe", ON, "well")],
        ),
        "set container=true",
    ),
    (
        "held by a non-character",
        SceneDelta(
            remove_relations=[Relation("axe", IN, "shed")],
            add_relations=[Relation("axe", HELD, "well")],
        ),
        "only characters hold things",
    ),
    (
        "connected to an object",
        SceneDelta(add_relations=[Relation("yard", CONN, "well", 3.0)]),
        "joins two places",
    ),
    (
        "removing a relation that does not exist",
        SceneDelta(remove_relations=[Relation("axe", IN, "yard")]),
        "no such relation",
    ),
    (
        "removing a missing node",
        SceneDelta(remove_node_ids=["ghost"]),
        "no node 'ghost'",
    ),
    (
        "container stops being one while holding things",
        SceneDelta(upsert_nodes=[Node("drawer", NodeKind.OBJECT, "the drawer")]),
        "stop being a container",
    ),
    (
        "a place inside something",
        SceneDelta(add_relations=[Relation("field", IN, "house")]),
        "a place cannot be inside",
    ),
    (
        "bad id",
        SceneDelta(upsert_nodes=[Node("bad id!", NodeKind.OBJECT)]),
        "is invalid",
    ),
]


@pytest.mark.parametrize(("case", "delta", "message"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_invalid_delta_is_rejected_whole_and_graph_unchanged(
    case: str, delta: SceneDelta, message: str
) -> None:
    g = _graph()
    before, version = _state(g), g.version
    # A valid part first, so rejection must undo it too.
    valid = SceneDelta(
        upsert_nodes=[Node("lamp", NodeKind.OBJECT, "a lamp", portable=True), *delta.upsert_nodes],
        remove_node_ids=delta.remove_node_ids,
        add_relations=[Relation("lamp", IN, "yard"), *delta.add_relations],
        remove_relations=[Relation("well", IN, "yard"), *delta.remove_relations],
    )
    with pytest.raises(SceneError) as e:
        g.apply(valid)
    assert message in str(e.value)
    assert _state(g) == before
    assert g.version == version
    assert g.path("house", "shed") is not None  # walk graph intact


def test_cycle_through_containers_is_rejected() -> None:
    g = _graph()
    g.apply(
        SceneDelta(
            upsert_nodes=[
                Node("box", NodeKind.OBJECT, container=True),
                Node("crate", NodeKind.OBJECT, container=True),
            ],
            add_relations=[Relation("box", IN, "crate")],
        )
    )
    before = _state(g)
    with pytest.raises(SceneError, match="containment cycle"):
        g.apply(SceneDelta(add_relations=[Relation("crate", IN, "box")]))
    assert _state(g) == before


def test_moving_an_object_is_one_delta() -> None:
    g = _graph()
    g.apply(
        SceneDelta(
            remove_relations=[Relation("axe", IN, "shed")],
            add_relations=[Relation("axe", HELD, "player")],
        )
    )
    assert g.holder("axe") == "player" and g.place_of("axe") == "yard"


def test_removing_a_node_drops_its_relations_and_updates_paths() -> None:
    g = _graph()
    g.apply(SceneDelta(remove_node_ids=["shed_door"]))
    assert g.path("yard", "shed") is None
    assert g.node("shed_door") is None
    g.apply(SceneDelta(add_relations=[Relation("yard", CONN, "shed", 4.0)]))
    found = g.path("shed", "yard")
    assert found == (4.0, ["shed", "yard"])


def test_upsert_updates_state_and_keeps_relations() -> None:
    g = _graph()
    g.apply(SceneDelta(upsert_nodes=[Node("axe", NodeKind.OBJECT, "a rusty axe", portable=True)]))
    axe = g.node("axe")
    assert axe is not None and axe.name == "a rusty axe"
    assert g.parent("axe") == (IN, "shed")


def test_replace_swaps_the_scene_and_rejects_mixed_updates() -> None:
    g = _graph()
    small = SceneSnapshot("farm", (Node("room", NodeKind.PLACE),))
    with pytest.raises(SceneError, match="one or the other"):
        g.apply(SceneDelta(replace=small, remove_node_ids=["axe"]))
    assert len(g) == 18
    g.apply(SceneDelta(replace=small))
    assert [n.id for n in g.nodes()] == ["room"]


def test_invalid_snapshot_keeps_the_old_scene() -> None:
    g = _graph()
    bad = SceneSnapshot("farm", (Node("a", NodeKind.OBJECT),), (Relation("a", IN, "nowhere"),))
    with pytest.raises(SceneError):
        g.load(bad)
    assert len(g) == 18


def test_near_is_symmetric_for_removal() -> None:
    g = _graph()
    g.apply(SceneDelta(add_relations=[Relation("well", NEAR, "chest")]))
    assert g.near("chest") == {"well"}
    g.apply(SceneDelta(remove_relations=[Relation("chest", NEAR, "well")]))
    assert g.near("well") == set()


async def test_world_store_shares_worlds_and_serialises_deltas() -> None:
    store = WorldStore()
    world = await store.load(farm("w1"))
    assert store.get("w1") is world and "w1" in store
    await store.apply(
        SceneDelta(
            "w1",
            upsert_nodes=[Node("lamp", NodeKind.OBJECT, portable=True)],
            add_relations=[Relation("lamp", IN, "yard")],
        )
    )
    assert world.graph.place_of("lamp") == "yard"
    with pytest.raises(SceneError):
        await store.apply(SceneDelta("w1", remove_node_ids=["ghost"]))
    assert store.get("other").graph.version == 0
