"""One session's NPC in a world: what it perceives, what it may do, what it is doing.

The session owns one Embodiment when the client sent a scene. It turns the
world package's parts into what a turn needs — a perception summary for the
prompt and a JSON schema for the reply's actions — and runs the reply's
actions: parse against the character's verbs and what the NPC perceives, plan
against the scene graph, then send the steps one by one through the executor.
Refusals come back as lines the NPC says in character.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .characters import Character
from .config import WorldSettings
from .world import (
    ActionCommandOut,
    ActionExecutor,
    ActionResultIn,
    ExecState,
    NodeKind,
    Perception,
    PerceptionConfig,
    PlanReport,
    SceneDelta,
    SceneError,
    SceneSnapshot,
    TriggerOutcome,
    World,
    WorldStore,
    actions_schema,
    apply_trigger,
    parse_actions,
    perceive,
)

log = logging.getLogger(__name__)


def check_size(
    settings: WorldSettings, world: World | None, change: SceneSnapshot | SceneDelta
) -> None:
    """Refuse scenes past world.max_nodes before they touch the graph."""
    limit = settings.max_nodes
    if isinstance(change, SceneSnapshot):
        count = len(change.nodes)
    elif change.replace is not None:
        count = len(change.replace.nodes)
    else:
        existing = {n.id for n in world.graph.nodes()} if world is not None else set()
        new = {n.id for n in change.upsert_nodes} - existing
        count = len(existing) + len(new) - len(set(change.remove_node_ids) & existing)
    if count > limit:
        raise SceneError(
            f"the scene would have {count} nodes; the limit is {limit}: send only what NPCs "
            "can perceive or act on, or raise world.max_nodes"
        )


@dataclass(frozen=True)
class Sensed:
    """What a turn's prompt gets from the world."""

    perception: Perception
    schema: dict[str, Any]
    elapsed_ms: float


@dataclass(frozen=True)
class Acted:
    """What became of a reply's actions."""

    lines: list[str]  # refusals, to say in character
    planned: int  # steps sent or about to be
    rejected: int  # actions that named a verb or node the NPC may not use
    elapsed_ms: float


class Embodiment:
    def __init__(
        self,
        world: World,
        character: Character,
        npc_id: str,
        settings: WorldSettings,
        emit: Callable[[ActionCommandOut], None],
        on_report: Callable[[PlanReport], None] | None = None,
    ) -> None:
        self.world = world
        self.character = character
        self.npc_id = npc_id
        self.settings = settings
        self.config = PerceptionConfig(
            radius_m=settings.perception_radius_m,
            sight_m=settings.sight_m,
            token_budget=settings.perception_tokens,
        )
        self.executor = ActionExecutor(
            world,
            character,
            npc_id,
            emit,
            on_report=on_report,
            step_timeout_s=settings.step_timeout_s,
        )

    @classmethod
    async def join(
        cls,
        store: WorldStore,
        snapshot: SceneSnapshot,
        character: Character,
        npc_id: str,
        settings: WorldSettings,
        emit: Callable[[ActionCommandOut], None],
        on_report: Callable[[PlanReport], None] | None = None,
    ) -> Embodiment:
        """Enter the snapshot's world. A snapshot with nodes replaces the world's scene
        (the game's truth wins); an empty one joins the world as other sessions left it.
        Raises SceneError, leaving any existing world as it was."""
        if snapshot.nodes or snapshot.relations:
            check_size(settings, None, snapshot)
            world = await store.load(snapshot)
        else:
            world = store.get(snapshot.world_id)
        return cls(world, character, npc_id, settings, emit, on_report)

    def missing_self(self) -> str:
        """Why this NPC cannot act in the scene, or "" when it can."""
        node = self.world.graph.node(self.npc_id)
        if node is None:
            return (
                f"the scene of world {self.world.id!r} has no node {self.npc_id!r} for this NPC: "
                "add a node of kind NPC with that id (or set SessionStart.npc_id to its id); "
                "until then the NPC perceives nothing and takes no actions"
            )
        if node.kind is not NodeKind.NPC:
            return (
                f"node {self.npc_id!r} is a {node.kind.value}, not an NPC: give this NPC its "
                "own node of kind NPC"
            )
        return ""

    async def update(self, delta: SceneDelta) -> None:
        """Apply a SceneUpdate to this NPC's world; SceneError leaves it unchanged."""
        if delta.world_id and delta.world_id != self.world.id:
            raise SceneError(
                f"scene_update.world_id {delta.world_id[:64]!r} is not this session's world "
                f"{self.world.id!r}: send updates for the world the session started in"
            )
        check_size(self.settings, self.world, delta)
        await self.world.apply(delta)

    def sense(self) -> Sensed:
        t0 = time.perf_counter()
        if self.missing_self():
            seen = Perception(self.npc_id, None, "")
        else:
            seen = perceive(self.world, self.npc_id, self.config)
        schema = actions_schema(self.character, seen)
        return Sensed(seen, schema, (time.perf_counter() - t0) * 1000.0)

    async def act(
        self,
        raw: Any,
        seen: Perception,
        relationship: Mapping[str, float],
        turn_id: str,
    ) -> Acted:
        """Run the reply's actions: a new request replaces any plan still running."""
        t0 = time.perf_counter()
        parsed = parse_actions(raw, self.character, seen)
        for r in parsed.rejected:
            log.info("turn %s: action %d rejected: %s", turn_id, r.index, r.reason)
        if not parsed.intents:
            return Acted([], 0, len(parsed.rejected), (time.perf_counter() - t0) * 1000.0)
        plan = await self.executor.request(parsed.intents, relationship, turn_id)
        lines: list[str] = []
        for refusal in plan.refusals:
            if refusal.reason and refusal.reason not in lines:
                lines.append(refusal.reason)
        elapsed = (time.perf_counter() - t0) * 1000.0
        return Acted(lines, len(plan.steps), len(parsed.rejected), elapsed)

    def on_result(self, result: ActionResultIn) -> bool:
        return self.executor.on_result(result)

    def trigger(
        self, name: str, parameters: Mapping[str, str], react: bool, source_id: str
    ) -> TriggerOutcome:
        return apply_trigger(
            self.world, self.character, name, parameters, react=react, source_id=source_id
        )

    @property
    def busy(self) -> bool:
        return self.executor.state in (ExecState.PLANNING, ExecState.EXECUTING, ExecState.WAITING)

    async def cancel(self, reason: str) -> None:
        await self.executor.cancel(reason)

    async def aclose(self) -> None:
        await self.executor.aclose()


def describe_report(report: PlanReport, npc_label: str = "I") -> str:
    """A plan's outcome as the NPC remembers it."""
    what = ", then ".join(str(i).replace("_", " ") for i in report.intents)
    match report.status:
        case ExecState.DONE:
            return f"{npc_label} did what was asked: {what}."
        case ExecState.CANCELLED:
            return f"{npc_label} stopped before finishing: {what}."
        case _:
            why = f" ({report.reason})" if report.reason else ""
            return f"{npc_label} could not finish: {what}{why}."
