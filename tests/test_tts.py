"""TTS: Piper synthesis with the bundled voice, alignments and voice sharing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.tts.piper_tts import (
    PiperSynthesizer,
    Synthesis,
    VoiceRegistry,
    VoiceSettings,
    bundled_voice_path,
    fold_alignments,
    speakable_text,
)

SENTENCE = "Please bring me the axe from the table."
STRESS_AND_LENGTH = set("ˈˌːˑ")


@pytest.fixture(scope="module")
def registry() -> VoiceRegistry:
    return VoiceRegistry(intra_op_threads=1)


@pytest.fixture(scope="module")
def synth(registry: VoiceRegistry) -> PiperSynthesizer:
    return registry.get(None, alignments=True)


# --- pure helpers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("length_scale", 0.3, "between 0.5 and 2.0"),
        ("length_scale", 2.5, "between 0.5 and 2.0"),
        ("noise_scale", -0.1, "between 0.0 and 1.0"),
        ("noise_w_scale", 1.5, "between 0.0 and 1.0"),
        ("volume", 3.0, "between 0.0 and 2.0"),
        ("speaker_id", -1, ">= 0"),
    ],
)
def test_voice_settings_reject_values_out_of_range_naming_the_field(
    field: str, value: float, allowed: str
) -> None:
    with pytest.raises(ValueError, match=f"{field} must be {allowed}"):
        VoiceSettings(**{field: value})  # type: ignore[arg-type]


def test_alignment_folding_moves_stress_forward_and_length_back_keeping_the_total() -> None:
    raw = [("^", 100), ("h", 10), ("ˈ", 30), ("ɛ", 20), ("l", 5), ("i", 7), ("ː", 3), ("$", 50)]
    folded = fold_alignments(raw)
    assert folded == [("^", 100), ("h", 10), ("ɛ", 50), ("l", 5), ("iː", 10), ("$", 50)]
    assert sum(n for _, n in folded) == sum(n for _, n in raw)
    assert fold_alignments([("ˈ", 4)]) == [("", 4)]
    assert fold_alignments([]) == []


def test_speakable_text_drops_emoji_symbols_and_markup() -> None:
    assert speakable_text("Hello 😀👍🏽 *waves* there!") == "Hello waves there!"
    assert speakable_text("Fine ❤️.") == "Fine ."
    for nothing in ("", "   ", "...", "😀😀", "?!", "* * *", "— …"):
        assert speakable_text(nothing) == ""
    assert speakable_text("3") == "3"


# --- bundled voice ---------------------------------------------------------


@pytest.mark.models
async def test_synthesizes_a_sentence_at_the_voice_rate(synth: PiperSynthesizer) -> None:
    out = await synth.synthesize(SENTENCE, VoiceSettings())
    assert isinstance(out, Synthesis)
    assert out.sample_rate == synth.sample_rate == 22050
    assert out.audio.dtype == np.float32 and out.audio.ndim == 1
    assert 1000 < out.duration_ms < 4000
    assert 0.5 < float(np.abs(out.audio).max()) <= 1.0
    assert out.elapsed_ms > 0


@pytest.mark.models
async def test_phoneme_timings_cover_the_audio_with_marks_folded(synth: PiperSynthesizer) -> None:
    assert synth.has_alignments
    out = await synth.synthesize("Hello there! The axe is on the table.", VoiceSettings())
    assert sum(n for _, n in out.phonemes) == out.audio.size
    symbols = [p for p, _ in out.phonemes]
    assert not STRESS_AND_LENGTH & set(symbols)
    assert all(n > 0 for _, n in out.phonemes)
    # Both sentences' timelines are present, each framed by BOS/EOS.
    assert symbols.count("^") == 2 and symbols.count("$") == 2


@pytest.mark.models
async def test_voice_loaded_without_alignments_returns_no_phonemes(
    registry: VoiceRegistry,
) -> None:
    plain = await registry.aget(None, alignments=False)
    assert not plain.has_alignments
    out = await plain.synthesize(SENTENCE, VoiceSettings())
    assert out.audio.size > 0 and out.phonemes == []


@pytest.mark.models
async def test_characters_sharing_a_voice_share_one_loaded_model(registry: VoiceRegistry) -> None:
    a, b = await asyncio.gather(registry.aget(None), registry.aget(str(bundled_voice_path())))
    assert a is b
    assert registry.for_settings(VoiceSettings(model_path=str(bundled_voice_path()))) is a
    assert PiperSynthesizer.load() is PiperSynthesizer.load(str(bundled_voice_path()))


@pytest.mark.models
async def test_length_scale_slows_speech_and_volume_scales_it(synth: PiperSynthesizer) -> None:
    calm = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0)
    normal = await synth.synthesize(SENTENCE, calm)
    slow = await synth.synthesize(
        SENTENCE, VoiceSettings(length_scale=1.5, noise_scale=0.0, noise_w_scale=0.0)
    )
    quiet = await synth.synthesize(
        SENTENCE, VoiceSettings(volume=0.5, noise_scale=0.0, noise_w_scale=0.0)
    )
    assert slow.audio.size > 1.3 * normal.audio.size
    np.testing.assert_allclose(quiet.audio, normal.audio * 0.5, atol=1e-4)


@pytest.mark.models
@pytest.mark.parametrize("text", ["", "   ", "...", "😀👍", "*", "— …"])
async def test_text_with_nothing_to_say_gives_empty_audio(
    synth: PiperSynthesizer, text: str
) -> None:
    out = await synth.synthesize(text, VoiceSettings())
    assert out.audio.size == 0 and out.phonemes == [] and out.sample_rate == 22050


@pytest.mark.models
async def test_emoji_are_not_read_aloud(synth: PiperSynthesizer) -> None:
    calm = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0)
    with_emoji = await synth.synthesize("Hello there 😀!", calm)
    plain = await synth.synthesize("Hello there!", calm)
    assert with_emoji.audio.size == plain.audio.size


@pytest.mark.models
async def test_settings_that_do_not_fit_the_voice_are_rejected(
    synth: PiperSynthesizer, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="speaker_id must be between 0 and 0"):
        await synth.synthesize(SENTENCE, VoiceSettings(speaker_id=3))
    other = tmp_path / "other.onnx"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="not this synthesizer's voice"):
        await synth.synthesize(SENTENCE, VoiceSettings(model_path=str(other)))
    # Speaker 0 of a single-speaker voice is just the voice.
    assert (await synth.synthesize("Yes.", VoiceSettings(speaker_id=0))).audio.size > 0


def test_missing_voice_file_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Piper voice"):
        VoiceRegistry().get(str(tmp_path / "nope.onnx"))


@pytest.mark.models
async def test_synthesis_runs_off_the_event_loop(synth: PiperSynthesizer) -> None:
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(1000 * (now - last))
            last = now

    task = asyncio.create_task(ticker())
    outs = await asyncio.gather(*(synth.synthesize(SENTENCE, VoiceSettings()) for _ in range(3)))
    stop.set()
    await task
    assert all(o.audio.size > 0 for o in outs)
    assert max(gaps) < 100, f"event loop blocked for {max(gaps):.0f} ms"
