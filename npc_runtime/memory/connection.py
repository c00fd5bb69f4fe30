"""The Redis client: a configured URL, or the embedded server.

Calls fail fast instead of retrying: a turn must not wait seconds for a Redis
that is down. The memory service decides what to do on failure (skip recall,
queue writes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..config import MemorySettings, Settings
from .redis_server import EmbeddedRedis, check_version, parse_redis_version

Redis = aioredis.Redis


def configured_url(memory: MemorySettings) -> str:
    """memory.redis_url (NPC_MEMORY__REDIS_URL), else NPC_REDIS_URL, else '' (embedded)."""
    url = memory.redis_url or os.environ.get("NPC_REDIS_URL", "")
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"NPC_REDIS_URL={url!r}: must start with redis://, rediss:// or unix://, "
            "e.g. redis://localhost:6379/0"
        )
    return url


# Ingest, export and forget may move thousands of commands in one call; they are
# not on a turn's path, so they get a client of their own with a patient timeout.
BULK_TIMEOUT_S = 60.0


def client(url: str, memory: MemorySettings, timeout_s: float | None = None) -> Redis:
    if memory.cluster:
        return cluster_client(url, memory, timeout_s)
    kwargs: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout_s or memory.op_timeout_s,
        "socket_connect_timeout": memory.connect_timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "protocol": 2,
    }
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=memory.max_connections,
        timeout=timeout_s or memory.op_timeout_s,
        **kwargs,
    )
    r: Redis = aioredis.Redis.from_pool(pool)
    return r


def cluster_client(url: str, memory: MemorySettings, timeout_s: float | None = None) -> Redis:
    """A Redis Cluster client (memory.cluster), seeded by `url`, one node of the cluster.

    It answers the same calls the store makes on a single server (commands,
    pipelines, transactions on one slot, SCAN over every primary), so it is typed
    as one; keys.py keeps each transaction inside one hash slot."""
    if url.startswith("unix://"):
        raise ValueError("memory.cluster needs a redis:// or rediss:// URL of a cluster node")
    from redis.asyncio.cluster import RedisCluster

    rc = RedisCluster.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_s or memory.op_timeout_s,
        socket_connect_timeout=memory.connect_timeout_s,
        max_connections=memory.max_connections,
        protocol=2,
    )
    return cast(Redis, rc)


async def check_server(r: Redis, where: str) -> None:
    """Raise RedisServerError unless the server has vector sets (Redis 8+)."""
    info: dict[str, Any] = await r.info("server")
    if "redis_version" not in info and info:
        # A cluster client answers per node: {"host:port": {...}}; check each.
        for node, node_info in info.items():
            check_version(
                parse_redis_version(f"redis_version:{node_info.get('redis_version', '')}"),
                f"{where} ({node})",
            )
        return
    check_version(parse_redis_version(f"redis_version:{info.get('redis_version', '')}"), where)


@dataclass
class Connection:
    """A Redis client and, when the runtime started one, its embedded server."""

    redis: Redis  # for turns: fails fast
    bulk: Redis  # for ingest, export, forget: waits
    url: str
    embedded: EmbeddedRedis | None = None

    @classmethod
    def open(cls, settings: Settings, *, fresh: bool = False) -> Connection:
        """Connect to the configured URL or start/reuse the embedded server (blocking)."""
        url = configured_url(settings.memory)
        embedded = None
        if not url:
            embedded = EmbeddedRedis.start(
                settings.data_dir / "redis", settings.memory.redis_server, fresh=fresh
            )
            url = embedded.url
        return cls.to(url, settings.memory, embedded)

    @classmethod
    def to(
        cls, url: str, memory: MemorySettings, embedded: EmbeddedRedis | None = None
    ) -> Connection:
        return cls(client(url, memory), client(url, memory, BULK_TIMEOUT_S), url, embedded)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.bulk.aclose()
        if self.embedded is not None:
            self.embedded.stop()


async def call(r: Redis, *args: Any) -> Any:
    """One command; typed loosely on purpose (replies are decoded str, lists or dicts)."""
    return await r.execute_command(*args)  # type: ignore[no-untyped-call]


def as_str_dict(raw: Any) -> dict[str, str]:
    """A hash reply as a dict, whether it came back as a dict or a flat [k, v, ...] list."""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    it = iter(raw or [])
    return {str(k): str(v) for k, v in zip(it, it, strict=False)}
