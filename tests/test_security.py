"""API keys, TLS, rate limits and stage timeouts on live servers with the real models."""

from __future__ import annotations

import dataclasses
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import numpy as np
import pytest

from npc_runtime.client import Conversation, channel
from npc_runtime.config import ApiKeyEntry, ConfigError
from npc_runtime.runtime import Runtime
from npc_runtime.server.auth import KeyStore, hash_key
from npc_runtime.server.driver import SessionDriver
from npc_runtime.server.gen.npc.v1 import npc_pb2 as pb
from npc_runtime.server.gen.npc.v1 import npc_pb2_grpc as pb_grpc
from npc_runtime.server.service import start_server
from npc_runtime.server.ws_gateway import Gateway, start_gateway

pytestmark = pytest.mark.models

Speak = Callable[[str, int], Awaitable[np.ndarray]]
JIN_KEY, ADMIN_KEY = "jin-only-key", "admin-key"
KEYS = KeyStore(
    [
        ApiKeyEntry(name="jin-kiosk", hash=hash_key(JIN_KEY), characters=["jin"], worlds=["farm"]),
        ApiKeyEntry(name="ops", hash=hash_key(ADMIN_KEY), scopes=["converse", "admin"]),
    ]
)
UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED = 16, 7, 8, 4


def variant(runtime: Runtime, **sections: dict[str, Any]) -> Runtime:
    """A copy of the shared runtime (same models) with some settings changed."""
    s = runtime.settings
    update = {name: getattr(s, name).model_copy(update=v) for name, v in sections.items()}
    return dataclasses.replace(runtime, settings=s.model_copy(update=update))


@pytest.fixture(scope="module")
async def secured(runtime: Runtime) -> AsyncIterator[tuple[str, Gateway]]:
    """gRPC and the gateway with KEYS, sharing one driver."""
    driver = SessionDriver(runtime)
    server, port = await start_server(runtime, "127.0.0.1", 0, driver, KEYS)
    gateway, _ = await start_gateway(runtime, "127.0.0.1", 0, driver, KEYS)
    yield f"127.0.0.1:{port}", gateway
    await gateway.stop(1)
    await server.stop(1)


def _start(character: str = "jin", **kw: Any) -> pb.SessionStart:
    return pb.SessionStart(character_id=character, text_only=True, **kw)


async def _refusal(conv: Conversation) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await conv.wait_ready()
    return e.value


async def test_grpc_needs_a_key_and_the_key_limits_characters(
    secured: tuple[str, Gateway], runtime: Runtime
) -> None:
    address, _ = secured
    async with channel(address) as chan:
        err = await _refusal(Conversation(chan, _start()))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "Bearer" in (err.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await pb_grpc.NpcServiceStub(chan).ListCharacters(pb.ListCharactersRequest())
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with channel(address, api_key="wrong") as chan:
        err = await _refusal(Conversation(chan, _start()))
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    async with channel(address, api_key=JIN_KEY) as chan:
        stub = pb_grpc.NpcServiceStub(chan)
        listing = await stub.ListCharacters(pb.ListCharactersRequest())
        assert [c.id for c in listing.characters] == ["jin"]
        err = await _refusal(Conversation(chan, _start("nova")))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "nova" in (err.details() or "")
        scene = pb.SceneSnapshot(world_id="castle")
        err = await _refusal(Conversation(chan, _start(scene=scene)))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "castle" in (err.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.ForgetPlayer(pb.ForgetPlayerRequest(player_id="someone"))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "admin" in (e.value.details() or "")
        conv = Conversation(chan, _start())
        await conv.wait_ready()
        # A scene update into a world the key does not cover: an error, the session goes on.
        conv.send(
            pb.ClientEvent(scene_update=pb.SceneUpdate(replace=pb.SceneSnapshot(world_id="x")))
        )
        conv.send_text("Hi Jin, how is the broth?")
        result = await conv.collect_turn()
        assert result.end is not None and result.text
        codes = [e.code for e in result.errors]
        assert PERMISSION_DENIED in codes
        conv.close()
    async with channel(address, api_key=ADMIN_KEY) as chan:
        stub = pb_grpc.NpcServiceStub(chan)
        listing = await stub.ListCharacters(pb.ListCharactersRequest())
        # The admin key has no character list: it sees every character.
        assert {c.id for c in listing.characters} == set(runtime.characters.ids())
        resp = await stub.ForgetPlayer(pb.ForgetPlayerRequest(player_id="nobody-security-test"))
        assert resp.removed == 0


async def test_websocket_takes_the_key_as_header_query_or_subprotocol(
    secured: tuple[str, Gateway],
) -> None:
    _, gateway = secured
    base = f"127.0.0.1:{gateway.port}"
    start = pb.ClientEvent(session_start=_start()).SerializeToString()
    async with aiohttp.ClientSession() as http:
        # No key: an UNAUTHENTICATED error in the client's format, then close 4016.
        async with http.ws_connect(f"ws://{base}/v1/converse") as ws:
            await ws.send_bytes(start)
            msg = await ws.receive(30)
            ev = pb.ServerEvent.FromString(msg.data)
            assert ev.error.code == UNAUTHENTICATED and not ev.error.session_alive
            assert "token" in ev.error.message
            await ws.receive(30)
            assert ws.close_code == 4016
        ways: list[dict[str, Any]] = [
            {"url": f"ws://{base}/v1/converse?token={JIN_KEY}"},
            {
                "url": f"ws://{base}/v1/converse",
                "headers": {"Authorization": f"Bearer {JIN_KEY}"},
            },
            {"url": f"ws://{base}/v1/converse", "protocols": ("npc.v1", f"bearer.{JIN_KEY}")},
        ]
        for way in ways:
            url = way.pop("url")
            async with http.ws_connect(url, **way) as ws:
                if "protocols" in way:
                    assert ws.protocol == "npc.v1"
                await ws.send_bytes(start)
                ev = pb.ServerEvent.FromString((await ws.receive(30)).data)
                assert ev.HasField("session_ready"), ev
        # A key limited to jin asking for nova: PERMISSION_DENIED, close 4007.
        nova = pb.ClientEvent(session_start=_start("nova")).SerializeToString()
        async with http.ws_connect(f"ws://{base}/v1/converse?token={JIN_KEY}") as ws:
            await ws.send_bytes(nova)
            ev = pb.ServerEvent.FromString((await ws.receive(30)).data)
            assert ev.error.code == PERMISSION_DENIED
            await ws.receive(30)
            assert ws.close_code == 4007
        # HTTP: listing needs a key and is filtered; debug and export need admin.
        async with http.get(f"http://{base}/v1/characters") as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        async with http.get(f"http://{base}/v1/characters?token={JIN_KEY}") as r:
            assert [c["id"] for c in (await r.json())["characters"]] == ["jin"]
        async with http.get(f"http://{base}/healthz") as r:
            assert r.status == 200  # load balancers need no key
        debug = f"http://{base}/v1/sessions/{'0' * 32}/debug"
        export = f"http://{base}/v1/players/nobody-security-test/memory"
        for url in (debug, export):
            async with http.get(url, headers={"Authorization": f"Bearer {JIN_KEY}"}) as r:
                assert r.status == 403 and "admin" in (await r.json())["error"]
        async with http.get(debug, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as r:
            assert r.status == 404  # allowed; no such session
        async with http.get(export, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as r:
            assert r.status == 200
            assert (await r.json())["player"] == "nobody-security-test"


async def test_no_keys_refuses_a_public_host(runtime: Runtime) -> None:
    with pytest.raises(ConfigError, match="without API keys"):
        await start_server(runtime, "0.0.0.0", 0, keys=KeyStore())
    with pytest.raises(ConfigError, match="allow_insecure_public"):
        await start_gateway(runtime, "0.0.0.0", 0, keys=KeyStore())
    server, _ = await start_server(
        variant(runtime, server={"allow_insecure_public": True}), "0.0.0.0", 0, keys=KeyStore()
    )
    await server.stop(0)


def _self_signed(folder: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


async def test_tls_on_grpc_and_the_websocket(runtime: Runtime, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls_runtime = variant(runtime, server={"tls_cert": cert, "tls_key": key})
    driver = SessionDriver(tls_runtime)
    server, port = await start_server(tls_runtime, "127.0.0.1", 0, driver, KEYS)
    gateway, ws_port = await start_gateway(tls_runtime, "127.0.0.1", 0, driver, KEYS)
    try:
        async with channel(f"127.0.0.1:{port}", api_key=ADMIN_KEY, tls_ca=Path(cert)) as chan:
            listing = await pb_grpc.NpcServiceStub(chan).ListCharacters(
                pb.ListCharactersRequest(), timeout=10
            )
            assert {c.id for c in listing.characters} == set(runtime.characters.ids())
        async with channel(f"127.0.0.1:{port}", api_key=ADMIN_KEY) as plain:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await pb_grpc.NpcServiceStub(plain).ListCharacters(
                    pb.ListCharactersRequest(), timeout=5
                )
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        context = ssl.create_default_context(cafile=cert)
        start = pb.ClientEvent(session_start=_start()).SerializeToString()
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                f"wss://127.0.0.1:{ws_port}/v1/converse?token={JIN_KEY}", ssl=context
            ) as ws,
        ):
            await ws.send_bytes(start)
            ev = pb.ServerEvent.FromString((await ws.receive(30)).data)
            assert ev.HasField("session_ready")
    finally:
        await gateway.stop(1)
        await server.stop(1)


async def test_rate_limits_refuse_turns_and_floods_with_a_retry_hint(runtime: Runtime) -> None:
    limited = variant(
        runtime,
        server={
            "session_turns_per_min": 6,
            "session_messages_per_s": 20,
            "key_turns_per_min": 1,
        },
    )
    server, port = await start_server(limited, "127.0.0.1", 0, keys=KEYS)
    try:
        async with channel(f"127.0.0.1:{port}", api_key=JIN_KEY) as chan:
            conv = Conversation(chan, _start())
            await conv.wait_ready()
            for i in range(5):  # a burst of 3 turns is allowed, then 1 every 10 s
                conv.send_text(f"Question number {i}?")
            for _ in range(40):  # well over 20 messages a second
                conv.send(pb.ClientEvent(playback_progress=pb.PlaybackProgress(turn_id="x")))
            errors: list[pb.Error] = []
            while len(errors) < 3:
                ev = await conv.next(60)
                assert ev is not None
                if ev.HasField("error"):
                    errors.append(ev.error)
            assert all(e.code == RESOURCE_EXHAUSTED and e.session_alive for e in errors)
            assert any("turns per minute" in e.message for e in errors)
            assert all("retry in" in e.message for e in errors)
            conv.close()
            while await conv.next(120) is not None:
                pass
            # The key's own budget (1/min, burst 3) was spent by the first session.
            second = Conversation(chan, _start())
            await second.wait_ready()
            for i in range(2):
                second.send_text(f"Another one {i}?")
            found = ""
            while not found:
                ev = await second.next(120)
                assert ev is not None
                if ev.HasField("error") and "API key 'jin-kiosk'" in ev.error.message:
                    found = ev.error.message
            assert "server.key_turns_per_min" in found
            second.close()
    finally:
        await server.stop(1)


async def test_slow_stages_say_the_fallback_line_instead_of_silence(
    runtime: Runtime, speech: Speak
) -> None:
    slow = variant(runtime, llm={"reply_timeout_s": 0.001}, asr={"timeout_s": 0.001})
    server, port = await start_server(slow, "127.0.0.1", 0)
    fallback = runtime.characters.get("jin").fallback_line
    try:
        async with channel(f"127.0.0.1:{port}") as chan:
            conv = Conversation(chan, pb.SessionStart(character_id="jin", unpaced_audio=True))
            await conv.wait_ready()
            conv.send_text("Tell me the whole history of ramen.")
            result = await conv.collect_turn()
            assert result.end is not None and result.text == fallback
            assert result.audio, "the fallback line is spoken"
            assert [e.code for e in result.errors] == [DEADLINE_EXCEEDED]
            assert "llm.reply_timeout_s" in result.errors[0].message
            audio = await speech("Hello Jin, what is on the menu tonight?", 16_000)
            await conv.stream_audio(audio, 16_000, realtime=False)
            conv.send(pb.ClientEvent(audio_end=pb.AudioEnd()))
            result = await conv.collect_turn()
            assert result.end is not None and result.text == fallback
            assert any("asr.timeout_s" in e.message for e in result.errors)
            conv.close()
    finally:
        await server.stop(1)
