"""`npc-runtime kb …`, `memory …` and `bench memory`: parsers and handlers.

Kept here so the main CLI only mounts them. Each command opens the memory the
way the server does (NPC_REDIS_URL or the embedded Redis in the data folder),
so it sees, and changes, exactly what a running server sees.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..characters import Character
    from .service import Memory

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
Handler = Callable[[argparse.Namespace], Awaitable[int]]


def _friendly(fn: Handler) -> Handler:
    """Memory errors as one clear line and an exit code, not a traceback."""

    async def run(args: argparse.Namespace) -> int:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        from .embedders import EmbedderError
        from .meta import IndexMismatch
        from .redis_server import RedisServerError

        try:
            return await fn(args)
        except (RedisServerError, IndexMismatch, EmbedderError) as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_FAIL
        except (RedisConnectionError, RedisTimeoutError) as e:
            print(
                f"error: cannot reach Redis ({e}); check NPC_REDIS_URL or unset it to use "
                "the embedded server",
                file=sys.stderr,
            )
            return EXIT_FAIL

    return run


@contextlib.asynccontextmanager
async def _opened(args: argparse.Namespace) -> AsyncIterator[Memory]:
    """The memory a server with these settings would use; closed (and its Redis stopped,
    if this command started it) on the way out."""
    from ..config import load_settings
    from .service import Memory

    memory = await Memory.open(load_settings(args.config))
    try:
        yield memory
    finally:
        await memory.close()


def _character(memory: Memory, character_id: str) -> Character:
    from ..characters import CharacterStore

    return CharacterStore.load(memory.settings.characters_dir).get(character_id)


@_friendly
async def kb_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # type: ignore[import-untyped]

    from .knowledge import collections_of, documents_in

    async with _opened(args) as memory:
        character = _character(memory, args.character)
        folders = collections_of(character, memory.settings.characters_dir)
        total = sum(len(documents_in(folder)) for _, folder in folders)
        with tqdm(total=total, unit="doc", desc=f"ingest {character.id}", file=sys.stderr) as bar:

            def progress(source: str, what: str) -> None:
                bar.set_postfix_str(f"{what} {source}"[:50])
                if what != "removed":
                    bar.update(1)

            reports = await memory.ingest(character, rebuild=args.rebuild, progress=progress)
        for r in reports:
            print(
                f"{r.collection}: {len(r.added)} added, {len(r.replaced)} replaced, "
                f"{len(r.removed)} removed, {len(r.skipped)} unchanged ({r.chunks} chunks embedded)"
            )
    return EXIT_OK


@_friendly
async def kb_search(args: argparse.Namespace) -> int:
    async with _opened(args) as memory:
        character = _character(memory, args.character)
        hits = await memory.search_knowledge(character, args.question, args.count)
    if not hits:
        print(f"no knowledge found; run: npc-runtime kb ingest {args.character}")
        return EXIT_OK
    for h in hits:
        text = " ".join(h.text.split())
        print(f"{h.score:.3f}  {h.source}  [{h.heading}]\n       {text[:300]}")
    return EXIT_OK


@_friendly
async def memory_show(args: argparse.Namespace) -> int:
    async with _opened(args) as memory:
        data = await memory.export_player(args.player, args.character)
    if not data["characters"]:
        print(f"nothing stored about player {args.player!r}")
        return EXIT_OK
    for cid, entry in sorted(data["characters"].items()):
        print(f"== {cid} and player {args.player}")
        rel = entry.get("relationship")
        if rel:
            print(
                f"relationship: trust {rel['trust']:+.2f}, affinity {rel['affinity']:+.2f}, "
                f"{rel['emotion']} ({rel['intensity']:.2f})"
            )
        mems = entry.get("memories", [])
        print(f"memories ({len(mems)}):")
        for m in mems:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["t"]))
            game = f" game {m['g']:.1f} h" if "g" in m else ""
            print(f"  {when}{game} [{m['kind']}, importance {m['imp']:.1f}] {m['text']}")
        lines = entry.get("history", [])
        print(f"history ({len(lines)} lines):")
        for line in lines:
            print(f"  {line['role']}: {line['text']}")
    return EXIT_OK


@_friendly
async def memory_export(args: argparse.Namespace) -> int:
    async with _opened(args) as memory:
        data = await memory.export_player(args.player, args.character)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return EXIT_OK


@_friendly
async def memory_forget(args: argparse.Namespace) -> int:
    async with _opened(args) as memory:
        n = await memory.forget_player(args.player, args.character)
    scope = f" with {args.character}" if args.character else ""
    print(f"forgot player {args.player!r}{scope}: {n} keys removed")
    return EXIT_OK


@_friendly
async def bench_memory(args: argparse.Namespace) -> int:
    from .bench import run_memory_bench

    return await run_memory_bench(args)


def _config_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML settings file (env NPC_* overrides it)")


def add_parsers(sub: Any) -> None:
    """Mount `kb` and `memory` on the main CLI's subcommands."""
    kb = sub.add_parser("kb", help="character knowledge: ingest documents, search them")
    kbsub = kb.add_subparsers(dest="kb", metavar="KB_COMMAND", required=True)
    ki = kbsub.add_parser(
        "ingest",
        help="embed a character's knowledge folder and its shared lore (idempotent)",
        description="Reads characters/<id>/knowledge/ and characters/_shared/<name>/ for each "
        "shared lore name the character lists. Unchanged documents are skipped, changed ones "
        "replaced, deleted ones removed.",
    )
    ki.add_argument("character", help="character id, e.g. jin")
    ki.add_argument(
        "--rebuild",
        action="store_true",
        help="drop and re-embed everything (after an embedder change)",
    )
    _config_opt(ki)
    ki.set_defaults(func=kb_ingest)
    ks = kbsub.add_parser("search", help="the knowledge a character would recall for a question")
    ks.add_argument("character", help="character id, e.g. jin")
    ks.add_argument("question")
    ks.add_argument("-k", "--count", type=int, default=5, help="hits to show (default 5)")
    _config_opt(ks)
    ks.set_defaults(func=kb_search)

    mem = sub.add_parser(
        "memory", help="what characters remember about a player: show, export, forget"
    )
    msub = mem.add_subparsers(dest="memory", metavar="MEMORY_COMMAND", required=True)
    for name, func, text in (
        ("show", memory_show, "print memories, history and relationship of a player"),
        ("export", memory_export, "everything stored about a player, as JSON"),
        ("forget", memory_forget, "delete everything stored about a player"),
    ):
        m = msub.add_parser(name, help=text)
        m.add_argument("--player", required=True, help="player id")
        m.add_argument("--character", help="only this character (default: all)")
        if name == "export":
            m.add_argument("-o", "--output", type=Path, help="write to this file (default stdout)")
        _config_opt(m)
        m.set_defaults(func=func)


def add_bench_parser(bsub: Any) -> None:
    """Mount `bench memory` on the main CLI's bench subcommands."""
    b = bsub.add_parser(
        "memory",
        help="recall latency and ingest throughput at 10k and 100k memories",
        description="Runs on a throwaway Redis of its own (never your data). Embeds a pool of "
        "distinct texts once, stores memories from those vectors with small random changes, "
        "and reports query embedding time separately from search time.",
    )
    b.add_argument(
        "--sizes", default="10000,100000", help="memory counts to measure (default 10000,100000)"
    )
    b.add_argument("--pool", type=int, default=2000, help="distinct texts embedded (default 2000)")
    b.add_argument("--queries", type=int, default=300, help="recalls timed per size (default 300)")
    b.add_argument("--json", type=Path, help="also write the numbers to this file")
    b.set_defaults(func=bench_memory)
