"""The Unity bridge: Runtime/Core plus its console tests, compiled with mcs and run under mono.

The offline part checks the Core library on its own and that every ClientEvent it writes is
proto3 JSON that protobuf itself accepts; the live part talks to the real server over the
WebSocket gateway with the real bundled models (text turn, audio turn, actions).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import json_format

from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
BRIDGE = ROOT / "unity_bridge"
CORE = BRIDGE / "Runtime" / "Core"
SETUP_MONO = ROOT / "scripts" / "setup-mono.sh"
LIVE_TIMEOUT_S = 420

Speak = Callable[[str, int], Awaitable[np.ndarray]]


def _ensure_mono() -> None:
    """Install mcs and mono from Debian's packages when missing (as root), else fail clearly."""
    if shutil.which("mcs") and shutil.which("mono"):
        return
    done = subprocess.run([str(SETUP_MONO)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not (shutil.which("mcs") and shutil.which("mono")):
        pytest.fail(
            "the Unity bridge tests need mono: apt-get install -y --no-install-recommends "
            f"mono-mcs mono-runtime (scripts/setup-mono.sh said: {done.stderr.strip()})"
        )


@pytest.fixture(scope="module")
def bridge_tests_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runtime/Core and Tests/Console compiled together into one console program."""
    _ensure_mono()
    exe = tmp_path_factory.mktemp("unity_bridge") / "npc-bridge-tests.exe"
    cmd = [
        "mcs",
        "-langversion:7",
        "-debug",
        "-warnaserror",
        f"-out:{exe}",
        "-recurse:Runtime/Core/*.cs",
        "-recurse:Tests/Console/*.cs",
    ]
    built = subprocess.run(cmd, cwd=BRIDGE, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"mcs failed:\n{built.stdout}\n{built.stderr}"
    return exe


def _imported_by_unity(rel: Path) -> bool:
    """Unity skips hidden paths and folders whose name ends in "~"."""
    return not any(part.endswith("~") or part.startswith(".") for part in rel.parts)


def test_package_layout() -> None:
    asmdef = json.loads((CORE / "NpcRuntime.Core.asmdef").read_text())
    assert asmdef["noEngineReferences"] is True
    offenders = [
        str(p.relative_to(BRIDGE)) for p in CORE.rglob("*.cs") if "UnityEngine" in p.read_text()
    ]
    assert offenders == [], f"Runtime/Core must stay plain C#: {offenders}"
    package = json.loads((BRIDGE / "package.json").read_text())
    assert package["unity"] == "2021.3"
    for sample in package["samples"]:
        assert (BRIDGE / sample["path"]).is_dir(), sample
    # Unity ignores files without a .meta in a package installed from a git URL.
    missing = [
        str(p.relative_to(BRIDGE))
        for p in BRIDGE.rglob("*")
        if p.suffix != ".meta"
        and _imported_by_unity(p.relative_to(BRIDGE))
        and not p.with_name(p.name + ".meta").exists()
    ]
    assert missing == [], f"run unity_bridge/Tools~/make_meta.py: {missing}"


def test_offline_tests_pass_and_client_events_are_valid_protobuf_json(
    bridge_tests_exe: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "client-events.jsonl"
    run = subprocess.run(
        ["mono", "--debug", str(bridge_tests_exe), "--dump-client-events", str(dump)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"console tests failed:\n{run.stdout}\n{run.stderr}"
    kinds = []
    for line in dump.read_text().splitlines():
        # Strict: an unknown or misspelt field fails here.
        event = json_format.Parse(line, pb.ClientEvent())
        kinds.append(event.WhichOneof("event"))
        if event.HasField("session_start"):
            assert event.session_start.input_audio.encoding == pb.AUDIO_ENCODING_PCM_S16LE
            assert event.session_start.scene.nodes[0].kind == pb.NODE_KIND_PLACE
            assert event.session_start.endpointing.end_of_speech_silence_ms == 400
        if event.HasField("text_input"):
            assert event.text_input.text == 'Tabs\tquotes" and é 😀'
        if event.HasField("action_result"):
            assert event.action_result.status == pb.ACTION_STATUS_STARTED
    expected = {f.name for f in pb.ClientEvent.DESCRIPTOR.oneofs_by_name["event"].fields}
    assert set(kinds) == expected, f"not every ClientEvent was checked: {expected - set(kinds)}"


def _ws_url(ws_address: str) -> str:
    if ws_address.startswith(("ws://", "wss://")):
        return (
            ws_address
            if ws_address.rstrip("/").endswith("/v1/converse")
            else (ws_address.rstrip("/") + "/v1/converse")
        )
    return f"ws://{ws_address}/v1/converse"


@pytest.mark.models
async def test_console_program_against_live_server(
    bridge_tests_exe: Path, ws_address: str, speech: Speak, tmp_path: Path
) -> None:
    clip = await speech("What kind of soup do you have tonight?", 16_000)
    pcm = tmp_path / "question.s16le"
    pcm.write_bytes((np.clip(clip, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    cmd = [
        "mono",
        "--debug",
        str(bridge_tests_exe),
        "--url",
        _ws_url(ws_address),
        "--speech",
        str(pcm),
        "--character",
        "jin",
        "--timeout-s",
        str(LIVE_TIMEOUT_S - 20),
    ]
    # The server runs in this event loop: the program must run without blocking it.
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "MONO_ENV_OPTIONS": ""},
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), LIVE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        pytest.fail(f"the console tests hung:\n{out.decode(errors='replace')}")
    report = out.decode(errors="replace")
    print(report)
    assert proc.returncode == 0, f"console tests failed (exit {proc.returncode}):\n{report}"
    for needed in ("live: text turn", "live: audio turn", "live: action commands"):
        assert f"PASS  {needed}" in report, f"{needed!r} did not pass:\n{report}"
