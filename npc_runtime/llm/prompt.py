"""Prompt building: a stable per-character prefix, then history, then the turn.

The order matters for latency: the engine caches the longest common prompt
prefix, so everything that never changes for a character (persona, style,
output rules, examples) comes first and is byte-identical on every turn;
per-turn context (memories, scene, events) rides in the last user message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..characters import EMOTIONS, Character
from ..config import DEFAULT_REPLY_ORDER, ReplyOrder
from .base import ChatMessage

# The reply's keys in the order the model writes them; actions always come last.
REPLY_KEYS: dict[ReplyOrder, tuple[str, str, str]] = {
    "say_first": ("say", "emotion", "actions"),
    "emotion_first": ("emotion", "say", "actions"),
}


@dataclass(frozen=True)
class Exchange:
    """One past exchange as the player said it and as the player heard the reply."""

    player: str
    npc: str
    emotion: str = "neutral"


def history_window(history: list[Exchange], max_turns: int) -> list[Exchange]:
    """The past exchanges a prompt carries: at most `max_turns`, dropped in blocks.

    A window that slid by one exchange per turn would change the prompt right after
    the examples on every turn, and the engine's prefix cache would keep only the
    persona: 1,000+ prompt tokens to process again each turn for a returning player.
    Dropping the oldest half at once keeps the prefix byte-identical for max_turns/2
    turns in a row, so only the newest exchange and the turn's context are new."""
    if max_turns <= 0:
        return []
    if len(history) <= max_turns:
        return list(history)
    step = max(1, max_turns // 2)
    start = -(-(len(history) - max_turns) // step) * step  # ceil to a multiple of step
    return list(history[start:])


def reply_schema(
    max_say_chars: int,
    actions: dict[str, Any] | None = None,
    order: ReplyOrder = DEFAULT_REPLY_ORDER,
) -> dict[str, Any]:
    """JSON schema of a reply. Field order is generation order (`order`): the spoken
    line first starts speech one token after the prompt; the emotion first sets the
    face before speech starts. Actions come last.

    `actions` is the schema of the actions array (world.actions_schema: the
    character's verbs and the ids it perceives); without a scene it is empty."""
    if actions is None:
        actions = {"type": "array", "maxItems": 0, "items": {"type": "object"}}
    props: dict[str, Any] = {
        "emotion": {"type": "string", "enum": list(EMOTIONS)},
        "say": {"type": "string", "minLength": 1, "maxLength": max_say_chars},
        "actions": actions,
    }
    keys = REPLY_KEYS[order]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {k: props[k] for k in keys},
        "required": list(keys),
    }


def reply_json(
    say: str,
    emotion: str = "neutral",
    actions: list[dict[str, str]] | None = None,
    order: ReplyOrder = DEFAULT_REPLY_ORDER,
) -> str:
    """An assistant message as the model itself would have written it."""
    values: dict[str, Any] = {"emotion": emotion, "say": say, "actions": actions or []}
    return json.dumps(
        {k: values[k] for k in REPLY_KEYS[order]}, ensure_ascii=False, separators=(",", ":")
    )


def system_prompt(character: Character, order: ReplyOrder = DEFAULT_REPLY_ORDER) -> str:
    parts = [character.persona.strip()]
    if character.speaking_style.strip():
        parts.append("How you speak: " + character.speaking_style.strip())
    fields = {
        "emotion": '"emotion" is how you feel (' + ", ".join(EMOTIONS) + ")",
        "say": '"say" is what you say',
        "actions": (
            '"actions" is what you physically do now, only when asked or when the moment '
            "calls for it, naming things by the ids in [brackets] from what you perceive; "
            "otherwise an empty list."
            if character.actions.verbs
            else '"actions" is an empty list.'
        ),
    }
    parts.append(
        "Stay in character. Answer the player's last message in one to three short spoken "
        "sentences, as words said out loud: no lists, no stage directions, no emoji. "
        "Reply with JSON: " + ", ".join(fields[k] for k in REPLY_KEYS[order])
    )
    return "\n\n".join(parts)


def build_messages(
    character: Character,
    history: list[Exchange],
    player_text: str,
    context: str = "",
    order: ReplyOrder = DEFAULT_REPLY_ORDER,
) -> list[ChatMessage]:
    msgs = [ChatMessage("system", system_prompt(character, order))]
    acts = bool(character.actions.verbs)
    for shot in character.examples:
        msgs.append(ChatMessage("user", shot.player))
        actions = shot.actions if acts else None
        msgs.append(ChatMessage("assistant", reply_json(shot.npc, shot.emotion, actions, order)))
    for ex in history:
        msgs.append(ChatMessage("user", ex.player))
        msgs.append(ChatMessage("assistant", reply_json(ex.npc, ex.emotion, None, order)))
    user = player_text if not context else f"{context.strip()}\n\nPlayer: {player_text}"
    msgs.append(ChatMessage("user", user))
    return msgs
