"""EmbeddedLLM with the real llama.cpp engine and the real bundled SmolLM2-135M."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_slots import busy_slots

from npc_runtime.llm.base import (
    ChatMessage,
    GenerationRequest,
    LLMError,
    StreamState,
)
from npc_runtime.llm.embedded import (
    EmbeddedLLM,
    EmbeddedStream,
    bundled_model_path,
    prefill_for,
)
from npc_runtime.llm.json_stream import FieldValue, ReplyStreamParser, SayDelta, SayDone

pytestmark = pytest.mark.models

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "emotion": {"type": "string", "enum": ["neutral", "joy", "anger", "fear"]},
        "say": {"type": "string", "minLength": 1, "maxLength": 160},
        "actions": {"type": "array", "maxItems": 0, "items": {"type": "object"}},
    },
    "required": ["emotion", "say", "actions"],
}
# The spoken line first (llm.reply_order = "say_first", the default).
SAY_FIRST: dict[str, Any] = {
    "type": "object",
    "properties": {k: SCHEMA["properties"][k] for k in ("say", "emotion", "actions")},
    "required": ["say", "emotion", "actions"],
}
SYSTEM = (
    "You are Bram, a gruff old blacksmith in the village of Hollowmere. You answer in one or "
    'two short sentences. Reply with JSON: "emotion", "say" (what you say), "actions" (empty).'
)


def chat(text: str, **kw: Any) -> GenerationRequest:
    return GenerationRequest([ChatMessage("system", SYSTEM), ChatMessage("user", text)], **kw)


def endless(llm: EmbeddedLLM) -> EmbeddedStream:
    """A reply that would run for all 400 tokens (several seconds) unless cancelled."""
    body = llm.request_body(chat("Tell me the long history of your forge.", max_tokens=400))
    body["ignore_eos"] = True  # llama.cpp option: never stop early on its own
    return EmbeddedStream(llm, body)


@pytest.fixture(scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    engine = await EmbeddedLLM.aload(n_ctx=4096, n_parallel=2)
    yield engine
    await engine.aclose()


@pytest.fixture(scope="module")
async def one_slot() -> AsyncIterator[EmbeddedLLM]:
    """One slot: a second request waits until the first stops decoding."""
    engine = await EmbeddedLLM.aload(n_ctx=2048, n_parallel=1)
    yield engine
    await engine.aclose()


def test_bundled_model_is_the_smollm2_gguf() -> None:
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


async def test_stream_yields_text_and_fills_stats(llm: EmbeddedLLM) -> None:
    async with llm.stream(chat("Good morning!", max_tokens=40, seed=1)) as s:
        deltas = [d async for d in s]
    assert deltas and all(deltas)
    st = s.stats
    assert s.state is StreamState.FINISHED and not s.producing
    assert st.finish_reason in ("stop", "length")
    assert st.prompt_tokens > 50 and 0 < st.completion_tokens <= 40
    assert 0 < st.first_token_ms <= st.total_ms
    # The engine's own time reading the prompt is part of the time to the first token.
    assert 0 < st.prompt_read_ms <= st.first_token_ms


async def test_json_schema_reply_is_compact_valid_json(llm: EmbeddedLLM) -> None:
    async with llm.stream(chat("Can you fix my sword?", json_schema=SCHEMA, seed=3)) as s:
        text = "".join([d async for d in s])
    reply = json.loads(text)
    assert set(reply) == {"emotion", "say", "actions"}
    assert reply["emotion"] in ("neutral", "joy", "anger", "fear")
    assert 1 <= len(reply["say"]) <= 160 and reply["actions"] == []
    # The grammar route leaves the model no whitespace between JSON tokens to waste.
    assert not re.search(r"\s", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))


def test_prefill_covers_schemas_that_open_with_a_string_enum() -> None:
    prefill = prefill_for(SCHEMA)
    assert prefill is not None and prefill.text == '{"emotion":"'
    # The grammar picks up after the opening quote and closes the object itself.
    assert '"neutral" | "joy" | "anger" | "fear"' in prefill.grammar
    assert prefill.grammar.index('",\\"say\\":') < prefill.grammar.index(',\\"actions\\":')
    number_first = {**SCHEMA, "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    pattern_first = {
        **SCHEMA,
        "properties": {"say": {"type": "string", "pattern": "^a+$"}},
        "required": ["say"],
    }
    optional = {**SCHEMA, "required": ["emotion", "say"]}
    open_ended = {**SCHEMA, "additionalProperties": True}
    for schema in (number_first, pattern_first, optional, open_ended, {"type": "array"}):
        assert prefill_for(schema) is None


def test_prefill_of_a_reply_that_opens_with_the_spoken_line() -> None:
    prefill = prefill_for(SAY_FIRST)
    assert prefill is not None and prefill.text == '{"say":"'
    # The line's body within its limits, its closing quote, then the other keys in order.
    assert "{1,160}/" in prefill.grammar
    assert prefill.grammar.index(',\\"emotion\\":') < prefill.grammar.index(',\\"actions\\":')


async def test_prefilled_reply_arrives_whole_and_starts_at_the_emotion(llm: EmbeddedLLM) -> None:
    deltas: list[str] = []
    async with llm.stream(chat("Is the forge hot today?", json_schema=SCHEMA, seed=2)) as s:
        deltas = [d async for d in s]
    # The prefilled opening rides on the first decoded token: nothing was decoded for it.
    assert deltas[0].startswith('{"emotion":"') and len(deltas[0]) > len('{"emotion":"')
    reply = json.loads("".join(deltas))
    assert reply["emotion"] in SCHEMA["properties"]["emotion"]["enum"] and reply["say"]
    assert s.stats.first_token_ms > 0


async def test_without_prefill_the_whole_reply_is_decoded(llm: EmbeddedLLM) -> None:
    llm.prefill = False
    try:
        async with llm.stream(chat("Is the forge hot today?", json_schema=SCHEMA, seed=2)) as s:
            deltas = [d async for d in s]
    finally:
        llm.prefill = True
    assert deltas[0] == '{"'
    assert set(json.loads("".join(deltas))) == {"emotion", "say", "actions"}


async def test_reply_parser_streams_the_line_from_the_real_model(llm: EmbeddedLLM) -> None:
    parser = ReplyStreamParser()
    events = []
    async with llm.stream(chat("Who are you?", json_schema=SCHEMA, seed=5)) as s:
        async for delta in s:
            events += parser.feed(delta)
    reply = parser.finish()
    assert events[0] == FieldValue("emotion", reply["emotion"])  # the face moves first
    assert "".join(e.text for e in events if isinstance(e, SayDelta)) == reply["say"]
    assert SayDone() in events


async def test_a_reply_that_opens_with_its_line_speaks_at_its_first_decoded_token(
    llm: EmbeddedLLM,
) -> None:
    parser = ReplyStreamParser()
    events = []
    async with llm.stream(chat("Who are you?", json_schema=SAY_FIRST, seed=5)) as s:
        deltas = [d async for d in s]
    for d in deltas:
        events += parser.feed(d)
    reply = parser.finish()
    # The first decoded token is already part of the line: no key, no emotion before it.
    assert deltas[0].startswith('{"say":"') and len(deltas[0]) > len('{"say":"')
    assert isinstance(events[0], SayDelta) and events[0].text
    assert list(json.loads("".join(deltas))) == ["say", "emotion", "actions"]
    assert reply["emotion"] in SCHEMA["properties"]["emotion"]["enum"]
    assert events.index(FieldValue("emotion", reply["emotion"])) > events.index(SayDone())


async def test_cancel_stops_decoding_and_frees_the_slot(one_slot: EmbeddedLLM) -> None:
    s = endless(one_slot)
    seen = 0
    async with s:
        async for _ in s:
            seen += 1
            if seen == 5:
                assert await busy_slots(one_slot) == [0]
                t0 = time.perf_counter()
                await s.cancel()
                cancel_ms = (time.perf_counter() - t0) * 1000
        assert seen == 5  # nothing after cancel()
        assert [d async for d in s] == []
    assert s.state is StreamState.CANCELLED and s.stats.finish_reason == "cancelled"
    assert not s.producing  # the worker thread has exited
    assert await busy_slots(one_slot) == []  # and llama.cpp stopped decoding
    assert cancel_ms < 2000  # one token's time, normally ~10 ms; generous for a busy CI box


async def test_cancel_stops_a_request_while_the_engine_still_reads_its_prompt(
    one_slot: EmbeddedLLM,
) -> None:
    # ~1,700 prompt tokens: ~5 s of reading on two cores before the first token. The
    # engine reports progress every n_batch (128) tokens, and a cancel stops it there.
    notes = " ".join(f"Note {i}: the player asked about the forge and rain." for i in range(110))
    s = one_slot.stream(chat(notes + f" {uuid.uuid4().hex}", max_tokens=8))
    async with s:
        await asyncio.sleep(0.8)
        assert s.stats.first_token_ms == 0.0  # still reading the prompt
        assert await busy_slots(one_slot, settle_s=0.0) == [0]
        t0 = time.perf_counter()
        await s.cancel()
        cancel_ms = (time.perf_counter() - t0) * 1000
    assert s.state is StreamState.CANCELLED and not s.producing
    # The engine frees the slot when its loop next looks at its tasks, after the step it
    # is in (~0.4 s idle; once over 1 s in a full CI run). Without stopping mid-prompt it
    # would read on for ~4 s more.
    assert await busy_slots(one_slot, settle_s=2.5) == []
    assert cancel_ms < 2500, cancel_ms
    # The slot is free for the next request at once.
    t0 = time.perf_counter()
    async with one_slot.stream(chat("Hello.", max_tokens=2)) as nxt:
        async for _ in nxt:
            break
    assert (time.perf_counter() - t0) * 1000 < 2500


async def test_cancel_from_another_task_wakes_the_reader(one_slot: EmbeddedLLM) -> None:
    s = endless(one_slot)
    got: list[str] = []
    first = asyncio.Event()

    async def read() -> None:
        async with s:
            async for d in s:
                got.append(d)
                first.set()

    reader = asyncio.create_task(read())
    await first.wait()
    await s.cancel()
    n = len(got)
    await asyncio.wait_for(reader, 2)
    assert len(got) == n and not s.producing
    assert await busy_slots(one_slot) == []


async def test_leaving_async_with_early_cancels_generation(one_slot: EmbeddedLLM) -> None:
    s = endless(one_slot)
    async with s:
        async for _ in s:
            break
    assert s.state is StreamState.CANCELLED and not s.producing
    assert await busy_slots(one_slot) == []


def long_reply(
    llm: EmbeddedLLM, max_say: int = 400, schema: dict[str, Any] = SCHEMA, **kw: Any
) -> EmbeddedStream:
    """A JSON reply that keeps talking: greedy SmolLM2 repeats itself to the limit."""
    schema = json.loads(json.dumps(schema))
    schema["properties"]["say"]["maxLength"] = max_say
    request = chat("Tell me the long history of your forge.", json_schema=schema, **kw)
    return llm.stream(dataclasses.replace(request, temperature=0.0, max_tokens=200))


async def test_held_reply_stops_decoding_until_released(one_slot: EmbeddedLLM) -> None:
    deltas: list[str] = []
    async with long_reply(one_slot) as s:
        async for d in s:
            deltas.append(d)
            if len(deltas) == 12:
                s.hold()
                # The engine stops at the next token it can resume from, and frees the slot.
                assert await busy_slots(one_slot, settle_s=2.0) == []
                held_at = len(deltas) + s._queue.qsize()
                await asyncio.sleep(0.3)
                assert len(deltas) + s._queue.qsize() == held_at  # nothing decoded meanwhile
                s.release()
    text = "".join(deltas)
    assert s.holds == 1 and len(deltas) > held_at + 5  # it went on after the release
    reply = json.loads(text)  # the resumed grammar closed the object
    assert set(reply) == {"emotion", "say", "actions"} and len(reply["say"]) <= 400
    assert s.stats.prompt_tokens > 50 and s.stats.completion_tokens >= len(deltas) - 1


async def test_resumed_reply_keeps_the_spoken_line_within_its_limit(llm: EmbeddedLLM) -> None:
    # The limit counts what was said before the hold: a continuation that lost its
    # grammar (llama.cpp drops one it cannot parse, silently) would run past it.
    for seed, schema in ((1, SCHEMA), (2, SCHEMA), (3, SCHEMA), (1, SAY_FIRST), (2, SAY_FIRST)):
        said: list[str] = []
        async with long_reply(llm, max_say=40, schema=schema, seed=seed) as s:
            async for d in s:
                said.append(d)
                if len(said) == 6:
                    s.hold()
                    await asyncio.sleep(0.1)
                    s.release()
        reply = json.loads("".join(said))
        assert s.holds == 1 and list(reply) == list(schema["properties"])
        assert 1 <= len(reply["say"]) <= 40 and reply["actions"] == []


async def test_cancelling_a_held_reply_leaves_no_generation(one_slot: EmbeddedLLM) -> None:
    async with long_reply(one_slot) as s:
        async for _ in s:
            s.hold()
            break
    assert s.state is StreamState.CANCELLED and not s.producing
    assert one_slot.active_generations == 0 and await busy_slots(one_slot) == []


async def test_a_reply_without_a_resumable_shape_ignores_hold(llm: EmbeddedLLM) -> None:
    async with llm.stream(chat("Good morning!", max_tokens=30, seed=1)) as s:
        got = []
        async for d in s:
            got.append(d)
            s.hold()  # free text cannot be resumed: the reply just goes on
    assert s.holds == 0 and len(got) > 3 and s.state is StreamState.FINISHED


async def test_unstarted_stream_cancels_without_running(llm: EmbeddedLLM) -> None:
    s = llm.stream(chat("Never sent."))
    await s.cancel()
    assert s.state is StreamState.CANCELLED and not s.producing
    assert [d async for d in s] == []


async def test_warmup_fills_the_prefix_cache(llm: EmbeddedLLM) -> None:
    request = chat("What do you sell?", json_schema=SCHEMA, max_tokens=60)
    await llm.warmup(request)
    async with llm.stream(request) as s:
        async for _ in s:
            pass
    # All but the prefilled reply opening ({"emotion":"), which a priming leaves out.
    assert s.stats.cached_tokens >= s.stats.prompt_tokens - 8


async def test_two_streams_generate_concurrently(llm: EmbeddedLLM) -> None:
    order: list[int] = []

    async def run(i: int) -> None:
        async with llm.stream(chat(f"Tell me about tool number {i}.", max_tokens=30)) as s:
            async for _ in s:
                order.append(i)

    await asyncio.gather(run(0), run(1))
    assert set(order) == {0, 1}
    # Continuous batching interleaves them rather than running one after the other.
    last_0 = len(order) - 1 - order[::-1].index(0)
    assert order.index(1) < last_0 or order.index(0) < len(order) - 1 - order[::-1].index(1)


async def test_too_long_prompt_fails_with_advice(one_slot: EmbeddedLLM) -> None:
    s = one_slot.stream(chat("hammer " * 3000))
    with pytest.raises(LLMError, match=r"too long.*n_ctx"):
        async with s:
            async for _ in s:
                pass
    assert s.state is StreamState.FAILED and not s.producing


async def test_missing_model_file_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LLMError, match=r"not found: .*nope\.gguf.*model_path"):
        await EmbeddedLLM.aload(str(missing))


async def test_non_gguf_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(LLMError, match="not a GGUF"):
        await EmbeddedLLM.aload(str(bad))


async def test_truncated_gguf_fails_to_load_with_advice(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with bundled_model_path().open("rb") as f:
        cut.write_bytes(f.read(5_000_000))
    with pytest.raises(LLMError, match=r"could not load .*cut\.gguf.*corrupt"):
        await EmbeddedLLM.aload(str(cut))


async def test_closed_engine_refuses_new_streams() -> None:
    engine = await EmbeddedLLM.aload(n_ctx=1024, n_parallel=1)
    s = endless(engine)
    async with s:
        async for _ in s:
            break
        await engine.aclose()  # cancels what runs, then frees the model
    assert not s.producing
    with pytest.raises(LLMError, match="closed"):
        engine.stream(chat("Hello?"))


async def test_unknown_flash_attention_setting_is_refused() -> None:
    with pytest.raises(LLMError, match="flash_attn must be auto, off or on, got 'maybe'"):
        await EmbeddedLLM.aload(n_ctx=1024, n_parallel=1, flash_attn="maybe")  # type: ignore[arg-type]
