"""One conversation session over any transport.

The gRPC `Converse` stream and the WebSocket gateway both hand the driver an
async iterator of decoded `ClientEvent`s and send on whatever it yields, so the
session semantics (SessionStart first, the session limit, per-message errors,
finishing or aborting, clean-up) live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator

from ..characters import CharacterNotFound
from ..events import (
    ActionResultIn,
    ErrorCode,
    ErrorOut,
    GameTimeIn,
    InterruptIn,
    PlaybackIn,
    SceneUpdateIn,
    TextIn,
    TriggerIn,
)
from ..limits import KeyLimits, RateLimit, session_limit
from ..runtime import Runtime
from ..session import Session
from . import codec
from .auth import ANONYMOUS, AuthError, Principal
from .gen.npc.v1 import npc_pb2 as pb

log = logging.getLogger(__name__)

# What a transport feeds the driver: a decoded message, or why a frame could not
# be decoded (the driver answers it with an Error event; the session goes on).
Incoming = pb.ClientEvent | codec.DecodeError

# What a session still accepts while the server shuts down: what helps its turn end.
_WHILE_STOPPING = (PlaybackIn, InterruptIn, ActionResultIn, GameTimeIn)
SHUTTING_DOWN = "the server is shutting down; reconnect to start a new session"


class SessionRefused(Exception):
    """The stream cannot become a session (bad or missing SessionStart, unknown
    character, session limit). Raised before any event is yielded."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class SessionDriver:
    """Opens, runs and cleans up sessions; one per server, shared by its transports
    so the session limit counts them all."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sessions: dict[str, Session] = {}
        # Per-API-key rate limits, shared by the key's sessions on both transports.
        self.key_limits = KeyLimits(runtime.settings.server)
        # Set by shutdown(): no new sessions or turns.
        self.stopping = False

    async def converse(
        self,
        requests: AsyncIterable[Incoming],
        *,
        finish_on_end: bool = True,
        principal: Principal = ANONYMOUS,
        transport: str = "grpc",
    ) -> AsyncGenerator[pb.ServerEvent, None]:
        """Run one session: read SessionStart, then feed the rest of `requests` to it
        and yield its events until it closes. Raises SessionRefused before the first
        event if the session cannot start.

        finish_on_end: the end of `requests` is a half-close (gRPC), so the turn in
        flight finishes before the stream ends; False when it means the client is
        gone (a closed WebSocket), so everything stops at once.
        principal: the authenticated caller; its character and world allow-lists and
        rate limits apply to this session.
        transport labels the session in the metrics ("grpc", "websocket").
        """
        metrics = self.runtime.telemetry.metrics
        incoming = aiter(requests)
        try:
            session = self._open(await self._first(incoming), principal)
        except SessionRefused as e:
            metrics.refused(e.code)
            raise
        metrics.session_opened(transport)
        try:
            await session.prepare()
            session.open()
            limits = [session_limit(self.runtime.settings.server)]
            if principal is not ANONYMOUS and (key := self.key_limits.get(principal.name)):
                limits.append(key)
            reader = asyncio.create_task(
                self._read(incoming, session, finish_on_end, principal, limits)
            )
            try:
                while (event := await session.outbox.next()) is not None:
                    if isinstance(event, ErrorOut):
                        metrics.error(event.code)
                    yield codec.encode(event)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        finally:
            await session.abort()
            self.sessions.pop(session.id, None)
            metrics.session_closed(transport)
            log.info("session %s closed", session.id)

    async def _first(self, requests: AsyncIterator[Incoming]) -> Incoming:
        try:
            return await anext(requests)
        except StopAsyncIteration:
            raise SessionRefused(
                ErrorCode.INVALID_ARGUMENT,
                "the stream ended before session_start: send SessionStart first",
            ) from None

    def _open(self, first: Incoming, principal: Principal = ANONYMOUS) -> Session:
        # No await from the limit check to the registration: concurrent opens
        # cannot both take the last slot.
        if self.stopping:
            raise SessionRefused(ErrorCode.UNAVAILABLE, SHUTTING_DOWN)
        if isinstance(first, codec.DecodeError):
            raise SessionRefused(first.code, str(first))
        try:
            start = codec.decode_start(first)
            principal.check_character(start.character_id)
            if start.scene is not None:
                principal.check_world(start.scene.world_id)
            character = self.runtime.characters.get(start.character_id)
        except codec.DecodeError as e:
            raise SessionRefused(e.code, str(e)) from None
        except AuthError as e:
            raise SessionRefused(e.code, str(e)) from None
        except CharacterNotFound as e:
            raise SessionRefused(ErrorCode.NOT_FOUND, str(e)) from None
        limit = self.runtime.settings.server.max_sessions
        if len(self.sessions) >= limit:
            raise SessionRefused(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"the server is at its limit of {limit} sessions; retry in a few seconds",
            )
        session = Session(self.runtime, character, start)
        self.sessions[session.id] = session
        log.info(
            "session %s opened: character=%s player=%s", session.id, character.id, start.player_id
        )
        return session

    async def _read(
        self,
        requests: AsyncIterator[Incoming],
        session: Session,
        finish_on_end: bool,
        principal: Principal = ANONYMOUS,
        limits: list[RateLimit] | None = None,
    ) -> None:
        told_stopping = False
        try:
            async for message in requests:
                if isinstance(message, codec.DecodeError):
                    session.outbox.emit(ErrorOut(message.code, str(message)))
                    continue
                try:
                    event = codec.decode(message)
                except codec.DecodeError as e:
                    session.outbox.emit(ErrorOut(e.code, str(e)))
                    continue
                if self.stopping and not isinstance(event, _WHILE_STOPPING):
                    if not told_stopping:  # once: audio would repeat it 50 times a second
                        told_stopping = True
                        session.outbox.emit(
                            ErrorOut(ErrorCode.UNAVAILABLE, SHUTTING_DOWN + "; no new turns")
                        )
                    continue
                starts_turn = isinstance(event, TextIn) or (
                    isinstance(event, TriggerIn) and event.react
                )
                refused = next(
                    (why for limit in limits or [] if (why := limit.check(starts_turn))), None
                )
                if refused is not None:
                    session.outbox.emit(ErrorOut(ErrorCode.RESOURCE_EXHAUSTED, refused))
                    continue
                if isinstance(event, SceneUpdateIn):
                    try:
                        principal.check_world(event.delta.world_id)
                        if event.delta.replace is not None:
                            principal.check_world(event.delta.replace.world_id)
                    except AuthError as e:
                        session.outbox.emit(ErrorOut(e.code, f"{e}; the scene was not changed"))
                        continue
                await session.handle(event)
            if finish_on_end:
                await session.finish()
            else:
                await session.abort()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # keep the server up; tell this client what happened
            log.exception("session %s failed", session.id)
            session.outbox.emit(
                ErrorOut(ErrorCode.INTERNAL, f"session failed: {e}", session_alive=False)
            )
            session.close()

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking sessions and turns; let each session finish the turn it is in
        for up to `grace_s`, then end it with Error{UNAVAILABLE, session_alive=false}."""
        self.stopping = True
        sessions = list(self.sessions.values())
        if not sessions:
            return
        farewell = ErrorOut(ErrorCode.UNAVAILABLE, SHUTTING_DOWN, session_alive=False)
        tasks = {asyncio.create_task(s.finish(farewell)): s for s in sessions}
        _, late = await asyncio.wait(tasks, timeout=grace_s) if grace_s > 0 else (set(), tasks)
        for task in late:
            task.cancel()
        for task in late:
            session = tasks[task]
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.warning("session %s: its turn did not finish in the grace period", session.id)
            session.outbox.emit(farewell)
            await session.abort()
