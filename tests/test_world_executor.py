"""Executor: full runs with simulated ActionResults, replan, cancellation, timeout."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from npc_runtime.characters import BUILTIN_VERBS, ActionsConfig, Character, Guard
from npc_runtime.world.demo import farm
from npc_runtime.world.executor import (
    TRANSITIONS,
    ActionCommandOut,
    ActionExecutor,
    ActionResultIn,
    ExecState,
    PlanReport,
    ResultStatus,
)
from npc_runtime.world.intents import Intent
from npc_runtime.world.model import Relation, RelationKind, SceneDelta
from npc_runtime.world.store import World

OK, FAIL, STARTED = ResultStatus.SUCCEEDED, ResultStatus.FAILED, ResultStatus.STARTED
GIVE_AXE = Intent("give", "axe", {"to": "player"})


def farmer(guards: list[Guard] | None = None) -> Character:
    return Character(
        id="farmer",
        name="Farmer",
        persona="A farmer who fetches things for visitors.",
        actions=ActionsConfig(verbs=list(BUILTIN_VERBS), guards=guards or []),
    )


class FakeClient:
    """The game side: records commands; the test answers them."""

    def __init__(self) -> None:
        self.commands: list[ActionCommandOut] = []
        self.queue: asyncio.Queue[ActionCommandOut] = asyncio.Queue()
        self.reports: list[PlanReport] = []

    def emit(self, cmd: ActionCommandOut) -> None:
        self.commands.append(cmd)
        self.queue.put_nowait(cmd)

    async def next(self) -> ActionCommandOut:
        return await asyncio.wait_for(self.queue.get(), 2.0)


def setup(
    timeout: float = 5.0, guards: list[Guard] | None = None
) -> tuple[World, FakeClient, ActionExecutor]:
    world = World("farm")
    world.graph.load(farm())
    door = world.graph.node("shed_door")
    assert door is not None
    world.graph.apply(SceneDelta(upsert_nodes=[replace(door, state={"open": "false"})]))
    client = FakeClient()
    ex = ActionExecutor(
        world,
        farmer(guards),
        "farmer",
        client.emit,
        on_report=client.reports.append,
        step_timeout_s=timeout,
    )
    return world, client, ex


async def answer_all(
    client: FakeClient, ex: ActionExecutor, count: int, status: ResultStatus = OK
) -> list[str]:
    seen = []
    for _ in range(count):
        cmd = await client.next()
        seen.append(f"{cmd.verb}({cmd.target_id})")
        assert ex.on_result(ActionResultIn(cmd.command_id, status))
    return seen


async def test_fetch_the_axe_runs_to_done_and_changes_the_scene() -> None:
    world, client, ex = setup()
    plan = await ex.request([GIVE_AXE], turn_id="t1")
    assert ex.state is ExecState.WAITING
    seen = await answer_all(client, ex, len(plan.steps))
    report = await ex.wait()
    assert report is not None and report.status is ExecState.DONE and report.steps_done == 5
    assert seen == [
        "open(shed_door)",
        "move_to(axe)",
        "pick_up(axe)",
        "move_to(player)",
        "give(axe)",
    ]
    cmds = client.commands
    assert [c.step_index for c in cmds] == [0, 1, 2, 3, 4]
    assert {c.step_count for c in cmds} == {5} and {c.plan_id for c in cmds} == {plan.plan_id}
    assert {c.turn_id for c in cmds} == {"t1"}
    assert cmds[-1].arguments == {"to": "player"}
    g = world.graph
    assert g.holder("axe") == "player" and g.place_of("farmer") == "yard"
    assert g.node("shed_door").is_open  # type: ignore[union-attr]
    assert any("give" in e.text for e in world.events)
    assert client.reports == [report]


async def test_object_moved_mid_plan_replans_once_and_succeeds() -> None:
    world, client, ex = setup()
    await ex.request([GIVE_AXE])
    await answer_all(client, ex, 1)  # door opened
    walk = await client.next()
    assert walk.verb == "move_to" and walk.target_id == "axe"
    # The game moves the axe to the house meanwhile, and the walk fails.
    await world.apply(
        SceneDelta(
            remove_relations=[Relation("axe", RelationKind.IN, "shed")],
            add_relations=[Relation("axe", RelationKind.IN, "house")],
        )
    )
    ex.on_result(ActionResultIn(walk.command_id, FAIL, "axe not there"))
    replanned = await client.next()
    assert replanned.plan_id != walk.plan_id and replanned.step_index == 0
    assert (replanned.verb, replanned.target_id) == ("move_to", "axe")
    ex.on_result(ActionResultIn(replanned.command_id, OK))
    rest = await answer_all(client, ex, 3)
    assert rest == ["pick_up(axe)", "move_to(player)", "give(axe)"]
    report = await ex.wait()
    assert report is not None and report.status is ExecState.DONE
    assert world.graph.holder("axe") == "player"


async def test_second_failure_fails_the_plan() -> None:
    _, client, ex = setup()
    await ex.request([GIVE_AXE])
    await answer_all(client, ex, 2, FAIL)  # first step fails, the replan's first fails too
    report = await ex.wait()
    assert report is not None and report.status is ExecState.FAILED and report.reason
    assert ex.state is ExecState.FAILED


async def test_object_taken_mid_plan_replan_refuses_with_a_sayable_reason() -> None:
    world, client, ex = setup()
    await ex.request([GIVE_AXE])
    await answer_all(client, ex, 2)  # door open, at the axe
    # The player grabs the axe first; the replan finds it in their hands.
    pick = await client.next()
    await world.apply(
        SceneDelta(
            remove_relations=[Relation("axe", RelationKind.IN, "shed")],
            add_relations=[Relation("axe", RelationKind.HELD_BY, "player")],
        )
    )
    ex.on_result(ActionResultIn(pick.command_id, FAIL, "gone"))
    report = await ex.wait()
    assert report is not None and report.status is ExecState.FAILED
    assert report.reason == "The player has the axe, not me."


async def test_new_request_cancels_the_running_plan() -> None:
    _, client, ex = setup()
    await ex.request([GIVE_AXE])
    first = await client.next()
    plan2 = await ex.request([Intent("emote", "", {"gesture": "wave"})])
    cancel = await client.next()
    assert cancel.verb == "cancel" and cancel.target_id == first.command_id
    assert cancel.plan_id == first.plan_id and cancel.arguments["reason"] == "new request"
    assert client.reports[0].status is ExecState.CANCELLED
    wave = await client.next()
    assert wave.verb == "emote" and wave.plan_id == plan2.plan_id
    # A late result for the cancelled step is ignored.
    assert not ex.on_result(ActionResultIn(first.command_id, OK))
    ex.on_result(ActionResultIn(wave.command_id, OK))
    report = await ex.wait()
    assert report is not None and report.status is ExecState.DONE


async def test_barge_in_cancel_emits_one_cancel_for_the_step_in_flight() -> None:
    _, client, ex = setup()
    await ex.request([GIVE_AXE])
    await answer_all(client, ex, 1)
    second = await client.next()
    report = await ex.cancel("barge-in")
    assert report is not None and report.status is ExecState.CANCELLED and report.steps_done == 0
    cancel = await client.next()
    assert (cancel.verb, cancel.target_id, cancel.step_index) == ("cancel", second.command_id, 1)
    assert client.queue.empty()
    assert await ex.cancel() is None  # nothing left to cancel


async def test_timeout_fails_and_cancels_the_step() -> None:
    _, client, ex = setup(timeout=0.05)
    await ex.request([GIVE_AXE])
    first = await client.next()
    report = await ex.wait()
    assert report is not None and report.status is ExecState.FAILED
    cancel = await client.next()
    assert cancel.verb == "cancel" and cancel.target_id == first.command_id
    assert cancel.arguments["reason"] == "timeout"


async def test_started_restarts_the_timer_and_completes_ongoing_follow() -> None:
    _, client, ex = setup(timeout=0.2)
    await ex.request([Intent("follow", "player")])
    follow = await client.next()
    ex.on_result(ActionResultIn(follow.command_id, STARTED))
    report = await ex.wait()
    assert report is not None and report.status is ExecState.DONE
    await ex.request([Intent("look_at", "well")])
    look = await client.next()
    for _ in range(3):  # each "started" gives it another 0.2 s
        await asyncio.sleep(0.12)
        ex.on_result(ActionResultIn(look.command_id, STARTED))
    ex.on_result(ActionResultIn(look.command_id, OK))
    report = await ex.wait()
    assert report is not None and report.status is ExecState.DONE


async def test_refused_request_reports_failed_without_commands() -> None:
    guard = Guard(verb="give", min_trust=0.5, reason="Earn it first.")
    _, client, ex = setup(guards=[guard])
    plan = await ex.request([GIVE_AXE], relationship={"trust": 0.1})
    assert plan.refused and client.commands == []
    assert ex.state is ExecState.FAILED and client.reports[-1].reason == "Earn it first."
    plan = await ex.request([GIVE_AXE], relationship={"trust": 0.9})
    assert plan.steps and (await client.next()).verb == "open"
    await ex.aclose()


async def test_guard_rechecked_at_emit_time() -> None:
    # A trigger sets a flag mid-plan that forbids giving: the give is never sent.
    guard = Guard(verb="give", not_flags=["robbed"], reason="Not after that.")
    world, client, ex = setup(guards=[guard])
    await ex.request([GIVE_AXE])
    await answer_all(client, ex, 3)
    world.set_flags(["robbed"])
    await answer_all(client, ex, 1)  # move_to(player)
    report = await ex.wait()
    assert report is not None and report.status is ExecState.FAILED
    assert report.reason == "Not after that."
    assert all(c.verb != "give" for c in client.commands)


def test_transition_table_is_explicit() -> None:
    assert TRANSITIONS[ExecState.IDLE] == {ExecState.PLANNING}
    assert ExecState.EXECUTING not in TRANSITIONS[ExecState.DONE]
    ex = ActionExecutor(World("w"), farmer(), "farmer", lambda c: None)
    with pytest.raises(RuntimeError, match="no transition"):
        ex._to(ExecState.WAITING)
