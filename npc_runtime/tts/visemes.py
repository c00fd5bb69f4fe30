"""Timed visemes for lip-sync from Piper's phoneme alignments.

The phoneme -> viseme table is data (visemes.toml beside this module) so a
designer can retune mouth shapes without touching code. Viseme numbers are the
protocol's VisemeId (OVR order: sil=0 ... ou=14).
"""

from __future__ import annotations

import functools
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VISEME_NAMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip
SIL = 0
_BY_LOWER_NAME = {name.lower(): i for i, name in enumerate(VISEME_NAMES)}
_TOP_KEYS = frozenset({"fallback", "min_silence_ms", "visemes", "weights"})
# Longest run of aligned units that may be joined into one listed phoneme ("t"+"ʃ").
_MAX_JOIN = 3

DEFAULT_TABLE_PATH = Path(__file__).with_name("visemes.toml")


@dataclass(frozen=True)
class VisemeSpan:
    viseme: int  # VisemeId number
    start_ms: float  # from the first sample of the audio (or chunk, after slicing)
    duration_ms: float
    weight: float

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms


def viseme_name(viseme: int) -> str:
    return VISEME_NAMES[viseme]


class VisemeTable:
    """Maps espeak-ng phonemes to visemes and turns alignments into a timeline."""

    def __init__(
        self,
        mapping: Mapping[str, int],
        weights: Mapping[int, float] | None = None,
        fallback: int = _BY_LOWER_NAME["ih"],
        min_silence_ms: float = 0.0,
    ) -> None:
        self._map = dict(mapping)
        self._weights = {v: 1.0 for v in range(len(VISEME_NAMES))}
        self._weights.update(weights or {})
        self.fallback = fallback
        self.min_silence_ms = min_silence_ms
        # Only multi-unit spellings can be joined; knowing them keeps the scan cheap.
        self._joinable = frozenset(p for p in self._map if len(p) > 1)
        self._cache: dict[str, int] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> VisemeTable:
        """Read a table from TOML (default: the bundled visemes.toml); ValueError if invalid."""
        path = path or DEFAULT_TABLE_PATH
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"viseme table {path} not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"viseme table {path} is not valid TOML: {exc}. Fix the syntax there "
                f'(phonemes are quoted strings in a list, e.g. PP = ["p", "b", "m"])'
            ) from None
        return cls._from_data(data, path)

    @classmethod
    @functools.cache
    def default(cls) -> VisemeTable:
        """The bundled table, parsed once per process."""
        return cls.load()

    @classmethod
    def _from_data(cls, data: dict[str, Any], path: Path) -> VisemeTable:
        def fail(entry: str, problem: str, fix: str) -> ValueError:
            return ValueError(f"viseme table {path}: {entry}: {problem}; {fix}")

        names = ", ".join(VISEME_NAMES)
        for key in data:
            if key not in _TOP_KEYS:
                raise fail(key, "unknown setting", f"use only {', '.join(sorted(_TOP_KEYS))}")
        visemes = data.get("visemes")
        if not isinstance(visemes, dict) or not visemes:
            raise fail("[visemes]", "missing or empty", 'add e.g. [visemes] PP = ["p", "b", "m"]')

        def viseme_id(entry: str, name: object) -> int:
            vid = _BY_LOWER_NAME.get(str(name).lower())
            if vid is None:
                raise fail(entry, f"unknown viseme {name!r}", f"use one of {names}")
            return vid

        mapping: dict[str, int] = {}
        for name, phonemes in visemes.items():
            entry = f"visemes.{name}"
            vid = viseme_id(entry, name)
            if not isinstance(phonemes, list) or not all(
                isinstance(p, str) and p for p in phonemes
            ):
                raise fail(entry, "must be a list of non-empty strings", f'e.g. {name} = ["p"]')
            for p in phonemes:
                other = mapping.get(p)
                if other is not None and other != vid:
                    raise fail(
                        entry,
                        f"phoneme {p!r} is also listed under {VISEME_NAMES[other]}",
                        "keep it under one viseme only",
                    )
                mapping[p] = vid

        weights: dict[int, float] = {}
        raw_weights = data.get("weights", {})
        if not isinstance(raw_weights, dict):
            raise fail("weights", "must be a table", "write [weights] then lines like PP = 1.0")
        for name, w in raw_weights.items():
            entry = f"weights.{name}"
            vid = viseme_id(entry, name)
            if isinstance(w, bool) or not isinstance(w, int | float) or not 0.0 <= w <= 1.0:
                raise fail(entry, f"weight {w!r} is not a number in 0..1", "e.g. 0.8")
            weights[vid] = float(w)

        fallback = viseme_id("fallback", data.get("fallback", "ih"))
        min_sil = data.get("min_silence_ms", 0.0)
        if isinstance(min_sil, bool) or not isinstance(min_sil, int | float) or min_sil < 0:
            raise fail("min_silence_ms", f"{min_sil!r} is not a number >= 0", "e.g. 60 (0 = off)")
        return cls(mapping, weights, fallback, float(min_sil))

    def weight(self, viseme: int) -> float:
        return self._weights.get(viseme, 1.0)

    def viseme_for(self, phoneme: str) -> int:
        """The viseme for one phoneme; unknown ones degrade gracefully, never raise."""
        vid = self._cache.get(phoneme)
        if vid is None:
            vid = self._lookup(phoneme)
            self._cache[phoneme] = vid
        return vid

    def _lookup(self, phoneme: str) -> int:
        vid = self._map.get(phoneme)
        if vid is not None:
            return vid
        # Modifiers (length, syllabic, palatal, aspiration...) rarely change the mouth.
        base = "".join(ch for ch in phoneme if unicodedata.category(ch) not in ("Lm", "Mn", "Sk"))
        if not any(unicodedata.category(ch).startswith("L") for ch in base):
            # Space, punctuation, markers, or a lone modifier: no articulation of its own.
            has_letter = any(unicodedata.category(ch).startswith("L") for ch in phoneme)
            return self.fallback if has_letter and phoneme.strip() else SIL
        for candidate in (base, base[0]):
            vid = self._map.get(candidate)
            if vid is not None:
                return vid
        return self.fallback

    def timeline(
        self,
        phonemes: Sequence[tuple[str, int]],
        sample_rate: int,
        audio: np.ndarray | None = None,
    ) -> list[VisemeSpan]:
        """Viseme spans for (phoneme, samples) alignments, in ms from the first sample.

        Consecutive equal visemes are merged and the spans tile the audio exactly.
        With the audio, closed-lip shapes start where the sound actually stops
        (see _close_early).
        """
        runs = self._runs(phonemes, sample_rate)
        if audio is not None:
            _close_early(runs, audio, sample_rate)
        spans: list[VisemeSpan] = []
        pos = 0
        for vid, samples in runs:
            spans.append(
                VisemeSpan(
                    vid,
                    1000.0 * pos / sample_rate,
                    1000.0 * samples / sample_rate,
                    self.weight(vid),
                )
            )
            pos += samples
        return spans

    def settled_samples(
        self, phonemes: Sequence[tuple[str, int]], sample_rate: int, available: int
    ) -> int:
        """How much of the timeline is final when only the first `available` samples of
        the audio exist (speech made piece by piece): a lip closure further on may still
        start up to CLOSURE_SEARCH_MS earlier, once the audio before it is known."""
        pos = 0
        runs = self._runs(phonemes, sample_rate)
        for idx, (vid, samples) in enumerate(runs):
            if pos > available and idx > 0 and vid == _PP and runs[idx - 1][0] != SIL:
                return max(0, min(available, _closure_floor(pos, runs[idx - 1][1], sample_rate)))
            pos += samples
        return available

    def _runs(self, phonemes: Sequence[tuple[str, int]], sample_rate: int) -> list[list[int]]:
        """[viseme, samples] runs; kept in samples so nothing drifts."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate}")
        runs: list[list[int]] = []
        i = 0
        while i < len(phonemes):
            phoneme, samples, used = self._join(phonemes, i)
            i += used
            if samples > 0:
                _append(runs, self.viseme_for(phoneme), samples)
        return self._absorb_short_silences(runs, sample_rate)

    def _join(self, phonemes: Sequence[tuple[str, int]], i: int) -> tuple[str, int, int]:
        """The longest listed spelling starting at i, as (phoneme, samples, units used)."""
        if self._joinable:
            for k in range(min(_MAX_JOIN, len(phonemes) - i), 1, -1):
                joined = "".join(p for p, _ in phonemes[i : i + k])
                if joined in self._joinable:
                    return joined, sum(max(0, n) for _, n in phonemes[i : i + k]), k
        phoneme, samples = phonemes[i]
        return phoneme, samples, 1

    def _absorb_short_silences(self, runs: list[list[int]], sample_rate: int) -> list[list[int]]:
        # Word gaps in running speech are still voiced; closing the mouth for
        # 30 ms there looks like chattering, so split them between neighbours.
        limit = self.min_silence_ms * sample_rate / 1000.0
        if limit <= 0 or len(runs) < 3:
            return runs
        out: list[list[int]] = []
        for idx, (vid, samples) in enumerate(runs):
            inner = 0 < idx < len(runs) - 1
            if vid == SIL and inner and samples < limit:
                left = samples // 2
                out[-1][1] += left
                runs[idx + 1] = [runs[idx + 1][0], runs[idx + 1][1] + samples - left]
                continue
            _append(out, vid, samples)
        return out


# Piper aligns a stop consonant's burst, not its closure: the lips of /p/ and
# /b/ shut 30-100 ms before the aligned start (measured on the bundled voice),
# while the closure's silence is counted in the vowel before. So PP starts where
# the audio falls silent, searched for in the last CLOSURE_SEARCH_MS before the
# burst. Nasals (/m/) stay voiced, find no silence and keep their aligned start.
CLOSURE_SEARCH_MS = 150.0
CLOSURE_LEVEL = 0.15  # of the loudest 5 ms before it
_KEEP_MS = 20.0  # the previous shape keeps at least this long
_PP = _BY_LOWER_NAME["pp"]


def _closure_floor(pos: int, prev_samples: int, rate: int) -> int:
    """The earliest sample a closure starting at `pos` may be moved back to."""
    return max(
        pos - prev_samples + int(_KEEP_MS * rate / 1000), pos - int(CLOSURE_SEARCH_MS * rate / 1000)
    )


def _close_early(runs: list[list[int]], audio: np.ndarray, rate: int) -> None:
    win = max(1, int(0.005 * rate))
    pos = 0
    for idx, (vid, samples) in enumerate(runs):
        if idx > 0 and vid == _PP and runs[idx - 1][0] != SIL:
            lo = _closure_floor(pos, runs[idx - 1][1], rate)
            if pos - lo > 2 * win and pos <= audio.size:
                seg = audio[lo:pos].astype(np.float64)
                env = np.sqrt(np.convolve(seg * seg, np.ones(win) / win, mode="same"))
                peak_at = int(np.argmax(env))
                quiet = np.nonzero(env[peak_at:] < CLOSURE_LEVEL * env[peak_at])[0]
                if quiet.size:
                    shift = pos - (lo + peak_at + int(quiet[0]))
                    runs[idx - 1][1] -= shift
                    runs[idx][1] += shift
        pos += samples  # a shift moves this run's start, not its end


def _append(runs: list[list[int]], vid: int, samples: int) -> None:
    if runs and runs[-1][0] == vid:
        runs[-1][1] += samples
    else:
        runs.append([vid, samples])


def slice_for_chunk(
    spans: Sequence[VisemeSpan], chunk_start_ms: float, chunk_end_ms: float
) -> list[VisemeSpan]:
    """The spans overlapping [chunk_start_ms, chunk_end_ms), clipped, relative to the chunk.

    Consecutive chunks' slices together cover every chunk that has audio.
    """
    out: list[VisemeSpan] = []
    for span in spans:
        lo = max(span.start_ms, chunk_start_ms)
        hi = min(span.end_ms, chunk_end_ms)
        if hi > lo:
            out.append(VisemeSpan(span.viseme, lo - chunk_start_ms, hi - lo, span.weight))
    return out
