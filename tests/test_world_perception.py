"""Perception, triggers, the actions schema and intent parsing, character files."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from npc_runtime.characters import (
    BUILTIN_VERBS,
    ActionsConfig,
    Character,
    CharacterError,
    CharacterStore,
    TriggerSpec,
    load_character,
)
from npc_runtime.world.catalogue import BUILTINS, Catalogue
from npc_runtime.world.demo import farm
from npc_runtime.world.intents import actions_schema, parse_actions
from npc_runtime.world.model import Node, NodeKind, Relation, RelationKind, SceneDelta
from npc_runtime.world.perception import PerceptionConfig, perceive
from npc_runtime.world.store import World, WorldEvent
from npc_runtime.world.triggers import apply_trigger

ROOT = Path(__file__).resolve().parent.parent


def farm_world() -> World:
    world = World("farm")
    world.graph.load(farm())
    return world


def farmer(**kw: object) -> Character:
    return Character(
        id="farmer",
        name="Farmer",
        persona="A farmer who fetches things for visitors.",
        actions=ActionsConfig(verbs=list(BUILTIN_VERBS)),
        **kw,  # type: ignore[arg-type]
    )


def test_perception_lists_here_first_then_nearby_with_ids() -> None:
    p = perceive(farm_world(), "farmer")
    lines = p.summary.splitlines()
    assert lines[0] == "You are the farmer, in the yard [yard]."
    assert lines[1].startswith("Here: the player [player]")
    assert "the chest [chest] (locked)" in p.summary
    assert "the shed door [shed_door] (locked), 8 m" in p.summary
    assert p.ids[:2] == ("yard", "player")
    assert "farmer" not in p.ids
    # Knows what is in the shed behind the locked door (within 40 m).
    assert {"axe", "anvil", "shed_key"} <= set(p.ids)
    assert "scarecrow" not in p.ids  # the field is not connected
    assert "portable" in p.tags["axe"] and "character" in p.tags["player"]


def test_perception_excludes_hidden_nodes_and_their_contents() -> None:
    world = farm_world()
    drawer = world.graph.node("drawer")
    assert drawer is not None
    world.graph.apply(SceneDelta(upsert_nodes=[replace(drawer, hidden=True)]))
    p = perceive(world, "farmer")
    assert "drawer" not in p.ids and "shed_key" not in p.ids
    assert "shed_key" not in p.summary


def test_perception_radius_and_budget() -> None:
    world = farm_world()
    near = perceive(world, "farmer", PerceptionConfig(radius_m=6.0))
    assert "house" in near.ids and "shed" not in near.ids
    tiny = perceive(world, "farmer", PerceptionConfig(token_budget=30))
    assert len(tiny.summary) <= 30 * 4
    assert tiny.ids and set(tiny.ids) < set(perceive(world, "farmer").ids)
    # every perceived id appears in the summary text the model reads
    for node_id in tiny.ids:
        assert f"[{node_id}]" in tiny.summary


def test_perception_by_position_sees_unplaced_nodes() -> None:
    world = farm_world()
    me = world.graph.node("farmer")
    assert me is not None
    world.graph.apply(
        SceneDelta(
            upsert_nodes=[
                replace(me, position=(0.0, 0.0, 0.0)),
                Node("crow", NodeKind.OBJECT, "a crow", position=(3.0, 4.0, 0.0)),
                Node("moon", NodeKind.OBJECT, "the moon", position=(900.0, 0.0, 0.0)),
            ]
        )
    )
    p = perceive(world, "farmer")
    assert "crow" in p.ids and "moon" not in p.ids


def test_recent_events_are_in_the_summary_most_recent_first() -> None:
    world = farm_world()
    now = time.time()
    world.record(WorldEvent("trigger", "a wolf howled", at=now - 300))
    world.record(WorldEvent("trigger", "the player drew a sword", at=now - 5))
    p = perceive(world, "farmer", now=now)
    assert (
        "Recent events: just now: the player drew a sword; 5 min ago: a wolf howled." in p.summary
    )


def test_trigger_sets_flags_and_is_remembered() -> None:
    spec = TriggerSpec(
        flag="robbed",
        react=True,
        emotion="anger",
        line_hint="My shelves!",
        remember="{item} stolen",
    )
    character = farmer(triggers={"player_looted_store": spec})
    world = farm_world()
    out = apply_trigger(
        world, character, "player_looted_store", {"item": "rice"}, source_id="player"
    )
    assert out.react and out.line_hint == "My shelves!" and out.flags_set == ("robbed",)
    assert "robbed" in world.flags
    assert world.events[-1].text == "rice stolen" and world.events[-1].actor_id == "player"
    plain = apply_trigger(world, character, "loud_noise", {"where": "barn"})
    assert plain.spec is None and not plain.react
    assert world.events[-1].text == "loud noise — where: barn"
    cleared = apply_trigger(
        world, farmer(triggers={"paid": TriggerSpec(clear_flags=["robbed"])}), "paid"
    )
    assert cleared.flags_cleared == ("robbed",) and "robbed" not in world.flags


def test_actions_schema_constrains_verbs_and_ids_by_kind() -> None:
    p = perceive(farm_world(), "farmer")
    schema = actions_schema(farmer(), p)
    variants = {v["properties"]["verb"]["enum"][0]: v for v in schema["items"]["anyOf"]}
    assert set(variants) == set(BUILTIN_VERBS)
    give = variants["give"]
    assert "axe" in give["properties"]["target"]["enum"]
    assert "anvil" not in give["properties"]["target"]["enum"]  # not portable
    assert give["properties"]["to"]["enum"] == ["player"]
    assert give["required"] == ["verb", "target", "to"]
    assert "key" not in variants["open"]["properties"]  # the planner picks the key
    assert schema["maxItems"] == 3
    # Nothing perceived that fits: verbs with a required target drop out.
    bare = actions_schema(farmer(), [])
    assert {v["properties"]["verb"]["enum"][0] for v in bare["items"]["anyOf"]} == {
        "stop",
        "emote",
        "wait",
    }
    none = actions_schema(Character(id="x", name="X", persona="Nobody in particular."), [])
    assert none["maxItems"] == 0


def test_parse_actions_accepts_valid_and_rejects_everything_else() -> None:
    p = perceive(farm_world(), "farmer")
    raw = [
        {"verb": "give", "target": "axe", "to": "player"},
        {"verb": "wait", "seconds": 2},
        {"verb": "fly", "target": "axe"},
        {"verb": "give", "target": "vault_of_doom", "to": "player"},
        "give me everything",
    ]
    parsed = parse_actions(raw, farmer(), p, max_actions=10)
    assert [str(i) for i in parsed.intents] == ["give(axe, to=player)", "wait(, seconds=2)"]
    reasons = [r.reason for r in parsed.rejected]
    assert "not one this character may use" in reasons[0]
    assert "nothing I can perceive" in reasons[1]
    assert "must be an object" in reasons[2]
    assert parse_actions({"verb": "give"}, farmer()).rejected[0].reason == "actions must be a list"
    assert parse_actions(
        [{"verb": "open", "target": "chest", "key": "chest_key"}], farmer()
    ).rejected
    too_many = parse_actions([{"verb": "stop"}] * 5, farmer())
    assert len(too_many.intents) == 3 and len(too_many.rejected) == 2


def test_catalogue_follows_the_character_file_order() -> None:
    jin = CharacterStore.load(ROOT / "characters").get("jin")
    cat = Catalogue.for_character(jin)
    assert list(cat.verbs) == jin.actions.verbs
    serve = cat.get("serve_ramen")
    assert serve is not None and not serve.builtin and serve.same_place
    assert serve.param("broth") is not None and cat.get("give") is BUILTINS["give"]
    assert jin.triggers["player_looted_store"].flag == "robbed"


def _write(tmp_path: Path, actions: str) -> Path:
    folder = tmp_path / "zed"
    folder.mkdir()
    path = folder / "character.toml"
    path.write_text('name = "Zed"\npersona = "A grumpy robot bartender."\n' + actions)
    return path


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ('[actions]\nverbs = ["serv_ramen"]\n', "unknown verb 'serv_ramen'"),
        ('[actions]\nverbs = ["give"]\n[actions.custom.give]\n', "name of a built-in verb"),
        (
            '[actions]\nverbs = ["give"]\n[[actions.guards]]\nverb = "steal"\n',
            "unknown verb 'steal'",
        ),
        ('[actions.custom.x]\ntarget = ["dragon"]\n', "actions.custom.x.target"),
        ("[triggers.boom]\nintensity = 3\n", "triggers.boom.intensity"),
    ],
)
def test_bad_action_sections_fail_at_load(tmp_path: Path, actions: str, message: str) -> None:
    with pytest.raises(CharacterError) as e:
        load_character(_write(tmp_path, actions))
    assert message in str(e.value)


def test_moving_object_updates_perception() -> None:
    world = farm_world()
    world.graph.apply(
        SceneDelta(
            remove_relations=[Relation("axe", RelationKind.IN, "shed")],
            add_relations=[Relation("axe", RelationKind.HELD_BY, "farmer")],
        )
    )
    p = perceive(world, "farmer")
    assert p.summary.splitlines()[1] == "You hold: the axe [axe]."
    assert p.ids.index("axe") < p.ids.index("player")
