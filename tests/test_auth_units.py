"""API keys, exposure checks and token buckets, without models or servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from npc_runtime.cli import main
from npc_runtime.config import ApiKeyEntry, ConfigError, load_settings
from npc_runtime.events import ErrorCode
from npc_runtime.limits import KeyLimits, TokenBucket, session_limit
from npc_runtime.server.auth import (
    AuthError,
    KeyStore,
    add_key,
    bearer,
    check_exposure,
    hash_key,
    is_loopback,
    load_keys_file,
)


def _store() -> KeyStore:
    return KeyStore(
        [
            ApiKeyEntry(name="kiosk", hash=hash_key("k1"), characters=["jin"], worlds=["farm"]),
            ApiKeyEntry(name="ops", hash=hash_key("k2"), scopes=["admin"]),
        ]
    )


def test_keys_authenticate_by_hash_and_carry_their_limits() -> None:
    keys = _store()
    kiosk = keys.authenticate("k1")
    assert kiosk.name == "kiosk" and kiosk.scopes == {"converse"}
    kiosk.check_character("jin")
    kiosk.check_world("farm")
    kiosk.check_world("")  # the session's own world
    with pytest.raises(AuthError) as e:
        kiosk.check_character("nova")
    assert e.value.code is ErrorCode.PERMISSION_DENIED and "nova" in str(e.value)
    with pytest.raises(AuthError) as e:
        kiosk.check_world("castle")
    assert e.value.code is ErrorCode.PERMISSION_DENIED
    with pytest.raises(AuthError) as e:
        kiosk.require("admin", "ForgetPlayer")
    assert e.value.code is ErrorCode.PERMISSION_DENIED and "admin" in str(e.value)
    ops = keys.authenticate("k2")
    ops.require("admin", "ForgetPlayer")
    ops.require("converse", "Converse")  # admin implies converse
    for bad in (None, "", "k3"):
        with pytest.raises(AuthError) as e:
            keys.authenticate(bad)
        assert e.value.code is ErrorCode.UNAUTHENTICATED
        assert "key" in str(e.value)


def test_no_keys_means_everyone_is_allowed() -> None:
    anyone = KeyStore().authenticate(None)
    anyone.require("admin", "ForgetPlayer")
    anyone.check_character("nova")


def test_bearer_header_parsing() -> None:
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_no_keys_means_loopback_only_unless_allowed() -> None:
    settings = load_settings()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    check_exposure(settings, KeyStore(), "127.0.0.1")
    with pytest.raises(ConfigError, match="keys add"):
        check_exposure(settings, KeyStore(), "0.0.0.0")
    check_exposure(settings, _store(), "0.0.0.0")
    open_settings = load_settings(server={"allow_insecure_public": True})
    check_exposure(open_settings, KeyStore(), "0.0.0.0")


def test_keys_add_prints_the_key_once_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.toml"
    argv = ["keys", "add", "lobby", "--keys-file", str(path), "--characters", "jin, nova"]
    assert main(argv) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("npc_") and len(key) > 40
    text = path.read_text()
    assert key not in text and hash_key(key) in text
    assert path.stat().st_mode & 0o077 == 0
    (entry,) = load_keys_file(path)
    assert entry.characters == ["jin", "nova"] and entry.scopes == ["converse"]
    assert main(["keys", "add", "ops", "--keys-file", str(path), "--admin"]) == 0
    admin_key = capsys.readouterr().out.strip()
    settings = load_settings(server={"keys_file": str(path)})
    keys = KeyStore.from_settings(settings)
    assert len(keys) == 2
    assert keys.authenticate(key).name == "lobby"
    keys.authenticate(admin_key).require("admin", "export")
    assert main(["keys", "add", "ops", "--keys-file", str(path)]) == 2  # name taken
    assert main(["keys", "list", "--keys-file", str(path)]) == 0
    listing = capsys.readouterr().out
    assert "lobby" in listing and "ops" in listing and "sha256" not in listing


def test_a_broken_keys_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[[keys]]\nname = "x"\nhash = "md5:abc"\n')
    with pytest.raises(ConfigError, match=r"keys\[0\]: hash"):
        load_keys_file(path)
    with pytest.raises(ConfigError, match="does not exist"):
        KeyStore.from_settings(load_settings(server={"keys_file": str(tmp_path / "nope")}))
    with pytest.raises(ConfigError):
        add_key(path, "y", [], [], False)  # never appends to a file it cannot read


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(2.0, 3.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.take()
    assert wait == pytest.approx(0.5)
    now[0] += 0.5
    assert bucket.take() == 0.0
    assert TokenBucket(0.0, 0.0).take() == 0.0  # rate 0 = unlimited


def test_rate_limits_refuse_with_a_retry_hint() -> None:
    now = [0.0]
    settings = load_settings(server={"session_turns_per_min": 6, "session_messages_per_s": 10})
    limit = session_limit(settings.server, clock=lambda: now[0])
    assert [limit.check(True) for _ in range(3)] == [None, None, None]
    why = limit.check(True)
    assert why and "turns per minute" in why and "retry in" in why
    assert "server.session_turns_per_min" in why
    for _ in range(6):
        limit.check(False)
    why = limit.check(False)
    assert why and "messages per second" in why and "retry in" in why
    now[0] += 10.0
    assert limit.check(True) is None
    keyed = KeyLimits(load_settings(server={"key_turns_per_min": 60}).server)
    assert keyed.get("a") is keyed.get("a") and keyed.get("a") is not keyed.get("b")
    assert KeyLimits(settings.server).get("a") is None  # off by default
