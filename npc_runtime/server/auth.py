"""API keys: who may talk to which characters in which worlds, and who may administer.

A client sends its key as `authorization: Bearer <key>` (gRPC metadata or an HTTP
header); browsers, which cannot set headers on a WebSocket, may use `?token=<key>`
or the WebSocket subprotocol `bearer.<key>`. The server keeps only `sha256:<hex>`
hashes (settings server.api_keys, or the keys file `npc-runtime keys add` writes).

With no keys configured every caller is allowed, and the server refuses to listen
anywhere but loopback (unless server.allow_insecure_public is set).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..config import ApiKeyEntry, ConfigError, Settings
from ..config import Scope as Scope
from ..events import ErrorCode

KEY_PREFIX = "npc_"
BEARER_PROTOCOL = "bearer."  # WebSocket subprotocol carrying a key
WS_PROTOCOL = "npc.v1"  # the subprotocol the server picks when a browser offers it


class AuthError(Exception):
    """The caller may not do this: UNAUTHENTICATED (no or unknown key) or
    PERMISSION_DENIED (the key does not cover it)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """The caller a request was authenticated as."""

    name: str
    scopes: frozenset[str]
    characters: frozenset[str] = frozenset()  # empty = all
    worlds: frozenset[str] = frozenset()  # empty = all

    def require(self, scope: Scope, what: str) -> None:
        if scope not in self.scopes:
            raise AuthError(
                ErrorCode.PERMISSION_DENIED,
                f"{what} needs an API key with the {scope!r} scope; key {self.name!r} has "
                f"{', '.join(sorted(self.scopes)) or 'none'}",
            )

    def may_use_character(self, character_id: str) -> bool:
        return not self.characters or character_id in self.characters

    def check_character(self, character_id: str) -> None:
        if not self.may_use_character(character_id):
            raise AuthError(
                ErrorCode.PERMISSION_DENIED,
                f"API key {self.name!r} may not use character {character_id!r}; it covers "
                f"{', '.join(sorted(self.characters))}",
            )

    def check_world(self, world_id: str) -> None:
        if self.worlds and world_id and world_id not in self.worlds:
            raise AuthError(
                ErrorCode.PERMISSION_DENIED,
                f"API key {self.name!r} may not use world {world_id!r}; it covers "
                f"{', '.join(sorted(self.worlds))}",
            )


# Everyone, when no keys are configured (loopback only, see check_exposure).
ANONYMOUS = Principal("anonymous", frozenset({"converse", "admin"}))


class KeyStore:
    """The configured keys, by hash."""

    def __init__(self, entries: Iterable[ApiKeyEntry] = ()) -> None:
        self._by_hash: dict[str, ApiKeyEntry] = {}
        for e in entries:
            self._by_hash[e.hash] = e

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        entries = list(settings.server.api_keys)
        path = keys_path(settings)
        if settings.server.keys_file or path.is_file():
            entries += load_keys_file(path)
        return cls(entries)

    @property
    def enabled(self) -> bool:
        return bool(self._by_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def authenticate(self, token: str | None) -> Principal:
        """The caller behind `token`; raises AuthError(UNAUTHENTICATED)."""
        if not self.enabled:
            return ANONYMOUS
        if not token:
            raise AuthError(
                ErrorCode.UNAUTHENTICATED,
                "this server needs an API key: send 'authorization: Bearer <key>' "
                "(WebSocket from a browser: ?token=<key>); ask the operator for a key "
                "('npc-runtime keys add NAME')",
            )
        digest = hash_key(token)
        found: ApiKeyEntry | None = None
        for h, entry in self._by_hash.items():  # constant time per entry
            if hmac.compare_digest(h, digest):
                found = entry
        if found is None:
            raise AuthError(
                ErrorCode.UNAUTHENTICATED,
                "the API key is not valid (unknown or revoked): check the key you send",
            )
        return Principal(
            found.name,
            frozenset(found.scopes) | ({"converse"} if "admin" in found.scopes else set()),
            frozenset(found.characters),
            frozenset(found.worlds),
        )


def bearer(value: str | None) -> str | None:
    """The key in an `authorization` value ("Bearer <key>"), or None."""
    if not value:
        return None
    scheme, _, key = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def keys_path(settings: Settings) -> Path:
    return Path(settings.server.keys_file or settings.data_dir / "keys.toml")


def load_keys_file(path: Path) -> list[ApiKeyEntry]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"keys file {path} (server.keys_file) does not exist: create keys with "
            "'npc-runtime keys add NAME' or fix the path"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"keys file {path}: not valid TOML: {e}") from None
    entries: list[ApiKeyEntry] = []
    for i, raw in enumerate(data.get("keys", [])):
        try:
            entries.append(ApiKeyEntry.model_validate(raw))
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise ConfigError(f"keys file {path}: keys[{i}]: {problems}") from None
    return entries


def add_key(
    path: Path,
    name: str,
    characters: list[str],
    worlds: list[str],
    admin: bool,
) -> str:
    """Create a key, append its hash to the keys file, return the key (shown once)."""
    existing = load_keys_file(path) if path.is_file() else []
    if any(e.name == name for e in existing):
        raise ValueError(f"a key named {name!r} already exists in {path}: pick another name")
    key = new_key()
    entry = ApiKeyEntry(
        name=name,
        hash=hash_key(key),
        characters=characters,
        worlds=worlds,
        scopes=["converse", "admin"] if admin else ["converse"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["", "[[keys]]"]
    for field in ("name", "hash", "characters", "worlds", "scopes"):
        # JSON strings and arrays of strings are valid TOML.
        lines.append(f"{field} = {json.dumps(getattr(entry, field))}")
    header = (
        "" if path.is_file() else "# API keys (hashes only), written by 'npc-runtime keys add'.\n"
    )
    with path.open("a") as f:
        f.write(header + "\n".join(lines) + "\n")
    path.chmod(0o600)
    return key


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except (OSError, ValueError):
            return False


def check_exposure(settings: Settings, keys: KeyStore, host: str) -> None:
    """Refuse to serve without keys anywhere but loopback (unless told to)."""
    if keys.enabled or settings.server.allow_insecure_public or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without API keys: anyone who can reach it could "
        "use the server. Create a key with 'npc-runtime keys add NAME', listen on 127.0.0.1, "
        "or set server.allow_insecure_public = true (env NPC_SERVER__ALLOW_INSECURE_PUBLIC) "
        "on a trusted network"
    )
