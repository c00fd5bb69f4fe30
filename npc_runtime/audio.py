"""PCM helpers shared by ASR, TTS, the server and the CLI.

All audio on the wire is signed 16-bit little-endian mono; inside the runtime
it is float32 in [-1, 1] so resampling and models need no conversions of their
own.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import soxr

MIN_RATE = 8_000
MAX_RATE = 48_000
ASR_RATE = 16_000


class AudioFormatError(ValueError):
    """Audio that the runtime cannot accept; the message says how to fix it."""


def check_rate(rate: int, what: str) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(
            f"{what} sample rate {rate} Hz is not supported: use {MIN_RATE}-{MAX_RATE} Hz "
            "PCM s16le mono (16000 Hz is best for speech input)"
        )


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    if len(pcm) % 2:
        raise AudioFormatError(
            f"PCM chunk of {len(pcm)} bytes has an odd length: send whole 16-bit samples "
            "(s16le mono, 2 bytes per sample)"
        )
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(audio: np.ndarray) -> bytes:
    clipped = np.clip(audio, -1.0, 1.0)
    pcm: bytes = (clipped * 32767.0).astype("<i2").tobytes()
    return pcm


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a whole buffer (one sentence, one utterance) in one go."""
    if rate_in == rate_out or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    out: np.ndarray = soxr.resample(audio.astype(np.float32), rate_in, rate_out, quality="HQ")
    return out.astype(np.float32, copy=False)


class StreamResampler:
    """Resamples a live stream chunk by chunk without edge clicks."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._stream = (
            None
            if rate_in == rate_out
            else soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="HQ")
        )

    def push(self, audio: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return audio.astype(np.float32, copy=False)
        out: np.ndarray = self._stream.resample_chunk(audio.astype(np.float32), last=last)
        return out


def split_ms(n_samples: int, rate: int, max_ms: int) -> list[tuple[int, int]]:
    """[start, end) sample ranges of at most max_ms each, covering n_samples."""
    step = max(1, rate * max_ms // 1000)
    return [(i, min(i + step, n_samples)) for i in range(0, n_samples, step)]


def samples_to_ms(n: int, rate: int) -> float:
    return 1000.0 * n / rate


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV (any rate, mono or stereo, 16-bit) as float32 mono."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise AudioFormatError(
                    f"{path}: {8 * w.getsampwidth()}-bit WAV is not supported; convert to "
                    "16-bit PCM (e.g. sox in.wav -b 16 out.wav)"
                )
            rate = w.getframerate()
            channels = w.getnchannels()
            frames = w.readframes(w.getnframes())
    except wave.Error as e:
        raise AudioFormatError(
            f"{path} is not a PCM WAV file ({e}); convert it, e.g. sox in.mp3 -b 16 out.wav"
        ) from None
    audio = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(float_to_pcm16(audio))
    return buf.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, rate: int) -> None:
    Path(path).write_bytes(wav_bytes(audio, rate))
