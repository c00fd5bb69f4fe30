"""The gRPC server: NpcService (Converse and character lookups), health, reflection."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from ..characters import CharacterNotFound
from ..config import ConfigError
from ..events import ErrorCode
from ..runtime import Runtime
from ..scene.director import SceneDirector
from ..scene.spec import SceneError
from ..session import Session
from . import codec
from .auth import AuthError, KeyStore, Principal, Scope, bearer, check_exposure
from .driver import SessionDriver, SessionRefused
from .gen.npc.v1 import npc_pb2 as pb
from .gen.npc.v1 import npc_pb2_grpc as pb_grpc
from .ws_frames import parse_binary

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["NpcService"].full_name

_STATUS = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.UNIMPLEMENTED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
}


class NpcService(pb_grpc.NpcServiceServicer):  # type: ignore[misc]
    def __init__(
        self, runtime: Runtime, driver: SessionDriver | None = None, keys: KeyStore | None = None
    ) -> None:
        self.runtime = runtime
        self.driver = driver or SessionDriver(runtime)
        self.keys = keys if keys is not None else KeyStore.from_settings(runtime.settings)

    async def _caller(
        self, context: grpc.aio.ServicerContext[Any, Any], scope: Scope, what: str
    ) -> Principal:
        """The caller behind the call's `authorization` metadata; aborts the call with
        UNAUTHENTICATED or PERMISSION_DENIED."""
        header = next(
            (str(v) for k, v in context.invocation_metadata() or () if k == "authorization"),
            None,
        )
        try:
            principal = self.keys.authenticate(bearer(header))
            principal.require(scope, what)
        except AuthError as e:
            await context.abort(_STATUS[e.code], str(e))
            raise  # unreachable: abort raises
        return principal

    @property
    def sessions(self) -> dict[str, Session]:
        return self.driver.sessions

    async def Converse(
        self,
        request_iterator: AsyncIterator[pb.ClientEvent],
        context: grpc.aio.ServicerContext[pb.ClientEvent, pb.ServerEvent],
    ) -> AsyncIterator[pb.ServerEvent]:
        principal = await self._caller(context, "converse", "Converse")
        try:
            events_in = self.driver.converse(request_iterator, principal=principal)
            async with contextlib.aclosing(events_in) as events:
                async for event in events:
                    yield event
        except SessionRefused as e:
            await context.abort(_STATUS[e.code], str(e))

    async def ListCharacters(
        self, request: pb.ListCharactersRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ListCharactersResponse:
        principal = await self._caller(context, "converse", "ListCharacters")
        chars = self.runtime.characters.characters
        return pb.ListCharactersResponse(
            characters=[
                codec.character_info(chars[i])
                for i in sorted(chars)
                if principal.may_use_character(i)
            ]
        )

    async def DescribeCharacter(
        self,
        request: pb.DescribeCharacterRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> pb.CharacterInfo:
        principal = await self._caller(context, "converse", "DescribeCharacter")
        try:
            principal.check_character(request.character_id)
            return codec.character_info(self.runtime.characters.get(request.character_id))
        except AuthError as e:
            await context.abort(_STATUS[e.code], str(e))
            raise  # unreachable: abort raises
        except CharacterNotFound as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
            raise  # unreachable: abort raises

    async def ForgetPlayer(
        self, request: pb.ForgetPlayerRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ForgetPlayerResponse:
        await self._caller(context, "admin", "ForgetPlayer")
        if not request.player_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "player_id is empty: name the player to forget"
            )
        if request.character_id:
            try:
                self.runtime.characters.get(request.character_id)
            except CharacterNotFound as e:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        try:
            removed = await self.runtime.forget_player(
                request.player_id, request.character_id or None
            )
        except ConnectionError as e:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"the memory store is unreachable ({e}); nothing was removed, try again",
            )
        return pb.ForgetPlayerResponse(removed=removed)

    async def RunScene(
        self, request: pb.RunSceneRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncIterator[pb.SceneEvent]:
        principal = await self._caller(context, "converse", "RunScene")
        try:
            spec = codec.decode_scene(request)
            for character_id in spec.cast:
                principal.check_character(character_id)
            principal.check_world(spec.world_id)
            director = SceneDirector(self.runtime, spec)
        except codec.DecodeError as e:
            await context.abort(_STATUS[e.code], str(e))
            raise  # unreachable: abort raises
        except AuthError as e:
            await context.abort(_STATUS[e.code], str(e))
            raise
        except SceneError as e:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            raise
        async with contextlib.aclosing(director.events()) as events:
            async for out in events:
                yield codec.encode_scene(out)


async def start_server(
    runtime: Runtime,
    host: str,
    port: int,
    driver: SessionDriver | None = None,
    keys: KeyStore | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the port actually bound (port 0 = any).
    Pass the driver the WebSocket gateway uses so the session limit counts both.
    keys: the API keys (default: from runtime.settings); with none, only a loopback
    host is allowed (server.allow_insecure_public overrides). TLS when
    server.tls_cert and server.tls_key are set."""
    keys = keys if keys is not None else KeyStore.from_settings(runtime.settings)
    check_exposure(runtime.settings, keys, host)
    credentials = server_credentials(
        runtime.settings.server.tls_cert, runtime.settings.server.tls_key
    )
    max_bytes = runtime.settings.server.max_message_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    service = NpcService(runtime, driver, keys)
    pb_grpc.add_NpcServiceServicer_to_server(service, _LenientConverse(server))
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    # grpcio reports a failed bind as 0 in some versions and RuntimeError in others.
    try:
        if credentials is None:
            bound = server.add_insecure_port(f"{host}:{port}")
        else:
            bound = server.add_secure_port(f"{host}:{port}", credentials)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise OSError(
            f"cannot listen on {host}:{port}: the address is in use or not available; "
            "stop the other server or pass --port"
        )
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    server.npc_service = service  # type: ignore[attr-defined]
    return server, bound


def server_credentials(cert: str, key: str) -> grpc.ServerCredentials | None:
    """TLS credentials from PEM files, or None when neither is set."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError(
            "TLS needs both server.tls_cert and server.tls_key (PEM files); "
            f"only {'tls_cert' if cert else 'tls_key'} is set"
        )
    try:
        pair = (Path(key).read_bytes(), Path(cert).read_bytes())
    except OSError as e:
        raise ConfigError(f"cannot read the TLS certificate or key: {e}") from None
    return grpc.ssl_server_credentials([pair])


class _LenientConverse:
    """Registers NpcService with a Converse deserializer that turns a malformed
    message into a DecodeError, which the driver answers with an Error event (the
    session goes on), instead of grpc failing the whole call."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        handlers = dict(handlers)
        strict = handlers["Converse"]
        handlers["Converse"] = grpc.stream_stream_rpc_method_handler(
            strict.stream_stream,
            request_deserializer=parse_binary,
            response_serializer=strict.response_serializer,
        )
        self._server.add_registered_method_handlers(service, handlers)  # type: ignore[attr-defined]
