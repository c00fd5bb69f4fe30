"""Scenes without models: floor control (addressed by name, then relevance, then
rotation), scene checks, stop conditions, the shipped characters' voices."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.characters import CharacterStore
from npc_runtime.emotion import EmotionState, shade_voice
from npc_runtime.scene.floor import Floor, Participant, mentioned
from npc_runtime.scene.spec import PlayerLine, SceneError, SceneSpec, says_goodbye, stop_phrase_in
from npc_runtime.tts.piper_tts import VoiceSettings

JIN, NOVA, PAT = (
    Participant("jin", "Jin"),
    Participant("nova", "Nova"),
    Participant("patient", "Mr. Hale"),
)


def test_the_scene_opens_with_the_first_of_the_cast() -> None:
    d = Floor([JIN, NOVA]).next(None, "")
    assert (d.speaker, d.reason, d.addressed_to) == ("jin", "rotation", "")


def test_whoever_is_addressed_by_name_speaks_next() -> None:
    floor = Floor([JIN, NOVA, PAT])
    floor.spoke("jin")
    d = floor.next("jin", "What do you think, Mr. Hale? Nova says it's fine.")
    assert (d.speaker, d.reason, d.addressed_to) == ("patient", "addressed", "jin")


def test_names_match_whole_words_in_any_case() -> None:
    assert mentioned("NOVA, listen", [JIN, NOVA]) == ["nova"]
    assert mentioned("a supernova of flavour", [JIN, NOVA]) == []
    assert mentioned("jinx", [JIN]) == []


def test_a_speaker_naming_itself_does_not_keep_the_floor() -> None:
    floor = Floor([JIN, NOVA])
    floor.spoke("jin")
    d = floor.next("jin", "I'm Jin and I'm tired.")
    assert d.speaker == "nova"


def test_relevance_decides_when_nobody_is_named() -> None:
    floor = Floor([JIN, NOVA, PAT])
    floor.spoke("player")
    d = floor.next("player", "which graphics card?", {"jin": 0.61, "nova": 0.83, "patient": 0.5})
    assert (d.speaker, d.reason, d.addressed_to) == ("nova", "relevance", "player")


def test_a_name_beats_relevance() -> None:
    d = Floor([JIN, NOVA]).next("player", "Jin, which graphics card?", {"nova": 0.9, "jin": 0.1})
    assert (d.speaker, d.reason) == ("jin", "addressed")


def test_close_relevance_falls_back_to_rotation() -> None:
    floor = Floor([JIN, NOVA, PAT])
    floor.spoke("jin")
    floor.spoke("player")
    d = floor.next("player", "hello all", {"jin": 0.80, "nova": 0.81, "patient": 0.5})
    assert (d.speaker, d.reason) == ("nova", "rotation")  # nova never spoke: longest silent


def test_rotation_gives_the_floor_to_the_longest_silent() -> None:
    floor = Floor([JIN, NOVA, PAT])
    order = []
    last = None
    for _ in range(6):
        d = floor.next(last, "...")
        order.append(d.speaker)
        floor.spoke(d.speaker)
        last = d.speaker
    assert order == ["jin", "nova", "patient", "jin", "nova", "patient"]


def test_nobody_speaks_twice_in_a_row_unless_alone() -> None:
    floor = Floor([JIN, NOVA])
    floor.spoke("jin")
    for text, rel in [("Jin?", None), ("", {"jin": 1.0}), ("...", None)]:
        assert floor.next("jin", text, rel).speaker == "nova"
    alone = Floor([JIN])
    alone.spoke("jin")
    assert alone.next("jin", "Nova?").speaker == "jin"
    assert alone.next("jin", "").reason == "alone"


def test_the_cast_must_be_distinct_and_non_empty() -> None:
    with pytest.raises(ValueError):
        Floor([])
    with pytest.raises(ValueError):
        Floor([JIN, JIN])


def test_scene_spec_checks() -> None:
    known = ["jin", "nova"]
    SceneSpec(("jin", "nova"), "A night at the stall.").check(known)
    bad = [
        SceneSpec((), "x"),
        SceneSpec(("jin", "ghost"), "x"),
        SceneSpec(("jin",), "  "),
        SceneSpec(("jin",), "x", place_id="stall"),
        SceneSpec(("jin",), "x", max_turns=0),
        SceneSpec(("jin",), "x", player_id="jin"),
        SceneSpec(("jin",), "x", player_lines=(PlayerLine(0, " "),)),
    ]
    for spec in bad:
        with pytest.raises(SceneError):
            spec.check(known)


def test_stop_conditions() -> None:
    assert says_goodbye("Alright kid, goodbye.")
    assert says_goodbye("See you tomorrow")
    assert not says_goodbye("Maybe buy a new GPU")
    assert stop_phrase_in("We are CLOSED now", ("closed",)) == "closed"
    assert stop_phrase_in("Open all night", ("closed", "")) == ""


def test_every_character_can_be_shaded_by_any_feeling_within_pipers_range() -> None:
    """The patient's uneven voice at full anger stays a valid piper voice (clamped)."""
    store = CharacterStore.load(Path(__file__).resolve().parent.parent / "characters")
    for character in store.characters.values():
        v = character.voice
        base = VoiceSettings(None, v.speaker_id, v.length_scale, v.noise_scale, v.noise_w_scale)
        for emotion in ("anger", "fear", "surprise", "joy", "sadness"):
            shaded = shade_voice(base, v, EmotionState(emotion, 1.0))
            assert 0.0 <= shaded.noise_scale <= 1.0, (character.id, emotion)


def test_a_speakers_prompt_is_the_scene_from_its_point_of_view() -> None:
    from npc_runtime.llm.prompt import reply_json, system_prompt
    from npc_runtime.scene.prompt import GO_ON, SceneLine, SceneSetting, scene_messages

    store = CharacterStore.load(Path(__file__).resolve().parent.parent / "characters")
    jin = store.get("jin")
    setting = SceneSetting("A rainy night at the stall.", ("Nova",), player_name="Kai")
    lines = [
        SceneLine("nova", "Nova", "Evening, Jin."),
        SceneLine("jin", "Jin", "Sit, kid.", "joy"),
        SceneLine("jin", "Jin", "Broth's ready."),
        SceneLine("nova", "Nova", "Smells great."),
        SceneLine("kai", "Kai", "One bowl, please.", is_player=True),
    ]
    msgs = scene_messages(jin, setting, lines, "Kai", context="Things you know:\n- broth")
    # The Converse prefix (system prompt and examples) first, byte for byte: it is cached.
    assert msgs[0].content == system_prompt(jin)
    shots = 1 + 2 * len(jin.examples)
    convo = [(m.role, m.content) for m in msgs[shots:]]
    assert convo[0][0] == "user" and convo[0][1].startswith("(The scene: A rainy night")
    assert convo[0][1].endswith("Nova: Evening, Jin.")
    assert convo[1] == ("assistant", reply_json("Sit, kid.", "joy"))
    assert convo[2] == ("user", GO_ON)  # Jin spoke twice: nobody spoke in between
    assert convo[3] == ("assistant", reply_json("Broth's ready."))
    role, last = convo[4]
    assert role == "user" and len(convo) == 5
    # Lines heard since, then recall, then the cue: the next prompt starts like this one.
    assert last.index("Nova: Smells great.\nKai: One bowl, please.") < last.index("Things you know")
    assert last.endswith("(Jin, your turn: answer Kai.)")
