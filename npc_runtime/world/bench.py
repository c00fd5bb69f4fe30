"""Planner benchmark on a generated scene (`npc-runtime bench planner`).

The scene is random but shaped like a game level: places on a grid joined by
walkable connections, some through doors (a few locked, their keys lying
somewhere), containers in places (some closed or locked), objects loose or
in containers, and a crowd of characters. Intents mix fetch-and-give,
pick-up, walking and opening, so plans include door opening and key fetching.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Any

from ..characters import BUILTIN_VERBS, ActionsConfig, Character
from .graph import SceneGraph
from .intents import Intent
from .model import Node, NodeKind, Relation, RelationKind, SceneSnapshot
from .perception import perceive
from .planner import Planner
from .store import World

IN, CONN = RelationKind.IN, RelationKind.CONNECTED


def generate_scene(nodes: int = 10_000, seed: int = 7) -> SceneSnapshot:
    rng = random.Random(seed)
    n_places = max(4, nodes // 20)
    side = math.ceil(math.sqrt(n_places))
    out: list[Node] = []
    rels: list[Relation] = []
    places = [f"p{i}" for i in range(n_places)]
    out += [Node(p, NodeKind.PLACE, f"room {p}", position=None) for p in places]
    portable: list[str] = []
    doors = 0
    for i in range(n_places):
        c = i % side
        for j in (i + 1 if c + 1 < side else -1, i + side):
            if j < 0 or j >= n_places:
                continue
            dist = rng.uniform(3.0, 15.0)
            if rng.random() < 0.1:  # a door between the two rooms
                d = f"door{doors}"
                doors += 1
                state = {"open": "false"}
                if rng.random() < 0.3:
                    state |= {"locked": "true", "key": f"key_{d}"}
                out.append(Node(d, NodeKind.PLACE, f"door {d}", type="door", state=state))
                rels += [Relation(places[i], CONN, d, dist / 2), Relation(d, CONN, places[j], 1.0)]
                if "key" in state:
                    key = Node(
                        state["key"], NodeKind.OBJECT, f"key of {d}", type="key", portable=True
                    )
                    out.append(key)
                    rels.append(Relation(key.id, IN, rng.choice(places)))
            else:
                rels.append(Relation(places[i], CONN, places[j], dist))
    out += [Node("npc", NodeKind.NPC, "the bench NPC"), Node("player", NodeKind.PLAYER, "player")]
    rels += [Relation("npc", IN, places[0]), Relation("player", IN, rng.choice(places))]
    for k in range(nodes // 200):
        out.append(Node(f"c{k}", NodeKind.NPC, f"villager {k}"))
        rels.append(Relation(f"c{k}", IN, rng.choice(places)))
    containers: list[str] = []
    i = 0
    while len(out) < nodes:
        oid = f"o{i}"
        i += 1
        if rng.random() < 0.12:
            state = {"open": "false"} if rng.random() < 0.5 else {}
            out.append(Node(oid, NodeKind.OBJECT, f"chest {oid}", container=True, state=state))
            rels.append(Relation(oid, IN, rng.choice(places)))
            containers.append(oid)
            continue
        movable = rng.random() < 0.7
        out.append(Node(oid, NodeKind.OBJECT, f"thing {oid}", portable=movable))
        parent = rng.choice(containers) if containers and rng.random() < 0.4 else None
        rels.append(Relation(oid, IN, parent or rng.choice(places)))
        if movable:
            portable.append(oid)
    return SceneSnapshot("bench", tuple(out), tuple(rels))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_planner_bench(nodes: int = 10_000, intents: int = 500, seed: int = 7) -> dict[str, Any]:
    """Plan time p50/p99 (ms) over `intents` random intents on a `nodes`-node scene."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    snapshot = generate_scene(nodes, seed)
    graph = SceneGraph.from_snapshot(snapshot)
    build_ms = 1000 * (time.perf_counter() - t0)
    character = Character(
        id="bench",
        name="Bench",
        persona="A tireless porter who fetches anything.",
        actions=ActionsConfig(verbs=list(BUILTIN_VERBS)),
    )
    planner = Planner(character)
    places = [n.id for n in graph.nodes() if n.kind is NodeKind.PLACE and not n.is_door]
    things = [n.id for n in graph.nodes() if n.kind is NodeKind.OBJECT and n.portable]
    boxes = [n.id for n in graph.nodes() if n.container]
    graph.walk_graph()  # built once per scene change; not part of a plan's cost
    times: list[float] = []
    steps: list[int] = []
    refused = 0
    for _ in range(intents):
        roll = rng.random()
        if roll < 0.5:
            intent = Intent("give", rng.choice(things), {"to": "player"})
        elif roll < 0.7:
            intent = Intent("pick_up", rng.choice(things))
        elif roll < 0.9:
            intent = Intent("move_to", rng.choice(places))
        else:
            intent = Intent("open", rng.choice(boxes))
        t = time.perf_counter()
        plan = planner.plan(graph, "npc", [intent])
        times.append(1000 * (time.perf_counter() - t))
        refused += bool(plan.refusals)
        steps.append(len(plan.steps))
    world = World("bench", graph)
    perceive_ms: list[float] = []
    for _ in range(50):
        t = time.perf_counter()
        perceive(world, "npc")
        perceive_ms.append(1000 * (time.perf_counter() - t))
    return {
        "nodes": len(graph),
        "places": len(places),
        "doors": sum(1 for n in graph.nodes() if n.is_door),
        "scene_build_ms": round(build_ms, 1),
        "intents": intents,
        "refused": refused,
        "mean_steps": round(statistics.fmean(steps), 2),
        "plan_ms_p50": round(_pct(times, 0.50), 3),
        "plan_ms_p99": round(_pct(times, 0.99), 3),
        "plan_ms_max": round(max(times), 3),
        "perceive_ms_p50": round(_pct(perceive_ms, 0.50), 3),
    }


def format_bench(result: dict[str, Any]) -> str:
    return "\n".join(f"{k:>16}: {v}" for k, v in result.items())


if __name__ == "__main__":
    print(format_bench(run_planner_bench()))
