"""`npc-runtime bench load`: N concurrent text sessions over real gRPC.

Each session sends a line, reads the turn to its TurnEnd, waits a think time
(jittered ±50%, so sessions do not march in step) and goes again, M times.
Measured per turn, at the client: first text, first audio and TurnEnd after the
line was sent; and from the TurnEnd timings, the runtime's overhead: the turn's
wall time minus its model time (recall, LLM, TTS). Throughput is turns a second
over the whole run.

--fake starts a server whose LLM answers at once from a script (llm.backend =
"scripted"), with text-only sessions, anonymous players and recall off: no model
runs, so what is left is the runtime's own cost (gRPC, sessions, the turn
pipeline, the outbox). Without --fake the sessions get voice replies from the
configured models, and first audio is the number to watch.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bench import QUESTIONS, percentile

# Server settings for --fake: no model anywhere on the turn's path.
FAKE_ENV = {
    "NPC_LLM__BACKEND": "scripted",
    "NPC_MEMORY__RECALL_TOKENS": "0",
}
_SERVER_TIMINGS = (
    "recall_ms",
    "llm_first_token_ms",
    "first_sentence_ms",
    "llm_total_ms",
    "tts_first_audio_ms",
    "tts_total_ms",
    "first_audio_sent_at_ms",
    "total_ms",
    "llm_prompt_tokens",
    "llm_cached_tokens",
    "llm_completion_tokens",
)
METRICS = ("first_text_ms", "first_audio_ms", "turn_end_ms", "overhead_ms", "client_overhead_ms")


@dataclass
class LoadResult:
    sessions: int
    turns_per_session: int
    fake: bool
    think_ms: float
    wall_s: float = 0.0
    # CPU seconds the server process used during the run (None: not known, e.g. --address).
    server_cpu_s: float | None = None
    rows: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def turns(self) -> int:
        return len(self.rows)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sessions": self.sessions,
            "turns_per_session": self.turns_per_session,
            "fake": self.fake,
            "think_ms": self.think_ms,
            "turns": self.turns,
            "errors": len(self.errors),
            "wall_s": round(self.wall_s, 2),
            "turns_per_s": round(self.turns / self.wall_s, 1) if self.wall_s else 0.0,
        }
        if self.server_cpu_s is not None and self.turns:
            # Contention-proof: what one turn costs the server, whoever else uses the cores.
            out["server_cpu_ms_per_turn"] = round(1000.0 * self.server_cpu_s / self.turns, 2)
        for name in METRICS:
            values = [r[name] for r in self.rows if name in r]
            if values:
                out[name] = {
                    p: round(percentile(values, q), 2)
                    for p, q in (("p50", 50), ("p95", 95), ("p99", 99))
                } | {"max": round(max(values), 2)}
        return out


def format_summary(s: dict[str, Any]) -> str:
    lines = [
        f"{s['sessions']} sessions × {s['turns_per_session']} turns "
        f"({'fake backends' if s['fake'] else 'real models'}, think {s['think_ms']:.0f} ms): "
        f"{s['turns']} turns in {s['wall_s']:.1f} s = {s['turns_per_s']} turns/s, "
        f"{s['errors']} errors"
        + (
            f"; server CPU {s['server_cpu_ms_per_turn']:.2f} ms a turn"
            if "server_cpu_ms_per_turn" in s
            else ""
        ),
        f"{'ms':22s} {'p50':>9s} {'p95':>9s} {'p99':>9s} {'max':>9s}",
    ]
    for name in METRICS:
        if name in s:
            v = s[name]
            lines.append(
                f"{name:22s} {v['p50']:9.2f} {v['p95']:9.2f} {v['p99']:9.2f} {v['max']:9.2f}"
            )
    return "\n".join(lines)


async def run_load(
    address: str,
    sessions: int,
    turns: int,
    *,
    fake: bool,
    character: str = "jin",
    think_ms: float = 1000.0,
    timeout_s: float = 120.0,
) -> LoadResult:
    """Drive `sessions` concurrent sessions of `turns` turns against a running server."""
    from .client import channel

    result = LoadResult(sessions, turns, fake, think_ms)
    # A handful of channels (HTTP/2 connections), as a game's servers would have.
    chans = [channel(address) for _ in range(min(8, sessions))]
    start = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                _session(
                    chans[i % len(chans)], i, turns, fake, character, think_ms, timeout_s, result
                )
                for i in range(sessions)
            )
        )
    finally:
        result.wall_s = time.perf_counter() - start
        for c in chans:
            await c.close(None)
    return result


async def _session(
    chan: Any,
    index: int,
    turns: int,
    fake: bool,
    character: str,
    think_ms: float,
    timeout_s: float,
    result: LoadResult,
) -> None:
    from .client import Conversation
    from .server.gen.npc.v1 import npc_pb2 as pb

    rng = random.Random(index)
    start = pb.SessionStart(
        character_id=character,
        # Fake: anonymous, so nothing is embedded or stored; real: memory as in a game.
        player_id="" if fake else f"load-{index}",
        text_only=fake,
    )
    conv = Conversation(chan, start)
    try:
        await conv.wait_ready(timeout_s)
        await asyncio.sleep(rng.uniform(0, think_ms) / 1000.0)  # spread the first turns
        for t in range(turns):
            conv.send_text(QUESTIONS[(index + t) % len(QUESTIONS)])
            sent = time.perf_counter()
            row: dict[str, float] = {}
            while True:
                ev = await conv.next(timeout_s)
                if ev is None:
                    raise ConnectionError("the stream ended mid-turn")
                kind = ev.WhichOneof("event")
                now_ms = (time.perf_counter() - sent) * 1000.0
                if kind == "npc_text" and "first_text_ms" not in row:
                    row["first_text_ms"] = now_ms
                elif kind == "npc_audio" and "first_audio_ms" not in row:
                    row["first_audio_ms"] = now_ms
                elif kind == "error":
                    result.errors.append(ev.error.message)
                elif kind == "turn_end":
                    tm = ev.turn_end.timings
                    model = tm.asr_ms + tm.recall_ms + tm.llm_total_ms + tm.tts_total_ms
                    row["turn_end_ms"] = now_ms
                    row["model_ms"] = model
                    for name in _SERVER_TIMINGS:  # where the time went, for the JSON
                        row[name] = float(getattr(tm, name))
                    if not tm.audio_ms:  # paced audio: the wall time is playback
                        row["overhead_ms"] = max(0.0, tm.total_ms - model)
                        row["client_overhead_ms"] = max(0.0, now_ms - model)
                    break
            result.rows.append(row)
            if t + 1 < turns and think_ms > 0:
                await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000.0)
    except Exception as e:
        result.errors.append(f"session {index}: {type(e).__name__}: {e}")
    finally:
        conv.close()
        # Drain to the end of the stream so the server sees a clean half-close.
        try:
            while await conv.next(timeout_s) is not None:
                pass
        except Exception:
            pass


async def run_load_bench(args: argparse.Namespace) -> int:
    from .client import spawn_server

    if args.sessions < 1 or args.turns < 1:
        print("--sessions and --turns must be at least 1", file=sys.stderr)
        return 2
    proc = None
    address = args.address
    if not address:
        env = {
            "NPC_LOG_LEVEL": "warning",
            "NPC_SERVER__MAX_SESSIONS": str(max(64, args.sessions + 8)),
            **(FAKE_ENV if args.fake else {}),
        }
        print(
            f"… starting a server ({'fake backends' if args.fake else 'real models'})",
            file=sys.stderr,
        )
        proc, address = await spawn_server(env)
    try:
        cpu0 = cpu_seconds(proc.pid) if proc is not None else None
        result = await run_load(
            address,
            args.sessions,
            args.turns,
            fake=args.fake,
            character=args.character,
            think_ms=args.think_ms,
        )
        cpu1 = cpu_seconds(proc.pid) if proc is not None else None
        if cpu0 is not None and cpu1 is not None:
            result.server_cpu_s = cpu1 - cpu0
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()
    summary = result.summary()
    print(format_summary(summary))
    for err in result.errors[:5]:
        print(f"error: {err}", file=sys.stderr)
    if args.json:
        doc = {
            "bench": "load",
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "summary": summary,
            "rows": result.rows,
            "errors": result.errors,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_text, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {path}", file=sys.stderr)
    return 1 if result.errors else 0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime are fields 14 and 15 of stat; [0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def add_parser(bsub: Any) -> None:
    bl = bsub.add_parser(
        "load",
        help="N concurrent text sessions over gRPC: turns/s and latency percentiles",
        description="Runs --sessions concurrent text sessions of --turns turns each and "
        "prints throughput and p50/p95/p99 of first text, first audio, TurnEnd and the "
        "runtime's overhead per turn (wall time minus model time). Without --address it "
        "starts its own server; --fake makes that server's LLM instant and the sessions "
        "text-only, to measure the runtime alone.",
    )
    bl.add_argument("--sessions", type=int, default=10, help="concurrent sessions (default 10)")
    bl.add_argument("--turns", type=int, default=5, help="turns per session (default 5)")
    bl.add_argument("--fake", action="store_true", help="instant scripted LLM, text only")
    bl.add_argument(
        "--think-ms",
        type=float,
        default=1000.0,
        help="pause between a TurnEnd and the next line, ±50%% (default 1000; 0 = flat out)",
    )
    bl.add_argument("--character", default="jin")
    bl.add_argument("--address", help="a running server; default: start one")
    bl.add_argument("--json", type=Path, help="also write the numbers to this file")
    bl.set_defaults(func=run_load_bench)
