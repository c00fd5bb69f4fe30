"""The memory store on a 3-node Redis Cluster started here (memory.cluster = true)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.crc import key_slot

from npc_runtime.characters import CharacterStore
from npc_runtime.config import load_settings
from npc_runtime.memory import Memory, keys
from npc_runtime.memory.redis_server import find_redis_server

pytestmark = pytest.mark.models  # the real embedder

SLOTS = [(0, 5460), (5461, 10922), (10923, 16383)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    folder = tmp_path_factory.mktemp("cluster")
    binary = find_redis_server()
    ports = [_free_port() for _ in SLOTS]
    # Bus ports of our own: the default (port + 10000) may not exist.
    buses = [_free_port() for _ in SLOTS]
    procs = []
    try:
        for port, bus in zip(ports, buses, strict=True):
            d = folder / str(port)
            d.mkdir()
            # fmt: off
            procs.append(subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(d),
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                 "--cluster-port", str(bus),
                 "--save", "", "--appendonly", "no", "--logfile", str(d / "redis.log")],
                stdout=subprocess.DEVNULL,
            ))
            # fmt: on
        nodes = [redis.Redis(port=p, decode_responses=True) for p in ports]
        _wait(lambda: all(_pings(n) for n in nodes))
        for node, (a, b) in zip(nodes, SLOTS, strict=True):
            node.execute_command("CLUSTER", "ADDSLOTSRANGE", a, b)
        for port, bus in zip(ports[1:], buses[1:], strict=True):
            nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
        _wait(lambda: all(n.cluster("info")["cluster_state"] == "ok" for n in nodes))
        for n in nodes:
            n.close()
        yield ports
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def _pings(n: redis.Redis) -> bool:
    try:
        return bool(n.ping())
    except redis.ConnectionError:
        return False


def _wait(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the cluster did not come up"
        time.sleep(0.1)


@pytest.fixture(scope="module")
async def memory(
    cluster: list[int], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Memory]:
    settings = load_settings(
        data_dir=tmp_path_factory.mktemp("data"),
        memory={"redis_url": f"redis://127.0.0.1:{cluster[0]}/0", "cluster": True},
    )
    mem = await Memory.open(settings)
    yield mem
    await mem.close()


def _node_of(ports: list[int], key: str) -> int:
    slot = key_slot(key.encode())
    return next(p for p, (a, b) in zip(ports, SLOTS, strict=True) if a <= slot <= b)


async def test_memories_history_and_forget_across_shards(
    memory: Memory, cluster: list[int]
) -> None:
    players = [f"player-{i}" for i in range(6)]
    assert len({_node_of(cluster, keys.history("jin", p)) for p in players}) > 1  # spread out
    for p in players:
        await memory.remember_turn(
            "jin",
            p,
            player_text=f"I am {p} and I love tonkotsu ramen.",
            heard_text="Good taste.",
            add_history=True,
        )
        await memory.set_relationship("jin", p, trust=0.5, emotion="joy")
    assert memory.available and memory.stats.write_failures == 0
    for p in players:
        assert await memory.history("jin", p) == [
            ("player", f"I am {p} and I love tonkotsu ramen."),
            ("npc", "Good taste."),
        ]
        assert (await memory.relationship("jin", p))["trust"] == pytest.approx(0.5)
        recall = await memory.recall("jin", p, "what soup do I like?", budget_tokens=300)
        assert recall.ok and any(p in m.text for m in recall.memories), recall
    exported = await memory.export_player(players[0])
    assert exported["characters"]["jin"]["history"][0]["text"].startswith("I am player-0")
    assert await memory.forget_player(players[0]) >= 3
    assert await memory.history("jin", players[0]) == []
    assert await memory.history("jin", players[1])  # the others are untouched


async def test_knowledge_ingest_and_search(memory: Memory) -> None:
    jin = CharacterStore.load(memory.settings.characters_dir).get("jin")
    reports = await memory.ingest(jin)
    assert sum(r.chunks for r in reports) > 0
    hits = await memory.search_knowledge(jin, "how much is a bowl of tonkotsu", 3)
    assert hits and any("tonkotsu" in h.text.lower() for h in hits)
    again = await memory.ingest(jin)  # idempotent on the cluster too
    assert all(not r.added and not r.replaced for r in again)
