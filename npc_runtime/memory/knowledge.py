"""Knowledge (RAG): document folders → chunks → one vector set per collection.

A character reads its own collection (``characters/<id>/knowledge/``) plus the
shared lore collections it lists (``characters/_shared/<name>/``), never
another character's. Ingest is idempotent per document: each document's
content hash is kept beside the vectors, so unchanged documents are skipped,
changed ones replaced and deleted ones removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..characters import Character
from . import keys
from .chunking import chunk_markdown
from .connection import Redis, as_str_dict, call
from .embedders import AsyncEmbedder
from .meta import check_meta
from .vectors import Command, parse_vsim, vadd, vsim

log = logging.getLogger(__name__)

DOC_SUFFIXES = (".md", ".markdown", ".txt")
_ABSENT_TTL_S = 10.0
SHARED_FOLDER = "_shared"


@dataclass(frozen=True)
class Hit:
    text: str
    source: str  # "<collection>:<path in the folder>"
    heading: str
    score: float  # cosine similarity to the question


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    chunks: int = 0


def collections_of(character: Character, characters_dir: Path) -> list[tuple[str, Path]]:
    """(collection name, folder) a character may read: its own, then its shared lore."""
    out = [(keys.character_collection(character.id), character.folder / "knowledge")]
    for name in character.knowledge.shared:
        out.append((keys.lore_collection(name), characters_dir / SHARED_FOLDER / name))
    return out


def documents_in(folder: Path) -> dict[str, str]:
    """Path inside the folder → text, for every Markdown/text document in it."""
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix.lower() in DOC_SUFFIXES
    }


def _rebuild_hint(collection: str) -> str:
    target = collection.split(":", 1)[1] if collection.startswith("char:") else "<character>"
    return (
        f"re-ingest it with the configured embedder: npc-runtime kb ingest {target} --rebuild "
        "(or set memory.embedder back to the model it was built with)"
    )


class KnowledgeBase:
    def __init__(
        self, redis: Redis, embedder: AsyncEmbedder, chunk_tokens: int, bulk: Redis | None = None
    ) -> None:
        self.redis = redis  # searches: fail fast
        self.bulk = bulk or redis  # ingest: may take a while
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        # Collections whose recorded embedder matched; checked once per process.
        self._checked: set[str] = set()
        # Collections found empty, and when: looked at again after _ABSENT_TTL_S, so an
        # ingest by another process is noticed without a lookup on every turn.
        self._absent: dict[str, float] = {}

    async def _check(self, collection: str, *, record: bool) -> bool:
        if collection in self._checked:
            return True
        if not record and time.monotonic() - self._absent.get(collection, -1e9) < _ABSENT_TTL_S:
            return False
        ok = await check_meta(
            self.redis,
            keys.kb_meta(collection),
            self.embedder.name,
            await self.embedder.dim(),
            what=f"the knowledge collection {collection!r}",
            fix=_rebuild_hint(collection),
            record=record,
        )
        if ok:
            self._checked.add(collection)
            self._absent.pop(collection, None)
        else:
            self._absent[collection] = time.monotonic()
        return ok

    async def drop(self, collection: str) -> None:
        await self.bulk.delete(
            keys.kb_vectors(collection), keys.kb_documents(collection), keys.kb_meta(collection)
        )
        self._checked.discard(collection)

    async def ingest(
        self,
        collection: str,
        folder: Path,
        *,
        rebuild: bool = False,
        progress: Callable[[str, str], None] | None = None,
    ) -> IngestReport:
        """Bring `collection` in line with the documents in `folder`.

        progress(source, what) is called once per document: what is one of
        "added", "replaced", "removed", "skipped".
        """
        if rebuild:
            await self.drop(collection)
        await self._check(collection, record=True)
        report = IngestReport(collection)
        docs = documents_in(folder)
        stored_raw = as_str_dict(await call(self.bulk, "HGETALL", keys.kb_documents(collection)))
        stored = {src: json.loads(v) for src, v in stored_raw.items()}
        vec_key = keys.kb_vectors(collection)

        for source in sorted(set(stored) - set(docs)):
            async with self.bulk.pipeline(transaction=True) as pipe:
                for i in range(int(stored[source]["chunks"])):
                    pipe.execute_command("VREM", vec_key, f"{source}#{i}")
                pipe.hdel(keys.kb_documents(collection), source)
                await pipe.execute()
            report.removed.append(source)
            if progress:
                progress(source, "removed")

        for source, text in docs.items():
            digest = hashlib.sha256(f"{self.chunk_tokens}\n{text}".encode()).hexdigest()
            old = stored.get(source)
            if old is not None and old["hash"] == digest:
                report.skipped.append(source)
                if progress:
                    progress(source, "skipped")
                continue
            chunks = chunk_markdown(text, self.chunk_tokens)
            vectors = await self.embedder.passages([c.embed_text() for c in chunks])
            async with self.bulk.pipeline(transaction=True) as pipe:
                for i in range(int(old["chunks"]) if old else 0):
                    pipe.execute_command("VREM", vec_key, f"{source}#{i}")
                for i, (chunk, vector) in enumerate(zip(chunks, vectors, strict=True)):
                    attrs = {"text": chunk.text, "heading": chunk.heading, "source": source}
                    pipe.execute_command(*vadd(vec_key, vector, f"{source}#{i}", attrs))
                pipe.hset(
                    keys.kb_documents(collection),
                    source,
                    json.dumps({"hash": digest, "chunks": len(chunks)}),
                )
                await pipe.execute()
            report.chunks += len(chunks)
            (report.replaced if old else report.added).append(source)
            if progress:
                progress(source, "replaced" if old else "added")
        return report

    async def live(self, collections: list[str]) -> list[str]:
        """The collections that hold knowledge of this embedder (IndexMismatch if another's)."""
        return [c for c in collections if await self._check(c, record=False)]

    @staticmethod
    def search_commands(live: list[str], vector: np.ndarray, count: int) -> list[Command]:
        """VSIMs for `live` collections; to share one round trip with other reads."""
        return [vsim(keys.kb_vectors(c), vector, count) for c in live] if count > 0 else []

    @staticmethod
    def hits(live: list[str], replies: list[Any], count: int) -> list[Hit]:
        """The `count` best hits from the replies to search_commands()."""
        hits = [
            Hit(
                text=str(attrs.get("text", "")),
                source=f"{c}:{attrs.get('source', element)}",
                heading=str(attrs.get("heading", "")),
                score=score,
            )
            for c, reply in zip(live, replies, strict=True)
            for element, score, attrs in parse_vsim(reply)
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:count]

    async def search(self, collections: list[str], vector: np.ndarray, count: int) -> list[Hit]:
        """The `count` nearest chunks over `collections`, best first."""
        live = await self.live(collections)
        cmds = self.search_commands(live, vector, count)
        if not cmds:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cmd in cmds:
                pipe.execute_command(*cmd)
            replies = await pipe.execute()
        return self.hits(live, replies, count)

    async def documents(self, collection: str) -> dict[str, int]:
        """source → number of chunks, as stored."""
        raw = as_str_dict(await call(self.redis, "HGETALL", keys.kb_documents(collection)))
        return {src: int(json.loads(v)["chunks"]) for src, v in raw.items()}
