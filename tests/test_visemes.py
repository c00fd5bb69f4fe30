"""Lip-sync visemes: the editable phoneme table, timelines and per-chunk slices."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from npc_runtime.tts.piper_tts import PiperSynthesizer, Synthesis, VoiceSettings
from npc_runtime.tts.visemes import (
    DEFAULT_TABLE_PATH,
    VISEME_NAMES,
    VisemeSpan,
    VisemeTable,
    slice_for_chunk,
)

V = {name: i for i, name in enumerate(VISEME_NAMES)}
STEADY = VoiceSettings(noise_scale=0.0, noise_w_scale=0.0)
BILABIALS = frozenset({"p", "b", "m"})
CHUNK_MS = 200.0


@pytest.fixture(scope="module")
def table() -> VisemeTable:
    return VisemeTable.load()


@pytest.fixture(scope="module")
def synth() -> PiperSynthesizer:
    return PiperSynthesizer.load(None, alignments=True)


def starts_ms(syn: Synthesis) -> list[tuple[str, float, float]]:
    """(phoneme, start_ms, end_ms) from the alignments themselves."""
    out, pos = [], 0
    for phoneme, samples in syn.phonemes:
        out.append(
            (phoneme, 1000.0 * pos / syn.sample_rate, 1000.0 * (pos + samples) / syn.sample_rate)
        )
        pos += samples
    return out


def write_table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "visemes.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- table lookup ----------------------------------------------------------


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [
        ("p", "PP"), ("m", "PP"), ("f", "FF"), ("ð", "TH"), ("ɾ", "DD"), ("ɡ", "kk"),
        ("ʃ", "CH"), ("z", "SS"), ("ŋ", "nn"), ("n̩", "nn"), ("ɹ", "RR"), ("ɚ", "RR"),
        ("ɑː", "aa"), ("ɛ", "E"), ("ᵻ", "ih"), ("ɔː", "oh"), ("uː", "ou"), ("w", "ou"),
        (" ", "sil"), (",", "sil"), ("^", "sil"), ("$", "sil"),
    ],
)  # fmt: skip
def test_bundled_table_maps_espeak_phonemes(table: VisemeTable, phoneme: str, viseme: str) -> None:
    assert table.viseme_for(phoneme) == V[viseme]


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [
        ("uːʰ", "ou"),  # modifier stripped
        ("aɪ", "aa"),  # unlisted diphthong: its first sound
        ("ʁ", "ih"),  # unknown letter: the fallback
        ("«", "sil"),  # unknown punctuation
        ("", "sil"),
    ],
)
def test_unknown_phonemes_degrade_without_raising(
    table: VisemeTable, phoneme: str, viseme: str
) -> None:
    assert table.viseme_for(phoneme) == V[viseme]


# --- timelines and slices (no model) ---------------------------------------


def test_timeline_merges_repeats_and_tiles_the_audio(table: VisemeTable) -> None:
    phonemes = [("^", 100), ("p", 200), ("b", 300), ("ɑː", 0), ("ɑː", 1000), ("$", 400)]
    spans = table.timeline(phonemes, 1000)
    assert [s.viseme for s in spans] == [V["sil"], V["PP"], V["aa"], V["sil"]]
    assert [s.start_ms for s in spans] == [0.0, 100.0, 600.0, 1600.0]
    assert sum(s.duration_ms for s in spans) == pytest.approx(2000.0)
    assert spans[0].weight == 0.0 and spans[1].weight == 1.0


def test_listed_pairs_are_joined_into_one_viseme(table: VisemeTable) -> None:
    spans = table.timeline([("t", 10), ("ʃ", 30), ("ɜː", 60)], 1000)
    assert [(s.viseme, s.duration_ms) for s in spans] == [(V["CH"], 40.0), (V["RR"], 60.0)]


def test_short_word_gaps_do_not_close_the_mouth_but_pauses_do(table: VisemeTable) -> None:
    gap = table.timeline([("ɑː", 100), (" ", 30), ("ɛ", 100)], 1000)
    assert [(s.viseme, s.duration_ms) for s in gap] == [(V["aa"], 115.0), (V["E"], 115.0)]
    pause = table.timeline([("ɑː", 100), (",", 150), (" ", 30), ("ɛ", 100)], 1000)
    assert [s.viseme for s in pause] == [V["aa"], V["sil"], V["E"]]


def test_slices_are_clipped_and_relative_to_the_chunk() -> None:
    spans = [VisemeSpan(1, 0.0, 150.0, 1.0), VisemeSpan(10, 150.0, 300.0, 0.8)]
    assert slice_for_chunk(spans, 100.0, 300.0) == [
        VisemeSpan(1, 0.0, 50.0, 1.0),
        VisemeSpan(10, 50.0, 150.0, 0.8),
    ]
    assert slice_for_chunk(spans, 450.0, 650.0) == []


# --- editing the table -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[visemes]\nPP = ["p", "b"\n', "not valid TOML"),
        ('[visemes]\nPQ = ["p"]\n', "visemes.PQ: unknown viseme 'PQ'; use one of sil, PP"),
        ('[visemes]\nPP = "p"\n', "visemes.PP: must be a list"),
        ('[visemes]\nPP = ["p"]\nFF = ["p"]\n', "also listed under PP"),
        ('[visemes]\nPP = ["p"]\n[weights]\nPP = 3\n', "weights.PP: weight 3 is not"),
        ('fallback = "xx"\n[visemes]\nPP = ["p"]\n', "fallback: unknown viseme 'xx'"),
        ('[visems]\nPP = ["p"]\n', "visems: unknown setting"),
    ],
)
def test_malformed_table_names_file_entry_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    path = write_table(tmp_path, text)
    with pytest.raises(ValueError, match="viseme table") as err:
        VisemeTable.load(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


# --- the real voice --------------------------------------------------------


@pytest.mark.models
def test_edited_table_changes_the_timeline(tmp_path: Path, synth: PiperSynthesizer) -> None:
    # A designer moves "m" from PP to nn and drops the word-gap smoothing.
    text = DEFAULT_TABLE_PATH.read_text(encoding="utf-8")
    text = text.replace('PP = ["p", "b", "m", ', 'PP = ["p", "b", ').replace(
        'nn = ["n", ', 'nn = ["m", "n", '
    )
    edited = VisemeTable.load(write_table(tmp_path, text))
    syn = synth.synthesize_sync("Papa made a map.", STEADY)
    before = VisemeTable.load().timeline(syn.phonemes, syn.sample_rate)
    after = edited.timeline(syn.phonemes, syn.sample_rate)
    assert [s.viseme for s in before].count(V["nn"]) == 0
    assert [s.viseme for s in after].count(V["nn"]) == 2  # made, map
    assert [s.viseme for s in after].count(V["PP"]) == 3  # p, p, p


def closure_onset_ms(syn: Synthesis, burst_ms: float, vowel_start_ms: float) -> float | None:
    """When the sound stops before a stop's burst: the start of the run of 10 ms
    frames, ending at the burst, that are under 10% of the vowel's loudest frame.
    None when there is no such silence (voiced /b/, nasals)."""
    r = syn.sample_rate
    w, hop = int(0.010 * r), int(0.0025 * r)
    b, v = int(burst_ms * r / 1000), int(vowel_start_ms * r / 1000)
    frames = [(i, float(np.sqrt(np.mean(syn.audio[i : i + w] ** 2)))) for i in range(v, b, hop)]
    if not frames:
        return None
    peak = max(level for _, level in frames)
    onset = None
    for i, level in reversed(frames):
        if level >= 0.1 * peak:
            break
        onset = i
    return None if onset is None else 1000.0 * onset / r


@pytest.mark.models
@pytest.mark.parametrize("length_scale", [0.88, 1.0, 1.15])
@pytest.mark.parametrize(
    "text", ["Papa made a map.", "Put the pepper in the pot, Pete.", "I am happy to be back."]
)
def test_bilabials_show_pp_when_the_lips_close(
    table: VisemeTable, synth: PiperSynthesizer, text: str, length_scale: float
) -> None:
    """PP starts when the lips close — where the audio falls silent before the
    burst, within 40 ms — not at Piper's aligned burst 30-100 ms later."""
    # No noise: the same audio every run (piper's noise moved one closure past 40 ms
    # in one run of many).
    voice = VoiceSettings(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    syn = synth.synthesize_sync(text, voice)
    spans = table.timeline(syn.phonemes, syn.sample_rate, syn.audio)
    assert sum(sp.duration_ms for sp in spans) == pytest.approx(syn.duration_ms, abs=0.01)
    pp = [sp for sp in spans if sp.viseme == V["PP"]]
    aligned = starts_ms(syn)
    bilabials = [a for a in aligned if a[0] in BILABIALS]
    assert len(pp) >= 1 and len(pp) <= len(bilabials)
    measured = 0
    for i, (phoneme, start, end) in enumerate(aligned):
        if phoneme not in BILABIALS:
            continue
        mid = (start + end) / 2
        covering = [sp for sp in pp if sp.start_ms <= mid <= sp.end_ms]
        assert covering, (phoneme, start, pp)
        span = covering[0]
        prev = aligned[i - 1] if i else None
        if phoneme == "p" and prev is not None and prev[0] not in ("^", " ", "_"):
            onset = closure_onset_ms(syn, start, prev[1])
            if onset is not None:
                measured += 1
                assert abs(span.start_ms - onset) <= 40.0, (phoneme, onset, span)
    assert measured >= 1


@pytest.mark.models
@pytest.mark.parametrize(
    "text",
    [
        "Papa made a map.",
        "Judge the church's measure, Thomas; thirty thousand.",
        "How now, brown cow? I would buy a boy a toy.",
    ],
)
def test_slices_cover_every_200ms_chunk(
    table: VisemeTable, synth: PiperSynthesizer, text: str
) -> None:
    syn = synth.synthesize_sync(text, STEADY)
    spans = table.timeline(syn.phonemes, syn.sample_rate)
    assert sum(s.duration_ms for s in spans) == pytest.approx(syn.duration_ms, abs=0.01)
    chunk_samples = int(syn.sample_rate * CHUNK_MS / 1000)
    for first in range(0, syn.audio.size, chunk_samples):
        last = min(first + chunk_samples, syn.audio.size)
        lo, hi = 1000.0 * first / syn.sample_rate, 1000.0 * last / syn.sample_rate
        part = slice_for_chunk(spans, lo, hi)
        assert part and part[0].start_ms == pytest.approx(0.0)
        for a, b in itertools.pairwise(part):
            assert b.start_ms == pytest.approx(a.end_ms)  # no gaps inside a chunk
        covered = sum(s.duration_ms for s in part)
        assert covered == pytest.approx(hi - lo, rel=0.05)


BENCH = [
    "Welcome back, traveller.",
    "The road north is closed until the snow melts.",
    "I can sell you a sword, but not that one.",
    "Have you seen my brother? He went to the mine.",
    "Papa made a map of the old forest.",
    "Three silver coins, and not a penny less!",
    "The guards change shift at midnight.",
    "Why would I trust you?",
    "Bring me five wolf pelts and I'll pay you well.",
    "It's quiet tonight. Too quiet.",
]


@pytest.mark.models
def test_alignment_cost_on_tts_time(synth: PiperSynthesizer) -> None:
    """Run with -s to see the numbers: median ms per sentence, with vs without alignments."""
    plain = PiperSynthesizer.load(None, alignments=False)
    assert synth.has_alignments and not plain.has_alignments
    for voice in (synth, plain):  # warm up both sessions
        voice.synthesize_sync(BENCH[0], STEADY)
    per_sentence: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(5):  # interleaved so background load hits both alike
        for voice in (synth, plain):
            t0 = time.perf_counter()
            for text in BENCH:
                voice.synthesize_sync(text, STEADY)
            per_sentence[voice.has_alignments].append(
                1000.0 * (time.perf_counter() - t0) / len(BENCH)
            )
    with_ms = statistics.median(per_sentence[True])
    without_ms = statistics.median(per_sentence[False])
    print(
        f"\nTTS median ms/sentence: with alignments {with_ms:.1f}, "
        f"without {without_ms:.1f} ({100 * (with_ms / without_ms - 1):+.1f}%)"
    )
    assert with_ms < 1.5 * without_ms
