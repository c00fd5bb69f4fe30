"""A scene line's prompt, from the speaker's point of view.

The speaker's persona (the same system prompt a Converse session uses) plus the
scene: premise, place, who else is there and who the player is. The
conversation so far follows as chat turns: the speaker's own lines as its
(JSON) replies, everyone else's as user turns "Name: words". Recall and mood
ride in the last user message, as in a Converse turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..characters import Character
from ..llm.base import ChatMessage
from ..llm.prompt import reply_json, system_prompt

# Lines of the conversation so far that go into a prompt (the newest).
WINDOW = 12
OPENING = "(The scene begins.)"


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


def scene_system(character: Character, setting: SceneSetting) -> str:
    parts = [system_prompt(character), f"The scene: {setting.premise.strip()}"]
    if setting.place:
        parts.append(f"Where: {setting.place}")
    if setting.others:
        parts.append(f"Also here: {', '.join(setting.others)}.")
    if setting.player_name or setting.player_role:
        who = setting.player_name or "The player"
        parts.append(
            f"{who} is here too{': ' + setting.player_role if setting.player_role else ''}."
        )
    parts.append(
        f"Others' lines come as 'Name: words'. Say only what {character.name} says next, "
        "one to three short sentences; never speak for anyone else."
    )
    return "\n\n".join(parts)


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
) -> list[ChatMessage]:
    """The whole prompt for `character`'s next line, answering `addressee` (a name or '')."""
    msgs = [ChatMessage("system", scene_system(character, setting))]
    for ex in character.examples:
        msgs.append(ChatMessage("user", ex.player))
        msgs.append(ChatMessage("assistant", reply_json(ex.npc, ex.emotion)))
    window = list(lines[-WINDOW:])
    pending: list[SceneLine] = []
    for line in window:
        if line.speaker_id != character.id:
            pending.append(line)
            continue
        msgs.append(ChatMessage("user", heard(pending) if pending else OPENING))
        msgs.append(ChatMessage("assistant", reply_json(line.text, line.emotion)))
        pending = []
    cue = f"({character.name}, your turn" + (f": answer {addressee}.)" if addressee else ".)")
    last = heard(pending) if pending else OPENING
    body = f"{last}\n\n{cue}"
    msgs.append(ChatMessage("user", f"{context.strip()}\n\n{body}" if context.strip() else body))
    return msgs
