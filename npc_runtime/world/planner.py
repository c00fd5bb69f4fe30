"""The planner: an intent becomes steps whose preconditions hold, or a refusal.

"Give me the axe" with the axe in the shed becomes move_to(axe), pick_up(axe),
move_to(player), give(axe, to=player). Every step is simulated on an Overlay
(the scene as it will be), checked against the verb's preconditions, the
character's allowlist and the designer's guards, so a plan that leaves here
can run step by step in the scene as the server knows it.

Doors are places of type "door" between the two places they join (connected
to both). A closed door can be walked up to but not through: the plan opens
it from the place before it. A locked door or container opens with the object
its state names as "key"; the NPC must hold it, and the planner fetches it
first when it can reach it (up to two nested fetches). Refusals carry a line
the character can say ("I can't reach the axe — the shed door is locked and I
don't have the key.").
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ..characters import Character
from .catalogue import Catalogue, ParamType
from .graph import Passable, SceneGraph
from .intents import Intent
from .model import Node, RelationKind
from .plans import Plan, Refusal, RefusalCode, _Refuse, new_id
from .policy import Policy, PolicyContext
from .rules import Overlay, Step, check, check_params, closed_containers, effects, holder, label
from .rules import place_of as view_place_of

__all__ = ["Plan", "Planner", "Refusal", "RefusalCode", "new_id"]

MAX_STEPS = 24
MAX_KEY_DEPTH = 2
_CARRY = frozenset({"pick_up", "put_down", "give"})


class Planner:
    """Per character: its catalogue and policy. plan() is pure over the graph."""

    def __init__(self, character: Character) -> None:
        self.character = character
        self.catalogue = Catalogue.for_character(character)
        self.policy = Policy(character)

    def plan(
        self,
        graph: SceneGraph,
        npc_id: str,
        intents: Sequence[Intent],
        ctx: PolicyContext | None = None,
    ) -> Plan:
        ctx = ctx or PolicyContext()
        overlay = Overlay(graph)
        steps: list[Step] = []
        accepted: list[Intent] = []
        refusals: list[Refusal] = []
        owners: list[int] = []
        for intent in intents:
            fork = overlay.fork()
            expansion = _Expansion(self, fork, npc_id, ctx, len(steps))
            try:
                expansion.intent(intent)
            except _Refuse as r:
                refusals.append(Refusal(intent, r.code, r.reason, r.detail))
                continue
            overlay = fork
            steps += expansion.steps
            owners += [len(accepted)] * len(expansion.steps)
            accepted.append(intent)
        return Plan(new_id(), tuple(steps), tuple(accepted), tuple(refusals), tuple(owners))


class _Expansion:
    """Expands one intent on a forked overlay; raises _Refuse to drop it."""

    def __init__(
        self, planner: Planner, view: Overlay, actor: str, ctx: PolicyContext, used: int
    ) -> None:
        self.p = planner
        self.view = view
        self.actor = actor
        self.ctx = ctx
        self.steps: list[Step] = []
        self.used = used

    # --- primitives -------------------------------------------------------------

    def do(self, step: Step) -> None:
        spec = self.p.catalogue.get(step.verb)
        denial = self.p.policy.check(spec, step, self.view, self.ctx)
        if denial is not None:
            code = RefusalCode.NOT_ALLOWED if spec is None else RefusalCode.GUARDED
            raise _Refuse(code, denial.reason, denial.why)
        assert spec is not None
        why = check(self.view, self.actor, spec, step)
        if why is not None:
            raise _Refuse(RefusalCode.IMPOSSIBLE, f"I can't do that: {why}.", f"{step}: {why}")
        if self.used + len(self.steps) >= MAX_STEPS:
            raise _Refuse(RefusalCode.TOO_COMPLEX, "That's too much to do at once.")
        self.view.apply(effects(self.view, self.actor, step))
        self.steps.append(step)

    def here(self) -> str:
        place = view_place_of(self.view, self.actor)
        if place is None:
            raise _Refuse(RefusalCode.IMPOSSIBLE, "I don't know where I am.", "actor unplaced")
        return place

    def node(self, node_id: str) -> Node:
        node = self.view.node(node_id)
        if node is None or node.hidden:
            raise _Refuse(
                RefusalCode.UNKNOWN_TARGET,
                f"I don't see any {node_id.replace('_', ' ')} around here.",
                f"no node {node_id!r}",
            )
        return node

    def holds(self, item: str) -> bool:
        return holder(self.view, item) == self.actor

    def passable(self) -> Passable:
        """Doors the plan can get through: open, unlocked, or locked with a key in hand."""

        def ok(place_id: str) -> bool:
            n = self.view.node(place_id)
            if n is None:
                return False
            return n.is_open or not n.locked or self.holds(n.key_id)

        return ok

    # --- goals ------------------------------------------------------------------

    def goto(self, dest: str, goal: str, final: str | None = None, depth: int = 0) -> None:
        """Walk to place `dest`, opening doors and fetching keys on the way; the last
        move names `final` (the thing walked to) when given."""
        here = self.here()
        if here == dest:
            # Walk up to the thing only when the character walks at all.
            walking = "move_to" in self.p.policy.allowed
            already = bool(self.steps) and self.steps[-1] == Step("move_to", final or "")
            if final is not None and final != dest and walking and not already:
                self.do(Step("move_to", final))
            return
        found = self.view.path(here, dest, self.passable())
        if found is None:
            self.unlock_way(here, dest, goal, depth)
            self.goto(dest, goal, final, depth + 1)
            return
        walk = found[1]
        for prev, place in itertools.pairwise(walk):
            door = self.view.node(place)
            if door is not None and door.is_door and not door.is_open:
                if self.here() != prev:
                    self.do(Step("move_to", prev))
                self.open_step(door)
        self.do(Step("move_to", final or dest))

    def unlock_way(self, here: str, dest: str, goal: str, depth: int) -> None:
        """No way through open or openable doors: fetch the key of the first locked one."""
        found = self.view.path(here, dest)
        if found is None:
            raise _Refuse(
                RefusalCode.UNREACHABLE,
                f"I can't get to {goal} from here.",
                f"no path {here} → {dest}",
            )
        passable = self.passable()
        door = next((n for p in found[1][1:] if (n := self.view.node(p)) and not passable(p)), None)
        if door is None:
            raise _Refuse(RefusalCode.UNREACHABLE, f"I can't get to {goal} from here.")
        locked = RefusalCode.LOCKED
        reason = f"I can't reach {goal} — {door.label} is locked and I don't have the key."
        key = self.view.node(door.key_id) if door.key_id else None
        if key is None or key.hidden or depth >= MAX_KEY_DEPTH:
            raise _Refuse(locked, reason, f"{door.id} locked; key {door.key_id!r} unavailable")
        try:
            self.acquire(key.id, key.label, depth + 1)
        except _Refuse as r:
            raise _Refuse(locked, reason, f"{door.id} locked; fetching key: {r.detail}") from None

    def open_step(self, node: Node, depth: int = 0) -> None:
        args = {}
        if node.locked:
            if not self.holds(node.key_id):
                raise _Refuse(
                    RefusalCode.LOCKED,
                    f"{node.label} is locked and I don't have the key.",
                    f"{node.id} locked",
                )
            args["key"] = node.key_id
        self.do(Step("open", node.id, args))

    def fetch_key_for(self, node: Node, goal: str, depth: int) -> None:
        if not node.locked or self.holds(node.key_id):
            return
        reason = f"I can't get into {node.label} — it's locked and I don't have the key."
        key = self.view.node(node.key_id) if node.key_id else None
        if key is None or key.hidden or depth >= MAX_KEY_DEPTH:
            raise _Refuse(RefusalCode.LOCKED, reason, f"{node.id} locked, no key")
        try:
            self.acquire(key.id, key.label, depth + 1)
        except _Refuse as r:
            raise _Refuse(RefusalCode.LOCKED, reason, f"fetching key: {r.detail}") from None

    def reach(self, target: str, goal: str, depth: int = 0, final: bool = False) -> None:
        """Stand where `target` is, with every closed container around it opened."""
        place = view_place_of(self.view, target)
        if place is None:
            raise _Refuse(
                RefusalCode.UNKNOWN_TARGET,
                f"I don't know where {goal} is.",
                f"{target} is in no place",
            )
        closed = closed_containers(self.view, target)
        # Walk up to the outermost closed container, or to the thing itself.
        walk_to = (closed[0] if closed else target) if final else None
        self.goto(place, goal, walk_to, depth)
        for cid in closed:
            container = self.node(cid)
            if container.locked and not self.holds(container.key_id):
                self.fetch_key_for(container, goal, depth)
                self.goto(place, goal, None, depth)
            self.open_step(self.node(cid), depth)

    def acquire(self, item: str, goal: str, depth: int = 0) -> None:
        node = self.node(item)
        if self.view.parent(item) == (RelationKind.HELD_BY, self.actor):
            return
        who = holder(self.view, item)
        if who is not None and who != self.actor:
            raise _Refuse(
                RefusalCode.HELD_BY_OTHER,
                f"{label(self.view, who)} has {node.label}, not me.",
                f"{item} held by {who}",
            )
        if not node.portable:
            raise _Refuse(
                RefusalCode.NOT_PORTABLE,
                f"{node.label} won't budge — that's not something I can carry.",
                f"{item} is not portable",
            )
        self.reach(item, goal, depth, final=True)
        self.do(Step("pick_up", item))

    def goto_door(self, door: Node) -> None:
        """Stand beside a door (or in it): the nearest neighbouring place we can get to."""
        here = self.here()
        if here == door.id or door.id in self.view.neighbours(here):
            return
        options = []
        for nb in self.view.neighbours(door.id):
            found = self.view.path(here, nb)
            if found is not None:
                options.append((found[0], nb))
        last: _Refuse | None = None
        for _, nb in sorted(options):
            fork = _Expansion(self.p, self.view.fork(), self.actor, self.ctx, self.used)
            fork.steps = list(self.steps)
            try:
                fork.goto(nb, door.label)
            except _Refuse as r:
                last = r
                continue
            self.view, self.steps = fork.view, fork.steps
            return
        raise last or _Refuse(
            RefusalCode.UNREACHABLE, f"I can't get to {door.label} from here.", "door unreachable"
        )

    # --- intents -------------------------------------------------------------------

    def intent(self, intent: Intent) -> None:
        spec = self.p.catalogue.get(intent.verb)
        step = Step(intent.verb, intent.target_id, dict(intent.args))
        denial = self.p.policy.check(spec, step, self.view, self.ctx)
        if denial is not None:
            code = RefusalCode.NOT_ALLOWED if spec is None else RefusalCode.GUARDED
            raise _Refuse(code, denial.reason, denial.why)
        assert spec is not None
        for p in (spec.target, *spec.params):
            value = intent.target_id if p is spec.target else intent.args.get(p.name if p else "")
            if p is not None and p.type is ParamType.NODE and value:
                self.node(value)  # an unknown id refuses with a sayable reason
        why = check_params(self.view, spec, step)
        if why is not None:
            target = self.view.node(intent.target_id) if intent.target_id else None
            if target is not None and intent.verb in _CARRY and not target.portable:
                raise _Refuse(
                    RefusalCode.NOT_PORTABLE,
                    f"{target.label} won't budge — that's not something I can carry.",
                    why,
                )
            raise _Refuse(RefusalCode.INVALID, "I don't know how to do that.", why)
        handler = getattr(self, f"_{intent.verb}", None) if spec.builtin else self._custom
        if handler is None:
            self.do(step)
        else:
            handler(step)

    def _move_to(self, step: Step) -> None:
        target = self.node(step.target_id)
        dest = view_place_of(self.view, target.id)
        if dest is None:
            raise _Refuse(RefusalCode.UNKNOWN_TARGET, f"I don't know where {target.label} is.")
        if target.is_door and not target.is_open:
            self.goto_door(target)
            self.fetch_key_for(target, target.label, 0)
            self.goto_door(target)
            self.open_step(target)
        final = None if target.kind.value == "place" else target.id
        self.goto(dest, target.label, final)

    def _follow(self, step: Step) -> None:
        target = self.node(step.target_id)
        dest = view_place_of(self.view, target.id)
        if dest is not None and dest != self.here():
            self.goto(dest, target.label)
        self.do(step)

    def _pick_up(self, step: Step) -> None:
        self.acquire(step.target_id, self.node(step.target_id).label)

    def _put_down(self, step: Step) -> None:
        item = self.node(step.target_id)
        self.acquire(item.id, item.label)
        dest_id = step.args.get("in") or step.args.get("on")
        if dest_id:
            dest = self.node(dest_id)
            self.reach(dest.id, dest.label, final=True)
            if "in" in step.args and not dest.is_door and dest.kind.value != "place":
                current = self.view.node(dest.id)
                if current is not None and not current.is_open:
                    self.fetch_key_for(current, current.label, 0)
                    self.reach(dest.id, dest.label, final=True)
                    self.open_step(current)
        self.do(step)

    def _give(self, step: Step) -> None:
        item = self.node(step.target_id)
        to = self.node(step.args["to"])
        self.acquire(item.id, item.label)
        dest = view_place_of(self.view, to.id)
        if dest is None:
            raise _Refuse(RefusalCode.UNKNOWN_TARGET, f"I don't know where {to.label} is.")
        self.goto(dest, to.label, to.id)
        self.do(step)

    def _open(self, step: Step) -> None:
        target = self.node(step.target_id)
        if target.is_open:
            return  # already as asked: nothing to do
        if target.is_door:
            self.goto_door(target)
            self.fetch_key_for(target, target.label, 0)
            self.goto_door(target)
        else:
            self.reach(target.id, target.label, final=True)
            self.fetch_key_for(target, target.label, 0)
            self.reach(target.id, target.label, final=True)
        self.open_step(self.node(target.id))

    def _close(self, step: Step) -> None:
        target = self.node(step.target_id)
        if not target.is_open:
            return
        if target.is_door:
            self.goto_door(target)
        else:
            self.reach(target.id, target.label, final=True)
        self.do(step)

    def _use(self, step: Step) -> None:
        target = self.node(step.target_id)
        if target.portable:
            self.acquire(target.id, target.label)
        else:
            self.reach(target.id, target.label, final=True)
        on = step.args.get("on")
        if on:
            self.reach(on, self.node(on).label, final=True)
        self.do(step)

    def _custom(self, step: Step) -> None:
        spec = self.p.catalogue.get(step.verb)
        if spec is not None and spec.same_place and step.target_id:
            self.reach(step.target_id, self.node(step.target_id).label, final=True)
        self.do(step)
