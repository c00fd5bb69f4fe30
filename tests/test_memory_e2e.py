"""Memory wired into conversations over real gRPC, with the runtime's own Redis 8."""

from __future__ import annotations

import uuid

import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.runtime import Runtime
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.gen.npc.v1 import npc_pb2_grpc as pb_grpc
from npc_runtime.session import exchanges_from_lines

pytestmark = pytest.mark.models


async def _settled(runtime: Runtime) -> None:
    """A session queues its writes on the runtime before it sends TurnEnd (or the
    trigger's Emotion), so by the time the client has seen that, they are queued."""
    assert await runtime.settle(timeout=30)


def _start(player: str, **kw: object) -> pb.SessionStart:
    return pb.SessionStart(character_id="jin", player_id=player, text_only=True, **kw)  # type: ignore[arg-type]


async def test_a_turns_memory_is_embedded_while_its_reply_plays(
    runtime: object, server_address: str
) -> None:
    """The memory written when playback ends was embedded ahead, during playback: the
    end of playback is when the player starts to speak again."""
    assert isinstance(runtime, Runtime) and runtime.memory is not None
    before = runtime.memory.embedder.prefetch_hits
    player = f"carol-{uuid.uuid4().hex[:6]}"
    async with channel(server_address) as chan:
        # With audio: what is remembered is what the voice said.
        conv = Conversation(chan, pb.SessionStart(character_id="jin", player_id=player))
        await conv.wait_ready()
        conv.send_text("Which noodles do you recommend tonight?")
        result = await conv.collect_turn()
        conv.close()
    assert result.end is not None and not result.end.interrupted and result.audio
    await _settled(runtime)
    assert runtime.memory.embedder.prefetch_hits >= before + 1
    history = await runtime.memory.history("jin", player)
    assert ("player", "Which noodles do you recommend tonight?") in history


async def test_what_a_player_said_is_remembered_for_them_and_not_for_others(
    runtime: object, server_address: str
) -> None:
    assert isinstance(runtime, Runtime) and runtime.memory is not None
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(alice, game_time_hours=100.0))
        await conv.wait_ready()
        conv.send_text("My name is Zorblax and my sister drives the night tram.")
        first = await conv.collect_turn()
        conv.close()
        assert first.end is not None and first.end.timings.recall_ms > 0
        await _settled(runtime)

        # A new session (another connection, as after a reconnect) resumes the history.
        history = await runtime.memory.history("jin", alice)
        assert ("player", "My name is Zorblax and my sister drives the night tram.") in history
        assert any(role == "npc" for role, _ in history)

        jin = runtime.characters.get("jin")
        mine = await runtime.memory.recall(jin, alice, "What is my name?")
        theirs = await runtime.memory.recall(jin, bob, "What is my name?")
        assert "Zorblax" in mine.text
        assert "Zorblax" not in theirs.text

        conv = Conversation(chan, _start(alice))
        await conv.wait_ready()
        conv.send_text("Do you remember what my sister does?")
        second = await conv.collect_turn()
        conv.close()
        assert second.end is not None and not second.errors

        # Forget leaves nothing of Alice behind.
        stub = pb_grpc.NpcServiceStub(chan)
        removed = (await stub.ForgetPlayer(pb.ForgetPlayerRequest(player_id=alice))).removed
        assert removed > 0
    assert await runtime.memory.history("jin", alice) == []
    again = await runtime.memory.recall(runtime.characters.get("jin"), alice, "What is my name?")
    assert "Zorblax" not in again.text


async def test_the_characters_knowledge_reaches_the_prompt(runtime: object) -> None:
    assert isinstance(runtime, Runtime) and runtime.memory is not None
    jin, nova = runtime.characters.get("jin"), runtime.characters.get("nova")
    ramen = await runtime.memory.recall(jin, "kb-check", "How long do you boil the tonkotsu broth?")
    assert ramen.ok and ramen.knowledge and "broth" in ramen.text.lower()
    gpus = await runtime.memory.recall(nova, "kb-check", "How long do you boil the tonkotsu broth?")
    # Nova has no ramen documents: whatever she recalls is not Jin's.
    jin_sources = {h.source for h in ramen.knowledge}
    assert not jin_sources & {h.source for h in gpus.knowledge}


async def test_a_trigger_is_remembered_and_the_feeling_survives_a_new_session(
    runtime: object, server_address: str
) -> None:
    assert isinstance(runtime, Runtime) and runtime.memory is not None
    player = f"thief-{uuid.uuid4().hex[:6]}"
    async with channel(server_address) as chan:
        conv = Conversation(chan, _start(player))
        await conv.wait_ready()
        conv.send(pb.ClientEvent(trigger=pb.Trigger(name="player_looted_store")))
        ev = await conv.next(30)
        assert ev is not None and ev.emotion.category == pb.EMOTION_CATEGORY_ANGER
        conv.close()
    await _settled(runtime)
    stored = await runtime.memory.relationship("jin", player)
    assert stored["emotion"] == "anger" and stored["trust"] < 0
    # Another process would load it from Redis: drop this process's copy and reload.
    runtime.emotions.forget(player)
    jin = runtime.characters.get("jin")
    await runtime.emotions.load(jin, player)
    assert runtime.emotions.current(jin, player).category == "anger"
    recalled = await runtime.memory.recall(jin, player, "What did the player do to your store?")
    assert "looted" in recalled.text


def test_stored_history_lines_become_exchanges() -> None:
    lines = [
        ("npc", "Rain's coming down."),
        ("player", "Ramen, please."),
        ("npc", "Coming up."),
        ("player", "Hello?"),
        ("player", "Anyone there?"),
        ("npc", "Yes, kid."),
    ]
    out = exchanges_from_lines(lines)
    assert [(e.player, e.npc) for e in out] == [
        ("(the player arrives)", "Rain's coming down."),
        ("Ramen, please.", "Coming up."),
        ("Hello?", "…"),
        ("Anyone there?", "Yes, kid."),
    ]
