"""bench actions and bench planner: the counting is right, and the CLI runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from npc_runtime.actions_bench import CASES, run_actions_bench
from npc_runtime.characters import CharacterStore
from npc_runtime.config import load_settings
from npc_runtime.llm.base import GenerationRequest
from npc_runtime.llm.scripted import ScriptedLLM

ROOT = Path(__file__).resolve().parent.parent


def _perfect(request: GenerationRequest) -> dict[str, Any]:
    line = request.messages[-1].content.rsplit("Player: ", 1)[-1]
    case = next(c for c in CASES if c.line == line)
    actions = []
    if case.expect:
        verb, target = case.expect[0]
        action = {"verb": verb, "target": target} if target else {"verb": verb}
        if verb == "give":
            action["to"] = "player"
        if verb == "emote":
            action["gesture"] = "nod"
        if verb == "put_down":
            action["in"] = "drawer"
        actions.append(action)
    return {"emotion": "neutral", "say": "Sure.", "actions": actions}


async def test_a_model_that_does_what_is_asked_scores_full_marks() -> None:
    settings = load_settings(characters_dir=ROOT / "characters")
    jin = CharacterStore.load(settings.characters_dir).get("jin")
    result = await run_actions_bench(ScriptedLLM(_perfect), jin, settings, rounds=1)
    assert result["requests"] == len(CASES)
    assert result["valid_rate"] == result["sensible_rate"] == result["planned_rate"] == 1.0
    gold = next(r for r in result["rows"] if "gold" in r["line"])
    assert gold["refusals"] and "locked" in gold["refusals"][0]


async def test_made_up_and_silent_replies_are_counted_as_such() -> None:
    settings = load_settings(characters_dir=ROOT / "characters")
    jin = CharacterStore.load(settings.characters_dir).get("jin")

    def lazy(_request: GenerationRequest) -> dict[str, Any]:
        return {"emotion": "neutral", "say": "Hm.", "actions": [{"verb": "fly", "target": "x"}]}

    result = await run_actions_bench(ScriptedLLM(lazy), jin, settings, rounds=1)
    assert result["valid_rate"] == 0.0 and result["sensible_rate"] == 0.0


def test_bench_planner_prints_percentiles_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "planner.json"
    run = subprocess.run(
        [sys.executable, "-m", "npc_runtime.cli", "bench", "planner", "--nodes", "300",
         "--intents", "40", "--json", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "plan_ms_p99" in run.stdout and "target: plan p99 <= 20 ms" in run.stdout
    data = json.loads(out.read_text())
    assert data["intents"] == 40 and data["plan_ms_p50"] <= data["plan_ms_p99"]
