"""`npc-runtime bench scene`: first-line latency and time per line of real scenes.

Runs a scenario several times over RunScene (against --address, or a server it
starts) and reports p50/p95 of: the first line's first audio from the request,
each line's first audio from its start, each line's total time, and the speech
each line produced (a line generated faster than its audio plays keeps a scene
flowing without gaps).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def add_bench_parser(bsub: Any) -> None:
    b = bsub.add_parser(
        "scene",
        help="scenes over RunScene: first-line latency and time per line, p50/p95",
        description="Runs a scenario --runs times (one unmeasured warm-up first) and prints "
        "p50/p95 per line. Without --address it starts its own server.",
    )
    b.add_argument(
        "--scenario",
        type=Path,
        default=ROOT / "scenarios" / "ramen_shop.toml",
        help="scenario TOML (default scenarios/ramen_shop.toml)",
    )
    b.add_argument("--runs", type=int, default=3, help="measured scenes (default 3)")
    b.add_argument("--max-turns", type=int, default=4, help="NPC lines per scene (default 4)")
    b.add_argument("--max-tokens", type=int, help="LLM tokens per line (default: the file's)")
    b.add_argument("--text-only", action="store_true", help="no speech synthesis")
    b.add_argument("--address", help="a running server; default: start one")
    b.add_argument("--json", type=Path, help="also write the numbers to this file")
    b.set_defaults(func=run_bench)


async def _scene(address: str, request: Any) -> Any:
    from ..client import channel
    from ..server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

    async with channel(address) as chan:
        call = pb_grpc.NpcServiceStub(chan).RunScene(request, timeout=600)
        summary = None
        async for ev in call:
            if ev.HasField("summary"):
                summary = ev.summary
    if summary is None:
        raise RuntimeError("the scene ended without a summary")
    return summary


async def run_bench(args: argparse.Namespace) -> int:
    from ..bench import percentile
    from ..client import spawn_server
    from ..server import codec
    from .scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    spec = scenario.spec(
        max_turns=args.max_turns, max_tokens=args.max_tokens, text_only=args.text_only
    )
    proc = None
    address = args.address
    rows: dict[str, list[float]] = {
        "first_line_ms": [],
        "line_first_audio_ms": [],
        "line_total_ms": [],
        "line_audio_ms": [],
    }
    try:
        if not address:
            print("… starting a server", file=sys.stderr)
            proc, address = await spawn_server({"NPC_LOG_LEVEL": "warning"})
        for i in range(args.runs + 1):
            summary = await _scene(address, codec.encode_scene_request(spec))
            npc = [line for line in summary.lines if not line.is_player]
            tag = "warm-up" if i == 0 else f"scene {i}/{args.runs}"
            print(
                f"{tag}: first line {summary.first_line_ms:.0f} ms; per line "
                f"{', '.join(f'{line.total_ms:.0f}' for line in npc)} ms",
                file=sys.stderr,
            )
            if i == 0:
                continue
            rows["first_line_ms"].append(summary.first_line_ms)
            rows["line_first_audio_ms"] += [line.first_output_ms for line in npc]
            rows["line_total_ms"] += [line.total_ms for line in npc]
            rows["line_audio_ms"] += [line.audio_ms for line in npc]
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()
    stats = {
        k: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1), "n": len(v)}
        for k, v in rows.items()
    }
    print(f"{'':24s}{'p50 ms':>10s}{'p95 ms':>10s}{'n':>6s}")
    for k, s in stats.items():
        print(f"{k:24s}{s['p50']:10.0f}{s['p95']:10.0f}{s['n']:6d}")
    if args.json:
        doc = {
            "bench": "scene",
            "scenario": scenario.id,
            "runs": args.runs,
            "max_turns": args.max_turns,
            "max_tokens": spec.max_tokens,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                # Other jobs on the machine move these numbers a lot: recorded for context.
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            "summary": stats,
            "rows": rows,
        }
        await asyncio.to_thread(args.json.write_text, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
