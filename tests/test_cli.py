"""The npc-runtime command line, run as a user would run it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.audio import read_wav, write_wav

Speak = Callable[[str, int], Awaitable[np.ndarray]]


async def _run(
    *args: str, stdin: str = "", timeout: float = 300, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_help_explains_every_command() -> None:
    code, out, _ = await _run("--help")
    assert code == 0
    for command in ("serve", "chat", "talk", "characters", "bench"):
        assert command in out


@pytest.mark.models
async def test_talk_sends_speech_and_saves_the_spoken_reply(
    server_address: str, speech: Speak, tmp_path: Path
) -> None:
    question = tmp_path / "question.wav"
    write_wav(question, await speech("Please bring me the axe from the table.", 22_050), 22_050)
    reply = tmp_path / "reply.wav"
    code, out, err = await _run(
        "talk",
        "jin",
        str(question),
        "-o",
        str(reply),
        "--rate",
        "16000",
        "--address",
        server_address,
    )
    assert code == 0, err
    assert "axe" in out.lower()
    assert re.search(r"jin: \S", out)
    assert "asr" in out and "first audio sent at" in out
    audio, rate = read_wav(reply)
    assert rate == 16_000 and audio.size > 8_000


@pytest.mark.models
async def test_chat_is_a_text_conversation(server_address: str) -> None:
    code, out, err = await _run(
        "chat",
        "nova",
        "--no-greeting",
        "--timings",
        "--address",
        server_address,
        stdin="What GPU do you use?\n",
    )
    assert code == 0, err
    assert "nova> " in out and len(out.split("nova> ", 1)[1].strip()) > 0
    assert "llm first token" in err


@pytest.mark.models
async def test_characters_lists_the_server_cast(server_address: str) -> None:
    code, out, _ = await _run("characters", "--address", server_address)
    assert code == 0
    assert "jin" in out and "nova" in out


async def test_unreachable_server_exits_3_with_a_hint() -> None:
    code, _, err = await _run("characters", "--address", "127.0.0.1:9")
    assert code == 3
    assert "npc-runtime serve" in err


async def test_unreadable_wav_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not a wav")
    code, _, err = await _run("talk", "jin", str(bad), "--address", "127.0.0.1:9")
    assert code == 2
    assert "cannot read" in err


async def test_bad_setting_exits_2_and_names_the_variable() -> None:
    code, _, err = await _run("serve", "--port", "0", env={"NPC_LLM__TEMPERATURE": "9"})
    assert code == 2
    assert "NPC_LLM__TEMPERATURE" in err


@pytest.mark.models
async def test_serve_starts_answers_health_and_stops_on_sigterm() -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from npc_runtime.client import channel, spawn_server

    proc, address = await spawn_server()
    async with channel(address) as chan:
        resp = await health_pb2_grpc.HealthStub(chan).Check(health_pb2.HealthCheckRequest())
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


@pytest.mark.models
async def test_serve_on_a_busy_port_says_so_and_exits_1() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await _run("serve", "--port", str(port), "--quiet")
    assert code == 1
    assert "in use" in err and "Traceback" not in err


async def test_bench_baseline_setting_that_is_not_a_setting_exits_2() -> None:
    code, _, err = await _run("bench", "latency", "--baseline-env", "FLASH_ATTN")
    assert code == 2
    assert "is not NPC_KEY=VALUE" in err and "NPC_LLM__FLASH_ATTN=auto" in err


async def test_misspelled_setting_exits_2_with_the_likely_name() -> None:
    code, _, err = await _run("serve", "--port", "0", env={"NPC_LLM__FLASH_ATN": "off"})
    assert code == 2
    assert "NPC_LLM__FLASH_ATN: no such setting; did you mean NPC_LLM__FLASH_ATTN?" in err


async def test_bench_baseline_with_a_misspelled_setting_exits_2_before_starting_servers() -> None:
    code, _, err = await _run("bench", "latency", "--baseline-env", "NPC_ASR__WINDOWS=4")
    assert code == 2
    assert "did you mean NPC_ASR__WINDOW_S?" in err
    assert "starting a server" not in err


async def test_bench_greedy_on_a_running_server_exits_2() -> None:
    code, _, err = await _run("bench", "latency", "--greedy", "--address", "127.0.0.1:1")
    assert code == 2
    assert "--greedy sets the temperature of servers it starts: leave out --address" in err


@pytest.mark.models
async def test_bench_latency_compares_a_setting_against_the_defaults_turn_by_turn(
    tmp_path: Path,
) -> None:
    out_json = tmp_path / "latency.json"
    code, out, err = await _run(
        "bench",
        "latency",
        "--turns",
        "1",
        "--warmup",
        "0",
        "--baseline-env",
        "NPC_LLM__FLASH_ATTN=off",
        "--greedy",
        "--json",
        str(out_json),
        timeout=600,
    )
    assert code == 0, err
    assert "baseline p50" in out and "default p50" in out
    doc = json.loads(out_json.read_text())
    greedy = {"NPC_LLM__TEMPERATURE": "0"}
    assert doc["configs"] == {
        "baseline": {**greedy, "NPC_LLM__FLASH_ATTN": "off"},
        "default": greedy,
    }
    for name in ("baseline", "default"):
        (row,) = doc["all_rows"][name]
        assert row["transcript"] and row["reply"]
        assert row["client_first_audio_ms"] > 0
