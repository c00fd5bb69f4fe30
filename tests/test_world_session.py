"""The world over real gRPC: scenes in, perception in the prompt, actions out, results in.

The model is scripted here (what a reply asks for must be exact to test the
planner); the server, the session, the scene graph, the planner, the executor,
memory (Redis) and the gRPC transport are the real ones.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.llm.base import GenerationRequest
from npc_runtime.llm.scripted import ScriptedLLM
from npc_runtime.runtime import Runtime
from npc_runtime.server import codec
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.service import start_server
from npc_runtime.world import Node, NodeKind, Relation, RelationKind, SceneDelta, WorldStore
from npc_runtime.world.demo import farm

pytestmark = pytest.mark.models


def _reply(say: str, *actions: dict[str, str], emotion: str = "neutral") -> dict[str, Any]:
    return {"emotion": emotion, "say": say, "actions": list(actions)}


# What the scripted character answers, by a phrase in the player's line.
SCRIPT: dict[str, dict[str, Any]] = {
    "axe": _reply("Sure, I'll fetch it.", {"verb": "give", "target": "axe", "to": "player"}),
    "gold": _reply("Let me see.", {"verb": "give", "target": "gold", "to": "player"}),
    "anvil": _reply("I'll try.", {"verb": "pick_up", "target": "anvil"}),
    "well": _reply("Going.", {"verb": "move_to", "target": "well"}),
    "chest": _reply("The chest?", {"verb": "open", "target": "chest"}),
    "ramen": _reply("One bowl.", {"verb": "serve_ramen", "target": "player", "broth": "miso"}),
    "fly": _reply(
        "Watch this.",
        {"verb": "fly", "target": "moon"},
        {"verb": "move_to", "target": "field"},  # exists, but Jin cannot perceive it
        {"verb": "give", "target": "dragon", "to": "player"},
    ),
    "story": _reply(
        "Long ago, before the rain, this yard was a market. Merchants came from the coast "
        "with salt and silk. I remember every stall. Then the towers rose and the market "
        "moved away, and only the well stayed where it was.",
        {"verb": "move_to", "target": "well"},
    ),
}


def _script(request: GenerationRequest) -> dict[str, Any] | str:
    last = request.messages[-1].content.lower()
    line = last.rsplit("player:", 1)[-1]
    for phrase, reply in SCRIPT.items():
        if phrase in line:
            return reply
    return _reply("Hm.")


@dataclasses.dataclass
class Scripted:
    runtime: Runtime
    llm: ScriptedLLM
    address: str


@pytest.fixture(scope="module")
async def scripted(runtime: object) -> AsyncIterator[Scripted]:
    """A second server on the shared models and Redis, with a scripted LLM and its own worlds."""
    assert isinstance(runtime, Runtime)
    llm = ScriptedLLM(_script)
    rt = dataclasses.replace(runtime, llm=llm, worlds=WorldStore())
    server, port = await start_server(rt, "127.0.0.1", 0)
    yield Scripted(rt, llm, f"127.0.0.1:{port}")
    await server.stop(1)


def _start(world: str, *, text_only: bool = True, **kw: Any) -> pb.SessionStart:
    return pb.SessionStart(
        character_id="jin",
        player_id=f"p-{uuid.uuid4().hex[:6]}",
        text_only=text_only,
        scene=codec.encode_snapshot(farm(world, npc_id="jin")),
        **kw,
    )


def _result(command: pb.ActionCommand, status: int = pb.ACTION_STATUS_SUCCEEDED) -> pb.ClientEvent:
    return pb.ClientEvent(
        action_result=pb.ActionResult(command_id=command.command_id, status=status)  # type: ignore[arg-type]
    )


async def _commands(conv: Conversation, n: int, answer: bool = True) -> list[pb.ActionCommand]:
    """Read until n ActionCommands have come, answering each with SUCCEEDED."""
    got: list[pb.ActionCommand] = []
    while len(got) < n:
        ev = await conv.next(30)
        assert ev is not None, f"stream ended after {[c.verb for c in got]}"
        assert ev.WhichOneof("event") != "error", ev.error.message
        if ev.WhichOneof("event") == "action_command":
            got.append(ev.action_command)
            if answer:
                conv.send(_result(ev.action_command))
    return got


async def test_fetching_the_axe_walks_unlocks_and_gives_it(scripted: Scripted) -> None:
    world = f"farm-{uuid.uuid4().hex[:6]}"
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(world))
        ready = await conv.wait_ready()
        assert ready.character.id == "jin" and "serve_ramen" in ready.character.verbs
        conv.send_text("Grab me the axe, would you?")
        turn = await conv.collect_turn()
        assert turn.end is not None and not turn.errors
        # The prompt saw the scene, and the reply could only name what Jin perceives.
        request = scripted.llm.requests[-1]
        assert "[axe]" in request.messages[-1].content
        schema = json.dumps(request.json_schema)
        assert '"axe"' in schema and '"serve_ramen"' in schema and '"dragon"' not in schema
        first = [e.action_command for e in turn.events if e.WhichOneof("event") == "action_command"]
        for c in first:
            conv.send(_result(c))
        rest = await _commands(conv, 9 - len(first))
        steps = [(c.verb, c.target_id) for c in first + rest]
        assert steps == [
            ("move_to", "drawer"),
            ("open", "drawer"),
            ("pick_up", "shed_key"),
            ("move_to", "yard"),
            ("open", "shed_door"),
            ("move_to", "axe"),
            ("pick_up", "axe"),
            ("move_to", "player"),
            ("give", "axe"),
        ]
        cmds = first + rest
        assert len({c.plan_id for c in cmds}) == 1
        assert [c.step_index for c in cmds] == list(range(9)) and cmds[0].step_count == 9
        assert cmds[-1].arguments["to"] == "player" and cmds[0].turn_id == turn.turn_id
        assert turn.end.timings.plan_ms > 0 and turn.end.timings.perceive_ms > 0
        await _settle_effects(scripted, world)
        conv.close()
    graph = scripted.runtime.worlds.get(world).graph
    assert graph.holder("axe") == "player"
    assert graph.node("shed_door") is not None and not graph.node("shed_door").locked  # type: ignore[union-attr]


async def _settle_effects(scripted: Scripted, world: str) -> None:
    """The last result takes effect when the server has read it."""
    import asyncio

    graph = scripted.runtime.worlds.get(world).graph
    for _ in range(100):
        if graph.holder("axe") == "player":
            return
        await asyncio.sleep(0.02)


async def test_impossible_requests_are_refused_in_character(scripted: Scripted) -> None:
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}"))
        await conv.wait_ready()
        for line, reason in [
            ("Hand me the gold.", "locked"),
            ("Lift the anvil.", "won't budge"),
            ("Open the chest.", "locked"),
        ]:
            conv.send_text(line)
            turn = await conv.collect_turn()
            assert turn.end is not None and not turn.errors
            assert reason in turn.end.text, turn.end.text
            assert not [e for e in turn.events if e.WhichOneof("event") == "action_command"]
        conv.close()


async def test_a_moved_object_makes_the_plan_replan_once(scripted: Scripted) -> None:
    world = f"farm-{uuid.uuid4().hex[:6]}"
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(world))
        await conv.wait_ready()
        conv.send_text("Get me the axe.")
        cmds = await _commands(conv, 6)  # ... up to move_to(axe), answered
        pick = (await _commands(conv, 1, answer=False))[0]
        assert (pick.verb, pick.target_id) == ("pick_up", "axe")
        # The game moved the axe to the kitchen table meanwhile, and says so.
        conv.send(
            pb.ClientEvent(
                scene_update=codec.encode_delta(
                    SceneDelta(
                        world,
                        remove_relations=[Relation("axe", RelationKind.IN, "shed")],
                        add_relations=[Relation("axe", RelationKind.ON, "table")],
                    )
                )
            )
        )
        conv.send(_result(pick, pb.ACTION_STATUS_FAILED))
        replanned = await _commands(conv, 4)
        assert [(c.verb, c.target_id) for c in replanned] == [
            ("move_to", "axe"),
            ("pick_up", "axe"),
            ("move_to", "player"),
            ("give", "axe"),
        ]
        assert replanned[0].plan_id != cmds[0].plan_id
        await _settle_effects(scripted, world)
        conv.close()
    assert scripted.runtime.worlds.get(world).graph.holder("axe") == "player"


async def test_a_new_request_cancels_the_running_plan(scripted: Scripted) -> None:
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}"))
        await conv.wait_ready()
        conv.send_text("Bring me the axe.")
        first = (await _commands(conv, 1, answer=False))[0]
        conv.send_text("No, go to the well instead.")
        cancel, walk = await _commands(conv, 2, answer=False)
        assert cancel.verb == "cancel" and cancel.target_id == first.command_id
        assert (walk.verb, walk.target_id) == ("move_to", "well")
        conv.close()


async def test_barge_in_cancels_what_the_interrupted_turn_started(scripted: Scripted) -> None:
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}", text_only=False))
        await conv.wait_ready()
        conv.send_text("Tell me a story.")
        walk = None
        while walk is None:  # the walk starts while Jin is still talking
            ev = await conv.next(60)
            assert ev is not None
            if ev.WhichOneof("event") == "action_command":
                walk = ev.action_command
        conv.send(pb.ClientEvent(interrupt=pb.Interrupt()))
        cancel = None
        end = None
        while end is None:
            ev = await conv.next(60)
            assert ev is not None
            kind = ev.WhichOneof("event")
            if kind == "action_command":
                cancel = ev.action_command
            elif kind == "turn_end":
                end = ev.turn_end
        assert end.interrupted
        assert cancel is not None and cancel.verb == "cancel"
        assert cancel.target_id == walk.command_id
        conv.close()


async def test_a_trigger_sets_a_flag_the_guard_then_enforces(scripted: Scripted) -> None:
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}"))
        await conv.wait_ready()
        conv.send_text("Ramen, please.")
        turn = await conv.collect_turn()
        steps = [e.action_command for e in turn.events if e.WhichOneof("event") == "action_command"]
        for c in steps:
            conv.send(_result(c))
        while not steps or steps[-1].step_index + 1 < steps[-1].step_count:
            steps += await _commands(conv, 1)
        served = steps[-1]
        assert served.verb == "serve_ramen" and served.arguments["broth"] == "miso"
        # Jin's file: looting sets "robbed", he reacts at once, and serve_ramen is guarded.
        conv.send(
            pb.ClientEvent(trigger=pb.Trigger(name="player_looted_store", source_id="player"))
        )
        reaction = await conv.collect_turn()
        assert reaction.end is not None and reaction.emotion == pb.EMOTION_CATEGORY_ANGER
        assert "looted" in scripted.llm.requests[-1].messages[-1].content
        conv.send_text("Ramen, please.")
        refused = await conv.collect_turn()
        assert "Kitchen's closed for you" in refused.end.text  # type: ignore[union-attr]
        assert not [e for e in refused.events if e.WhichOneof("event") == "action_command"]
        conv.close()


async def test_made_up_verbs_and_things_never_reach_the_game(scripted: Scripted) -> None:
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}"))
        await conv.wait_ready()
        conv.send_text("Can you fly?")
        turn = await conv.collect_turn()
        assert turn.end is not None and not turn.errors
        assert not [e for e in turn.events if e.WhichOneof("event") == "action_command"]
        conv.close()


async def test_a_bad_scene_update_is_rejected_whole_and_the_session_goes_on(
    scripted: Scripted,
) -> None:
    world = f"farm-{uuid.uuid4().hex[:6]}"
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(world))
        await conv.wait_ready()
        graph = scripted.runtime.worlds.get(world).graph
        before = graph.snapshot(world)
        bad = SceneDelta(
            world,
            upsert_nodes=[Node("lamp", NodeKind.OBJECT, "a lamp", portable=True)],
            add_relations=[Relation("lamp", RelationKind.IN, "no_such_room")],
        )
        conv.send(pb.ClientEvent(scene_update=codec.encode_delta(bad)))
        ev = await conv.next(10)
        assert ev is not None and ev.WhichOneof("event") == "error"
        assert ev.error.code == pb.ERROR_CODE_INVALID_ARGUMENT and ev.error.session_alive
        assert "no_such_room" in ev.error.message and "not changed" in ev.error.message
        assert graph.snapshot(world) == before
        # A result nobody waits for (late, after a cancel) is not an error either.
        conv.send(
            pb.ClientEvent(
                action_result=pb.ActionResult(command_id="late", status=pb.ACTION_STATUS_SUCCEEDED)
            )
        )
        conv.send_text("Hello there.")
        turn = await conv.collect_turn()
        assert turn.end is not None and not turn.errors
        conv.close()


async def test_a_scene_without_this_npc_is_reported(scripted: Scripted) -> None:
    start = _start(f"farm-{uuid.uuid4().hex[:6]}")
    start.npc_id = "someone_else"
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, start)
        await conv.wait_ready()
        ev = await conv.next(10)
        assert ev is not None and ev.WhichOneof("event") == "error"
        assert ev.error.code == pb.ERROR_CODE_FAILED_PRECONDITION
        assert "someone_else" in ev.error.message and ev.error.session_alive
        conv.close()


async def test_a_trigger_the_character_answers_with_gestures(scripted: Scripted) -> None:
    """No speech and no model: Jin's file turns a wave into look_at + nod."""
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(f"farm-{uuid.uuid4().hex[:6]}"))
        await conv.wait_ready()
        asked = len(scripted.llm.requests)
        conv.send(pb.ClientEvent(trigger=pb.Trigger(name="player_waved", source_id="player")))
        look, nod = await _commands(conv, 2)
        assert (look.verb, look.target_id) == ("look_at", "player")
        assert (nod.verb, nod.arguments["gesture"]) == ("emote", "nod")
        assert len(scripted.llm.requests) == asked  # the file decided, not the model
        conv.close()


async def test_a_door_whose_key_is_nowhere_is_refused(scripted: Scripted) -> None:
    world = f"farm-{uuid.uuid4().hex[:6]}"
    cellar = SceneDelta(
        world,
        upsert_nodes=[
            Node(
                "cellar_door",
                NodeKind.PLACE,
                "the cellar door",
                type="door",
                state={"locked": "true", "key": "lost_key"},
            ),
            Node("cellar", NodeKind.PLACE, "the cellar"),
            Node("wine", NodeKind.OBJECT, "a bottle of wine", portable=True),
        ],
        add_relations=[
            Relation("yard", RelationKind.CONNECTED, "cellar_door", 3.0),
            Relation("cellar_door", RelationKind.CONNECTED, "cellar", 1.0),
            Relation("wine", RelationKind.IN, "cellar"),
        ],
    )
    SCRIPT["wine"] = _reply("Wine?", {"verb": "give", "target": "wine", "to": "player"})
    async with channel(scripted.address) as chan:
        conv = Conversation(chan, _start(world))
        await conv.wait_ready()
        conv.send(pb.ClientEvent(scene_update=codec.encode_delta(cellar)))
        conv.send_text("Pour me some wine.")
        turn = await conv.collect_turn()
        assert turn.end is not None and not turn.errors
        assert "[wine]" in scripted.llm.requests[-1].messages[-1].content  # perceived...
        assert "cellar door is locked" in turn.end.text  # ...but out of reach
        assert not [e for e in turn.events if e.WhichOneof("event") == "action_command"]
        conv.close()
