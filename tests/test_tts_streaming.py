"""Speech made piece by piece: piper's vocoder decodes the start of a sentence first.

All on the bundled voice and real onnxruntime. Noiseless settings make piper
deterministic, so a streamed sentence can be compared sample for sample with a
whole one.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from npc_runtime.characters import load_character
from npc_runtime.events import AudioOut, ErrorCode, ErrorOut, ServerOut, TurnCause
from npc_runtime.tts.piper_tts import TARGET_PEAK, PiperSynthesizer, SpeechStream, VoiceSettings
from npc_runtime.tts.visemes import VisemeTable
from npc_runtime.tts.vocoder import SplitVoice
from npc_runtime.turn import Turn, TurnConfig, TurnRequest

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[1]
QUIET = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0)
# Lip closures (p, b, m) after vowels all through it: the lip-sync of a piece can
# depend on audio of the next one.
LIPS = "Maybe the baby will bring a bamboo pipe, or maybe a map, probably both."


@pytest.fixture(scope="module")
def synth() -> PiperSynthesizer:
    return PiperSynthesizer.build(None, alignments=True, intra_op_threads=2)


def drain(stream: SpeechStream) -> list[np.ndarray]:
    pieces = []
    while (piece := stream.next_piece()) is not None:
        pieces.append(piece)
    return pieces


def test_the_bundled_voice_is_split_into_encoder_and_decoder(synth: PiperSynthesizer) -> None:
    assert synth.split is not None
    assert synth.has_alignments


def test_a_decoded_slice_is_the_same_as_that_part_of_a_whole_decode(
    synth: PiperSynthesizer,
) -> None:
    split = synth.split
    assert split is not None
    ids = synth.voice.phonemes_to_ids(synth.voice.phonemize(LIPS)[0])
    encoded = split.encode(synth._inputs(ids, QUIET))
    whole = split.decode(encoded, 0, encoded.frames)
    assert whole.size == encoded.frames * synth.frame_samples
    cuts = [0, 5, 17, 40, 41, 90, encoded.frames]
    parts = [split.decode(encoded, a, b) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)
    with pytest.raises(ValueError, match="outside"):
        split.decode(encoded, 10, encoded.frames + 1)


def test_streamed_pieces_make_the_same_speech_as_a_whole_sentence(
    synth: PiperSynthesizer,
) -> None:
    whole = synth.synthesize_sync(LIPS, QUIET)
    stream = synth.stream(LIPS, QUIET, first_piece_ms=300)
    pieces = drain(stream)
    assert len(pieces) >= 3
    # The first piece is about the asked length: ~26 frames of 256 samples.
    assert abs(pieces[0].size - 0.3 * synth.sample_rate) <= synth.frame_samples
    # Pieces grow, so later ones cost fewer decodes of context.
    assert pieces[1].size > pieces[0].size
    np.testing.assert_allclose(np.concatenate(pieces), whole.audio, atol=1e-5)
    assert stream.total_samples == whole.audio.size
    assert stream.phonemes == whole.phonemes
    assert sum(n for _, n in stream.phonemes) == whole.audio.size


def test_a_text_of_several_sentences_streams_each_and_keeps_one_timeline(
    synth: PiperSynthesizer,
) -> None:
    text = "Hm. " + LIPS
    stream = synth.stream(text, QUIET, first_piece_ms=300)
    pieces = drain(stream)
    whole = synth.synthesize_sync(text, QUIET)
    np.testing.assert_allclose(np.concatenate(pieces), whole.audio, atol=1e-5)
    assert sum(n for _, n in stream.phonemes) == stream.total_samples == whole.audio.size


def test_every_sentence_of_a_voice_gets_the_same_gain(synth: PiperSynthesizer) -> None:
    # Measured on noiseless lines at load; the same on every load.
    again = PiperSynthesizer.build(None, alignments=False, intra_op_threads=1)
    assert again.gain == pytest.approx(synth.gain, rel=1e-4)
    quiet_line = synth.synthesize_sync("Hm.", QUIET, clip=False).audio
    raw = synth.gain
    synth.gain = 1.0
    try:
        unscaled = synth.synthesize_sync("Hm.", QUIET, clip=False).audio
    finally:
        synth.gain = raw
    np.testing.assert_allclose(quiet_line, unscaled * raw, atol=1e-5)
    # Not normalised line by line: a short murmur is not blown up to full scale.
    peaks = [
        float(np.abs(synth.synthesize_sync(t, QUIET).audio).max())
        for t in ("Hm.", "Get out of my shop!", LIPS)
    ]
    assert max(peaks) == pytest.approx(TARGET_PEAK, abs=0.15)
    assert all(0.2 < p <= 1.0 for p in peaks)


def test_a_voice_that_cannot_be_split_is_made_whole_with_its_timeline(
    monkeypatch: pytest.MonkeyPatch, synth: PiperSynthesizer
) -> None:
    monkeypatch.setattr(SplitVoice, "split", classmethod(lambda cls, *a, **k: None))
    whole_voice = PiperSynthesizer.build(None, alignments=True, intra_op_threads=2)
    assert whole_voice.split is None and whole_voice.has_alignments
    stream = whole_voice.stream(LIPS, QUIET, first_piece_ms=300)
    pieces = drain(stream)
    assert len(pieces) == 1
    # The same graph run whole: the same samples and timeline as the split voice's.
    expected = synth.synthesize_sync(LIPS, QUIET)
    np.testing.assert_allclose(pieces[0] * synth.gain / whole_voice.gain, expected.audio, atol=1e-4)
    assert stream.phonemes == expected.phonemes


def test_a_timeline_ends_where_a_later_lip_closure_could_still_move_it() -> None:
    table = VisemeTable.load()
    rate = 1000  # one sample per ms keeps the arithmetic readable
    phonemes = [("ɑ", 400), ("b", 100), ("ɑ", 300)]  # /b/ at 400 ms after a vowel
    # Before the closure's audio is known, it may start up to CLOSURE_SEARCH_MS earlier.
    assert table.settled_samples(phonemes, rate, 200) == 200
    assert table.settled_samples(phonemes, rate, 300) == 250
    assert table.settled_samples(phonemes, rate, 399) == 250
    # Once the audio reaches it, its place is known.
    assert table.settled_samples(phonemes, rate, 400) == 400
    assert table.settled_samples(phonemes, rate, 800) == 800
    # No closure: everything made is final.
    assert table.settled_samples([("ɑ", 400), ("s", 100)], rate, 300) == 300


class Events:
    def __init__(self) -> None:
        self.items: list[ServerOut] = []

    def emit(self, event: ServerOut) -> None:
        self.items.append(event)


async def speak_line(
    synth: PiperSynthesizer, line: str, **settings: Any
) -> tuple[Turn, list[ServerOut]]:
    """A real turn that speaks a fixed line (no LLM) in jin's voice settings."""
    cfg = TurnConfig(
        character=load_character(ROOT / "characters" / "jin" / "character.toml"),
        llm=None,  # type: ignore[arg-type]  # a fixed line never asks the LLM
        synthesizer=synth,
        voice=QUIET,
        first_clause_chars=200,
        **settings,
    )
    out = Events()
    request = TurnRequest(
        uuid.uuid4().hex, TurnCause.TEXT, "", time.perf_counter(), fixed_text=line
    )
    turn = Turn(cfg, request, [], out)
    await turn.run()
    return turn, out.items


def watch_pieces(
    monkeypatch: pytest.MonkeyPatch,
    synth: PiperSynthesizer,
    before: Callable[[int, int], None] | None = None,
    after: Callable[[int, np.ndarray], None] | None = None,
) -> list[SpeechStream]:
    """Patch synth.stream so that every piece calls before(stream index, call number from 1)
    and after(stream index, piece); returns the streams made."""
    made: list[SpeechStream] = []
    stream = synth.stream

    def watched(
        text: str, settings: VoiceSettings | None = None, first_piece_ms: float = 0.0
    ) -> SpeechStream:
        s = stream(text, settings, first_piece_ms)
        which = len(made)
        made.append(s)
        next_piece = s.next_piece
        calls = itertools.count(1)

        def watched_piece() -> np.ndarray | None:
            call = next(calls)
            if before is not None:
                before(which, call)
            piece = next_piece()
            if after is not None and piece is not None:
                after(which, piece)
            return piece

        s.next_piece = watched_piece  # type: ignore[method-assign]
        return s

    monkeypatch.setattr(synth, "stream", watched)
    return made


def absolute_visemes(chunks: list[AudioOut]) -> list[tuple[int, int, int]]:
    """(viseme, start, end) in ms of the turn's audio, consecutive equal ones merged."""
    out: list[tuple[int, int, int]] = []
    for c in chunks:
        for v in c.visemes:
            start, end = c.offset_ms + v.start_ms, c.offset_ms + v.start_ms + v.duration_ms
            if out and out[-1][0] == v.viseme and abs(out[-1][2] - start) <= 1:
                out[-1] = (v.viseme, out[-1][1], end)
            else:
                out.append((v.viseme, start, end))
    return out


async def test_a_streamed_sentence_sends_the_lip_sync_of_the_whole_sentence(
    synth: PiperSynthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audio goes out piece by piece, yet every chunk's visemes are those the whole
    sentence's audio gives, closures moved by audio that came in a later piece."""
    table = VisemeTable.load()
    # Cut the first piece inside a closure that the audio moves earlier: its start is
    # then only known once the second piece is made.
    whole_line = synth.synthesize_sync(LIPS, QUIET)
    aligned = table.timeline(whole_line.phonemes, synth.sample_rate)
    moved = table.timeline(whole_line.phonemes, synth.sample_rate, whole_line.audio)
    cut_ms = next(
        (a.start_ms + m.start_ms) / 2
        for a, m in zip(aligned, moved, strict=True)
        if a.viseme == table.viseme_for("b") and a.start_ms - m.start_ms > 20
    )
    pieces: list[np.ndarray] = []
    made = watch_pieces(monkeypatch, synth, after=lambda _, piece: pieces.append(piece))
    # No resampling: ms map to samples exactly.
    turn, out = await speak_line(
        synth,
        LIPS,
        output_rate=synth.sample_rate,
        chunk_ms=40,
        first_piece_ms=cut_ms,
        visemes=table,
    )
    assert not turn.error
    assert len(made) == 1 and len(pieces) >= 2
    assert made[0].phonemes == whole_line.phonemes
    assert abs(1000 * pieces[0].size / synth.sample_rate - cut_ms) < 12  # one frame
    chunks = [e for e in out if isinstance(e, AudioOut)]
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    audio = np.concatenate([np.frombuffer(c.pcm, dtype="<i2") for c in chunks]) / 32768.0
    whole = np.concatenate(pieces)
    assert audio.size == whole.size
    np.testing.assert_allclose(audio, whole, atol=2 / 32768)
    expected = [
        (v.viseme, round(v.start_ms), round(v.start_ms + v.duration_ms))
        for v in table.timeline(made[0].phonemes, synth.sample_rate, whole)
    ]
    sent = absolute_visemes(chunks)
    assert any(v == table.viseme_for("b") for v, _, _ in expected)
    assert [v for v, _, _ in sent] == [v for v, _, _ in expected]
    for (_, s0, e0), (_, s1, e1) in zip(sent, expected, strict=True):
        assert abs(s0 - s1) <= 2 and abs(e0 - e1) <= 2
    assert sent[0][1] == 0 and sent[-1][2] == pytest.approx(
        1000 * whole.size / synth.sample_rate, abs=2
    )
    assert turn.spans and turn.spans[0].end_ms == pytest.approx(
        1000 * whole.size / synth.sample_rate, abs=1
    )


async def test_a_sentence_that_stalls_midway_keeps_what_was_sent_and_the_turn_goes_on(
    synth: PiperSynthesizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stall(stream_index: int, call: int) -> None:
        if stream_index == 0 and call == 2:
            time.sleep(1.0)  # piper stuck after the first sentence's first piece

    watch_pieces(monkeypatch, synth, before=stall)
    turn, out = await speak_line(
        synth, LIPS + " Yes.", output_rate=16_000, first_piece_ms=300, tts_timeout_s=0.5
    )
    errors = [e for e in out if isinstance(e, ErrorOut)]
    assert [e.code for e in errors] == [ErrorCode.DEADLINE_EXCEEDED]
    assert "tts.timeout_s" in errors[0].message and errors[0].session_alive
    chunks = [e for e in out if isinstance(e, AudioOut)]
    first = [c for c in chunks if c.sentence_index == 0]
    second = [c for c in chunks if c.sentence_index == 1]
    assert first and second  # the next sentence was still spoken
    sent_ms = sum(len(c.pcm) // 2 for c in first) / 16.0
    assert 250 < sent_ms < 400  # only the first piece of the stalled sentence
    # What the player heard of it is what was sent, not the whole sentence.
    assert turn.spans[0].end_ms == pytest.approx(sent_ms, abs=1)
    assert turn.spans[1].start_ms == pytest.approx(sent_ms, abs=1)
    assert second[0].offset_ms == pytest.approx(sent_ms, abs=1)
