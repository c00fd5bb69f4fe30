"""Property: whatever JSON the model produces, every command sent respects the
catalogue, the character's allowlist, the guards and the scene at emit time."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from npc_runtime.characters import ActionsConfig, Character, CustomVerb, Guard
from npc_runtime.world.catalogue import BUILTINS, CANCEL_VERB, Catalogue, ParamType
from npc_runtime.world.demo import farm
from npc_runtime.world.executor import (
    ActionCommandOut,
    ActionExecutor,
    ActionResultIn,
    ResultStatus,
)
from npc_runtime.world.intents import parse_actions
from npc_runtime.world.perception import perceive
from npc_runtime.world.policy import Policy, PolicyContext
from npc_runtime.world.rules import Step, check
from npc_runtime.world.store import World

VERBS = [
    "move_to",
    "pick_up",
    "put_down",
    "give",
    "open",
    "close",
    "look_at",
    "emote",
    "wait",
    "serve_soup",
]
CHARACTER = Character(
    id="farmer",
    name="Farmer",
    persona="A farmer who fetches things for visitors.",
    actions=ActionsConfig(
        verbs=VERBS,
        custom={"serve_soup": CustomVerb(target=["character"], same_place=True)},
        guards=[
            Guard(verb="give", target="vault_key", min_trust=0.6),
            Guard(verb="pick_up", target_type="gold", flags=["quest_done"]),
            Guard(verb="*", target="well"),  # never touch the well
            Guard(verb="serve_soup", not_flags=["robbed"]),
        ],
    ),
)
CATALOGUE = Catalogue.for_character(CHARACTER)
POLICY = Policy(CHARACTER)
IDS = [n.id for n in farm().nodes] + ["ghost", "", "FARMER", "axe "]
KEYS = ["verb", "target", "to", "in", "on", "key", "gesture", "seconds", "broth", "x"]
ALL_VERBS = [*BUILTINS, "serve_soup", "cancel", "steal", "", "GIVE"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(IDS)
    | st.sampled_from(ALL_VERBS)
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)
near_valid = st.fixed_dictionaries(
    {"verb": st.sampled_from(ALL_VERBS)},
    optional={
        "target": st.sampled_from(IDS),
        "to": st.sampled_from(IDS),
        "in": st.sampled_from(IDS),
        "on": st.sampled_from(IDS),
        "key": st.sampled_from(IDS),
        "gesture": st.sampled_from(["wave", "nod", "dance"]),
        "seconds": st.one_of(st.floats(0, 60), st.text(max_size=3)),
    },
)
REAL = [n.id for n in farm().nodes]
# Mostly sensible ids for each verb, sometimes any id, so plans do get made.
portable = st.sampled_from(["axe", "shed_key", "vault_key", "gold", "chest_key"]) | st.sampled_from(
    REAL
)
person = st.sampled_from(["player", "farmer"]) | st.sampled_from(REAL)
plausible = st.one_of(
    st.fixed_dictionaries({"verb": st.just("give"), "target": portable, "to": person}),
    st.fixed_dictionaries({"verb": st.just("pick_up"), "target": portable}),
    st.fixed_dictionaries(
        {
            "verb": st.sampled_from(["move_to", "open", "close", "look_at"]),
            "target": st.sampled_from(REAL),
        }
    ),
    st.fixed_dictionaries(
        {"verb": st.just("put_down"), "target": portable},
        optional={"in": st.sampled_from(REAL), "on": st.sampled_from(REAL)},
    ),
    st.fixed_dictionaries({"verb": st.just("serve_soup"), "target": person}),
    st.fixed_dictionaries({"verb": st.just("emote"), "gesture": st.sampled_from(["wave", "nod"])}),
)
sensible = st.lists(plausible, min_size=1, max_size=3)
junk = st.one_of(
    any_json,
    st.lists(near_valid | any_json, max_size=5),
    st.lists(near_valid, min_size=1, max_size=3),
)
# About two in three outputs are sensible lists, the rest anything at all.
model_output = st.integers(0, 2).flatmap(lambda i: junk if i == 0 else sensible)
statuses = st.lists(
    st.sampled_from(
        [ResultStatus.SUCCEEDED] * 6
        + [ResultStatus.FAILED, ResultStatus.STARTED, ResultStatus.CANCELLED]
    ),
    max_size=30,
)


def _assert_allowed(world: World, relationship: dict[str, float], cmd: ActionCommandOut) -> None:
    """What must hold for every non-cancel command, checked independently where possible."""
    graph = world.graph
    assert cmd.verb in CHARACTER.actions.verbs, cmd
    spec = CATALOGUE.get(cmd.verb)
    assert spec is not None
    names = [cmd.target_id] if cmd.target_id else []
    names += [
        v for k, v in cmd.arguments.items() if (p := spec.param(k)) and p.type is ParamType.NODE
    ]
    for node_id in names:
        node = graph.node(node_id)
        assert node is not None and not node.hidden, (cmd, node_id)
    assert "well" not in names, cmd
    if cmd.verb == "give" and cmd.target_id == "vault_key":
        assert relationship.get("trust", 0.0) >= 0.6
    if cmd.verb == "pick_up" and cmd.target_id == "gold":
        assert "quest_done" in world.flags
    if cmd.verb == "serve_soup":
        assert "robbed" not in world.flags
    step = Step(cmd.verb, cmd.target_id, dict(cmd.arguments))
    ctx = PolicyContext.of(relationship, world.flags)
    assert POLICY.check(spec, step, graph, ctx) is None, cmd
    assert check(graph, "farmer", spec, step) is None, (cmd, check(graph, "farmer", spec, step))


async def _scenario(
    raw: Any, use_perception: bool, trust: float, flags: set[str], answers: list[ResultStatus]
) -> None:
    world = World("farm")
    world.graph.load(farm())
    world.set_flags(flags)
    relationship = {"trust": trust}
    sent: list[ActionCommandOut] = []
    queue: asyncio.Queue[ActionCommandOut] = asyncio.Queue()

    violations: list[BaseException] = []

    def emit(cmd: ActionCommandOut) -> None:
        # Runs inside the executor's task: record, so the test (not the task) fails.
        try:
            if cmd.verb != CANCEL_VERB:
                _assert_allowed(world, relationship, cmd)  # at emit time
        except AssertionError as e:
            violations.append(e)
        sent.append(cmd)
        queue.put_nowait(cmd)

    ex = ActionExecutor(world, CHARACTER, "farmer", emit, step_timeout_s=1.0)
    perceived = perceive(world, "farmer") if use_perception else None
    parsed = parse_actions(raw, CHARACTER, perceived)
    await ex.request(parsed.intents, relationship)
    replies = iter(answers)
    task = ex._task
    while task is not None and not task.done():
        get = asyncio.ensure_future(queue.get())
        finished, _ = await asyncio.wait(
            {get, task}, timeout=5, return_when=asyncio.FIRST_COMPLETED
        )
        if get not in finished:
            get.cancel()
            break
        cmd = get.result()
        if cmd.verb == CANCEL_VERB:
            continue
        # "started" keeps a step waiting: answer again until a final status.
        for _ in range(len(answers) + 1):
            status = next(replies, ResultStatus.SUCCEEDED)
            if not ex.on_result(ActionResultIn(cmd.command_id, status)):
                break
            if status is not ResultStatus.STARTED:
                break
    await ex.aclose()
    if violations:
        raise violations[0]
    if task is not None and task.done() and not task.cancelled():
        assert task.exception() is None, task.exception()
    assert len(sent) < 60
    # Shows in --hypothesis-show-statistics that the property is not vacuous.
    event(f"commands sent: {min(5, sum(c.verb != CANCEL_VERB for c in sent))}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=model_output,
    use_perception=st.booleans(),
    trust=st.floats(-1.0, 1.0),
    flags=st.sets(st.sampled_from(["quest_done", "robbed"])),
    answers=statuses,
)
def test_every_emitted_command_respects_catalogue_allowlist_guards_and_scene(
    raw: Any, use_perception: bool, trust: float, flags: set[str], answers: list[ResultStatus]
) -> None:
    asyncio.run(_scenario(raw, use_perception, trust, flags, answers))


@settings(max_examples=100, deadline=None)
@given(raw=st.lists(plausible | near_valid, min_size=1, max_size=3), trust=st.floats(-1.0, 1.0))
def test_planned_steps_never_include_forbidden_verbs_or_guarded_targets(
    raw: list[dict[str, Any]], trust: float
) -> None:
    from npc_runtime.world.graph import SceneGraph
    from npc_runtime.world.planner import Planner

    graph = SceneGraph.from_snapshot(farm())
    parsed = parse_actions(raw, CHARACTER)
    plan = Planner(CHARACTER).plan(graph, "farmer", parsed.intents, PolicyContext({"trust": trust}))
    event(f"planned: {bool(plan.steps)}")
    for step in plan.steps:
        assert step.verb in VERBS
        assert step.target_id != "well" and "well" not in step.args.values()
        if step.verb == "give" and step.target_id == "vault_key":
            assert trust >= 0.6
    for refusal in plan.refusals:
        assert refusal.reason and refusal.reason[0].isupper()
