"""The gRPC server: NpcService (Converse and character lookups), health, reflection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from ..characters import CharacterNotFound
from ..events import ErrorCode, ErrorOut
from ..runtime import Runtime
from ..session import Session
from . import codec
from .gen.npc.v1 import npc_pb2 as pb
from .gen.npc.v1 import npc_pb2_grpc as pb_grpc

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
}


class NpcService(pb_grpc.NpcServiceServicer):  # type: ignore[misc]
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sessions: dict[str, Session] = {}

    async def Converse(
        self,
        request_iterator: AsyncIterator[pb.ClientEvent],
        context: grpc.aio.ServicerContext[pb.ClientEvent, pb.ServerEvent],
    ) -> AsyncIterator[pb.ServerEvent]:
        try:
            first = await anext(aiter(request_iterator))
        except StopAsyncIteration:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the stream ended before session_start: send SessionStart first",
            )
            return
        try:
            start = codec.decode_start(first)
            character = self.runtime.characters.get(start.character_id)
        except codec.DecodeError as e:
            await context.abort(_STATUS[e.code], str(e))
            return
        except CharacterNotFound as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
            return
        limit = self.runtime.settings.server.max_sessions
        if len(self.sessions) >= limit:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the server is at its limit of {limit} sessions; retry in a few seconds",
            )
            return
        session = Session(self.runtime, character, start)
        self.sessions[session.id] = session
        log.info(
            "session %s opened: character=%s player=%s", session.id, character.id, start.player_id
        )
        session.open()
        reader = asyncio.create_task(self._read(request_iterator, session))
        try:
            while (event := await session.outbox.next()) is not None:
                yield codec.encode(event)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await session.abort()
            self.sessions.pop(session.id, None)
            log.info("session %s closed", session.id)

    async def _read(self, requests: AsyncIterator[pb.ClientEvent], session: Session) -> None:
        try:
            async for message in requests:
                try:
                    event = codec.decode(message)
                except codec.DecodeError as e:
                    session.outbox.emit(ErrorOut(e.code, str(e)))
                    continue
                await session.handle(event)
            await session.finish()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # keep the server up; tell this client what happened
            log.exception("session %s failed", session.id)
            session.outbox.emit(
                ErrorOut(ErrorCode.INTERNAL, f"session failed: {e}", session_alive=False)
            )
            session.close()

    async def ListCharacters(
        self, request: pb.ListCharactersRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ListCharactersResponse:
        chars = self.runtime.characters.characters
        return pb.ListCharactersResponse(
            characters=[codec.character_info(chars[i]) for i in sorted(chars)]
        )

    async def DescribeCharacter(
        self,
        request: pb.DescribeCharacterRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> pb.CharacterInfo:
        try:
            return codec.character_info(self.runtime.characters.get(request.character_id))
        except CharacterNotFound as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
            raise  # unreachable: abort raises

    async def ForgetPlayer(
        self, request: pb.ForgetPlayerRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pb.ForgetPlayerResponse:
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
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "RunScene (NPC-to-NPC scenes) is not available in this server version yet",
        )
        yield pb.SceneEvent()  # unreachable; makes this an async generator


async def start_server(runtime: Runtime, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the port actually bound (port 0 = any)."""
    max_bytes = runtime.settings.server.max_message_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    service = NpcService(runtime)
    pb_grpc.add_NpcServiceServicer_to_server(service, server)
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
        bound = server.add_insecure_port(f"{host}:{port}")
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
