"""SentenceChunker: streamed LLM text into TTS-sized sentences."""

from __future__ import annotations

import random
import time

import pytest

from npc_runtime.tts.chunker import SentenceChunker

REPLIES = [
    "Hello there! I am Dr. Smith, e.g. the healer. It costs 3.5 gold... Maybe more? "
    '"Take it!" she said. Then (quietly.) Bye.\nNext line\n\n- item one\n- item two',
    "Well, you see, the thing about the old mill by the river is that nobody has been there "
    "since the flood, and the miller vanished; some say he drowned. After that the village was "
    "quiet for a long time and people would not talk about it at all, not at the inn, not at "
    "the market, not even at the temple where the priests kept records of everything that ever "
    "happened in the valley since the founding of the kingdom, which was a very long time ago "
    "indeed and so on and so forth without end.",
    "... Yes. Okay!",
    "Mr. and Mrs. Jones live at 5 Main St. with J. R. R. Tolkien. He is from the U.S. Army.",
    "Wait— what? No… I mean — fine. Really?! Yes!!! 'Quite.' [Sighs.] Go.",
    "A" * 300 + " end.",
    "No. I won't. Ask the captain: he knows; I don't, and never will, not for all the gold.",
]


def whole(text: str, **kw: int | None) -> list[str]:
    c = SentenceChunker(**kw)  # type: ignore[arg-type]
    return c.push(text) + c.flush()


def streamed(text: str, sizes: list[int], **kw: int | None) -> list[str]:
    c = SentenceChunker(**kw)  # type: ignore[arg-type]
    out: list[str] = []
    i = 0
    k = 0
    while i < len(text):
        step = sizes[k % len(sizes)]
        out += c.push(text[i : i + step])
        i += step
        k += 1
    return out + c.flush()


def test_sentence_is_returned_as_soon_as_the_next_one_begins() -> None:
    c = SentenceChunker()
    assert c.push("Hello there") == []
    assert c.push("!") == []
    assert c.push(" ") == []  # "!" then a space: wait to see the next word
    assert c.push("How") == ["Hello there!"]
    assert c.push(" are you?") == []
    assert c.flush() == ["How are you?"]


def test_terminal_punctuation_and_closing_quotes_stay_with_the_sentence() -> None:
    assert whole('He said "Stop!" Then he left. (Quietly.) Done?!') == [
        'He said "Stop!"',
        "Then he left.",
        "(Quietly.)",
        "Done?!",
    ]


def test_titles_abbreviations_and_initials_do_not_end_sentences() -> None:
    assert whole("Ask Dr. Watson, e.g. at noon. Mrs. Hudson knows J. R. R. Tolkien. Yes.") == [
        "Ask Dr. Watson, e.g. at noon.",
        "Mrs. Hudson knows J. R. R. Tolkien.",
        "Yes.",
    ]


def test_decimal_numbers_do_not_end_sentences() -> None:
    assert whole("It weighs 3.5 stone. It costs 1,000.50 gold.") == [
        "It weighs 3.5 stone.",
        "It costs 1,000.50 gold.",
    ]


def test_ellipsis_is_kept_whole() -> None:
    c = SentenceChunker()
    assert c.push("Well.") == []
    assert c.push(".") == []
    assert c.push(". I") == ["Well..."]
    assert c.push(" suppose… So") == ["I suppose…"]
    assert c.flush() == ["So"]


def test_punctuation_followed_by_lowercase_continues_the_sentence() -> None:
    assert whole('"Help!" she cried. Hmm... maybe not.') == [
        '"Help!" she cried.',
        "Hmm... maybe not.",
    ]


def test_newlines_end_sentences() -> None:
    assert whole("Here is the list:\n- an axe\n- a rope\n\nThat is all") == [
        "Here is the list:",
        "- an axe",
        "- a rope",
        "That is all",
    ]


def test_punctuation_alone_is_not_a_sentence() -> None:
    assert whole("... Yes. ?! Fine.") == ["... Yes.", "?! Fine."]


def test_long_first_sentence_is_cut_at_the_last_clause_boundary_within_the_limit() -> None:
    text = (
        "Well, traveller, if you are looking for the old mill then you must follow the river "
        "north until you reach the bridge. Then ask again."
    )
    assert whole(text, first_clause_chars=60) == [
        "Well, traveller,",
        "if you are looking for the old mill then you must follow the river north until you "
        "reach the bridge.",
        "Then ask again.",
    ]


def test_long_first_sentence_without_an_early_clause_is_cut_at_the_next_one() -> None:
    text = (
        "The old mill by the river has been empty ever since the great flood of last spring, "
        "and nobody goes there now."
    )
    assert whole(text, first_clause_chars=30) == [
        "The old mill by the river has been empty ever since the great flood of last spring,",
        "and nobody goes there now.",
    ]


def test_first_sentence_within_the_limit_is_not_cut() -> None:
    assert whole("Yes, of course, take it. Go now, quickly, before he wakes, or else.") == [
        "Yes, of course, take it.",
        "Go now, quickly, before he wakes, or else.",
    ]


def test_later_sentences_are_only_cut_at_the_hard_maximum() -> None:
    later = "And then, after a while, " + "and then, after a while, " * 7 + "it ended."
    out = whole("Hi. " + later, first_clause_chars=20, max_chars=250)
    assert out == ["Hi.", later]


def test_over_long_sentence_is_cut_at_a_clause_or_space_within_the_maximum() -> None:
    text = "Hi. Word " + " ".join(["word"] * 80) + ", and " + " ".join(["more"] * 10) + "."
    out = whole(text, max_chars=100)
    assert out[0] == "Hi."
    assert all(len(s) <= 100 for s in out)
    assert all(not s.startswith(" ") and not s.endswith(" ") for s in out)
    assert " ".join(out) == text
    unbroken = "x" * 130
    assert whole(unbroken, max_chars=50) == ["x" * 50, "x" * 50, "x" * 30]


@pytest.mark.parametrize("reply", REPLIES)
def test_reply_streamed_one_character_at_a_time_gives_the_same_sentences(reply: str) -> None:
    expected = whole(reply)
    assert streamed(reply, [1]) == expected
    rng = random.Random(reply)
    for _ in range(20):
        sizes = [rng.randint(1, 12) for _ in range(30)]
        assert streamed(reply, sizes) == expected
    # Nothing is lost or reordered (an unbroken 300-letter word may be cut in two).
    assert "".join("".join(expected).split()) == "".join(reply.split())


@pytest.mark.parametrize("reply", REPLIES)
def test_no_chunk_exceeds_the_maximum(reply: str) -> None:
    assert all(len(s) <= 250 for s in whole(reply))


def test_flush_starts_a_new_reply_with_the_first_clause_rule_again() -> None:
    long_first = "Well, traveller, " + "the road goes on " * 5 + "forever. Next."
    c = SentenceChunker(first_clause_chars=40)
    first = c.push(long_first) + c.flush()
    second = c.push(long_first) + c.flush()
    assert first == second
    assert first[0] == "Well, traveller,"
    assert c.pending == "" and c.flush() == []


def test_first_clause_cutting_can_be_disabled() -> None:
    text = "Well, traveller, " + "the road goes on " * 5 + "forever."
    assert whole(text, first_clause_chars=None) == [text]


def test_invalid_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        SentenceChunker(max_chars=5)
    with pytest.raises(ValueError, match="first_clause_chars"):
        SentenceChunker(first_clause_chars=0)


def test_streaming_a_long_reply_character_by_character_is_fast() -> None:
    reply = " ".join(REPLIES * 5)
    c = SentenceChunker()
    t0 = time.perf_counter()
    for ch in reply:
        c.push(ch)
    c.flush()
    per_char_us = 1e6 * (time.perf_counter() - t0) / len(reply)
    assert per_char_us < 200, f"{per_char_us:.0f} µs per character"


def test_first_clause_is_cut_as_soon_as_it_streams_in_past_the_minimum() -> None:
    reply = "Tonkotsu tonight, kid, same as every night for thirty years. Sit down."
    c = SentenceChunker(60, first_clause_min_chars=16)
    out: list[str] = []
    for ch in reply:
        got = c.push(ch)
        if got and not out:
            # The first chunk leaves one character after its comma, not at the sentence end.
            assert c.pending == "" or len(c.pending) <= 2
        out.extend(got)
    out.extend(c.flush())
    assert out[0] == "Tonkotsu tonight,"
    assert out[1:] == ["kid, same as every night for thirty years.", "Sit down."]
    # Too short a clause waits for the next boundary; later sentences are never cut early.
    c = SentenceChunker(60, first_clause_min_chars=16)
    assert c.push("Hi, kid, sit down, the broth is hot. ") == ["Hi, kid, sit down,"]
    assert c.push("Eat, then talk. ") == ["the broth is hot."]
    assert c.flush() == ["Eat, then talk."]


def test_a_first_sentence_without_any_boundary_is_cut_at_twice_the_clause_length() -> None:
    # A small model running on without spaces or sentence ends: the first audio must not
    # wait for max_chars of it.
    c = SentenceChunker(first_clause_chars=60, max_chars=250)
    out = c.push("I am." + "Iam." * 60)
    assert out and len(out[0]) <= 120
    assert "".join(out + c.flush()).replace(" ", "") == ("I am." + "Iam." * 60).replace(" ", "")


def test_first_chunk_ends_before_a_phrase_opening_word_when_no_comma_comes_early() -> None:
    # Measured: each character of the first chunk costs ~6 ms of first audio (decode
    # and synthesis), so "I'd love to help you" starts ~100 ms before the whole line.
    reply = "I'd love to help you with your order tonight. Sit down."
    c = SentenceChunker(60, first_clause_min_chars=16)
    out: list[str] = []
    for ch in reply:
        out.extend(c.push(ch))
    out.extend(c.flush())
    assert out == ["I'd love to help you", "with your order tonight.", "Sit down."]
    early = {"first_clause_chars": 60, "first_clause_min_chars": 16}
    assert streamed(reply, [3, 5, 1], **early) == whole(reply, **early) == out
    # Not before the minimum, not at a word that qualifies what follows, not later on.
    assert whole("Go and eat. I'm so glad that you came by with him.", **early) == [
        "Go and eat.",
        "I'm so glad that you came by with him.",
    ]


def test_first_chunk_waits_for_the_phrase_word_to_be_whole() -> None:
    c = SentenceChunker(60, first_clause_min_chars=16)
    assert c.push("I've been cooking here fo") == []  # "fo" may be "for", or "forever"
    assert c.push("rever") == []
    c = SentenceChunker(60, first_clause_min_chars=16)
    assert c.push("I've been cooking here for ") == ["I've been cooking here"]
