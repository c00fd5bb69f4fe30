"""The world: scene graph, perception, triggers, actions catalogue, planner and executor.

Wire-independent: no protobuf here; server/codec.py converts SceneSnapshot,
SceneDelta, ActionCommandOut and ActionResultIn to and from npc.v1 messages.

How a session uses it (one WorldStore per server, one executor per NPC session;
by convention the NPC's scene node id is its character id and the player's is
SessionStart.player_id):

    world = await store.load(snapshot)            # or store.get(world_id)
    await store.apply(delta)                      # SceneUpdate; SceneError → Error event
    seen = perceive(world, npc_id)                # seen.summary → prompt, seen.ids → schema
    schema = actions_schema(character, seen)      # the reply's "actions"
    parsed = parse_actions(reply["actions"], character, seen)
    plan = await executor.request(parsed.intents, relationship, turn_id)
    # plan.refusals[i].reason is a line the NPC can say
    executor.on_result(result)                    # ActionResult
    await executor.cancel("barge-in")             # sends a "cancel" command
    apply_trigger(world, character, name, params, react=..., source_id=...)
"""

from .bench import run_planner_bench
from .catalogue import BUILTINS, CANCEL_VERB, Catalogue, VerbSpec
from .executor import (
    ActionCommandOut,
    ActionExecutor,
    ActionResultIn,
    ExecState,
    PlanReport,
    ResultStatus,
)
from .graph import SceneGraph
from .intents import Intent, ParsedActions, Rejected, actions_schema, parse_actions
from .model import Node, NodeKind, Relation, RelationKind, SceneDelta, SceneError, SceneSnapshot
from .perception import Perception, PerceptionConfig, perceive
from .planner import Planner
from .plans import Plan, Refusal, RefusalCode
from .policy import PolicyContext
from .rules import Step
from .store import World, WorldEvent, WorldStore
from .triggers import TriggerOutcome, apply_trigger

__all__ = [
    "BUILTINS",
    "CANCEL_VERB",
    "ActionCommandOut",
    "ActionExecutor",
    "ActionResultIn",
    "Catalogue",
    "ExecState",
    "Intent",
    "Node",
    "NodeKind",
    "ParsedActions",
    "Perception",
    "PerceptionConfig",
    "Plan",
    "PlanReport",
    "Planner",
    "PolicyContext",
    "Refusal",
    "RefusalCode",
    "Rejected",
    "Relation",
    "RelationKind",
    "ResultStatus",
    "SceneDelta",
    "SceneError",
    "SceneGraph",
    "SceneSnapshot",
    "Step",
    "TriggerOutcome",
    "VerbSpec",
    "World",
    "WorldEvent",
    "WorldStore",
    "actions_schema",
    "apply_trigger",
    "parse_actions",
    "perceive",
    "run_planner_bench",
]
