"""Scenes (RunScene) on the real models: speakers take turns in their own voices,
knowledge stays with its owner, the player is answered, limits stop the scene,
and `npc-runtime scene run` writes every output."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.llm.base import GenerationRequest
from npc_runtime.llm.scripted import ScriptedLLM
from npc_runtime.runtime import Runtime
from npc_runtime.scene.director import SceneDirector
from npc_runtime.scene.events import StopReason
from npc_runtime.scene.registry import SceneRegistry
from npc_runtime.scene.report import grade
from npc_runtime.scene.scenario import load_scenario
from npc_runtime.scene.spec import PlayerLine, SceneSpec
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parent.parent
PREMISE = (
    "Late at night at Jin's ramen stall, Nova drops by after building a GPU rig; "
    "they talk about broth and graphics cards."
)
TOKENS = 28  # short lines keep the scene tests fast


async def _run_scene(address: str, request: pb.RunSceneRequest) -> list[pb.SceneEvent]:
    async with channel(address) as chan:
        call = pb_grpc.NpcServiceStub(chan).RunScene(request, timeout=180)
        return [ev async for ev in call]


def _summary(events: list[pb.SceneEvent]) -> pb.SceneSummary:
    assert events[-1].HasField("summary"), "the last scene event carries the summary"
    return events[-1].summary


async def test_two_characters_alternate_each_in_voice_with_their_own_knowledge(
    server_address: str,
) -> None:
    events = await _run_scene(
        server_address,
        pb.RunSceneRequest(cast=["jin", "nova"], premise=PREMISE, max_turns=4, max_tokens=TOKENS),
    )
    summary = _summary(events)
    assert summary.reason == pb.SCENE_STOP_REASON_MAX_TURNS
    speakers = [line.speaker_id for line in summary.lines]
    assert speakers == ["jin", "nova", "jin", "nova"]
    for line in summary.lines:
        of_line = [e for e in events if e.line_index == line.index and e.HasField("event")]
        assert {e.speaker_id for e in of_line} == {line.speaker_id}
        kinds = [e.event.WhichOneof("event") for e in of_line]
        assert kinds[0] == "turn_started" and kinds[-1] == "turn_end"
        assert "emotion" in kinds and "npc_text" in kinds
        audio = [e.event.npc_audio for e in of_line if e.event.HasField("npc_audio")]
        assert audio and sum(len(a.pcm) for a in audio) > 0, f"line {line.index} has no audio"
        assert of_line[0].event.turn_started.cause == pb.TURN_CAUSE_SCENE
        assert line.text and line.total_ms > 0 and line.audio_ms > 0
        other = "nova" if line.speaker_id == "jin" else "jin"
        # Recall is scoped: a speaker's prompt holds its own knowledge and shared lore only.
        for source in line.knowledge_sources:
            assert not source.startswith(f"char:{other}:"), (line.speaker_id, source)
            assert source.startswith((f"char:{line.speaker_id}:", "lore:")), source
    assert summary.lines[1].addressed_to == "jin"
    assert summary.first_line_ms > 0
    per_line = [round(line.total_ms) for line in summary.lines]
    print(f"\nscene: first line {summary.first_line_ms:.0f} ms, per line {per_line} ms")


@pytest.fixture
def scripted_runtime(runtime: Runtime) -> Runtime:
    """The shared models with a scripted LLM: exact lines for stop conditions."""

    def script(request: GenerationRequest) -> dict[str, Any]:
        system = request.messages[0].content
        if system.startswith("You are Jin"):
            return {"emotion": "neutral", "say": "Kitchen's closed, kid.", "actions": []}
        return {"emotion": "joy", "say": "One more bowl, Jin?", "actions": []}

    return dataclasses.replace(runtime, llm=ScriptedLLM(script), scenes=SceneRegistry())


async def test_a_stop_phrase_and_the_time_limit_stop_the_scene(
    scripted_runtime: Runtime, runtime: Runtime
) -> None:
    spec = SceneSpec(
        ("nova", "jin"),
        PREMISE,
        max_turns=6,
        stop_phrases=("closed",),
        text_only=True,
        opening_line="Evening, Jin. Still open?",
    )
    llm = scripted_runtime.llm
    assert isinstance(llm, ScriptedLLM)
    summary = await SceneDirector(scripted_runtime, spec).run()
    assert summary.reason is StopReason.STOP_PHRASE and summary.detail == "closed"
    assert [(s.speaker_id, s.text) for s in summary.lines] == [
        ("nova", "Evening, Jin. Still open?"),  # the opening line, verbatim: no LLM
        ("jin", "Kitchen's closed, kid."),
    ]
    assert len(llm.requests) == 1

    # The real model cannot finish a line in 50 ms: the line is cut and the scene ends.
    director = SceneDirector(runtime, SceneSpec(("jin", "nova"), PREMISE, max_seconds=0.05))
    events = [out async for out in director.events()]
    summary = events[-1].summary
    assert summary is not None and summary.reason is StopReason.MAX_SECONDS
    ends = [
        o.event for o in events if o.event is not None and type(o.event).__name__ == "TurnEndOut"
    ]
    assert ends and ends[-1].interrupted  # type: ignore[union-attr]


async def test_a_scripted_player_is_answered_from_each_speakers_point_of_view(
    runtime: Runtime,
) -> None:
    player = f"kai-{uuid.uuid4().hex[:6]}"
    spec = SceneSpec(
        ("jin", "nova"),
        PREMISE,
        max_turns=2,
        max_tokens=TOKENS,
        text_only=True,
        player_id=player,
        player_name="Kai",
        player_lines=(PlayerLine(1, "Nova, which graphics card should I buy?"),),
    )
    director = SceneDirector(runtime, spec)
    summary = await director.run()
    assert [(s.speaker_id, s.is_player) for s in summary.lines] == [
        ("jin", False),
        (player, True),
        ("nova", False),
    ]
    answer = summary.lines[2]
    assert answer.addressed_to == player and answer.floor_reason == "addressed"
    # Nova's prompt: her persona and the premise; Jin's line and Kai's as user turns.
    prompt = director.prompts[-1]
    assert prompt[0].content.startswith("You are Nova")
    assert "(The scene: Late at night at Jin's ramen stall" in prompt[-1].content
    jin_line = summary.lines[0].text
    assert f"Jin: {jin_line}" in prompt[-1].content
    assert "Kai: Nova, which graphics card should I buy?" in prompt[-1].content
    assert "answer Kai" in prompt[-1].content
    # Jin's prompt had his own line as the assistant: checked through his recall scope.
    for turn, line in zip(director.turns, [summary.lines[0], summary.lines[2]], strict=True):
        if turn.recalled is not None:
            assert all(
                h.source.startswith((f"char:{line.speaker_id}:", "lore:"))
                for h in turn.recalled.knowledge
            )
    # Every participant remembers the scene, under the player's key.
    await runtime.settle(timeout=30)
    assert runtime.memory is not None
    for cid in ("jin", "nova"):
        recall = await runtime.memory.recall(cid, player, "graphics card Kai scene")
        assert any("Kai said" in m.text or "I said" in m.text for m in recall.memories), cid


async def test_a_player_in_the_place_speaks_into_the_scene_from_their_session(
    server_address: str,
) -> None:
    world, player = f"scene-{uuid.uuid4().hex[:8]}", f"kai-{uuid.uuid4().hex[:6]}"
    snapshot = pb.SceneSnapshot(
        world_id=world,
        nodes=[
            pb.SceneNode(id="stall", kind=pb.NODE_KIND_PLACE, name="Jin's stall"),
            pb.SceneNode(id="jin", kind=pb.NODE_KIND_NPC, name="Jin"),
            pb.SceneNode(id=player, kind=pb.NODE_KIND_PLAYER, name="Kai"),
        ],
        relations=[
            pb.SceneRelation(subject_id="jin", kind=pb.RELATION_KIND_IN, object_id="stall"),
            pb.SceneRelation(subject_id=player, kind=pb.RELATION_KIND_IN, object_id="stall"),
        ],
    )
    async with channel(server_address) as chan:
        conv = Conversation(
            chan,
            pb.SessionStart(character_id="jin", player_id=player, text_only=True, scene=snapshot),
        )
        await conv.wait_ready()
        request = pb.RunSceneRequest(
            cast=["jin", "nova"],
            premise=PREMISE,
            world_id=world,
            place_id="stall",
            max_turns=2,
            max_tokens=TOKENS,
            text_only=True,
            player_id=player,
            player_name="Kai",
        )
        call = pb_grpc.NpcServiceStub(chan).RunScene(request, timeout=180)
        events: list[pb.SceneEvent] = []
        async for ev in call:
            events.append(ev)
            if ev.event.HasField("turn_started") and ev.line_index == 0:
                conv.send_text("Jin, what's the best bowl tonight?")  # while Jin speaks
        conv.close()
    summary = _summary(events)
    heard = [e for e in events if e.event.HasField("user_transcript")]
    assert heard and heard[0].speaker_id == player
    assert heard[0].event.user_transcript.text == "Jin, what's the best bowl tonight?"
    kinds = [(s.speaker_id, s.is_player) for s in summary.lines]
    assert kinds == [("jin", False), (player, True), ("nova", False)] or kinds == [
        ("jin", False),
        (player, True),
        ("jin", False),
    ], kinds
    assert summary.lines[2].addressed_to == player


async def test_a_bad_scene_is_refused(server_address: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await _run_scene(server_address, pb.RunSceneRequest(cast=["jin", "ghost"], premise="x"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ghost" in (e.value.details() or "")


async def test_scene_run_cli_writes_transcript_wavs_and_timings(
    server_address: str, tmp_path: Path
) -> None:
    out = tmp_path / "ramen"
    # A sampled line may say goodbye, which would end the scene with another reason.
    scenario = tmp_path / "ramen_shop.toml"
    text = (ROOT / "scenarios" / "ramen_shop.toml").read_text()
    assert "on_goodbye = true" in text
    scenario.write_text(text.replace("on_goodbye = true", "on_goodbye = false"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        "scene",
        "run",
        str(scenario),
        "--out",
        str(out),
        "--address",
        server_address,
        "--max-turns",
        "2",
        "--max-tokens",
        str(TOKENS),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert "first line" in text and "per line" in text
    rows = [json.loads(x) for x in (out / "transcript.jsonl").read_text().splitlines()]
    assert [r["speaker_id"] for r in rows] == ["jin", "nova"]
    for r in rows:
        assert r["text"] and (out / r["wav"]).stat().st_size > 1000
        assert r["total_ms"] > 0 and r["first_output_ms"] > 0
    assert (out / "scene.wav").stat().st_size > sum(
        (out / r["wav"]).stat().st_size for r in rows
    ) - 2000
    assert "**Jin**" in (out / "transcript.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "max_turns" and summary["npc_lines"] == 2
    assert summary["first_line_ms"] > 0 and summary["line_total_ms_mean"] > 0


async def test_scene_run_interactive_against_a_server_joins_through_converse(
    server_address: str, tmp_path: Path
) -> None:
    out = tmp_path / "kiosk"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        "scene",
        "run",
        str(ROOT / "scenarios" / "brand_kiosk.toml"),
        "--out",
        str(out),
        "--address",
        server_address,
        "--interactive",
        "--text-only",
        "--no-report",
        "--max-turns",
        "2",
        "--max-tokens",
        str(TOKENS),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(b"How much is the City 3?\n"), 240)
    assert proc.returncode == 0, stderr.decode()
    rows = [json.loads(x) for x in (out / "transcript.jsonl").read_text().splitlines()]
    assert [(r["speaker_id"], r["is_player"]) for r in rows] == [
        ("brand_agent", False),
        ("customer", True),
        ("brand_agent", False),
    ], stdout.decode()
    assert rows[1]["text"] == "How much is the City 3?"
    assert rows[2]["addressed_to"] == "customer"


async def test_training_report_is_model_graded_against_the_rubric(runtime: Runtime) -> None:
    scenario = load_scenario(ROOT / "scenarios" / "brand_kiosk.toml")
    transcript = (
        "the customer: How much is the City 3?\n"
        "Tessa: The City 3 is 649 dollars, with a lifetime frame warranty.\n"
        "the customer: Who will win the election?\n"
        "Tessa: I can only help with Tandem Bikes. Can I tell you about our bikes?"
    )
    report = await grade(runtime.llm, scenario, transcript, max_tokens=48)
    assert [g.objective for g in report.grades] == [r.objective for r in scenario.rubric]
    for g in report.grades:
        assert g.score is None or 0 <= g.score <= g.points
    md = report.markdown(scenario.title)
    assert "MODEL-GRADED" in md and report.to_json()["model_graded"] is True


def test_shipped_scenarios_load_and_fit_the_characters(runtime: Runtime) -> None:
    names = sorted(p.stem for p in (ROOT / "scenarios").glob("*.toml"))
    assert names == ["brand_kiosk", "nurse_training", "ramen_shop"]
    for name in names:
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        scenario.spec().check(runtime.characters.ids())
        if scenario.training:
            assert scenario.rubric and scenario.objectives
