"""`npc-runtime scene run`: play a scenario file and write everything it produced.

In-process (loads the models, like `serve`) or against a running server with
--address. The player is scripted (the scenario's lines or --player-lines) or
typed at the terminal (--interactive). In-process, the scene waits for the
player's line after each NPC line; against a server the player joins the way a
game's player would: a Converse session standing in the scene's place, whose
lines the scene takes between NPC lines (it does not wait).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .spec import SceneSpec

if TYPE_CHECKING:
    from ..llm.base import LLMBackend
    from ..server.gen.npc.v1 import npc_pb2 as pb
    from .prompt import SceneLine
    from .render import RecordedLine, SceneRecording
    from .scenario import Scenario

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class StdinPlayer:
    """The player types a line after each NPC line (Enter: stay silent; Ctrl-D: stop asking)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = False

    async def line_after(self, npc_lines: int, last: SceneLine | None) -> str | None:
        if self.done:
            return None
        try:
            return await asyncio.to_thread(input, f"{self.name}> ")
        except EOFError:
            self.done = True
            return None


def add_parsers(sub: Any) -> None:
    sc = sub.add_parser("scene", help="scenes between characters, from scenario files")
    scsub = sc.add_subparsers(dest="scene", metavar="SCENE_COMMAND", required=True)
    r = scsub.add_parser(
        "run",
        help="run a scenario; write the transcript, WAVs, timings (and a report for training)",
        description="Runs scenarios/<name>.toml and writes DIR/transcript.jsonl, "
        "DIR/transcript.md, DIR/lines/*.wav (one per line), DIR/scene.wav (all lines in order) "
        "and DIR/summary.json (time per line, first-line latency). Training scenarios also get "
        "DIR/report.md: the objectives scored against the rubric by the configured LLM "
        "(model-graded, marked as such). Without --address it loads the models itself.",
    )
    r.add_argument("scenario", type=Path, help="scenario TOML, e.g. scenarios/ramen_shop.toml")
    r.add_argument("--out", type=Path, required=True, help="output folder")
    r.add_argument("--address", help="a running server (default: run in this process)")
    r.add_argument("--config", type=Path, help="TOML settings file (in-process runs, grading)")
    r.add_argument("--max-turns", type=int, help="NPC lines at most (overrides the file)")
    r.add_argument("--max-seconds", type=float, help="seconds at most (overrides the file)")
    r.add_argument("--max-tokens", type=int, help="LLM tokens per line (overrides the file)")
    r.add_argument(
        "--player-lines",
        type=Path,
        help="text file, one player line per NPC line (empty line = silent); replaces the "
        "scenario's scripted lines",
    )
    r.add_argument(
        "--interactive",
        action="store_true",
        help="type the player's lines (with --address: through a Converse session in the "
        "scene's place)",
    )
    r.add_argument("--text-only", action="store_true", help="no speech synthesis")
    r.add_argument("--no-report", action="store_true", help="skip the after-action report")
    r.set_defaults(func=run_scene)


def _spec(args: argparse.Namespace, scenario: Scenario) -> SceneSpec:
    lines = None
    if args.player_lines:
        lines = args.player_lines.read_text(encoding="utf-8").splitlines()
    return scenario.spec(
        max_turns=args.max_turns,
        max_seconds=args.max_seconds,
        max_tokens=args.max_tokens,
        player_lines=[] if args.interactive and lines is None else lines,
        text_only=args.text_only,
    )


async def run_scene(args: argparse.Namespace) -> int:
    from .render import SceneRecording
    from .scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
        spec = _spec(args, scenario)
    except (ScenarioError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    recording = SceneRecording()
    if scenario.player.id or scenario.player.name:
        recording.names[spec.player_speaker_id] = scenario.player.name or "Player"
    t0 = time.perf_counter()
    if args.address:
        code = await _remote(args, spec, recording)
        llm: LLMBackend | None = None
        if code == EXIT_OK and scenario.training and scenario.rubric and not args.no_report:
            llm = await _grading_llm(args)
        try:
            return await _finish(args, scenario, recording, llm, t0, code)
        finally:
            if llm is not None:
                await llm.aclose()
    return await _local(args, scenario, spec, recording, t0)


async def _local(
    args: argparse.Namespace,
    scenario: Scenario,
    spec: SceneSpec,
    recording: SceneRecording,
    t0: float,
) -> int:
    from ..config import load_settings
    from ..runtime import Runtime
    from ..server import codec
    from .director import SceneDirector

    runtime = await Runtime.create(load_settings(args.config), progress=_progress)
    try:
        for cid, ch in runtime.characters.characters.items():
            recording.names.setdefault(cid, ch.name)
        player = StdinPlayer(scenario.player.name or "you") if args.interactive else None
        director = SceneDirector(runtime, spec, player)
        t0 = time.perf_counter()
        await _consume((codec.encode_scene(o) async for o in director.events()), recording)
        grade_llm = runtime.llm if scenario.training and not args.no_report else None
        return await _finish(args, scenario, recording, grade_llm, t0, EXIT_OK)
    finally:
        await runtime.aclose()


async def _remote(args: argparse.Namespace, spec: SceneSpec, recording: SceneRecording) -> int:
    from ..client import Conversation, channel
    from ..server import codec
    from ..server.gen.npc.v1 import npc_pb2 as pb
    from ..server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

    async with channel(args.address) as chan:
        stub = pb_grpc.NpcServiceStub(chan)
        chars = await stub.ListCharacters(pb.ListCharactersRequest(), timeout=10)
        for c in chars.characters:
            recording.names.setdefault(c.id, c.name)
        conv: Conversation | None = None
        if args.interactive:
            spec, snapshot = _joinable(spec)
            conv = Conversation(
                chan,
                pb.SessionStart(
                    character_id=spec.cast[0],
                    player_id=spec.player_id,
                    text_only=True,
                    scene=snapshot,
                ),
            )
            await conv.wait_ready()
        call = stub.RunScene(codec.encode_scene_request(spec), timeout=spec.max_seconds + 120)
        # Read the player only once the scene runs: before, the session's NPC would answer.
        on_first = (
            functools.partial(_read_stdin_into, conv, asyncio.get_running_loop())
            if conv is not None
            else None
        )
        await _consume(call, recording, on_first)
        if conv is not None:
            conv.close()
    return EXIT_OK


def _joinable(spec: SceneSpec) -> tuple[SceneSpec, pb.SceneSnapshot]:
    """The scene in a world and place, and a snapshot that puts the player there."""
    import dataclasses
    import uuid

    from ..server.gen.npc.v1 import npc_pb2 as pb

    world = spec.world_id or f"scene-{uuid.uuid4().hex[:8]}"
    place = spec.place_id or "scene"
    player = spec.player_id or "player"
    npc = spec.cast[0]
    snapshot = pb.SceneSnapshot(
        world_id=world,
        nodes=[
            pb.SceneNode(id=place, kind=pb.NODE_KIND_PLACE, name=place),
            pb.SceneNode(id=npc, kind=pb.NODE_KIND_NPC, name=npc),
            pb.SceneNode(id=player, kind=pb.NODE_KIND_PLAYER, name=spec.player_label),
        ],
        relations=[
            pb.SceneRelation(subject_id=npc, kind=pb.RELATION_KIND_IN, object_id=place),
            pb.SceneRelation(subject_id=player, kind=pb.RELATION_KIND_IN, object_id=place),
        ],
    )
    return dataclasses.replace(spec, world_id=world, place_id=place, player_id=player), snapshot


def _read_stdin_into(conv: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Each line typed goes to the Converse session (a daemon thread: a pending read
    must not keep the program alive once the scene is over)."""
    import threading

    print("type a line and Enter to speak into the scene", file=sys.stderr)

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                try:
                    loop.call_soon_threadsafe(conv.send_text, line.strip())
                except RuntimeError:  # the loop is closed: the scene is over
                    return

    threading.Thread(target=read, name="scene-stdin", daemon=True).start()


async def _consume(
    events: AsyncIterator[pb.SceneEvent],
    recording: SceneRecording,
    on_first: Callable[[], None] | None = None,
) -> None:
    async for ev in events:
        if on_first is not None:
            on_first()
            on_first = None
        done = recording.feed(ev)
        if done is not None:
            _print_line(recording, done)


def _print_line(recording: SceneRecording, line: RecordedLine) -> None:
    name = recording.name(line.speaker_id)
    if line.is_player:
        print(f"{name}: {line.text}", flush=True)
        return
    t = line.timings
    timing = ""
    if t is not None:
        first = t.first_audio_sent_at_ms or t.first_text_sent_at_ms
        timing = f"   [first audio {first:.0f} ms, line {t.total_ms:.0f} ms]"
    print(f"{name}: {line.text}{timing}", flush=True)


async def _finish(
    args: argparse.Namespace,
    scenario: Scenario,
    recording: SceneRecording,
    llm: LLMBackend | None,
    t0: float,
    code: int,
) -> int:
    from ..server.codec import STOP_REASON_NAMES
    from .report import grade, write_report

    if recording.summary is None:
        print("error: the scene ended without a summary", file=sys.stderr)
        return EXIT_FAIL
    written = recording.write(args.out, scenario.title or scenario.id, scenario.premise)
    st = recording.stats()
    s = recording.summary
    print(
        f"stopped: {STOP_REASON_NAMES.get(s.reason, '?')}{f' ({s.detail})' if s.detail else ''}; "
        f"{st['npc_lines']} lines; first line {st['first_line_ms']:.0f} ms to first audio; "
        f"{st['line_total_ms_mean']:.0f} ms per line (mean), "
        f"{st['line_total_ms_max']:.0f} ms (max); scene {st['scene_total_ms'] / 1000:.1f} s",
        flush=True,
    )
    for err in recording.errors:
        print(f"[error] {err}", file=sys.stderr)
    if llm is not None and scenario.rubric:
        transcript = "\n".join(
            f"{recording.name(line.speaker_id)}: {line.text}" for line in recording.ordered()
        )
        report = await grade(llm, scenario, transcript)
        md, _ = write_report(report, args.out, scenario.title or scenario.id)
        written["report"] = md
        print(
            f"after-action report (MODEL-GRADED by {report.model}): "
            f"{report.total} / {report.possible} → {md}",
            flush=True,
        )
    print(f"wrote {', '.join(str(p) for p in written.values())}", flush=True)
    return code


async def _grading_llm(args: argparse.Namespace) -> LLMBackend:
    """The configured LLM, for grading a scene that ran on another server."""
    from ..config import load_settings
    from ..runtime import load_llm

    return await asyncio.to_thread(load_llm, load_settings(args.config))


def _progress(msg: str) -> None:
    print(f"… {msg}", file=sys.stderr, flush=True)
