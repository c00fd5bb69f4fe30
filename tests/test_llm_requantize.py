"""The bundled model's weights re-stored as Q8_0 / Q4_0: same model, cached, safe to interrupt."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import gguf
import numpy as np
import pytest

from npc_runtime.llm import requantize
from npc_runtime.llm.base import ChatMessage, GenerationRequest, LLMError
from npc_runtime.llm.embedded import EmbeddedLLM, bundled_model_path
from npc_runtime.llm.prompt import reply_schema
from npc_runtime.llm.requantize import cached_path, requantized

pytestmark = pytest.mark.models

Q = gguf.GGMLQuantizationType


@pytest.fixture(scope="module")
def q8_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return requantized(bundled_model_path(), "q8_0", tmp_path_factory.mktemp("models"))


def _tensors(path: Path) -> dict[str, tuple[Q, np.ndarray]]:
    reader = gguf.GGUFReader(str(path))
    return {
        t.name: (t.tensor_type, gguf.quants.dequantize(t.data, t.tensor_type))
        for t in reader.tensors
    }


def test_q8_0_copy_holds_the_same_weights(q8_model: Path) -> None:
    original, copy = _tensors(bundled_model_path()), _tensors(q8_model)
    assert copy.keys() == original.keys()
    converted = 0
    for name, (otype, ovalues) in original.items():
        ctype, cvalues = copy[name]
        assert cvalues.shape == ovalues.shape, name
        if otype == Q.Q4_1:
            assert ctype == Q.Q8_0, name
            converted += 1
            # Q4_1 values sit on Q8_0's grid to well under 1% of the weights' size.
            err = float(np.sqrt(np.mean((cvalues - ovalues) ** 2)))
            rms = float(np.sqrt(np.mean(ovalues**2)))
            assert err < 0.01 * rms, (name, err, rms)
        else:
            # Norms (F32) and the Q8_0 embedding are copied bit for bit.
            assert ctype == otype, name
            assert np.array_equal(cvalues, ovalues), name
    assert converted == 210


def test_q8_0_copy_keeps_the_chat_template_and_metadata(q8_model: Path) -> None:
    original, copy = gguf.GGUFReader(str(bundled_model_path())), gguf.GGUFReader(str(q8_model))
    for key in ("tokenizer.chat_template", "general.architecture", "llama.context_length"):
        assert copy.fields[key].contents() == original.fields[key].contents(), key
    assert (
        copy.fields["tokenizer.ggml.tokens"].contents()
        == original.fields["tokenizer.ggml.tokens"].contents()
    )


def test_conversion_is_made_once_and_redone_when_the_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "model.gguf"
    source.write_bytes(bundled_model_path().read_bytes())
    cache = tmp_path / "cache"
    first = requantized(source, "q8_0", cache)
    made = first.stat().st_mtime_ns
    assert requantized(source, "q8_0", cache) == first
    assert first.stat().st_mtime_ns == made  # reused, not rewritten
    # A new version of the source (another size or time) gets its own conversion.
    os.utime(source, ns=(made + 10**9, made + 10**9))
    second = requantized(source, "q8_0", cache)
    assert second != first and second.is_file()
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.name, second.name])


def test_an_interrupted_conversion_leaves_nothing_that_looks_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_halfway(source: Path, dest: Path, target: str) -> int:
        dest.write_bytes(b"GGUF half")
        raise OSError("No space left on device")

    monkeypatch.setattr(requantize, "_convert", fail_halfway)
    with pytest.raises(OSError, match="No space"):
        requantized(bundled_model_path(), "q8_0", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_gguf_is_refused_with_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 64)
    with pytest.raises(LLMError, match=r"could not convert .*bad\.gguf.*llm\.requantize = none"):
        EmbeddedLLM.load(str(bad), requantize="q8_0", cache_dir=tmp_path / "cache")
    assert not cached_path(bad, "q8_0", tmp_path / "cache").exists()


def test_an_unwritable_cache_falls_back_to_the_shipped_weights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="npc_runtime.llm.embedded"):
        engine = EmbeddedLLM.load(n_ctx=512, n_parallel=1, cache_dir=blocked / "models")
    try:
        assert engine.model_path == bundled_model_path()
    finally:
        asyncio.run(engine.aclose())
    assert "loading it as shipped" in caplog.text and "requantize_cache_dir" in caplog.text
    # Asked for by name, the conversion is required: the error says what to do.
    with pytest.raises(LLMError, match=r"could not write q8_0 weights.*requantize_cache_dir"):
        EmbeddedLLM.load(n_ctx=512, requantize="q8_0", cache_dir=blocked / "models")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(LLMError, match="requantize must be auto, none, q8_0 or q4_0"):
        EmbeddedLLM.load(requantize="q2_k")  # type: ignore[arg-type]


def test_q4_0_copy_is_q4_0_and_close(tmp_path: Path) -> None:
    path = requantized(bundled_model_path(), "q4_0", tmp_path)
    original, copy = _tensors(bundled_model_path()), _tensors(path)
    ctype, cvalues = copy["blk.0.ffn_down.weight"]
    otype, ovalues = original["blk.0.ffn_down.weight"]
    assert (otype, ctype) == (Q.Q4_1, Q.Q4_0)
    # Re-rounded to a coarser symmetric grid: close, not the same (why it is not "auto").
    rel = float(np.sqrt(np.mean((cvalues - ovalues) ** 2)) / np.sqrt(np.mean(ovalues**2)))
    assert 0.01 < rel < 0.2


async def test_the_converted_model_answers_in_the_reply_schema(tmp_path: Path) -> None:
    engine = await EmbeddedLLM.aload(
        n_ctx=2048, n_parallel=1, requantize="q8_0", cache_dir=tmp_path
    )
    try:
        system = (
            "You are Bram, a gruff old blacksmith. You answer in one or two short sentences. "
            'Reply with JSON: "emotion", "say" (what you say), "actions" (empty).'
        )
        request = GenerationRequest(
            messages=[ChatMessage("system", system), ChatMessage("user", "Is the forge hot?")],
            max_tokens=200,
            seed=2,
            json_schema=reply_schema(160),
        )
        async with engine.stream(request) as s:
            text = "".join([d async for d in s])
    finally:
        await engine.aclose()
    reply = json.loads(text)
    assert set(reply) == {"emotion", "say", "actions"}
    assert reply["say"].strip()
    # The converted file is the only thing left in the cache folder.
    assert [Path(name).suffix for name in os.listdir(tmp_path)] == [".gguf"]
