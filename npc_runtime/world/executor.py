"""Execution of plans, one NPC at a time, as an explicit state machine.

    IDLE ─► PLANNING ─► EXECUTING(step k) ─► WAITING(step k) ─► EXECUTING(k+1) … ─► DONE
                │              │                  │
                └─► FAILED ◄───┴── (one replan) ◄─┴─► CANCELLED

Steps go out one at a time: step k+1 is only sent after the client reported
step k succeeded and its effects were applied to the scene, and every step's
preconditions, allowlist and guards are checked again right before it is sent.
A failed step (or one whose preconditions no longer hold: the axe moved) gets
ONE replan from the scene as it is now; a second failure ends the plan.

Cancellation (a new request, a barge-in, a timeout) sends one command with the
reserved verb "cancel": target_id is the command id of the step in flight,
plan_id/step_index/step_count those of the cancelled step, and arguments
{"reason": ...}. The client stops that step and drops the plan's later steps,
which were never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..characters import Character
from .catalogue import CANCEL_VERB
from .intents import Intent
from .model import SceneError
from .planner import Planner
from .plans import Plan, Refusal, new_id
from .policy import PolicyContext
from .rules import Step, as_delta, check, effects, label
from .store import World, WorldEvent

log = logging.getLogger(__name__)


class ExecState(enum.StrEnum):
    IDLE = "idle"
    PLANNING = "planning"
    EXECUTING = "executing"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


_S = ExecState
_FINAL = frozenset({_S.DONE, _S.FAILED, _S.CANCELLED})
TRANSITIONS: Mapping[ExecState, frozenset[ExecState]] = {
    _S.IDLE: frozenset({_S.PLANNING}),
    _S.PLANNING: frozenset({_S.EXECUTING, _S.DONE, _S.FAILED, _S.CANCELLED}),
    # From EXECUTING a step that no longer holds goes back to PLANNING (the replan).
    _S.EXECUTING: frozenset({_S.WAITING, _S.PLANNING, _S.FAILED, _S.CANCELLED}),
    _S.WAITING: frozenset({_S.EXECUTING, _S.DONE, _S.PLANNING, _S.FAILED, _S.CANCELLED}),
    _S.DONE: frozenset({_S.PLANNING, _S.IDLE}),
    _S.FAILED: frozenset({_S.PLANNING, _S.IDLE}),
    _S.CANCELLED: frozenset({_S.PLANNING, _S.IDLE}),
}


class ResultStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STARTED = "started"


@dataclass(frozen=True)
class ActionCommandOut:
    """A step for the client (npc.v1 ActionCommand), or a cancel (verb "cancel")."""

    command_id: str
    verb: str
    target_id: str
    arguments: Mapping[str, str]
    plan_id: str
    step_index: int
    step_count: int
    turn_id: str = ""


@dataclass(frozen=True)
class ActionResultIn:
    command_id: str
    status: ResultStatus
    detail: str = ""


@dataclass(frozen=True)
class PlanReport:
    """How a request ended; `reason` is sayable in character when it did not succeed."""

    status: ExecState
    plan_id: str
    intents: tuple[Intent, ...]
    refusals: tuple[Refusal, ...] = ()
    steps_done: int = 0
    reason: str = ""
    turn_id: str = ""


@dataclass
class _InFlight:
    command: ActionCommandOut
    step: Step
    results: asyncio.Queue[ActionResultIn] = field(default_factory=asyncio.Queue)
    answered: bool = False  # its final result is taken; effects are being applied


class _StepFailed(Exception):
    """A step failed or no longer holds: worth one replan."""


class _TimedOut(Exception):
    """The client did not answer: the plan fails (a replan would wait again)."""


class _ClientCancelled(Exception):
    """The client reported the step cancelled: the plan is over."""


class ActionExecutor:
    """Runs one NPC's plans against a shared World; emits commands through `emit`."""

    def __init__(
        self,
        world: World,
        character: Character,
        npc_id: str,
        emit: Callable[[ActionCommandOut], None],
        *,
        on_report: Callable[[PlanReport], None] | None = None,
        step_timeout_s: float = 30.0,
        planner: Planner | None = None,
    ) -> None:
        self.world = world
        self.npc_id = npc_id
        self.emit = emit
        self.on_report = on_report
        self.step_timeout_s = step_timeout_s
        self.planner = planner or Planner(character)
        self._state = ExecState.IDLE
        self.step_index = 0
        self._task: asyncio.Task[PlanReport] | None = None
        self._inflight: _InFlight | None = None
        self._last_sent: ActionCommandOut | None = None
        self._relationship: Mapping[str, float] = {}
        self._turn_id = ""
        self.reports: list[PlanReport] = []

    @property
    def state(self) -> ExecState:
        return self._state

    @property
    def turn_id(self) -> str:
        """The turn whose reply asked for the current (or last) plan."""
        return self._turn_id

    def _to(self, new: ExecState) -> None:
        if new not in TRANSITIONS[self._state]:
            raise RuntimeError(f"executor: no transition {self._state.value} → {new.value}")
        self._state = new

    def _ctx(self) -> PolicyContext:
        return PolicyContext.of(self._relationship, self.world.flags)

    # --- public API -------------------------------------------------------------

    async def request(
        self,
        intents: Sequence[Intent],
        relationship: Mapping[str, float] | None = None,
        turn_id: str = "",
    ) -> Plan:
        """Plan `intents` now (refusals are in the returned plan) and start running it.

        A plan still running is cancelled first. Returns once the first step is out.
        """
        await self.cancel("new request")
        self._relationship = dict(relationship or {})
        self._turn_id = turn_id
        if self._state is not ExecState.IDLE and self._state not in _FINAL:
            raise RuntimeError(f"executor busy in state {self._state.value}")
        self._to(ExecState.PLANNING)
        plan = self.planner.plan(self.world.graph, self.npc_id, intents, self._ctx())
        for r in plan.refusals:
            log.info("refused %s: %s (%s)", r.intent, r.code.value, r.detail)
        if not plan.steps:
            status = ExecState.FAILED if plan.refusals else ExecState.DONE
            reason = plan.refusals[0].reason if plan.refusals else ""
            self._finish(status, plan, 0, reason)
            return plan
        self._task = asyncio.create_task(self._run(plan), name=f"plan-{plan.plan_id}")
        await asyncio.sleep(0)  # let the first step leave before returning
        return plan

    def on_result(self, result: ActionResultIn) -> bool:
        """The client's ActionResult; False when it is not for the step in flight."""
        inflight = self._inflight
        if inflight is None or inflight.command.command_id != result.command_id:
            log.debug("ignored result for %s (%s)", result.command_id, result.status.value)
            return False
        inflight.results.put_nowait(result)
        return True

    async def cancel(self, reason: str = "barge-in") -> PlanReport | None:
        """Stop the running plan; the client gets a cancel for the step in flight."""
        task = self._task
        if task is None or task.done():
            return None
        self._send_cancel(reason)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return self.reports[-1] if self.reports else None

    async def drain(self, max_yields: int = 200) -> None:
        """Let results already received take effect: a client may send its last
        ActionResult and close the stream at once, and the effect must not be lost."""
        for _ in range(max_yields):
            task, inflight = self._task, self._inflight
            if task is None or task.done():
                return
            waiting = inflight is not None and not inflight.answered and inflight.results.empty()
            if waiting and self._state is ExecState.WAITING:
                return  # blocked on the client: nothing received is left to apply
            await asyncio.sleep(0)

    async def wait(self) -> PlanReport | None:
        """Until the running plan ends (for tests and scripts)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.reports[-1] if self.reports else None

    async def aclose(self) -> None:
        await self.cancel("session closed")

    # --- the machine ----------------------------------------------------------------

    async def _run(self, plan: Plan) -> PlanReport:
        replanned = False
        done = 0
        try:
            while True:
                try:
                    done += await self._steps(plan)
                    return self._finish(ExecState.DONE, plan, done)
                except _TimedOut as e:
                    why = "I lost track of what I was doing."
                    return self._finish(ExecState.FAILED, plan, done, why, str(e))
                except _ClientCancelled as e:
                    return self._finish(ExecState.CANCELLED, plan, done, "", str(e))
                except _StepFailed as e:
                    if replanned:
                        why = "It didn't work out, sorry."
                        return self._finish(ExecState.FAILED, plan, done, why, str(e))
                    replanned = True
                    remaining = plan.intents[plan.step_intents[self.step_index] :]
                    self._to(ExecState.PLANNING)
                    plan = self.planner.plan(self.world.graph, self.npc_id, remaining, self._ctx())
                    log.info("replanned after %s: %s", e, [str(s) for s in plan.steps])
                    if not plan.steps:
                        reason = plan.refusals[0].reason if plan.refusals else ""
                        status = ExecState.FAILED if plan.refusals else ExecState.DONE
                        return self._finish(status, plan, done, reason, str(e))
        except asyncio.CancelledError:
            self._finish(ExecState.CANCELLED, plan, done, "", "cancelled")
            raise

    async def _steps(self, plan: Plan) -> int:
        """Run every step; raises _StepFailed at the first that cannot be done."""
        for k, step in enumerate(plan.steps):
            self.step_index = k
            self._to(ExecState.EXECUTING)
            why = self._precheck(step)
            if why is not None:
                raise _StepFailed(f"{step}: {why}")
            cmd = ActionCommandOut(
                new_id(), step.verb, step.target_id, dict(step.args), plan.plan_id, k,
                len(plan.steps), self._turn_id,
            )  # fmt: skip
            self._inflight = _InFlight(cmd, step)
            self._last_sent = cmd
            self._to(ExecState.WAITING)
            self.emit(cmd)
            result = await self._await_result(self._inflight)
            self._inflight = None
            if result.status is ResultStatus.CANCELLED:
                raise _ClientCancelled(f"{step}: cancelled by the client {result.detail}")
            if result.status is not ResultStatus.SUCCEEDED and not self._ongoing(step, result):
                raise _StepFailed(f"{step}: client reported {result.status.value} {result.detail}")
            await self._apply(step)
        return len(plan.steps)

    def _ongoing(self, step: Step, result: ActionResultIn) -> bool:
        spec = self.planner.catalogue.get(step.verb)
        return result.status is ResultStatus.STARTED and spec is not None and spec.ongoing

    async def _await_result(self, inflight: _InFlight) -> ActionResultIn:
        while True:
            try:
                result = await asyncio.wait_for(inflight.results.get(), self.step_timeout_s)
            except TimeoutError:
                self._send_cancel("timeout")
                raise _TimedOut(
                    f"{inflight.step}: no result in {self.step_timeout_s:g} s"
                ) from None
            if result.status is ResultStatus.STARTED and not self._ongoing(inflight.step, result):
                continue  # under way: the timer starts again
            inflight.answered = True
            return result

    def _precheck(self, step: Step) -> str | None:
        """Allowlist, guards and preconditions against the live scene, right before sending."""
        spec = self.planner.catalogue.get(step.verb)
        graph = self.world.graph
        denial = self.planner.policy.check(spec, step, graph, self._ctx())
        if denial is not None:
            return denial.why
        assert spec is not None
        return check(graph, self.npc_id, spec, step)

    async def _apply(self, step: Step) -> None:
        async with self.world.lock:
            graph = self.world.graph
            delta = as_delta(graph, effects(graph, self.npc_id, step), self.world.id)
            try:
                graph.apply(delta)
            except SceneError as e:
                # The game already changed the scene its own way; the next step's
                # precheck sees the truth and replans if needed.
                log.warning("effects of %s not applied: %s", step, e)
        if step.verb not in ("move_to", "wait", "stop", "look_at", "emote"):
            self.world.record(
                WorldEvent("action", self._describe(step), step.verb, self.npc_id, step.target_id)
            )

    def _describe(self, step: Step) -> str:
        g = self.world.graph
        who = label(g, self.npc_id)
        what = label(g, step.target_id) if step.target_id else ""
        verb = step.verb.replace("_", " ")
        extra = "".join(f" {k} {label(g, v)}" for k, v in sorted(step.args.items()) if k != "key")
        return f"{who} did: {verb} {what}{extra}".rstrip()

    def _send_cancel(self, reason: str) -> None:
        """Cancel the step in flight, or (between steps) the rest of the plan: then
        target_id is empty and plan_id names the plan."""
        c = self._inflight.command if self._inflight else self._last_sent
        if c is None:
            return
        target = c.command_id if self._inflight else ""
        self.emit(
            ActionCommandOut(
                new_id(), CANCEL_VERB, target, {"reason": reason}, c.plan_id,
                c.step_index, c.step_count, c.turn_id,
            )
        )  # fmt: skip
        self._inflight = None
        self._last_sent = None

    def _finish(
        self, status: ExecState, plan: Plan, done: int, reason: str = "", why: str = ""
    ) -> PlanReport:
        self._to(status)
        self._inflight = None
        self._last_sent = None
        if why:
            log.info("plan %s %s: %s", plan.plan_id, status.value, why)
        report = PlanReport(
            status, plan.plan_id, plan.intents, plan.refusals, done, reason, self._turn_id
        )
        self.reports.append(report)
        if self.on_report is not None:
            self.on_report(report)
        return report
