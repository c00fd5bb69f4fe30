"""Memory when Redis fails: outages are survived, a kill -9 loses nothing older than a second."""

from __future__ import annotations

import asyncio
import shutil
import time

from test_memory import HashEmbedder, _eventually, settings_for, short_tmp

from npc_runtime.memory import Memory
from npc_runtime.memory.redis_server import EmbeddedRedis


async def test_outage_skips_recall_fast_and_queues_writes_until_redis_returns() -> None:
    folder = short_tmp()
    server = EmbeddedRedis.start(folder / "redis")
    settings = settings_for(folder, redis_url=server.url, op_timeout_s=0.2)
    memory = await Memory.open(settings, embedder=HashEmbedder())
    try:
        await memory.remember_event(
            "jin", "out", "Before the outage: the player paid.", importance=5
        )
        assert (await memory.recall("jin", "out", "paid")).ok

        server.stop()
        t0 = time.perf_counter()
        first = await memory.recall("jin", "out", "paid")
        again = await memory.recall("jin", "out", "paid")
        assert not first.ok and not again.ok and first.text == ""
        assert time.perf_counter() - t0 < 0.5
        assert memory.stats.recall_failures == 2

        await memory.remember_event(
            "jin", "out", "During the outage: the player sang.", importance=5
        )
        await memory.append_history("jin", "out", "player", "la la la")
        await memory.set_relationship("jin", "out", trust=0.9)
        assert len(memory.queue) == 3 and memory.stats.write_failures == 3
        assert await memory.history("jin", "out") == []

        server = EmbeddedRedis.start(folder / "redis")

        async def written() -> bool:
            return memory.available and len(memory.queue) == 0

        await _eventually(written)
        recall = await memory.recall("jin", "out", "the player sang")
        assert (
            recall.ok and "During the outage" in recall.text and "Before the outage" in recall.text
        )
        assert await memory.history("jin", "out") == [("player", "la la la")]
        assert (await memory.relationship("jin", "out"))["trust"] == 0.9
    finally:
        await memory.close()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_dead_redis_url_at_start_does_not_stop_the_runtime() -> None:
    folder = short_tmp()
    settings = settings_for(folder, redis_url=f"unix://{folder}/nothing-here.sock")
    t0 = time.perf_counter()
    memory = await Memory.open(settings, embedder=HashEmbedder())
    try:
        recall = await memory.recall("jin", "p", "anything")
        assert not recall.ok and time.perf_counter() - t0 < 1.0
        await memory.remember_event("jin", "p", "queued", importance=3)
        assert len(memory.queue) == 1
    finally:
        await memory.close()
        shutil.rmtree(folder, ignore_errors=True)


async def test_kill_9_keeps_memories_older_than_the_fsync_window() -> None:
    folder = short_tmp()
    server = EmbeddedRedis.start(folder / "redis")
    settings = settings_for(folder, redis_url=server.url)
    memory = await Memory.open(settings, embedder=HashEmbedder())
    try:
        for i in range(20):
            await memory.remember_event("jin", "crash", f"Memory number {i}.", importance=3)
        await memory.append_history("jin", "crash", "npc", "Still here.")
        await asyncio.sleep(1.5)  # appendfsync everysec: older writes are on disk
        server.kill()
    finally:
        await memory.close()

    server = EmbeddedRedis.start(folder / "redis")
    memory = await Memory.open(settings, embedder=HashEmbedder())
    try:
        data = await memory.export_player("crash")
        texts = {m["text"] for m in data["characters"]["jin"]["memories"]}
        assert texts == {f"Memory number {i}." for i in range(20)}
        assert await memory.history("jin", "crash") == [("npc", "Still here.")]
    finally:
        await memory.close()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
