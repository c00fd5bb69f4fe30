"""The Node.js client (clients/node, @grpc/grpc-js loading protos/ at run time) against
the live test server: proof that the contract works outside Python."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_CLIENT = ROOT / "clients" / "node"
NODE_TIMEOUT_S = 600

Speak = Callable[[str, int], Awaitable[np.ndarray]]

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="Node.js is not installed (the Node client tests need node >= 18 and npm on PATH)",
)


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """Install the pinned dependencies from package-lock.json once."""
    modules = NODE_CLIENT / "node_modules"
    lock = NODE_CLIENT / "package-lock.json"
    installed = modules / ".package-lock.json"  # npm writes it after a complete install
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_CLIENT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == 0, f"npm ci failed in {NODE_CLIENT}:\n{run.stdout}\n{run.stderr}"
    return modules


@pytest.mark.models
async def test_node_client_runs_a_text_and_a_voice_turn(
    node_modules: Path, server_address: str, speech: Speak, tmp_path: Path
) -> None:
    rate = 16_000
    clip = await speech("Please bring me the axe from the table.", rate)
    pcm = tmp_path / "question.s16le"
    pcm.write_bytes((np.clip(clip, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    # The server runs in this event loop: node must run without blocking it.
    proc = await asyncio.create_subprocess_exec(
        "node",
        "--test",
        "--test-reporter=tap",
        "test/",
        cwd=NODE_CLIENT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={
            **os.environ,
            "NPC_ADDRESS": server_address,
            "NPC_SPEECH_PCM": str(pcm),
            "NPC_SPEECH_RATE": str(rate),
            "NPC_SPEECH_WORDS": "axe,table",
        },
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), NODE_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        pytest.fail(f"node --test hung:\n{out.decode(errors='replace')}")
    report = out.decode(errors="replace")
    assert proc.returncode == 0, f"node --test failed:\n{report}"
    counts = dict(re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", report, re.M))
    assert counts.get("fail") == "0" and counts.get("skipped") == "0", report
    assert int(counts.get("pass", "0")) >= 5, report
