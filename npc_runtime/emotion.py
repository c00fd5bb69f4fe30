"""A character's feeling towards one player: emotion, intensity, trust, affinity.

The state moves on stimuli (the LLM's chosen emotion each turn, game triggers)
and relaxes back to the character's baseline: a stimulus's intensity halves
every `half_life_s`, and whichever is stronger — the decayed stimulus or the
baseline — is what the face shows. Trust and affinity are the relationship;
they change only on stimuli that carry deltas (triggers) and do not decay.

States are kept per (character, player) in an EmotionBook shared by every
session, so a player who reconnects finds the character still angry; a store
(Redis, see the memory package) may persist them across restarts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .background import Background
from .characters import EMOTIONS, Character, EmotionName, VoiceConfig
from .tts.piper_tts import VoiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmotionState:
    category: EmotionName
    intensity: float  # 0..1
    trust: float = 0.0  # -1..1
    affinity: float = 0.0  # -1..1
    at: float = 0.0  # wall time (time.time()) the stimulus was felt

    def as_dict(self) -> dict[str, str | float]:
        return {
            "emotion": self.category,
            "intensity": self.intensity,
            "trust": self.trust,
            "affinity": self.affinity,
            "updated_at": self.at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EmotionState | None:
        """Parse a stored state; None when it is not one (an older or foreign record)."""
        try:
            category = str(data.get("emotion", ""))
            if category not in EMOTIONS:
                return None
            return cls(
                category,  # type: ignore[arg-type]
                _clamp(float(str(data.get("intensity", 0.0))), 0.0, 1.0),
                _clamp(float(str(data.get("trust", 0.0))), -1.0, 1.0),
                _clamp(float(str(data.get("affinity", 0.0))), -1.0, 1.0),
                float(str(data.get("updated_at", 0.0))),
            )
        except ValueError:
            return None


@dataclass(frozen=True)
class Stimulus:
    """Something that makes the character feel: an emotion, how strongly, and
    how it moves the relationship."""

    category: EmotionName
    intensity: float
    trust_delta: float = 0.0
    affinity_delta: float = 0.0


# What common game events make a character feel when its file says nothing else.
# Being robbed angers, a drawn weapon frightens, a gift pleases.
DEFAULT_TRIGGER_STIMULI: dict[str, Stimulus] = {
    "player_looted_store": Stimulus("anger", 0.85, trust_delta=-0.3, affinity_delta=-0.2),
    "player_stole": Stimulus("anger", 0.8, trust_delta=-0.3, affinity_delta=-0.2),
    "player_drew_weapon": Stimulus("fear", 0.8, trust_delta=-0.2),
    "player_attacked": Stimulus("fear", 0.9, trust_delta=-0.4, affinity_delta=-0.3),
    "player_gave_gift": Stimulus("joy", 0.7, trust_delta=0.1, affinity_delta=0.2),
    "player_helped": Stimulus("joy", 0.6, trust_delta=0.2, affinity_delta=0.1),
    "player_insulted": Stimulus("anger", 0.6, affinity_delta=-0.15),
    "loud_noise": Stimulus("surprise", 0.7),
}

# The intensity of the emotion the LLM picks for its reply when it is not the
# baseline: clearly visible, but a strong trigger-driven feeling outlasts it.
LLM_INTENSITY = 0.6


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class EmotionModel:
    """The rules, per character: decay towards baseline and blending of stimuli."""

    def __init__(self, character: Character) -> None:
        self.baseline: EmotionName = character.emotion.baseline
        self.baseline_intensity = character.emotion.intensity
        self.half_life_s = character.emotion.half_life_s

    def initial(self, now: float | None = None) -> EmotionState:
        return EmotionState(
            self.baseline, self.baseline_intensity, at=time.time() if now is None else now
        )

    def at(self, state: EmotionState, now: float) -> EmotionState:
        """The state as it is at `now`: the stimulus decayed, the baseline if stronger."""
        dt = max(0.0, now - state.at)
        decayed = state.intensity * math.pow(0.5, dt / self.half_life_s) if dt else state.intensity
        if state.category == self.baseline:
            # The baseline mood relaxes to its usual strength from either side.
            gap = state.intensity - self.baseline_intensity
            return replace(
                state,
                intensity=self.baseline_intensity + gap * math.pow(0.5, dt / self.half_life_s),
                at=now,
            )
        if decayed <= self.baseline_intensity:
            return replace(state, category=self.baseline, intensity=self.baseline_intensity, at=now)
        return replace(state, intensity=decayed, at=now)

    def feel(self, state: EmotionState, stimulus: Stimulus, now: float) -> EmotionState:
        """Blend a stimulus into the current state.

        The same emotion again grows stronger; a different one takes over when it
        is at least as strong as what is felt now, and otherwise only damps it,
        so a passing smile does not wipe out anger from a robbery a moment ago.
        """
        cur = self.at(state, now)
        trust = _clamp(cur.trust + stimulus.trust_delta, -1.0, 1.0)
        affinity = _clamp(cur.affinity + stimulus.affinity_delta, -1.0, 1.0)
        s = _clamp(stimulus.intensity, 0.0, 1.0)
        if stimulus.category == cur.category:
            intensity = _clamp(
                max(cur.intensity, s) + 0.5 * min(cur.intensity, s) * (1 - max(cur.intensity, s)),
                0.0,
                1.0,
            )
            return EmotionState(cur.category, intensity, trust, affinity, now)
        if s >= cur.intensity:
            return EmotionState(stimulus.category, s, trust, affinity, now)
        return EmotionState(
            cur.category, _clamp(cur.intensity - 0.5 * s, 0.0, 1.0), trust, affinity, now
        )


def llm_stimulus(category: EmotionName, model: EmotionModel) -> Stimulus:
    """What the reply's chosen emotion does to the state: the baseline at its own
    strength, anything else at LLM_INTENSITY."""
    if category == model.baseline:
        return Stimulus(category, model.baseline_intensity)
    return Stimulus(category, LLM_INTENSITY)


def trigger_stimulus(
    name: str, parameters: Mapping[str, str], configured: Stimulus | None = None
) -> tuple[Stimulus | None, str]:
    """The stimulus of a named game event, or None with the reason it has none.

    Parameters win over the character file's reaction (`configured`), which wins
    over the defaults above: a game can send {"emotion": "fear", "intensity": "0.9"}
    with any trigger.
    """
    stimulus = configured if configured is not None else DEFAULT_TRIGGER_STIMULI.get(name)
    emotion = parameters.get("emotion", "")
    if emotion:
        if emotion not in EMOTIONS:
            raise ValueError(
                f"trigger {name!r}: parameter emotion={emotion!r} is not one of "
                f"{', '.join(EMOTIONS)}"
            )
        stimulus = Stimulus(emotion, stimulus.intensity if stimulus else LLM_INTENSITY)  # type: ignore[arg-type]
    if stimulus is None:
        return None, f"no emotion is configured for trigger {name!r}"
    try:
        if "intensity" in parameters:
            stimulus = replace(stimulus, intensity=_clamp(float(parameters["intensity"]), 0.0, 1.0))
        if "trust" in parameters:
            stimulus = replace(stimulus, trust_delta=float(parameters["trust"]))
        if "affinity" in parameters:
            stimulus = replace(stimulus, affinity_delta=float(parameters["affinity"]))
    except ValueError as e:
        raise ValueError(
            f"trigger {name!r}: intensity, trust and affinity parameters must be numbers ({e})"
        ) from None
    return stimulus, ""


_FEELING_WORDS = {
    "neutral": "calm",
    "joy": "happy",
    "sadness": "sad",
    "anger": "angry",
    "fear": "afraid",
    "surprise": "surprised",
    "disgust": "disgusted",
}


def describe(state: EmotionState, model: EmotionModel) -> str:
    """A line for the prompt when the character's mood or relationship is not its
    usual, so the model answers in that mood; '' otherwise (a stable prompt caches)."""
    parts: list[str] = []
    if state.category != model.baseline or state.intensity > model.baseline_intensity + 0.2:
        strength = (
            "very " if state.intensity >= 0.75 else "" if state.intensity >= 0.4 else "a bit "
        )
        parts.append(f"you feel {strength}{_FEELING_WORDS[state.category]}")
    if state.trust <= -0.25:
        parts.append("you do not trust the player")
    elif state.trust >= 0.5:
        parts.append("you trust the player")
    if state.affinity <= -0.25:
        parts.append("you dislike the player")
    elif state.affinity >= 0.5:
        parts.append("you like the player")
    return f"(Right now {', '.join(parts)}.)" if parts else ""


# How each emotion moves speaking rate (length_scale: <1 faster) and variation
# (noise_scale), as a fraction of the character's shading bound at intensity 1.
_SHADE: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "joy": (-0.6, 0.6),
    "sadness": (1.0, -0.8),
    "anger": (-0.8, 0.8),
    "fear": (-1.0, 0.5),
    "surprise": (-0.5, 1.0),
    "disgust": (0.5, -0.3),
}


def shade_voice(base: VoiceSettings, voice: VoiceConfig, state: EmotionState) -> VoiceSettings:
    """The character's voice coloured by its emotion, never beyond `voice.shading`
    (a fraction of the character's own rate and variation)."""
    bound = voice.shading
    if bound <= 0:
        return base
    rate, variation = _SHADE.get(state.category, (0.0, 0.0))
    k = bound * _clamp(state.intensity, 0.0, 1.0)
    return replace(
        base,
        length_scale=_clamp(base.length_scale * (1 + rate * k), 0.5, 2.0),
        # Piper's own range (VoiceSettings refuses more): a lively voice at its top
        # stays there when angry instead of failing the turn.
        noise_scale=_clamp(base.noise_scale * (1 + variation * k), 0.0, 1.0),
    )


Saver = Callable[[str, str, EmotionState], Coroutine[Any, Any, None]]
Loader = Callable[[str, str], Coroutine[Any, Any, EmotionState | None]]


class EmotionBook:
    """Current states by (character, player), shared by all sessions of a runtime.

    Reads and updates are synchronous (a turn changes the face mid-stream); a
    store — the Redis memory — may load a state when a session opens and save
    each change in the background, so states survive restarts and are shared
    with other server processes. Without one they live in this process only.
    """

    def __init__(self, loader: Loader | None = None, saver: Saver | None = None) -> None:
        self._states: dict[tuple[str, str], EmotionState] = {}
        self.loader = loader
        self.saver = saver
        self.saves = Background("emotion")

    async def load(self, character: Character, player: str) -> None:
        """Fetch the stored state once per process; a failing store leaves the baseline."""
        key = (character.id, player)
        if key in self._states or self.loader is None or not player:
            return
        try:
            state = await self.loader(character.id, player)
        except Exception as e:  # the memory store logs and counts its own outages
            log.warning("emotion state for %s/%s not loaded: %s", character.id, player, e)
            return
        if state is not None:
            self._states.setdefault(key, state)

    def current(self, character: Character, player: str, now: float | None = None) -> EmotionState:
        model = EmotionModel(character)
        state = self._states.get((character.id, player)) or model.initial(now)
        return model.at(state, time.time() if now is None else now)

    def feel(
        self, character: Character, player: str, stimulus: Stimulus, now: float | None = None
    ) -> EmotionState:
        t = time.time() if now is None else now
        state = EmotionModel(character).feel(self.current(character, player, t), stimulus, t)
        self._states[(character.id, player)] = state
        if self.saver is not None and player:
            self.saves.spawn(self.saver(character.id, player, state))
        return state

    def forget(self, player: str, character_id: str | None = None) -> None:
        for key in [k for k in self._states if k[1] == player]:
            if character_id is None or key[0] == character_id:
                del self._states[key]


@dataclass
class Mood:
    """One session's view of the book: this character towards this player."""

    book: EmotionBook
    character: Character
    player: str

    @property
    def model(self) -> EmotionModel:
        return EmotionModel(self.character)

    def current(self, now: float | None = None) -> EmotionState:
        """The feeling at `now` (default: now), faded since the last thing felt; a time
        before that gives the feeling as it was left then."""
        return self.book.current(self.character, self.player, now)

    def line_changes_in(self, now: float | None = None) -> float | None:
        """Seconds until the prompt's mood line (`describe`) reads differently as the
        feeling fades; None when it stays as it is.

        Why: the line sits before the recall and the player's words in every prompt, so
        a session whose line changed since it primed its prompt has the engine read all
        of that again at the next turn (measured: 130-150 tokens, 600-1,000 ms). The
        session primes again when it changes.
        """
        t0 = time.time() if now is None else now
        state, model = self.book.current(self.character, self.player, t0), self.model
        line = describe(state, model)

        def changed(dt: float) -> bool:
            return describe(model.at(state, t0 + dt), model) != line

        # A fading feeling only ever moves one way (very → plain → a bit → the
        # baseline's line), so the first change can be found by bisection. After
        # eight half-lives it has faded to under 0.4% of itself.
        lo, hi = 0.0, 8.0 * model.half_life_s
        if not changed(hi):
            return None
        while hi - lo > 0.02:
            mid = (lo + hi) / 2.0
            if changed(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def relationship(self) -> dict[str, float]:
        """Trust and affinity now, as the world's rules read them (action guards)."""
        state = self.current()
        return {"trust": state.trust, "affinity": state.affinity}

    def feel(self, stimulus: Stimulus) -> EmotionState:
        return self.book.feel(self.character, self.player, stimulus)
