"""Redis key names: one place, so `forget` can find everything about a player.

Every key about a player starts with ``npc:{<player>}:`` — the braces make the
player a Redis Cluster hash tag, so all of one player's keys live on one shard
and a pipeline over them never crosses slots. Player ids are percent-encoded,
which keeps glob characters (``*?[]\\``) and braces out of SCAN patterns.
Knowledge keys are per collection: ``npc:kb:{<collection>}:…``.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

PREFIX = "npc"
# Records which embedder wrote the episodic memories (model name, dimension).
MEMORY_META = f"{PREFIX}:meta:memory"


def _tag(player_id: str) -> str:
    return quote(player_id, safe="-_.@")


def player_of(key: str) -> str | None:
    """The player id a key belongs to, or None for keys that are not per player."""
    if not key.startswith(PREFIX + ":{"):
        return None
    end = key.find("}:", len(PREFIX) + 2)
    return unquote(key[len(PREFIX) + 2 : end]) if end > 0 else None


def player_pattern(player_id: str, character_id: str | None = None) -> str:
    """SCAN MATCH pattern for every key of a player (optionally of one character)."""
    base = f"{PREFIX}:{{{_tag(player_id)}}}:"
    return base + (f"{character_id}:*" if character_id else "*")


def _pc(character_id: str, player_id: str) -> str:
    return f"{PREFIX}:{{{_tag(player_id)}}}:{character_id}"


def memories(character_id: str, player_id: str) -> str:
    """Vector set of episodic memories; attributes hold text, importance and times."""
    return _pc(character_id, player_id) + ":mem"


def recent(character_id: str, player_id: str) -> str:
    """Capped list of the newest memories (JSON), so recency needs no full scan."""
    return _pc(character_id, player_id) + ":recent"


def reflection(character_id: str, player_id: str) -> str:
    """Hash: importance summed since the last reflection."""
    return _pc(character_id, player_id) + ":refl"


def history(character_id: str, player_id: str) -> str:
    """Capped list of conversation lines (JSON), oldest first."""
    return _pc(character_id, player_id) + ":history"


def relationship(character_id: str, player_id: str) -> str:
    """Hash: trust, affinity, emotion, intensity, updated_at."""
    return _pc(character_id, player_id) + ":rel"


def kb_vectors(collection: str) -> str:
    return f"{PREFIX}:kb:{{{collection}}}:vec"


def kb_documents(collection: str) -> str:
    """Hash: document source → JSON {hash, chunks}."""
    return f"{PREFIX}:kb:{{{collection}}}:docs"


def kb_meta(collection: str) -> str:
    """Hash: embedder model name and dimension of the collection."""
    return f"{PREFIX}:kb:{{{collection}}}:meta"


def character_collection(character_id: str) -> str:
    return f"char:{character_id}"


def lore_collection(name: str) -> str:
    return f"lore:{name}"
