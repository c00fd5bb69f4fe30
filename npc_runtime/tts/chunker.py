"""Split a streamed LLM reply into sentences for TTS as soon as each is complete.

Every decision depends only on the text, never on how it was split into deltas:
where a boundary needs look-ahead (the character after "." decides between
"3.5", "Dr. Smith" and a real end) the chunker waits for it, so a reply streamed
one character at a time yields the same sentences as the reply pushed whole.
"""

from __future__ import annotations

import enum
import re

_CLOSERS = "\"'”’»)\\]}*"
# A run of terminal punctuation (so "..." and "?!" stay whole) plus closing
# quotes/brackets, or a newline.
_SENTENCE_END = re.compile(rf"[.!?…]+[{_CLOSERS}]*|\n")
# Clause boundaries; the cut goes after the punctuation.
_CLAUSE = re.compile(rf"[,;:][{_CLOSERS}]*(?=\s)|\s[-–—](?=\s)|—(?=\S)")
# Before a word that opens a new phrase ("... help you | with your order"): a speaker
# may breathe there, so the first chunk can end there when no comma comes early. Only
# once the word is whole (a space follows it); not "so" or "that", which more often
# qualify what follows ("so good", "that bowl").
_PHRASE = re.compile(
    r"\s(?=(?:and|but|or|because|with|when|while|where|who|which|if|for|about|after"
    r"|before|until|since|though|although|unless)\s)",
    re.IGNORECASE,
)
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
# Words that take a "." without ending a sentence ("Dr. Smith", "e.g. this").
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "capt", "col", "gen", "lt", "sgt"}
    | {"rev", "hon", "vs", "eg", "ie", "cf", "aka", "approx", "dept", "fig"}
)


class _End(enum.Enum):
    FOUND = "found"  # a sentence ends at pos
    WAIT = "wait"  # maybe ends at pos: need the next characters to know
    NONE = "none"


def _has_alnum(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _is_abbreviation(before: str) -> bool:
    m = _WORD_BEFORE.search(before)
    if m is None:
        return False
    word = m.group(1)
    if len(word) == 1:
        return word.isupper()  # an initial: "J. R. R. Tolkien"
    parts = word.split(".")
    if len(parts) > 1 and all(len(p) == 1 for p in parts):
        return True  # "U.S", "a.m"
    return word.replace(".", "").lower() in ABBREVIATIONS


def _find_end(buf: str, final: bool) -> tuple[_End, int]:
    """The first sentence end in buf (which has no leading whitespace)."""
    n = len(buf)
    for m in _SENTENCE_END.finditer(buf):
        end = m.end()
        if not _has_alnum(buf[: m.start()]):
            continue  # nothing to say yet ("...", a blank line)
        if m.group() == "\n":
            return _End.FOUND, end
        if m.group() == "." and _is_abbreviation(buf[: m.start()]):
            continue
        if end == n:
            if final:
                return _End.FOUND, end
            return _End.WAIT, end
        if not buf[end].isspace():
            continue  # "3.5", "e.g", "...and"
        k = end
        while k < n and buf[k].isspace():
            k += 1
        if "\n" in buf[end:k]:
            return _End.FOUND, end
        if k == n:
            if final:
                return _End.FOUND, end
            return _End.WAIT, end
        if buf[k].islower():
            continue  # '"Help!" she cried', "Well... maybe"
        return _End.FOUND, end
    return _End.NONE, n


class SentenceChunker:
    """Per-reply chunker: push() LLM deltas, flush() at the end of the reply.

    first_clause_chars: if the first sentence of a reply is longer than this,
    it is cut at a clause boundary (",", ";", ":", a dash) so the first audio
    starts sooner; None disables. first_clause_min_chars: the first chunk ends at
    the first clause boundary, or before a phrase-opening word ("with", "because"),
    past this many characters; None disables. max_chars: no chunk is longer than this
    (cut at a clause boundary, else a space).
    """

    def __init__(
        self,
        first_clause_chars: int | None = 60,
        max_chars: int = 250,
        first_clause_min_chars: int | None = None,
    ) -> None:
        if max_chars < 20:
            raise ValueError(f"max_chars must be >= 20, got {max_chars}")
        if first_clause_chars is not None and first_clause_chars < 1:
            raise ValueError(f"first_clause_chars must be >= 1 or None, got {first_clause_chars}")
        if first_clause_min_chars is not None and first_clause_min_chars < 1:
            raise ValueError(
                f"first_clause_min_chars must be >= 1 or None, got {first_clause_min_chars}"
            )
        self.first_clause_chars = first_clause_chars
        # Cut the first chunk at the first clause boundary past this many characters
        # as soon as it streams in, without waiting to see the rest of the sentence:
        # the first audio then waits for a few words, not a whole sentence.
        self.first_clause_min_chars = first_clause_min_chars
        self.max_chars = max_chars
        self._buf = ""
        self._first = True

    @property
    def pending(self) -> str:
        """Text received but not yet returned."""
        return self._buf

    def reset(self) -> None:
        self._buf = ""
        self._first = True

    def push(self, delta: str) -> list[str]:
        """Add streamed text; return the sentences it completed."""
        self._buf = (self._buf + delta).lstrip()
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of reply: return everything left, and start afresh for the next reply."""
        out = self._drain(final=True)
        self.reset()
        return out

    def _drain(self, final: bool) -> list[str]:
        out: list[str] = []
        while self._buf:
            cut = self._next_cut(self._buf, final)
            if cut is None:
                break
            chunk = self._buf[:cut].strip()
            self._buf = self._buf[cut:].lstrip()
            if chunk:
                out.append(chunk)
                self._first = False
        return out

    def _next_cut(self, buf: str, final: bool) -> int | None:
        kind, pos = _find_end(buf, final)
        early = self.first_clause_min_chars if self._first else None
        if early is not None:
            cuts = self._clause_cuts(buf) + [m.start() for m in _PHRASE.finditer(buf)]
            clauses = sorted(c for c in cuts if early <= c < pos)
            if clauses and clauses[0] <= self.max_chars:
                return clauses[0]
        first_limit = self.first_clause_chars if self._first else None
        if first_limit is not None and first_limit < self.max_chars:
            if kind is not _End.NONE and pos <= first_limit:
                return pos if kind is _End.FOUND else None
            if kind is _End.NONE and len(buf) <= first_limit:
                return len(buf) if final else None
            # The first sentence is longer than first_limit: prefer the last clause
            # boundary within it, else the first one after it.
            clauses = [c for c in self._clause_cuts(buf) if c < pos]
            within = [c for c in clauses if c <= first_limit]
            if within:
                return within[-1]
            later = [c for c in clauses if c <= self.max_chars]
            if later:
                return later[0]
            # No boundary at all ("I am.Iam.Iam…", a small model running on): the first
            # audio waits for twice first_limit at most, not for max_chars.
            if min(pos, len(buf)) > 2 * first_limit:
                return self._hard_cut(buf, pos, 2 * first_limit)
        if kind is not _End.NONE and pos <= self.max_chars:
            return pos if kind is _End.FOUND else None
        if kind is _End.NONE and len(buf) <= self.max_chars:
            return len(buf) if final else None
        return self._hard_cut(buf, pos)

    def _clause_cuts(self, buf: str) -> list[int]:
        return [m.end() for m in _CLAUSE.finditer(buf)]

    def _hard_cut(self, buf: str, stop: int, limit: int | None = None) -> int:
        """Cut an over-long sentence at `limit` (max_chars): clause boundary, else space,
        else anywhere."""
        limit = limit or self.max_chars
        clauses = [c for c in self._clause_cuts(buf) if c <= min(limit, stop)]
        if clauses:
            return clauses[-1]
        space = buf.rfind(" ", 1, limit + 1)
        return space if space > 0 else limit
