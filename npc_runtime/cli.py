"""npc-runtime: serve characters over gRPC, talk to them, measure them.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration,
3 server unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from pathlib import Path

from . import __version__, logs

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_ADDRESS = "127.0.0.1:50051"


def _progress(msg: str) -> None:
    print(f"… {msg}", file=sys.stderr, flush=True)


# --- serve ---------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .runtime import Runtime
    from .server.driver import SessionDriver
    from .server.service import start_server
    from .server.ws_gateway import CONVERSE_PATH, start_gateway

    overrides: dict[str, object] = {}
    server_over: dict[str, object] = {}
    if args.host:
        server_over["host"] = args.host
    if args.port is not None:
        server_over["port"] = args.port
    if args.ws_port is not None:
        server_over["ws_port"] = args.ws_port
    if server_over:
        overrides["server"] = server_over
    settings = load_settings(args.config, **overrides)
    logs.setup(args.log_level or settings.log_level, settings.log_format)
    t0 = time.perf_counter()
    runtime = await Runtime.create(settings, progress=None if args.quiet else _progress)
    cfg = settings.server
    # One driver: the session limit counts gRPC and WebSocket sessions together.
    driver = SessionDriver(runtime)
    server, port = await start_server(runtime, cfg.host, cfg.port, driver)
    gateway, ws = None, "WebSocket gateway off"
    if cfg.ws_port >= 0:
        ws_host = cfg.ws_host or cfg.host
        try:
            gateway, ws_port = await start_gateway(runtime, ws_host, cfg.ws_port, driver)
        except OSError:
            await server.stop(0)
            raise
        ws = f"ws://{ws_host}:{ws_port}{CONVERSE_PATH} (WebSocket)"
    print(
        f"npc-runtime {__version__} listening on {cfg.host}:{port} (gRPC) and {ws} "
        f"(characters: {', '.join(runtime.characters.ids())}; ready in "
        f"{time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("shutting down: letting running turns finish", file=sys.stderr, flush=True)
    await asyncio.gather(
        server.stop(cfg.grace_period_s),
        gateway.stop(cfg.grace_period_s) if gateway else asyncio.sleep(0),
    )
    await runtime.aclose()
    return EXIT_OK


# --- characters ----------------------------------------------------------------


async def _characters(args: argparse.Namespace) -> int:
    from .client import channel
    from .server.gen.npc.v1 import npc_pb2 as pb
    from .server.gen.npc.v1 import npc_pb2_grpc as pb_grpc

    async with channel(args.address) as chan:
        resp = await pb_grpc.NpcServiceStub(chan).ListCharacters(
            pb.ListCharactersRequest(), timeout=10
        )
    for c in resp.characters:
        print(f"{c.id:12s} {c.name:12s} {c.description}")
    return EXIT_OK


# --- chat ----------------------------------------------------------------------


async def _chat(args: argparse.Namespace) -> int:
    from .client import Conversation, channel, format_timings
    from .server.gen.npc.v1 import npc_pb2 as pb

    async with channel(args.address) as chan:
        conv = Conversation(
            chan,
            pb.SessionStart(
                character_id=args.character,
                player_id=args.player,
                text_only=True,
                greet=not args.no_greeting,
            ),
        )
        await conv.wait_ready()
        print(f"talking to {args.character} — type a line, Ctrl-D to leave", file=sys.stderr)
        if not args.no_greeting:
            await _print_turn(conv, args, format_timings)
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if not line.strip():
                continue
            conv.send_text(line)
            await _print_turn(conv, args, format_timings)
        conv.close()
    return EXIT_OK


async def _print_turn(conv: object, args: argparse.Namespace, fmt: object) -> None:
    from .client import Conversation, format_timings

    assert isinstance(conv, Conversation)
    started = False
    while True:
        ev = await conv.next()
        if ev is None:
            return
        kind = ev.WhichOneof("event")
        if kind == "npc_text":
            if not started:
                print(f"{args.character}> ", end="", flush=True)
                started = True
            print(ev.npc_text.delta, end="", flush=True)
        elif kind == "error":
            print(f"\n[error {ev.error.code}] {ev.error.message}", file=sys.stderr)
        elif kind == "turn_end":
            print()
            if args.timings:
                print(f"  [{format_timings(ev.turn_end.timings)}]", file=sys.stderr)
            return


# --- talk ----------------------------------------------------------------------


async def _talk(args: argparse.Namespace) -> int:
    import numpy as np

    from .audio import AudioFormatError, read_wav, write_wav
    from .client import Conversation, channel, format_timings
    from .server.gen.npc.v1 import npc_pb2 as pb

    try:
        audio, rate = read_wav(args.wav)
    except (OSError, EOFError, AudioFormatError) as e:
        print(f"error: cannot read {args.wav}: {e}", file=sys.stderr)
        return EXIT_USAGE
    start = pb.SessionStart(
        character_id=args.character,
        player_id=args.player,
        input_audio=pb.AudioFormat(sample_rate_hz=rate, channels=1),
        output_audio=pb.AudioFormat(sample_rate_hz=args.rate, channels=1),
        # Rendering to a file: no need to wait for playback pace.
        unpaced_audio=True,
    )
    async with channel(args.address) as chan:
        conv = Conversation(chan, start)
        ready = await conv.wait_ready()
        await conv.stream_audio(audio, rate, realtime=args.realtime)
        conv.send(pb.ClientEvent(audio_end=pb.AudioEnd()))
        result = await conv.collect_turn(timeout=args.timeout)
        conv.close()
    for err in result.errors:
        print(f"[error {err.code}] {err.message}", file=sys.stderr)
    print(f"you said: {result.transcript}")
    print(f"{args.character}: {result.text}")
    if result.end is not None:
        print(f"timings: {format_timings(result.end.timings)}")
    if not result.audio:
        print("no audio came back", file=sys.stderr)
        return EXIT_FAIL
    pcm = np.frombuffer(result.pcm, dtype="<i2").astype(np.float32) / 32768.0
    write_wav(args.output, pcm, result.sample_rate or ready.output_audio.sample_rate_hz)
    print(f"reply audio: {args.output} ({result.audio_ms / 1000:.1f} s at {result.sample_rate} Hz)")
    return EXIT_OK


# --- bench ---------------------------------------------------------------------


async def _bench(args: argparse.Namespace) -> int:
    from .bench import run_latency_bench

    return await run_latency_bench(args)


def _write_json(path: Path | None, result: dict[str, object]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")


async def _bench_planner(args: argparse.Namespace) -> int:
    from .world import run_planner_bench
    from .world.bench import format_bench

    if args.nodes < 10 or args.intents < 1:
        print("--nodes must be at least 10 and --intents at least 1", file=sys.stderr)
        return EXIT_USAGE
    result = await asyncio.to_thread(run_planner_bench, args.nodes, args.intents)
    print(format_bench(result))
    _write_json(args.json, result)
    target = 20.0
    met = "met" if float(result["plan_ms_p99"]) <= target else "MISSED"
    print(f"target: plan p99 <= {target:g} ms: {met}")
    return EXIT_OK


async def _bench_actions(args: argparse.Namespace) -> int:
    from .actions_bench import format_actions_bench, run_actions_bench
    from .characters import CharacterNotFound, CharacterStore
    from .config import load_settings
    from .runtime import load_llm

    settings = load_settings(args.config)
    try:
        character = CharacterStore.load(settings.characters_dir).get(args.character)
    except CharacterNotFound as e:
        print(e, file=sys.stderr)
        return EXIT_USAGE
    if not character.actions.verbs:
        print(f"character {character.id} has no verbs (actions.verbs)", file=sys.stderr)
        return EXIT_USAGE
    print("loading the language model", file=sys.stderr)
    llm = await asyncio.to_thread(load_llm, settings)
    try:
        result = await run_actions_bench(llm, character, settings, args.rounds)
    finally:
        await llm.aclose()
    print(format_actions_bench(result))
    _write_json(args.json, result)
    return EXIT_OK


# --- argument parsing ----------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="npc-runtime",
        description="Self-hosted conversational NPCs: speech in; speech, face and actions out.",
        epilog="Run 'npc-runtime COMMAND --help' for a command's options. "
        "Settings also come from NPC_* environment variables (see README).",
    )
    p.add_argument("--version", action="version", version=f"npc-runtime {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "serve", help="run the gRPC server and WebSocket gateway with the configured models"
    )
    s.add_argument("--config", type=Path, help="TOML settings file (env NPC_* overrides it)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 50051; 0 picks a free one)")
    s.add_argument(
        "--ws-port",
        type=int,
        help="WebSocket gateway port (default 8765; 0 picks a free one, -1 turns it off)",
    )
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    s.add_argument("-q", "--quiet", action="store_true", help="no loading progress")
    s.set_defaults(func=_serve)

    def client_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--address", default=DEFAULT_ADDRESS, help=f"server (default {DEFAULT_ADDRESS})"
        )

    c = sub.add_parser("characters", help="list the characters a server can play")
    client_opts(c)
    c.set_defaults(func=_characters)

    ch = sub.add_parser("chat", help="a text conversation with a character in the terminal")
    ch.add_argument("character", help="character id, e.g. jin")
    ch.add_argument("--player", default="terminal", help="player id (memory is keyed by it)")
    ch.add_argument("--no-greeting", action="store_true", help="skip the character's greeting")
    ch.add_argument("--timings", action="store_true", help="print per-stage timings per turn")
    client_opts(ch)
    ch.set_defaults(func=_chat)

    t = sub.add_parser("talk", help="send a WAV of speech, save the spoken reply")
    t.add_argument("character", help="character id, e.g. jin")
    t.add_argument("wav", type=Path, help="16-bit PCM WAV with the player's speech")
    t.add_argument("-o", "--output", type=Path, default=Path("reply.wav"), help="reply WAV")
    t.add_argument("--rate", type=int, default=22_050, help="reply sample rate (8000-48000)")
    t.add_argument("--player", default="terminal")
    t.add_argument("--realtime", action="store_true", help="stream at real-time pace")
    t.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the reply")
    client_opts(t)
    t.set_defaults(func=_talk)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH", required=True)
    bl = bsub.add_parser(
        "latency",
        help="voice turns at real-time pace: p50/p95 per stage and for first audio",
        description="Synthesises questions once with piper, streams them at real-time pace "
        "and measures each turn. Without --address it starts its own server.",
    )
    bl.add_argument("--turns", type=int, default=10, help="voice turns to measure (default 10)")
    bl.add_argument("--warmup", type=int, default=1, help="unmeasured turns first (default 1)")
    bl.add_argument("--character", default="jin")
    bl.add_argument("--address", help="a running server; default: start one")
    bl.add_argument("--json", type=Path, help="also write the numbers to this file")
    bl.add_argument(
        "--compare",
        action="store_true",
        help="run two servers, one with the pipeline overlap (speculation, adaptive end of "
        "speech, early first clause) turned off, and alternate turns between them",
    )
    bl.set_defaults(func=_bench)
    bp = bsub.add_parser(
        "planner",
        help="action planner: plan time p50/p99 on a generated scene (target p99 <= 20 ms)",
        description="Generates a scene of --nodes nodes (places, doors with keys, containers, "
        "portable things) and plans --intents random intents (give, pick_up, move_to, open).",
    )
    bp.add_argument("--nodes", type=int, default=10_000, help="scene size (default 10000)")
    bp.add_argument("--intents", type=int, default=500, help="intents to plan (default 500)")
    bp.add_argument("--json", type=Path, help="also write the numbers to this file")
    bp.set_defaults(func=_bench_planner)
    ba = bsub.add_parser(
        "actions",
        help="how often the configured model picks a valid, sensible action (farm scene)",
        description="Asks the character for things in the demo farm scene (fetch the axe, "
        "open the drawer, small talk...) through the turn's prompt and action schema, and "
        "counts valid, sensible and plannable replies.",
    )
    ba.add_argument("--character", default="jin")
    ba.add_argument("--rounds", type=int, default=2, help="passes over the requests (default 2)")
    ba.add_argument("--config", type=Path, help="settings TOML file")
    ba.add_argument("--json", type=Path, help="also write the results to this file")
    ba.set_defaults(func=_bench_actions)

    from . import load_bench

    load_bench.add_parser(bsub)

    # Knowledge, memory and the memory bench live beside the memory package.
    from .memory import commands as memory_commands

    memory_commands.add_bench_parser(bsub)
    memory_commands.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        logs.setup("warning")
    try:
        code: int = asyncio.run(args.func(args))
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:
        return _report(e)


def _report(e: Exception) -> int:
    import grpc

    from .characters import CharacterError
    from .config import ConfigError

    if isinstance(e, (ConfigError, CharacterError, ValueError)):
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(e, grpc.aio.AioRpcError):
        if e.code() == grpc.StatusCode.UNAVAILABLE:
            print(
                f"error: cannot reach the server ({e.details()}); start it with "
                "'npc-runtime serve' or pass --address",
                file=sys.stderr,
            )
            return EXIT_UNREACHABLE
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return (
            EXIT_USAGE
            if e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
            else EXIT_FAIL
        )
    if isinstance(e, OSError):
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAIL
    raise e


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
