"""What recall hands the prompt: knowledge and memories, fitted to a token budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from .chunking import approx_tokens
from .knowledge import Hit
from .scoring import Candidate, age_hours

KNOWLEDGE_HEADER = "Things you know:"
MEMORY_HEADER = "What you remember about this player:"


@dataclass(frozen=True)
class RecalledMemory:
    text: str
    score: float
    importance: float
    kind: str
    age_h: float


@dataclass
class Recall:
    text: str = ""  # the prompt section; '' when there is nothing to say
    knowledge: list[Hit] = field(default_factory=list)
    memories: list[RecalledMemory] = field(default_factory=list)
    embed_ms: float = 0.0
    search_ms: float = 0.0
    ok: bool = True  # False when Redis could not be reached: the turn goes on without


def _ago(hours: float) -> str:
    if hours < 1 / 60:
        return "just now"
    if hours < 1:
        return f"{round(hours * 60)} min ago"
    if hours < 48:
        return f"{round(hours)} h ago"
    return f"{round(hours / 24)} days ago"


def _fit(line: str, budget: int) -> str | None:
    """The line, or its start cut at a word to fit `budget` tokens; None if hopeless."""
    if approx_tokens(line) <= budget:
        return line
    if budget < 12:
        return None
    cut = line[: budget * 4 - 2].rsplit(" ", 1)[0]
    return cut + " …"


def _take(lines: list[str], budget: int, header: str) -> tuple[dict[int, str], int]:
    """{index: line} of the lines that fit in `budget` (header included); tokens used."""
    used = approx_tokens(header) + 1
    taken: dict[int, str] = {}
    for i, line in enumerate(lines):
        room = budget - used
        # Only the first line may be cut short: one cut chunk beats no knowledge at all.
        fitted = line if approx_tokens(line) <= room else (None if taken else _fit(line, room))
        if fitted is None:
            continue
        taken[i] = fitted
        used += approx_tokens(fitted) + 1
    return (taken, used) if taken else ({}, 0)


def render(
    hits: list[Hit],
    ranked: list[tuple[float, Candidate]],
    *,
    budget_tokens: int,
    knowledge_share: float,
    now_wall: float,
    now_game_h: float | None,
) -> tuple[str, list[Hit], list[RecalledMemory]]:
    """Prompt section under the budget: knowledge first up to its share, then memories."""
    k_lines = [f"- {h.heading + ': ' if h.heading else ''}{' '.join(h.text.split())}" for h in hits]
    memories = [
        RecalledMemory(c.text, s, c.importance, c.kind, age_hours(c, now_wall, now_game_h))
        for s, c in ranked
    ]
    m_lines = [
        f"- ({'my reflection' if m.kind == 'reflection' else _ago(m.age_h)}) {m.text}"
        for m in memories
    ]
    k_budget = int(budget_tokens * knowledge_share) if m_lines else budget_tokens
    k_taken, k_used = _take(k_lines, k_budget, KNOWLEDGE_HEADER)
    m_taken, m_used = _take(m_lines, budget_tokens - k_used, MEMORY_HEADER)
    if len(k_taken) < len(k_lines) and m_used < budget_tokens - k_used:
        # Memories left room: give it back to knowledge.
        k_taken, k_used = _take(k_lines, budget_tokens - m_used, KNOWLEDGE_HEADER)
    parts = []
    if k_taken:
        parts.append("\n".join([KNOWLEDGE_HEADER, *k_taken.values()]))
    if m_taken:
        parts.append("\n".join([MEMORY_HEADER, *m_taken.values()]))
    return (
        "\n\n".join(parts),
        [hits[i] for i in k_taken],
        [memories[i] for i in m_taken],
    )
