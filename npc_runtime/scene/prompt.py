"""A scene line's prompt, from the speaker's point of view.

The speaker's persona (the same system prompt and examples a Converse session
uses), then the scene set-up: premise, place, who else is there and who the
player is. The conversation so far follows as chat turns: the speaker's own
lines as its (JSON) replies, everyone else's as user turns "Name: words".
Recall and mood ride in the last user message, after the lines heard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..characters import Character
from ..config import DEFAULT_REPLY_ORDER, ReplyOrder
from ..llm.base import ChatMessage
from ..llm.prompt import build_messages, reply_json

# Lines of the conversation so far that go into a prompt (the newest).
WINDOW = 24
OPENING = "(The scene begins.)"
GO_ON = "(Nobody else speaks. Go on.)"


@dataclass(frozen=True)
class SceneLine:
    """One line of the scene as every participant heard it."""

    speaker_id: str
    speaker_name: str
    text: str
    emotion: str = "neutral"
    is_player: bool = False


@dataclass(frozen=True)
class SceneSetting:
    premise: str
    others: tuple[str, ...]  # the other characters' names
    place: str = ""  # "Jin's stall: a six-stool counter ..." or ''
    player_name: str = ""
    player_role: str = ""


def scene_setup(character: Character, setting: SceneSetting) -> str:
    """The scene as the speaker is told it, once, at the start of the conversation."""
    parts = [f"(The scene: {' '.join(setting.premise.split())}"]
    if setting.place:
        parts.append(f"Where: {setting.place}")
    if setting.others:
        parts.append(f"Also here: {', '.join(setting.others)}.")
    if setting.player_name or setting.player_role:
        who = setting.player_name or "The player"
        role = f": {setting.player_role.strip()}" if setting.player_role.strip() else ""
        parts.append(f"{who} is here too{role}.")
    parts.append(
        f"Others' lines come as 'Name: words'. Say only what {character.name} says next, "
        "one to three short sentences; never speak for anyone else.)"
    )
    return "\n".join(parts)


def since_last(lines: Sequence[SceneLine], speaker_id: str) -> list[SceneLine]:
    """The lines the speaker has not answered yet: everything after its last line."""
    out: list[SceneLine] = []
    for line in reversed(lines):
        if line.speaker_id == speaker_id:
            break
        out.append(line)
    return out[::-1]


def heard(lines: Sequence[SceneLine]) -> str:
    return "\n".join(f"{line.speaker_name}: {line.text}" for line in lines)


def scene_messages(
    character: Character,
    setting: SceneSetting,
    lines: Sequence[SceneLine],
    addressee: str,
    context: str = "",
    order: ReplyOrder = DEFAULT_REPLY_ORDER,
) -> list[ChatMessage]:
    """The whole prompt for `character`'s next line, answering `addressee` (a name or '').

    Laid out for the engine's prefix cache: the system prompt and examples are
    those of a Converse session (cached at warm-up), the scene set-up opens the
    first user turn, and per-line context (recall, mood) and the cue come last,
    after the lines heard, so the speaker's next prompt starts with this one."""
    # A Converse turn's prompt without its last message: the system prompt and examples.
    msgs = build_messages(character, [], "", order=order)[:-1]
    setup = scene_setup(character, setting)
    first = True
    pending: list[SceneLine] = []
    for line in list(lines[-WINDOW:]):
        if line.speaker_id != character.id:
            pending.append(line)
            continue
        said = heard(pending) if pending else OPENING if first else GO_ON
        msgs.append(ChatMessage("user", f"{setup}\n\n{said}" if first else said))
        msgs.append(ChatMessage("assistant", reply_json(line.text, line.emotion, None, order)))
        pending, first = [], False
    cue = f"({character.name}, your turn" + (f": answer {addressee}.)" if addressee else ".)")
    parts = [setup] if first else []
    parts += [heard(pending) if pending else OPENING if first else GO_ON, context.strip(), cue]
    msgs.append(ChatMessage("user", "\n\n".join(p for p in parts if p)))
    return msgs
