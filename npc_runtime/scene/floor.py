"""Floor control: who speaks next in a scene.

In order: a character the last line addressed by name; then, when the last line
came from the player or named nobody, the character whose own knowledge bears
most on it (relevance scores the director gets from memory recall); then
rotation, the one who has been silent longest. Nobody speaks twice in a row
unless alone. Pure and synchronous: the director supplies the scores.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

FloorReason = Literal["addressed", "relevance", "rotation", "alone"]


@dataclass(frozen=True)
class Participant:
    """A character in the scene, and the names others may call it by."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.name, self.id, *self.aliases) if n)


@dataclass(frozen=True)
class FloorDecision:
    speaker: str
    reason: FloorReason
    # Whom the speaker answers: the last speaker (a character or the player), or ''.
    addressed_to: str = ""


def mentioned(text: str, participants: Sequence[Participant]) -> list[str]:
    """Ids of the participants `text` names, in the order it first names them."""
    found: list[tuple[int, str]] = []
    for p in participants:
        positions = [
            m.start()
            for n in p.names()
            for m in re.finditer(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE)
        ]
        if positions:
            found.append((min(positions), p.id))
    return [pid for _, pid in sorted(found)]


@dataclass
class Floor:
    """The floor of one scene. `cast` is in rotation order."""

    cast: Sequence[Participant]
    # Relevance wins only with at least this score and this lead over the next.
    min_relevance: float = 0.0
    relevance_margin: float = 0.02
    _last_spoke: dict[str, int] = field(default_factory=dict)
    _clock: int = 0

    def __post_init__(self) -> None:
        if not self.cast:
            raise ValueError("a scene needs at least one character in its cast")
        ids = [p.id for p in self.cast]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the cast names a character twice: {ids}")

    def spoke(self, speaker_id: str) -> None:
        """Record a line (the player's lines are recorded too, under their id)."""
        self._clock += 1
        self._last_spoke[speaker_id] = self._clock

    def next(
        self,
        last_speaker: str | None,
        last_text: str,
        relevance: Mapping[str, float] | None = None,
    ) -> FloorDecision:
        """Who speaks after `last_speaker` said `last_text` (None: the scene opens)."""
        addressed_to = last_speaker or ""
        if len(self.cast) == 1:
            return FloorDecision(self.cast[0].id, "alone", addressed_to)
        candidates = [p for p in self.cast if p.id != last_speaker]
        named = mentioned(last_text, candidates) if last_text else []
        if named:
            return FloorDecision(named[0], "addressed", addressed_to)
        best = self._most_relevant(candidates, relevance or {})
        if best is not None:
            return FloorDecision(best, "relevance", addressed_to)
        return FloorDecision(self._longest_silent(candidates), "rotation", addressed_to)

    def _most_relevant(
        self, candidates: Sequence[Participant], relevance: Mapping[str, float]
    ) -> str | None:
        """The clear winner on relevance (a candidate without a score has 0), or None."""
        if not relevance:
            return None
        scored = sorted(((relevance.get(p.id, 0.0), p.id) for p in candidates), reverse=True)
        if scored[0][0] < self.min_relevance:
            return None
        if len(scored) > 1 and scored[0][0] - scored[1][0] < self.relevance_margin:
            return None  # too close to call: rotation is fairer
        return scored[0][1]

    def _longest_silent(self, candidates: Sequence[Participant]) -> str:
        # Never spoke counts as 0: the earliest in cast order of those goes first.
        return min(candidates, key=lambda p: self._last_spoke.get(p.id, 0)).id
