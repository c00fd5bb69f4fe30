"""npc-runtime: serve characters over gRPC, talk to them, measure them.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration,
3 server unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, logs

if TYPE_CHECKING:
    from .characters import Character
    from .config import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_ADDRESS = "127.0.0.1:50051"


def _progress(msg: str) -> None:
    print(f"… {msg}", file=sys.stderr, flush=True)


# --- serve ---------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> int:
    from .config import load_settings
    from .runtime import Runtime
    from .server.auth import KeyStore, check_exposure, is_loopback
    from .server.driver import SessionDriver
    from .server.service import server_credentials, start_server
    from .server.ws_gateway import CONVERSE_PATH, ssl_context, start_gateway

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
    cfg = settings.server
    # Keys, exposure and TLS files are checked before the models load.
    keys = KeyStore.from_settings(settings)
    hosts = [cfg.host] + ([cfg.ws_host or cfg.host] if cfg.ws_port >= 0 else [])
    for host in hosts:
        check_exposure(settings, keys, host)
    tls = server_credentials(cfg.tls_cert, cfg.tls_key) is not None
    ssl_context(cfg.tls_cert, cfg.tls_key)
    if not keys.enabled:
        public = [h for h in hosts if not is_loopback(h)]
        print(
            f"warning: no API keys and listening on {', '.join(public)} "
            "(server.allow_insecure_public): anyone who can reach it can use it"
            if public
            else "no API keys configured: listening on loopback only "
            "(create one with 'npc-runtime keys add NAME' to serve other machines)",
            file=sys.stderr,
            flush=True,
        )
    t0 = time.perf_counter()
    runtime = await Runtime.create(settings, progress=None if args.quiet else _progress)
    # One driver: the session limit counts gRPC and WebSocket sessions together.
    driver = SessionDriver(runtime)
    server, port = await start_server(runtime, cfg.host, cfg.port, driver, keys)
    gateway, ws = None, "WebSocket gateway off"
    if cfg.ws_port >= 0:
        ws_host = cfg.ws_host or cfg.host
        try:
            gateway, ws_port = await start_gateway(runtime, ws_host, cfg.ws_port, driver, keys)
        except OSError:
            await server.stop(0)
            raise
        ws = f"{'wss' if tls else 'ws'}://{ws_host}:{ws_port}{CONVERSE_PATH} (WebSocket)"
    print(
        f"npc-runtime {__version__} listening on {cfg.host}:{port} "
        f"({'gRPC with TLS' if tls else 'gRPC'}) and {ws} "
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
    # No new sessions or turns; running turns finish (up to the grace period), then
    # each session ends with Error{UNAVAILABLE}; queued memory writes are flushed below.
    await driver.shutdown(cfg.grace_period_s)
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

    async with channel(args.address, api_key=args.api_key, tls_ca=args.tls_ca) as chan:
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

    async with channel(args.address, api_key=args.api_key, tls_ca=args.tls_ca) as chan:
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
    async with channel(args.address, api_key=args.api_key, tls_ca=args.tls_ca) as chan:
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
    from .bench import parse_env_settings, run_latency_bench

    try:
        args.baseline_env = parse_env_settings(args.baseline_env)
    except ValueError as e:
        print(f"--baseline-env: {e}", file=sys.stderr)
        return EXIT_USAGE
    for given, why in (
        (args.baseline_env, "--baseline-env starts its own two servers"),
        (args.greedy, "--greedy sets the temperature of servers it starts"),
    ):
        if given and args.address:
            print(f"{why}: leave out --address", file=sys.stderr)
            return EXIT_USAGE
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


def _bench_character(args: argparse.Namespace) -> tuple[Settings, Character] | None:
    """Settings and the --character a bench runs with; None (after saying why) if unknown."""
    from .characters import CharacterNotFound, CharacterStore
    from .config import load_settings

    settings = load_settings(args.config)
    try:
        return settings, CharacterStore.load(settings.characters_dir).get(args.character)
    except CharacterNotFound as e:
        print(e, file=sys.stderr)
        return None


async def _bench_injection(args: argparse.Namespace) -> int:
    from .client import spawn_server
    from .injection import format_injection, run_injection_suite

    found = _bench_character(args)
    if found is None:
        return EXIT_USAGE
    _settings, character = found
    proc = None
    address = args.address
    if address is None:
        print("starting a server", file=sys.stderr)
        proc, address = await spawn_server({"NPC_LOG_LEVEL": "warning"})
    try:
        result = await run_injection_suite(address, character)
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()
    print(format_injection(result))
    _write_json(args.json, result)
    held = not result["forbidden_commands"] and not result["memory_leaks"]
    print("forbidden actions and memory leaks: " + ("none" if held else "FOUND"))
    return EXIT_OK if held else EXIT_FAIL


async def _bench_actions(args: argparse.Namespace) -> int:
    from .actions_bench import format_actions_bench, run_actions_bench
    from .runtime import load_llm

    found = _bench_character(args)
    if found is None:
        return EXIT_USAGE
    settings, character = found
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


# --- keys ----------------------------------------------------------------------


def _keys_file(args: argparse.Namespace) -> Path:
    from .config import load_settings
    from .server.auth import keys_path

    if args.keys_file:
        return Path(args.keys_file)
    return keys_path(load_settings(args.config))


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


async def _keys_add(args: argparse.Namespace) -> int:
    from .server.auth import add_key

    path = _keys_file(args)
    key = add_key(path, args.name, _split(args.characters), _split(args.worlds), args.admin)
    print(key)
    print(
        f"key {args.name!r} added to {path} (only its hash is stored): copy it now, it is "
        "not shown again. Clients send it as 'authorization: Bearer <key>' (browsers: "
        "?token=<key>); a running server picks it up on restart.",
        file=sys.stderr,
    )
    return EXIT_OK


async def _keys_list(args: argparse.Namespace) -> int:
    from .server.auth import load_keys_file

    path = _keys_file(args)
    entries = load_keys_file(path) if path.is_file() else []
    if not entries:
        print(f"no keys in {path}", file=sys.stderr)
    for e in entries:
        print(
            f"{e.name:16s} scopes={','.join(e.scopes)} "
            f"characters={','.join(e.characters) or '*'} worlds={','.join(e.worlds) or '*'}"
        )
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
        sp.add_argument(
            "--api-key",
            default=os.environ.get("NPC_API_KEY") or None,
            help="API key for a server with keys (default: env NPC_API_KEY)",
        )
        sp.add_argument(
            "--tls-ca",
            type=Path,
            help="connect with TLS, trusting this PEM certificate (the server's, if self-signed)",
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
    bl.add_argument(
        "--baseline-env",
        action="append",
        default=[],
        metavar="NPC_KEY=VALUE",
        help="compare against a server started with this setting instead (repeatable), "
        "e.g. --baseline-env NPC_LLM__FLASH_ATTN=off: a before/after of one setting in "
        "one run, turns alternating so the machine's load falls on both alike",
    )
    bl.add_argument(
        "--greedy",
        action="store_true",
        help="decode replies greedily (temperature 0): the same questions then get the same "
        "replies, so a comparison measures the setting rather than the sampling",
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
    bi = bsub.add_parser(
        "injection",
        help="prompt-injection suite: 31 attacks; exits 1 on a forbidden action or a leak",
        description="A victim player tells the character a secret; an attacker then tries to "
        "reveal the system prompt, act outside the allowlist and guards, pose as the game "
        "master, exfiltrate the victim's memories and switch the persona. Forbidden commands "
        "and memory leaks fail the run; prompt leaks and persona breaks are reported.",
    )
    bi.add_argument("--character", default="jin")
    bi.add_argument("--address", help="a running server; default: start one")
    bi.add_argument("--config", type=Path, help="settings TOML file (for the character folder)")
    bi.add_argument("--json", type=Path, help="also write the results to this file")
    bi.set_defaults(func=_bench_injection)

    k = sub.add_parser("keys", help="API keys: add (prints the key once, stores its hash), list")
    ksub = k.add_subparsers(dest="keys", metavar="ACTION", required=True)
    ka = ksub.add_parser(
        "add",
        help="create a key",
        description="Creates an API key, prints it once and appends only its SHA-256 hash "
        "to the keys file (server.keys_file, default <data_dir>/keys.toml).",
    )
    ka.add_argument("name", help="who or what the key is for, e.g. kiosk-lobby")
    ka.add_argument("--characters", help="comma-separated character ids it may use (default all)")
    ka.add_argument("--worlds", help="comma-separated world ids it may use (default all)")
    ka.add_argument(
        "--admin", action="store_true", help="also ForgetPlayer, memory export, debug views"
    )
    kl = ksub.add_parser("list", help="the keys in the keys file (names and limits, no secrets)")
    for sp in (ka, kl):
        sp.add_argument("--config", type=Path, help="settings TOML file")
        sp.add_argument("--keys-file", help="keys file (default: server.keys_file)")
    ka.set_defaults(func=_keys_add)
    kl.set_defaults(func=_keys_list)

    from . import load_bench

    load_bench.add_parser(bsub)

    # Knowledge, memory and the memory bench live beside the memory package.
    from .memory import commands as memory_commands

    memory_commands.add_bench_parser(bsub)
    memory_commands.add_parsers(sub)
    from .scene import bench as scene_bench
    from .scene import commands as scene_commands

    scene_bench.add_bench_parser(bsub)
    scene_commands.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        logs.setup("warning")
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args)) as runner:
            code: int = runner.run(args.func(args))
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:
        return _report(e)


def _loop_factory(args: argparse.Namespace) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the server when settings allow and it is installed (None: asyncio's)."""
    if args.command != "serve":
        return None
    from .config import load_settings

    choice = load_settings(args.config).server.event_loop
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ValueError(
                "server.event_loop = 'uvloop' but uvloop is not installed: pip install uvloop"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


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
