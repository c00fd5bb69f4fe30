"""Scale-out: two runtime processes on one Redis, and the load bench against them.

A player who talks to one process and reconnects to the other keeps the
conversation and what the character remembers: nothing that matters lives in
a process. The LLM is scripted (llm.backend = "scripted"); everything else,
the embedder and Redis included, is real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from npc_runtime.cli import build_parser
from npc_runtime.client import Conversation, channel, spawn_server_http
from npc_runtime.load_bench import run_load_bench
from npc_runtime.memory import keys
from npc_runtime.memory.redis_server import EmbeddedRedis
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb

pytestmark = pytest.mark.models


@dataclasses.dataclass
class Proc:
    process: asyncio.subprocess.Process
    address: str  # gRPC
    http: str  # the gateway, host:port


@dataclasses.dataclass
class Cluster:
    redis_url: str
    a: Proc
    b: Proc


@pytest.fixture(scope="module")
async def two(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    folder = tmp_path_factory.mktemp("scale")
    redis = EmbeddedRedis.start(folder / "redis", fresh=True)
    env = {
        "NPC_REDIS_URL": redis.url,
        "NPC_LLM__BACKEND": "scripted",
        "NPC_DATA_DIR": str(folder / "data"),
        "NPC_LOG_LEVEL": "warning",
    }
    procs: list[Proc] = []
    try:
        # One after the other: the first ingests the knowledge, the second finds it done.
        for _ in range(2):
            process, address, http = await spawn_server_http(env)
            procs.append(Proc(process, address, http))
        yield Cluster(redis.url, procs[0], procs[1])
    finally:
        for p in procs:
            p.process.terminate()
            await p.process.wait()
        redis.stop()


async def _debug(http: str, session_id: str) -> dict[str, Any]:
    url = f"http://{http}/v1/sessions/{session_id}/debug"
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data


async def _turn(conv: Conversation, text: str) -> pb.TurnEnd:
    conv.send_text(text)
    result = await conv.collect_turn(timeout=60)
    assert result.end is not None, [e.message for e in result.errors]
    return result.end


async def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_player_keeps_history_and_memories_on_another_process(two: Cluster) -> None:
    player = f"kestrel-{uuid.uuid4().hex[:6]}"
    said = "My name is Kestrel and I lost my grandfather's silver axe by the river."
    start = pb.SessionStart(character_id="jin", player_id=player, text_only=True)
    async with channel(two.a.address) as chan:
        conv = Conversation(chan, start)
        await conv.wait_ready()
        await _turn(conv, said)
        conv.close()
        while await conv.next() is not None:
            pass

    # The first process writes history, then the embedded memory, in the background.
    r = aioredis.Redis.from_url(two.redis_url, decode_responses=True)
    try:

        async def stored() -> bool:
            lines = await r.llen(keys.history("jin", player))  # type: ignore[misc]
            memories = await r.llen(keys.recent("jin", player))  # type: ignore[misc]
            return bool(lines >= 2 and memories >= 1)

        await _wait_for(stored)
    finally:
        await r.aclose()

    async with channel(two.b.address) as chan:
        conv = Conversation(chan, start)
        ready = await conv.wait_ready()
        # The conversation so far, loaded from Redis by the other process...
        view = await _debug(two.b.http, ready.session_id)
        assert [e["player"] for e in view["history"]] == [said]
        # ...and the memory of it, recalled into the next prompt.
        await _turn(conv, "Have you seen my silver axe?")
        view = await _debug(two.b.http, ready.session_id)
        recalled = view["last_turn"]["recall"]
        assert recalled["ok"], recalled
        # The memory of that exchange is stored (checked above) but not recalled into this
        # prompt: the history already carries it, and every prompt token costs time.
        assert not any("Kestrel" in m["text"] for m in recalled["memories"]), recalled
        assert len(view["history"]) == 2
        conv.close()
        while await conv.next() is not None:
            pass


async def test_bench_load_on_fake_backends(two: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    args = build_parser().parse_args(
        [
            "bench",
            "load",
            "--fake",
            "--address",
            two.a.address,
            "--sessions",
            "6",
            "--turns",
            "3",
            "--think-ms",
            "20",
            "--json",
            str(out),
        ]
    )
    assert args.func is run_load_bench
    assert await run_load_bench(args) == 0
    doc = json.loads(out.read_text())
    s = doc["summary"]
    assert s["turns"] == 18 and s["errors"] == 0 and s["turns_per_s"] > 0
    for name in ("first_text_ms", "turn_end_ms", "overhead_ms"):
        assert 0 <= s[name]["p50"] <= s[name]["p95"] <= s[name]["p99"] <= s[name]["max"], name
    assert "first_audio_ms" not in s  # text-only sessions
    assert all(r["turn_end_ms"] >= r["first_text_ms"] for r in doc["rows"])
