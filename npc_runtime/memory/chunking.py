"""Markdown and plain text → chunks along headings and paragraphs.

Each chunk keeps the path of headings above it ("Broth › Tonkotsu"), so a
paragraph that says "it simmers for eighteen hours" still says what "it" is
when it is retrieved alone. Tokens are approximated as characters / 4, close
enough for English with e5's tokenizer and free to compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class Chunk:
    heading: str  # "Title › Section", or "" for text before any heading
    text: str

    def embed_text(self) -> str:
        """What is embedded and shown: the heading path gives the paragraph its subject."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def _blocks(text: str) -> list[tuple[list[str], str]]:
    """(heading path, paragraph) for every paragraph, in order."""
    path: list[str] = []
    out: list[tuple[list[str], str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            # Soft-wrapped lines are one line of prose; list items keep their own lines.
            body = "".join(
                ("\n" if i and _LIST_ITEM.match(line) else " " if i else "") + line.strip()
                for i, line in enumerate(para)
            ).strip()
            if body:
                out.append((list(path), body))
            para.clear()

    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            del path[level - 1 :]
            path.extend([""] * (level - 1 - len(path)))
            path.append(m.group(2))
        elif not line.strip():
            flush()
        else:
            para.append(line.rstrip())
    flush()
    return out


def _split_long(paragraph: str, max_tokens: int) -> list[str]:
    """A paragraph over the limit, cut between sentences (or words, if a sentence is huge)."""
    pieces: list[str] = []
    current = ""
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        words = [sentence] if approx_tokens(sentence) <= max_tokens else sentence.split()
        for w in words:
            candidate = f"{current} {w}".strip()
            if current and approx_tokens(candidate) > max_tokens:
                pieces.append(current)
                current = w
            else:
                current = candidate
    if current:
        pieces.append(current)
    return pieces


def chunk_markdown(text: str, max_tokens: int = 160) -> list[Chunk]:
    """Paragraphs under one heading are merged up to `max_tokens`; never across headings."""
    chunks: list[Chunk] = []
    heading = None
    buf: list[str] = []

    def emit() -> None:
        if buf and heading is not None:
            chunks.append(Chunk(heading, "\n\n".join(buf)))
        buf.clear()

    for path, para in _blocks(text):
        h = " › ".join(p for p in path if p)
        if h != heading:
            emit()
            heading = h
        for piece in _split_long(para, max_tokens):
            if buf and approx_tokens("\n\n".join([*buf, piece])) > max_tokens:
                emit()
            buf.append(piece)
    emit()
    return chunks
