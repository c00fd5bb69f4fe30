"""Memory retrieval as a pure function of recency, importance and relevance.

After Generative Agents (Park et al., 2023): each candidate's recency decays
exponentially per hour since it was made (game hours when the game sends its
clock, else wall hours), importance is 1-10, relevance is the cosine to the
question; each is min-max normalised over the candidates, then weighted and
summed. Candidates come from the vector set's nearest neighbours plus the most
recent memories, so a recall never scans every memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that mark what a person would remember: names, family, feelings, promises, harm.
_KEYWORDS = re.compile(
    r"\b(name|called|sister|brother|mother|father|mom|dad|wife|husband|son|daughter|friend|"
    r"love|hate|afraid|scared|promise|secret|remember|never|always|birthday|died|dead|kill|"
    r"stole|steal|debt|owe|help|saved|thank|sorry|hurt|sick|job|fired|married|money|gift)\w*",
    re.IGNORECASE,
)
_SELF_FACT = re.compile(r"\b(my|i am|i'm|i was|i have|i've|i will|i'll)\b", re.IGNORECASE)
_STRONG_EMOTIONS = {"anger", "fear", "sadness", "surprise", "disgust"}


def importance_of(text: str, emotion: str = "neutral", actions: int = 0) -> float:
    """A 1-10 guess of how memorable an exchange is, without asking the LLM.

    Small talk scores 2-3; a player telling something about themselves, a
    promise, a strong feeling or something done scores higher.
    """
    score = 2.0
    score += min(3, len(_KEYWORDS.findall(text))) * 1.0
    if _SELF_FACT.search(text):
        score += 1.5
    if emotion in _STRONG_EMOTIONS:
        score += 2.0
    elif emotion != "neutral":
        score += 1.0
    score += min(2, actions) * 1.0
    if "!" in text:
        score += 0.5
    if len(text) > 200:
        score += 0.5
    return max(1.0, min(10.0, score))


@dataclass(frozen=True)
class Candidate:
    id: str
    text: str
    importance: float  # 1-10
    wall_time: float  # unix seconds
    game_time_h: float | None
    relevance: float  # cosine to the question; 0 when not known
    kind: str = "turn"


@dataclass(frozen=True)
class Weights:
    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0
    decay_per_hour: float = 0.99


def age_hours(c: Candidate, now_wall: float, now_game_h: float | None) -> float:
    """Game hours since the memory when both have game time, else wall hours."""
    if now_game_h is not None and c.game_time_h is not None:
        return max(0.0, now_game_h - c.game_time_h)
    return max(0.0, (now_wall - c.wall_time) / 3600.0)


def _minmax(values: list[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        # All equal: they say nothing about order, so they neither help nor hurt.
        return [0.5] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


def rank(
    candidates: list[Candidate], weights: Weights, now_wall: float, now_game_h: float | None
) -> list[tuple[float, Candidate]]:
    """(score, candidate), best first; each component normalised to 0-1 over the candidates."""
    if not candidates:
        return []
    recency = [weights.decay_per_hour ** age_hours(c, now_wall, now_game_h) for c in candidates]
    parts = zip(
        _minmax(recency),
        _minmax([c.importance for c in candidates]),
        _minmax([c.relevance for c in candidates]),
        candidates,
        strict=True,
    )
    scored = [
        (weights.recency * r + weights.importance * i + weights.relevance * v, c)
        for r, i, v, c in parts
    ]
    scored.sort(key=lambda sc: (sc[0], sc[1].wall_time), reverse=True)
    return scored
