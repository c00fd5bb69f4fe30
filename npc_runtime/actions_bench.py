"""How well the configured model chooses actions: `npc-runtime bench actions`.

Each request goes through the same path as a turn with a scene: the character's
prompt with the perception summary, the reply schema that allows only the
character's verbs and the ids it perceives, then parsing and planning. What is
counted:

- valid: the reply parsed and every action named an allowed verb and a
  perceived node (the schema makes this the engine's job, not the model's);
- sensible: the actions match what a person would expect for the request
  (the expected verb and target; no action for small talk);
- planned: sensible and the planner turned it into steps or refused it with
  a reason (locked, not portable) the NPC then says.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

from .characters import Character
from .config import Settings
from .emotion import EmotionModel, describe
from .llm.base import GenerationRequest, LLMBackend
from .llm.prompt import build_messages, reply_schema
from .world import (
    Intent,
    Planner,
    PolicyContext,
    WorldStore,
    actions_schema,
    parse_actions,
    perceive,
)
from .world.demo import farm


@dataclass(frozen=True)
class Case:
    line: str
    # (verb, target) pairs any of which counts as sensible; empty: no action expected.
    expect: tuple[tuple[str, str], ...]


CASES = (
    Case("Grab me the axe, would you?", (("give", "axe"), ("pick_up", "axe"))),
    Case("Could you open the drawer?", (("open", "drawer"),)),
    Case("Walk over to the well.", (("move_to", "well"),)),
    Case("Hand me the shed key.", (("give", "shed_key"), ("pick_up", "shed_key"))),
    Case("Give me the gold from the chest.", (("give", "gold"), ("open", "chest"))),
    Case("Lift the anvil for me.", (("pick_up", "anvil"),)),
    Case("Put the vault key in the drawer.", (("put_down", "vault_key"),)),
    Case("Nod if you can hear me.", (("emote", ""),)),
    Case("How's the weather today?", ()),
    Case("What's your favourite ramen?", ()),
)


def _sensible(case: Case, intents: list[Intent]) -> bool:
    if not case.expect:
        return not intents
    return any(
        i.verb == verb and (not target or i.target_id == target)
        for i in intents
        for verb, target in case.expect
    )


async def run_actions_bench(
    llm: LLMBackend, character: Character, settings: Settings, rounds: int = 2
) -> dict[str, Any]:
    store = WorldStore()
    world = await store.load(farm("bench-farm", npc_id=character.id))
    seen = perceive(world, character.id)
    order = settings.llm.reply_order
    schema = reply_schema(settings.llm.max_say_chars, actions_schema(character, seen), order)
    mood = EmotionModel(character)
    context = "\n\n".join(c for c in (seen.summary, describe(mood.initial(), mood)) if c)
    planner = Planner(character)
    rows: list[dict[str, Any]] = []
    for r in range(rounds):
        for case in CASES:
            request = GenerationRequest(
                messages=build_messages(character, [], case.line, context, order),
                json_schema=schema,
                max_tokens=settings.llm.max_tokens,
                temperature=settings.llm.temperature,
                seed=r + 1,
            )
            t0 = time.perf_counter()
            text = ""
            async with llm.stream(request) as stream:
                async for delta in stream:
                    text += delta
            ms = (time.perf_counter() - t0) * 1000
            try:
                reply = json.loads(text)
                raw = reply.get("actions") if isinstance(reply, dict) else None
            except json.JSONDecodeError:
                reply, raw = None, None
            parsed = parse_actions(raw, character, seen)
            valid = reply is not None and not parsed.rejected
            sensible = valid and _sensible(case, parsed.intents)
            plan = planner.plan(world.graph, character.id, parsed.intents, PolicyContext.of({}, ()))
            planned = sensible and (bool(plan.steps) or bool(plan.refusals) or not case.expect)
            rows.append(
                {
                    "line": case.line,
                    "actions": raw,
                    "valid": valid,
                    "sensible": sensible,
                    "planned": planned,
                    "steps": [str(s) for s in plan.steps],
                    "refusals": [x.reason for x in plan.refusals],
                    "ms": round(ms, 1),
                }
            )
    n = len(rows)
    asked = [x for x in rows if any(c.line == x["line"] and c.expect for c in CASES)]
    return {
        "model": llm.name,
        "character": character.id,
        "requests": n,
        "valid_rate": round(sum(x["valid"] for x in rows) / n, 3),
        "sensible_rate": round(sum(x["sensible"] for x in rows) / n, 3),
        "planned_rate": round(sum(x["planned"] for x in rows) / n, 3),
        "acted_when_asked_rate": round(
            sum(bool(x["actions"]) for x in asked) / max(1, len(asked)), 3
        ),
        "reply_ms_p50": round(statistics.median(x["ms"] for x in rows), 1),
        "rows": rows,
    }


def format_actions_bench(result: dict[str, Any]) -> str:
    lines = []
    for x in result["rows"]:
        mark = "ok " if x["sensible"] else ("val" if x["valid"] else "BAD")
        lines.append(f"  [{mark}] {x['line'][:40]:<40} → {json.dumps(x['actions'])[:90]}")
    summary = {k: v for k, v in result.items() if k != "rows"}
    lines += [f"{k:>22}: {v}" for k, v in summary.items()]
    return "\n".join(lines)
