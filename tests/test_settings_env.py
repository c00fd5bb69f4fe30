"""NPC_* environment variables that name no setting are refused, not ignored."""

from __future__ import annotations

import pytest

from npc_runtime.config import ConfigError, load_settings, unknown_env_settings


def test_a_misspelled_setting_is_named_with_what_was_meant() -> None:
    assert unknown_env_settings({"NPC_LLM__FLASH_ATN": "off"}) == [
        "NPC_LLM__FLASH_ATN: no such setting; did you mean NPC_LLM__FLASH_ATTN?"
    ]


def test_a_key_like_nothing_known_says_the_section_lacks_it() -> None:
    assert unknown_env_settings({"NPC_SERVER__ZZZ": "1"}) == [
        "NPC_SERVER__ZZZ: no such setting; server has no 'zzz'"
    ]


def test_real_settings_and_other_tools_npc_names_pass() -> None:
    env = {
        "NPC_LLM__TEMPERATURE": "0",
        "npc_asr__window_s": "4",  # settings are read case-insensitively
        "NPC_LOG_LEVEL": "info",
        "NPC_REDIS_URL": "redis://localhost",  # read by the memory connection itself
        "NPC_API_KEY": "k",  # the CLI client's key
        "NPC_GAME__LEVEL": "3",  # not a section of ours: another tool's
        "HOME": "/root",
    }
    assert unknown_env_settings(env) == []


def test_load_settings_refuses_an_unknown_setting_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NPC_TTS__THREDS", "2")
    with pytest.raises(ConfigError, match="did you mean NPC_TTS__THREADS"):
        load_settings()
