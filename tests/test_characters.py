from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.characters import CharacterError, CharacterNotFound, CharacterStore, load_character

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_characters_load() -> None:
    store = CharacterStore.load(ROOT / "characters")
    assert {"jin", "nova"} <= set(store.ids())
    jin, nova = store.get("jin"), store.get("nova")
    assert "ramen" in jin.persona
    assert "GPU" in nova.persona
    # Same bundled voice, but they must not sound alike.
    assert jin.voice.length_scale != nova.voice.length_scale


def test_unknown_character_lists_known_ids() -> None:
    store = CharacterStore.load(ROOT / "characters")
    with pytest.raises(CharacterNotFound) as e:
        store.get("bob")
    assert "jin" in str(e.value) and "nova" in str(e.value)


def _write(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "zed"
    folder.mkdir()
    path = folder / "character.toml"
    path.write_text(body)
    return path


def test_malformed_character_names_file_field_and_fix(tmp_path: Path) -> None:
    path = _write(
        tmp_path, 'name = "Zed"\npersona = "A grumpy robot bartender."\n[voice]\nlength_scale = 9\n'
    )
    with pytest.raises(CharacterError) as e:
        load_character(path)
    msg = str(e.value)
    assert str(path) in msg and "voice.length_scale" in msg and "2" in msg


def test_unknown_field_is_rejected_with_spelling_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "Zed"\npersona = "A grumpy robot bartender."\ngreting = "hi"\n')
    with pytest.raises(CharacterError) as e:
        load_character(path)
    assert "greting" in str(e.value) and "spelling" in str(e.value)


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    path = _write(tmp_path, 'name = "Zed\n')
    with pytest.raises(CharacterError) as e:
        load_character(path)
    assert "not valid TOML" in str(e.value)


def test_missing_voice_file_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "Zed"\npersona = "A grumpy robot bartender."\n[voice]\nmodel = "nope.onnx"\n',
    )
    with pytest.raises(CharacterError) as e:
        load_character(path)
    assert "voice.model" in str(e.value)


def test_a_trigger_action_with_a_verb_the_character_lacks_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'name = "Zed"\npersona = "A grumpy robot bartender."\n'
        '[actions]\nverbs = ["look_at"]\n'
        '[triggers.player_waved]\nactions = [{ verb = "emote", gesture = "wave" }]\n',
    )
    with pytest.raises(CharacterError) as e:
        load_character(path)
    msg = str(e.value)
    assert "triggers.player_waved.actions" in msg and "'emote'" in msg and "actions.verbs" in msg
