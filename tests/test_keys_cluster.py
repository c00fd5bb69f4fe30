"""Redis Cluster readiness of the key layout: one player's data sits in one hash slot."""

from __future__ import annotations

from redis.crc import key_slot

from npc_runtime.memory import keys


def _player_keys(player: str, character: str) -> list[str]:
    return [
        f(character, player)
        for f in (keys.memories, keys.recent, keys.reflection, keys.history, keys.relationship)
    ]


def test_one_players_keys_share_a_slot_across_characters() -> None:
    for player in ("alice", "bob@example.com", "name with spaces", "{braces}*?[x]"):
        slots = {key_slot(k.encode()) for c in ("jin", "nova") for k in _player_keys(player, c)}
        assert len(slots) == 1, (player, slots)


def test_players_spread_over_slots() -> None:
    slots = {key_slot(keys.history("jin", f"player-{i}").encode()) for i in range(200)}
    assert len(slots) > 150  # the tag is the player, not a constant


def test_a_knowledge_collection_sits_in_one_slot() -> None:
    c = keys.character_collection("jin")
    assert (
        key_slot(keys.kb_vectors(c).encode())
        == key_slot(keys.kb_documents(c).encode())
        == key_slot(keys.kb_meta(c).encode())
    )
