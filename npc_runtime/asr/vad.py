"""Streaming voice activity detection and endpointing with Silero VAD v6.

The ONNX model shipped by faster-whisper scores 512-sample frames at 16 kHz,
each prefixed with the last 64 samples of the previous frame, and carries an
LSTM state (h, c) across frames. Scoring frames one at a time while carrying
h/c and the 64-sample context gives exactly the probabilities of one batched
call over the whole stream (checked: max difference 0.0), so a session can
score whatever whole frames it has and keep going later.

SileroVad (the loaded model) is shared; each session owns an Endpointer.
"""

from __future__ import annotations

import enum
import functools
import importlib.util
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from npc_runtime.audio import ASR_RATE

FRAME_SAMPLES = 512
CONTEXT_SAMPLES = 64
FRAME_MS = 1000 * FRAME_SAMPLES // ASR_RATE  # 32
_SAMPLES_PER_MS = ASR_RATE // 1000
# The model stays confident for up to two frames after speech stops (measured:
# a 32 ms burst of speech scores >= 0.5 for up to 3 frames, 64 ms for up to 4), so
# min_speech_ms is checked against that many extra confident frames.
_SMEAR_FRAMES = 2
# One session.run over at most this many frames (about 5 minutes of audio).
_MAX_BATCH_FRAMES = 10_000


def bundled_vad_path() -> Path:
    """Path of silero_vad_v6.onnx inside the installed faster-whisper package."""
    # find_spec avoids importing faster_whisper (and ctranslate2) just for a path.
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "faster-whisper is not installed; it ships the Silero VAD model "
            "(pip install faster-whisper)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"Silero VAD model not found at {path}; reinstall faster-whisper")
    return path


@dataclass(frozen=True, eq=False)
class VadState:
    """Per-stream model state: LSTM h/c and the tail of the previous frame."""

    h: np.ndarray
    c: np.ndarray
    context: np.ndarray

    @classmethod
    def initial(cls) -> VadState:
        zeros = np.zeros((1, 1, 128), dtype=np.float32)
        return cls(zeros, zeros.copy(), np.zeros(CONTEXT_SAMPLES, dtype=np.float32))


class SileroVad:
    """The loaded Silero VAD model, shared by every session.

    onnxruntime sessions are safe to run from several threads at once, and all
    per-stream state travels in VadState, so one instance serves all sessions.
    """

    def __init__(self, model_path: str | Path | None = None, intra_op_threads: int = 1) -> None:
        path = Path(model_path) if model_path else bundled_vad_path()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.model_path = path
        self._session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def score(self, frames: np.ndarray, state: VadState) -> tuple[np.ndarray, VadState]:
        """Speech probability per 512-sample frame, and the state after the last frame.

        frames: float32 16 kHz audio, 1-D with a length that is a multiple of 512,
        or 2-D of shape (n, 512).
        """
        blocks = np.asarray(frames, dtype=np.float32).reshape(-1, FRAME_SAMPLES)
        if blocks.shape[0] == 0:
            return np.zeros(0, dtype=np.float32), state
        # Each frame's context is the previous frame's tail; the first uses the state's.
        contexts = np.empty((blocks.shape[0], CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = state.context
        contexts[1:] = blocks[:-1, -CONTEXT_SAMPLES:]
        inputs = np.concatenate([contexts, blocks], axis=1)
        h, c = state.h, state.c
        outputs: list[np.ndarray] = []
        for i in range(0, inputs.shape[0], _MAX_BATCH_FRAMES):
            probs, h, c = self._session.run(
                None, {"input": inputs[i : i + _MAX_BATCH_FRAMES], "h": h, "c": c}
            )
            outputs.append(np.asarray(probs, dtype=np.float32).reshape(-1))
        new_state = VadState(h, c, blocks[-1, -CONTEXT_SAMPLES:].copy())
        return np.concatenate(outputs), new_state


@functools.cache
def shared_vad() -> SileroVad:
    """The process-wide SileroVad (loaded on first use)."""
    return SileroVad()


@dataclass
class EndpointerConfig:
    threshold: float = 0.5
    # Below this, speech is over (hysteresis); None = threshold - 0.15.
    neg_threshold: float | None = None
    # Shorter bursts (coughs, clicks, taps) are not utterances.
    min_speech_ms: int = 100
    end_of_speech_silence_ms: int = 300
    # Audio kept before the detected start so the first word is not clipped.
    pre_roll_ms: int = 200
    # Silence kept after the last voiced frame; Whisper does better with a little.
    post_roll_ms: int = 100
    max_utterance_ms: int = 30_000
    # A pause this long inside speech sends SpeechPaused with the audio so far, so
    # the session can transcribe (and answer) speculatively while it waits to see
    # whether the pause is the end; 0 = off.
    speculate_after_ms: int = 100

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        neg = self.negative_threshold
        if not 0.0 < neg <= self.threshold:
            raise ValueError(f"neg_threshold must be in (0, threshold={self.threshold}], got {neg}")
        for name in (
            "min_speech_ms",
            "end_of_speech_silence_ms",
            "pre_roll_ms",
            "post_roll_ms",
            "speculate_after_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_utterance_ms < 1000:
            raise ValueError(f"max_utterance_ms must be >= 1000, got {self.max_utterance_ms}")

    @property
    def negative_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class SpeechStarted:
    """Speech has lasted min_speech_ms; offset_ms is where it began in the stream."""

    offset_ms: int


@dataclass(frozen=True, eq=False)
class SpeechEnded:
    """One utterance: audio from pre-roll to a little after the last voiced frame."""

    audio: np.ndarray  # float32, 16 kHz
    start_ms: int  # first voiced frame
    end_ms: int  # end of the last voiced frame
    endpoint_ms: int  # where the end was declared
    forced: bool  # cut at max_utterance_ms rather than by silence
    audio_start_ms: int = 0  # stream offset of audio[0] (start_ms minus pre-roll)

    @property
    def speech_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, eq=False)
class SpeechPaused:
    """The speaker paused for speculate_after_ms: the utterance so far, as SpeechEnded
    would carry it if the pause turns out to be the end (same start and end_ms)."""

    audio: np.ndarray
    start_ms: int
    end_ms: int  # end of the last voiced frame; the final SpeechEnded has the same
    paused_at_ms: int  # stream time the pause was noticed


@dataclass(frozen=True)
class SpeechResumed:
    """Speech went on after a SpeechPaused: whatever was started on it is stale."""

    end_ms: int  # the SpeechPaused.end_ms it invalidates


VadEvent = SpeechStarted | SpeechEnded | SpeechPaused | SpeechResumed


class EndpointState(enum.Enum):
    SILENCE = "silence"
    MAYBE_SPEECH = "maybe_speech"  # voiced, but not yet for min_speech_ms
    SPEECH = "speech"
    MAYBE_END = "maybe_end"  # below neg_threshold, waiting for end_of_speech_silence_ms


@dataclass
class _Utterance:
    start: int  # sample offset of the first voiced frame
    last_voiced_end: int  # sample offset just after the last voiced frame
    voiced_frames: int = 1


@dataclass
class _Retained:
    """Audio frames kept for the current utterance (or the pre-roll in silence)."""

    frames: deque[np.ndarray] = field(default_factory=deque)
    start: int = 0  # sample offset of frames[0]

    def append(self, frame: np.ndarray) -> None:
        self.frames.append(frame)

    def trim_to(self, keep_samples: int) -> None:
        while self.frames and (len(self.frames) - 1) * FRAME_SAMPLES >= keep_samples:
            self.frames.popleft()
            self.start += FRAME_SAMPLES

    def drop_all(self, next_start: int) -> None:
        self.frames.clear()
        self.start = next_start

    def slice(self, begin: int, end: int, tail: np.ndarray | None = None) -> np.ndarray:
        parts = list(self.frames)
        if tail is not None and tail.size:
            parts.append(tail)
        if not parts:
            return np.zeros(0, dtype=np.float32)
        audio = np.concatenate(parts)
        lo = max(0, begin - self.start)
        hi = max(lo, min(audio.size, end - self.start))
        return audio[lo:hi].copy()


class Endpointer:
    """Per-session endpointing state machine over a 16 kHz float32 stream.

    Not thread-safe: one session feeds it, one call at a time (typically via
    asyncio.to_thread, since each call runs the VAD model).
    """

    def __init__(
        self, vad: SileroVad | None = None, config: EndpointerConfig | None = None
    ) -> None:
        self.vad = vad if vad is not None else shared_vad()
        # Read on every frame, so a session may change end_of_speech_silence_ms live.
        self.config = config if config is not None else EndpointerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget everything, including the stream clock."""
        self._vad_state = VadState.initial()
        self._pending = np.zeros(0, dtype=np.float32)
        self._fed = 0  # samples fed
        self._frame_pos = 0  # sample offset of the next frame to score
        self._retained = _Retained()
        self._state = EndpointState.SILENCE
        self._utt: _Utterance | None = None
        self._paused_end: int | None = None  # last_voiced_end a SpeechPaused went out for
        self.last_probability = 0.0
        # Silence that ends the current utterance when set (adaptive endpointing);
        # cleared when it ends.
        self.utterance_silence_ms: int | None = None

    @property
    def state(self) -> EndpointState:
        return self._state

    @property
    def in_speech(self) -> bool:
        """True once an utterance has started (SpeechStarted sent) until it ends."""
        return self._state in (EndpointState.SPEECH, EndpointState.MAYBE_END)

    @property
    def voicing(self) -> bool:
        """True while the last frames were speech: inside an utterance and not in a
        pause that may turn out to be its end."""
        return self._state is EndpointState.SPEECH

    @property
    def stream_ms(self) -> float:
        return 1000.0 * self._fed / ASR_RATE

    @property
    def speech_ms(self) -> int:
        """How long the current utterance has been going (0 outside speech)."""
        utt = self._utt
        if utt is None or not self.in_speech:
            return 0
        return (utt.last_voiced_end - utt.start) // _SAMPLES_PER_MS

    def audio_so_far(self) -> np.ndarray | None:
        """The current utterance's audio up to now, for an interim transcript; None
        outside speech."""
        utt = self._utt
        if utt is None or not self.in_speech:
            return None
        return self._utterance_audio(utt, endpoint=self._frame_pos)

    def feed(self, audio_16k: np.ndarray) -> list[VadEvent]:
        """Consume float32 16 kHz audio of any length; return the events it caused."""
        audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
        self._fed += audio.size
        if self._pending.size:
            audio = np.concatenate([self._pending, audio])
        n_frames = audio.size // FRAME_SAMPLES
        self._pending = audio[n_frames * FRAME_SAMPLES :].copy()
        if n_frames == 0:
            return []
        # A copy: retained frames must not alias the caller's (reusable) buffer.
        frames = audio[: n_frames * FRAME_SAMPLES].reshape(n_frames, FRAME_SAMPLES).copy()
        probs, self._vad_state = self.vad.score(frames, self._vad_state)
        events: list[VadEvent] = []
        for frame, prob in zip(frames, probs, strict=True):
            self._retained.append(frame)
            event = self._step(float(prob))
            self._frame_pos += FRAME_SAMPLES
            if event is not None:
                events.append(event)
            elif (paused := self._maybe_paused()) is not None:
                events.append(paused)
            if self._state is EndpointState.SILENCE:
                self._retained.trim_to(self.config.pre_roll_ms * _SAMPLES_PER_MS)
        return events

    def flush(self) -> SpeechEnded | None:
        """End the stream now (push-to-talk release).

        Returns the current utterance if speech had started (at least
        min_speech_ms), else None. The model state is reset because the next
        audio is not continuous with this; the stream clock keeps running.
        """
        ended: SpeechEnded | None = None
        if self._utt is not None and self.in_speech:
            # The unscored partial frame is the very end of the press: keep it.
            ended = self._end(self._utt, endpoint=self._fed, forced=False, tail=self._pending)
        self._vad_state = VadState.initial()
        self._pending = np.zeros(0, dtype=np.float32)
        self._frame_pos = self._fed
        self._retained.drop_all(self._fed)
        self._state = EndpointState.SILENCE
        self._utt = None
        self._paused_end = None
        self.utterance_silence_ms = None
        return ended

    # --- state machine -------------------------------------------------

    def _step(self, prob: float) -> VadEvent | None:
        cfg = self.config
        self.last_probability = prob
        frame_start = self._frame_pos
        frame_end = frame_start + FRAME_SAMPLES
        voiced = prob >= cfg.threshold
        still_voiced = prob >= cfg.negative_threshold
        state, utt = self._state, self._utt

        if state is EndpointState.SILENCE or utt is None:
            if not voiced:
                return None
            self._utt = utt = _Utterance(start=frame_start, last_voiced_end=frame_end)
            self._state = EndpointState.MAYBE_SPEECH
            return self._maybe_started(utt)

        if state is EndpointState.MAYBE_SPEECH:
            if not still_voiced:
                # Too short to be speech: a cough, a click.
                self._state, self._utt = EndpointState.SILENCE, None
                return None
            utt.last_voiced_end = frame_end
            # Only confident frames count towards min_speech_ms.
            if voiced:
                utt.voiced_frames += 1
            return self._maybe_started(utt)

        if state is EndpointState.SPEECH:
            if still_voiced:
                utt.last_voiced_end = frame_end
            else:
                self._state = EndpointState.MAYBE_END
        elif voiced:  # MAYBE_END, and speech resumed
            utt.last_voiced_end = frame_end
            self._state = EndpointState.SPEECH
            if self._paused_end is not None:
                resumed = SpeechResumed(self._paused_end // _SAMPLES_PER_MS)
                self._paused_end = None
                self.utterance_silence_ms = None
                return resumed

        if frame_end - utt.start >= cfg.max_utterance_ms * _SAMPLES_PER_MS:
            ended = self._end(utt, endpoint=frame_end, forced=True)
            # Start the next utterance clean, without re-sending this one's tail.
            self._retained.drop_all(frame_end)
            return ended
        silence = frame_end - utt.last_voiced_end
        needed_ms = self.utterance_silence_ms or cfg.end_of_speech_silence_ms
        if (
            self._state is EndpointState.MAYBE_END
            # Nearest frame, not the next one: 300 ms ends after 288, not 320.
            and silence + FRAME_SAMPLES // 2 >= needed_ms * _SAMPLES_PER_MS
        ):
            return self._end(utt, endpoint=frame_end, forced=False)
        return None

    def _maybe_paused(self) -> SpeechPaused | None:
        """A SpeechPaused once per pause, when it reaches speculate_after_ms."""
        cfg, utt = self.config, self._utt
        if (
            cfg.speculate_after_ms <= 0
            or utt is None
            or self._state is not EndpointState.MAYBE_END
            or self._paused_end == utt.last_voiced_end
        ):
            return None
        silence = self._frame_pos - utt.last_voiced_end
        if silence + FRAME_SAMPLES // 2 < cfg.speculate_after_ms * _SAMPLES_PER_MS:
            return None
        self._paused_end = utt.last_voiced_end
        audio = self._utterance_audio(utt, endpoint=self._frame_pos)
        return SpeechPaused(
            audio=audio,
            start_ms=utt.start // _SAMPLES_PER_MS,
            end_ms=utt.last_voiced_end // _SAMPLES_PER_MS,
            paused_at_ms=self._frame_pos // _SAMPLES_PER_MS,
        )

    def _utterance_audio(
        self, utt: _Utterance, endpoint: int, tail: np.ndarray | None = None
    ) -> np.ndarray:
        cfg = self.config
        begin = max(self._retained.start, utt.start - cfg.pre_roll_ms * _SAMPLES_PER_MS)
        stop = min(utt.last_voiced_end + cfg.post_roll_ms * _SAMPLES_PER_MS, endpoint)
        return self._retained.slice(begin, stop, tail)

    def _maybe_started(self, utt: _Utterance) -> SpeechStarted | None:
        min_ms = self.config.min_speech_ms
        needed = -(-min_ms // FRAME_MS) + (_SMEAR_FRAMES if min_ms > 0 else 0)
        if utt.voiced_frames < max(1, needed):
            return None
        self._state = EndpointState.SPEECH
        return SpeechStarted(offset_ms=utt.start // _SAMPLES_PER_MS)

    def _end(
        self, utt: _Utterance, endpoint: int, forced: bool, tail: np.ndarray | None = None
    ) -> SpeechEnded:
        cfg = self.config
        begin = max(self._retained.start, utt.start - cfg.pre_roll_ms * _SAMPLES_PER_MS)
        audio = self._utterance_audio(utt, endpoint, tail)
        self._state, self._utt = EndpointState.SILENCE, None
        self._paused_end = None
        self.utterance_silence_ms = None
        return SpeechEnded(
            audio=audio,
            start_ms=utt.start // _SAMPLES_PER_MS,
            end_ms=utt.last_voiced_end // _SAMPLES_PER_MS,
            endpoint_ms=endpoint // _SAMPLES_PER_MS,
            forced=forced,
            audio_start_ms=begin // _SAMPLES_PER_MS,
        )
