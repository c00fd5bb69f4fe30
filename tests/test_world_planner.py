"""Planner scenarios on the farm scene: fetching, doors and keys, refusals, guards."""

from __future__ import annotations

from dataclasses import replace

from npc_runtime.characters import BUILTIN_VERBS, ActionsConfig, Character, Guard
from npc_runtime.world.demo import farm
from npc_runtime.world.graph import SceneGraph
from npc_runtime.world.intents import Intent
from npc_runtime.world.model import Node, NodeKind, Relation, RelationKind, SceneDelta
from npc_runtime.world.planner import Planner, RefusalCode
from npc_runtime.world.policy import PolicyContext


def farmer(verbs: list[str] | None = None, guards: list[Guard] | None = None) -> Character:
    return Character(
        id="farmer",
        name="Farmer",
        persona="A farmer who fetches things for visitors.",
        actions=ActionsConfig(verbs=verbs or list(BUILTIN_VERBS), guards=guards or []),
    )


def steps(plan: object) -> list[str]:
    return [str(s) for s in plan.steps]  # type: ignore[attr-defined]


def unlocked_farm() -> SceneGraph:
    g = SceneGraph.from_snapshot(farm())
    door = g.node("shed_door")
    assert door is not None
    g.apply(SceneDelta(upsert_nodes=[replace(door, state={"open": "false"})]))
    return g


def test_give_me_the_axe_from_the_shed() -> None:
    plan = Planner(farmer()).plan(
        unlocked_farm(), "farmer", [Intent("give", "axe", {"to": "player"})]
    )
    # The farmer is beside the door already: open it, then walk through.
    assert steps(plan) == [
        "open(shed_door)",
        "move_to(axe)",
        "pick_up(axe)",
        "move_to(player)",
        "give(axe, to=player)",
    ]
    assert not plan.refusals and plan.step_intents == (0,) * 5


def test_open_door_needs_no_opening() -> None:
    g = unlocked_farm()
    door = g.node("shed_door")
    assert door is not None
    g.apply(SceneDelta(upsert_nodes=[replace(door, state={"open": "true"})]))
    plan = Planner(farmer()).plan(g, "farmer", [Intent("pick_up", "axe")])
    assert steps(plan) == ["move_to(axe)", "pick_up(axe)"]


def test_locked_door_key_is_fetched_first() -> None:
    g = SceneGraph.from_snapshot(farm())
    plan = Planner(farmer()).plan(g, "farmer", [Intent("give", "axe", {"to": "player"})])
    assert steps(plan) == [
        "move_to(drawer)",  # walk to the closed drawer the key is in
        "open(drawer)",
        "pick_up(shed_key)",
        "move_to(yard)",
        "open(shed_door, key=shed_key)",
        "move_to(axe)",
        "pick_up(axe)",
        "move_to(player)",
        "give(axe, to=player)",
    ]
    assert g.holder("shed_key") is None  # planning never touches the scene


def test_locked_door_without_a_key_is_refused_in_character() -> None:
    g = SceneGraph.from_snapshot(farm())
    g.apply(SceneDelta(remove_node_ids=["shed_key"]))
    plan = Planner(farmer()).plan(g, "farmer", [Intent("give", "axe", {"to": "player"})])
    assert plan.steps == () and plan.refused
    r = plan.refusals[0]
    assert r.code is RefusalCode.LOCKED
    assert r.reason == "I can't reach the axe — the shed door is locked and I don't have the key."


def test_key_held_by_someone_else_is_not_taken() -> None:
    plan = Planner(farmer()).plan(
        SceneGraph.from_snapshot(farm()), "farmer", [Intent("pick_up", "gold")]
    )
    assert plan.refusals[0].code is RefusalCode.LOCKED
    assert "the chest" in plan.refusals[0].reason


def test_unreachable_object_is_refused() -> None:
    plan = Planner(farmer()).plan(
        SceneGraph.from_snapshot(farm()), "farmer", [Intent("pick_up", "scarecrow")]
    )
    assert plan.refusals[0].code is RefusalCode.UNREACHABLE
    assert plan.refusals[0].reason == "I can't get to the scarecrow from here."


def test_object_not_portable_is_refused() -> None:
    plan = Planner(farmer()).plan(
        unlocked_farm(), "farmer", [Intent("give", "anvil", {"to": "player"})]
    )
    assert plan.refusals[0].code is RefusalCode.NOT_PORTABLE
    assert plan.refusals[0].reason.startswith("The anvil won't budge")


def test_unknown_target_is_refused() -> None:
    plan = Planner(farmer()).plan(unlocked_farm(), "farmer", [Intent("pick_up", "unicorn")])
    assert plan.refusals[0].code is RefusalCode.UNKNOWN_TARGET


def test_verb_not_in_allowlist_is_refused_even_as_an_expansion_step() -> None:
    # Giving is allowed, walking is not: the axe is out of reach.
    planner = Planner(farmer(["give", "pick_up"]))
    plan = planner.plan(unlocked_farm(), "farmer", [Intent("give", "axe", {"to": "player"})])
    assert plan.refusals[0].code is RefusalCode.NOT_ALLOWED
    plan = planner.plan(unlocked_farm(), "farmer", [Intent("open", "chest")])
    assert plan.refusals[0].code is RefusalCode.NOT_ALLOWED


def test_same_place_pick_up_without_walking() -> None:
    g = unlocked_farm()
    g.apply(
        SceneDelta(
            upsert_nodes=[Node("apple", NodeKind.OBJECT, "an apple", portable=True)],
            add_relations=[Relation("apple", RelationKind.IN, "yard")],
        )
    )
    plan = Planner(farmer(["give", "pick_up"])).plan(
        g, "farmer", [Intent("give", "apple", {"to": "player"})]
    )
    assert steps(plan) == ["pick_up(apple)", "give(apple, to=player)"]


def test_guard_on_trust_refuses_until_trusted() -> None:
    guard = Guard(verb="give", target="vault_key", min_trust=0.6, reason="Not to you, stranger.")
    planner = Planner(farmer(guards=[guard]))
    g = unlocked_farm()
    intent = Intent("give", "vault_key", {"to": "player"})
    low = planner.plan(g, "farmer", [intent], PolicyContext({"trust": 0.2}))
    assert low.refusals[0].code is RefusalCode.GUARDED
    assert low.refusals[0].reason == "Not to you, stranger."
    high = planner.plan(g, "farmer", [intent], PolicyContext({"trust": 0.7}))
    assert steps(high)[-1] == "give(vault_key, to=player)"


def test_guard_on_flag_and_target_type_covers_expansion_steps() -> None:
    # Keys may only be touched once the quest is done; the shed needs a key.
    guard = Guard(verb="pick_up", target_type="key", flags=["quest_done"], reason="Not yet.")
    planner = Planner(farmer(guards=[guard]))
    g = SceneGraph.from_snapshot(farm())
    intent = Intent("give", "axe", {"to": "player"})
    assert planner.plan(g, "farmer", [intent]).refusals[0].code is RefusalCode.LOCKED
    ok = planner.plan(g, "farmer", [intent], PolicyContext(flags=frozenset({"quest_done"})))
    assert "pick_up(shed_key)" in steps(ok)


def test_unconditional_guard_always_refuses() -> None:
    planner = Planner(farmer(guards=[Guard(verb="*", target="vault_key", reason="Never.")]))
    plan = planner.plan(
        unlocked_farm(), "farmer", [Intent("look_at", "vault_key")], PolicyContext({"trust": 1.0})
    )
    assert plan.refusals[0].reason == "Never."


def test_several_intents_chain_and_a_refused_one_is_dropped() -> None:
    planner = Planner(farmer())
    plan = planner.plan(
        unlocked_farm(),
        "farmer",
        [
            Intent("pick_up", "axe"),
            Intent("pick_up", "scarecrow"),
            Intent("emote", "", {"gesture": "wave"}),
        ],
    )
    assert [i.verb for i in plan.intents] == ["pick_up", "emote"]
    assert steps(plan)[-1] == "emote(, gesture=wave)"
    assert plan.step_intents[-1] == 1 and plan.refusals[0].intent.target_id == "scarecrow"


def test_open_and_close_containers_and_put_down_inside() -> None:
    planner = Planner(farmer())
    g = unlocked_farm()
    plan = planner.plan(g, "farmer", [Intent("put_down", "axe", {"in": "drawer"})])
    assert steps(plan)[-3:] == ["move_to(drawer)", "open(drawer)", "put_down(axe, in=drawer)"]
    plan = planner.plan(g, "farmer", [Intent("close", "drawer")])
    assert plan.steps == () and not plan.refusals  # already closed: nothing to do
    plan = planner.plan(g, "farmer", [Intent("open", "chest")])
    assert plan.refusals[0].code is RefusalCode.LOCKED


def test_custom_verb_walks_to_the_target_when_same_place() -> None:
    from npc_runtime.characters import CustomVerb

    cook = Character(
        id="cook",
        name="Cook",
        persona="A cook who serves soup to everyone.",
        actions=ActionsConfig(
            verbs=["move_to", "serve_soup"],
            custom={"serve_soup": CustomVerb(target=["character"], same_place=True)},
        ),
    )
    g = unlocked_farm()
    g.apply(
        SceneDelta(
            remove_relations=[Relation("player", RelationKind.IN, "yard")],
            add_relations=[Relation("player", RelationKind.IN, "house")],
        )
    )
    plan = Planner(cook).plan(g, "farmer", [Intent("serve_soup", "player")])
    assert steps(plan) == ["move_to(player)", "serve_soup(player)"]
