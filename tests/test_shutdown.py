"""SIGTERM on a real `npc-runtime serve`: the running turn finishes, then the process exits 0."""

from __future__ import annotations

import asyncio
import signal

import grpc
import pytest

from npc_runtime.client import Conversation, channel, spawn_server
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb

pytestmark = pytest.mark.models

UNAVAILABLE = 14


async def test_sigterm_mid_turn_finishes_the_turn_and_exits_0() -> None:
    proc, address = await spawn_server(env={"NPC_SERVER__GRACE_PERIOD_S": "90"})
    try:
        async with channel(address) as chan:
            # Paced audio: the turn lasts seconds after the signal.
            conv = Conversation(chan, pb.SessionStart(character_id="jin"))
            await conv.wait_ready()
            conv.send_text("Jin, tell me about your broth and the night shift.")
            while True:
                ev = await conv.next(120)
                assert ev is not None
                if ev.WhichOneof("event") == "npc_audio":
                    break
            proc.send_signal(signal.SIGTERM)
            result = await conv.collect_turn(120)
            assert result.end is not None, "the turn in flight must finish"
            assert not result.end.interrupted and result.audio
            tail: list[pb.ServerEvent] = []
            while (ev := await conv.next(60)) is not None:
                tail.append(ev)
            errors = [e.error for e in result.events + tail if e.HasField("error")]
            assert errors[-1].code == UNAVAILABLE and not errors[-1].session_alive
            assert "shutting down" in errors[-1].message
            assert not any(e.HasField("turn_started") for e in tail), "no new turn started"
        assert await asyncio.wait_for(proc.wait(), 90) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_new_sessions_are_refused_while_draining() -> None:
    proc, address = await spawn_server(env={"NPC_SERVER__GRACE_PERIOD_S": "30"})
    try:
        async with channel(address) as chan:
            busy = Conversation(chan, pb.SessionStart(character_id="jin"))
            await busy.wait_ready()
            busy.send_text("Tell me a long story about ramen.")
            while (ev := await busy.next(120)) is not None and not ev.HasField("npc_audio"):
                pass
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            late = Conversation(chan, pb.SessionStart(character_id="jin", text_only=True))
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await late.wait_ready()
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
