"""Any OpenAI-compatible chat server (vLLM, llama.cpp server, ...) over streamed HTTP.

Structured output uses `response_format` json_schema with `strict: true`, which vLLM, llama.cpp
and OpenAI accept. Cancelling a stream closes the HTTP response; servers stop generating when
the client disconnects (vLLM and llama.cpp both do).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .base import Delta, End, GenerationRequest, LLMBackend, LLMError, LLMStream, Usage

_CONTEXT_WORDS = ("context", "too long", "maximum", "exceed")


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(schema)
    s.pop("x-guidance", None)  # llguidance-only options; strict servers reject unknown keys
    if s.get("type") == "object":
        s.setdefault("additionalProperties", False)  # strict mode requires it
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": s, "strict": True}}


def _server_message(body: str) -> str:
    """The human part of an error body: OpenAI/vLLM/llama.cpp shapes, else the raw text."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:300] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:300]
        if isinstance(data.get("message"), str):
            return str(data["message"])[:300]
        return str(err)[:300]
    return str(data)[:300]


class OpenAICompatLLM(LLMBackend):
    """Client for `<base_url>/chat/completions`, e.g. base_url="http://gpu-box:8000/v1".

    An empty `model` lets the server pick its default (llama.cpp and recent vLLM do). Keys in
    `extra_body` are merged into every request body (e.g. {"top_k": 20} for vLLM).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        extra_body: dict[str, Any] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(
                f"LLM base_url {base_url!r} must start with http:// or https://, "
                "e.g. http://localhost:8000/v1"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout_s = timeout_s
        self.extra_body = dict(extra_body or {})
        self.name = f"openai-compatible ({model or 'default model'} at {self.base_url})"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout_s), transport=transport
        )

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if self.model:
            body["model"] = self.model
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = response_format(request.json_schema)
        body.update(self.extra_body)
        return body

    def stream(self, request: GenerationRequest) -> OpenAIStream:
        if self._client.is_closed:
            raise LLMError("this OpenAI-compatible LLM client is closed; create a new one")
        return OpenAIStream(self, self.request_body(request))

    async def warmup(self, request: GenerationRequest) -> None:
        # Also checks URL, key and model at startup rather than on the first player turn.
        async with self.stream(dataclasses.replace(request, max_tokens=1)) as s:
            async for _ in s:
                pass

    async def aclose(self) -> None:
        await self._client.aclose()

    def _http_error(self, status: int, body: str) -> LLMError:
        msg = _server_message(body)
        url = f"{self.base_url}/chat/completions"
        if status in (401, 403):
            return LLMError(
                f"the LLM server at {self.base_url} rejected the API key (HTTP {status}: {msg}). "
                "Set llm.api_key (NPC_LLM__API_KEY) to a key the server accepts."
            )
        if status == 404:
            return LLMError(
                f"HTTP 404 from {url}: {msg}. Either model {self.model!r} is not served there "
                f"(see GET {self.base_url}/models for the names; set llm.model) or base_url is "
                "wrong (it usually ends in /v1, e.g. http://localhost:8000/v1)."
            )
        if status in (400, 413, 422) and any(w in msg.lower() for w in _CONTEXT_WORDS):
            return LLMError(
                f"the prompt is too long for the model's context (HTTP {status}: {msg}). "
                "Keep fewer history turns (llm.history_turns) or give the server a longer "
                "context (vLLM: --max-model-len)."
            )
        if status in (400, 422):
            return LLMError(
                f"the LLM server refused the request (HTTP {status}: {msg}). If it mentions "
                "response_format or json_schema, the server lacks structured output; if it "
                "mentions the model, check llm.model."
            )
        if status == 429:
            return LLMError(f"the LLM server is rate limiting or full (HTTP 429: {msg}); retry.")
        return LLMError(f"the LLM server at {self.base_url} failed (HTTP {status}: {msg}).")

    def _transport_error(self, e: httpx.HTTPError) -> LLMError:
        if isinstance(e, httpx.TimeoutException):
            return LLMError(
                f"the LLM server at {self.base_url} sent nothing for {self.timeout_s:g} s "
                f"({type(e).__name__}). It may be overloaded or still loading the model; "
                "check it, or raise llm.timeout_s."
            )
        if isinstance(e, httpx.ConnectError):
            return LLMError(
                f"cannot reach the LLM server at {self.base_url} ({e}). Check that it is "
                "running and that llm.base_url is right, e.g. http://localhost:8000/v1."
            )
        return LLMError(f"HTTP error talking to the LLM server at {self.base_url}: {e!r}")


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(field, payload) per server-sent event; field is "data" or "error" (llama.cpp)."""
    field = ""
    parts: list[str] = []
    async for line in lines:
        if not line:
            if parts:
                yield field, "\n".join(parts)
            field, parts = "", []
            continue
        if line.startswith(":"):
            continue  # keep-alive comment
        name, _, value = line.partition(":")
        if name in ("data", "error"):
            field = name if not parts else field
            parts.append(value.removeprefix(" "))
    if parts:
        yield field, "\n".join(parts)


class OpenAIStream(LLMStream):
    """An asyncio task reads the SSE response and posts deltas; cancel() cancels the task,
    which leaves `client.stream(...)` and so closes the response (the server sees it)."""

    def __init__(self, owner: OpenAICompatLLM, body: dict[str, Any]) -> None:
        super().__init__()
        self._owner = owner
        self._body = body
        self._task: asyncio.Task[None] | None = None
        self.response: httpx.Response | None = None  # for inspection; closed once done
        self._read_ms = 0.0  # the server's time reading the uncached prompt, if it says

    @property
    def producing(self) -> bool:
        return self._task is not None and not self._task.done()

    def _begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="llm-openai")

    async def _halt(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # our own caller was cancelled, not the pump

    async def _pump(self) -> None:
        owner = self._owner
        finish, error = "", None
        try:
            url = f"{owner.base_url}/chat/completions"
            async with owner._client.stream("POST", url, json=self._body) as resp:
                self.response = resp
                if resp.status_code != 200:
                    body = (await resp.aread()).decode("utf-8", "replace")
                    raise owner._http_error(resp.status_code, body)
                async for field, data in _sse_data(resp.aiter_lines()):
                    if data.strip() == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if field == "error" or "error" in chunk:
                        detail = _server_message(json.dumps({"error": chunk.get("error", chunk)}))
                        raise LLMError(f"the LLM server failed mid-reply: {detail}")
                    finish = self._on_chunk(chunk) or finish
        except LLMError as e:
            error = e
        except httpx.HTTPError as e:
            error = owner._transport_error(e)
        except Exception as e:  # non-JSON data, odd shapes: End must still carry an error
            error = LLMError(f"the LLM server at {owner.base_url} sent a malformed stream: {e!r}")
        finally:
            self._post(End(finish or "stop", error))

    def _on_chunk(self, chunk: dict[str, Any]) -> str:
        finish = ""
        now = time.perf_counter()
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                self._post(Delta(text, now))
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
        timings = chunk.get("timings")  # llama.cpp servers add their own timings
        if isinstance(timings, dict) and not self._read_ms:
            self._read_ms = float(timings.get("prompt_ms") or 0.0)
        usage = chunk.get("usage")
        if usage:
            details = usage.get("prompt_tokens_details") or {}
            self._post(
                Usage(
                    int(usage.get("prompt_tokens") or 0),
                    int(details.get("cached_tokens") or 0),
                    int(usage.get("completion_tokens") or 0),
                    self._read_ms,
                )
            )
        return finish
