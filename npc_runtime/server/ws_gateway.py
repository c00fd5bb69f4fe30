"""The WebSocket gateway: the Converse session over a WebSocket, for browsers,
WebGL builds and kiosks, which cannot speak gRPC.

`ws://HOST:PORT/v1/converse` — one socket is one session. Each frame is one
`ClientEvent` (client → server) or `ServerEvent` (server → client): binary frames
carry serialized protobuf, text frames proto3 canonical JSON. The server answers
in the format of the client's first frame. Sessions run through the same
SessionDriver as gRPC, so the semantics, errors and limits are the same; what
gRPC reports as a stream status, the gateway reports as an Error event with
`session_alive=false` followed by a close code (see CLOSE_* and docs/protocol.md).

The HTTP port also answers `GET /healthz` and `GET /v1/characters` (ListCharacters as
proto3 JSON), and serves the web pages of npc_runtime/web: the kiosk at `/` and
`/kiosk`, the designer view at `/designer` (with its JSON at
`GET /v1/sessions/{session_id}/debug`), their scripts and styles under `/web/`, and
`GET /v1/players/{player_id}/memory` (memory export, admin keys only).

With API keys configured (see auth.py), the socket and the /v1/ endpoints need a key:
`Authorization: Bearer <key>`, `?token=<key>`, or the subprotocol `bearer.<key>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

from aiohttp import WSCloseCode, WSMsgType, web
from google.protobuf import json_format

from .. import __version__
from ..config import ConfigError
from ..events import ErrorCode
from ..metrics import CONTENT_TYPE
from ..runtime import Runtime
from . import codec
from .auth import (
    BEARER_PROTOCOL,
    WS_PROTOCOL,
    AuthError,
    KeyStore,
    Principal,
    Scope,
    bearer,
    check_exposure,
)
from .debug import session_debug
from .driver import Incoming, SessionDriver, SessionRefused
from .gen.npc.v1 import npc_pb2 as pb
from .ws_frames import FrameFormat, encode, parse_binary, parse_json

log = logging.getLogger(__name__)

CONVERSE_PATH = "/v1/converse"
HEALTH_PATH = "/healthz"
CHARACTERS_PATH = "/v1/characters"
SESSION_DEBUG_PATH = "/v1/sessions/{session_id}/debug"
PLAYER_MEMORY_PATH = "/v1/players/{player_id}/memory"
METRICS_PATH = "/metrics"
WEB_PATH = "/web"
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
# Page routes → the HTML file each serves; the kiosk page reads its mode from the path.
PAGES = {"/": "kiosk.html", "/kiosk": "kiosk.html", "/designer": "designer.html"}
_SESSION_ID = re.compile(r"[0-9a-f]{32}")

CLOSE_NORMAL = int(WSCloseCode.OK)  # the session ended
CLOSE_GOING_AWAY = int(WSCloseCode.GOING_AWAY)  # the server is shutting down
CLOSE_TOO_BIG = int(WSCloseCode.MESSAGE_TOO_BIG)  # a frame over server.max_message_bytes
# A session refused or ended by an error: 4000 + the gRPC status number the Error
# event carries (4003 INVALID_ARGUMENT, 4005 NOT_FOUND, 4008 RESOURCE_EXHAUSTED, ...).
CLOSE_ERROR_BASE = 4000

# Pings find peers that vanished without a TCP reset (a pulled cable, a sleeping
# laptop), which would otherwise hold a session slot for good.
HEARTBEAT_S = 30.0
# Browsers ask for deflate on every socket; PCM hardly compresses and the CPU is
# better spent on the models.
COMPRESS = False


def close_code(code: ErrorCode) -> int:
    return CLOSE_ERROR_BASE + code.value


def close_reason(text: str) -> bytes:
    """A close frame's reason is at most 123 bytes of UTF-8."""
    data = text.encode()
    if len(data) <= 123:
        return data
    return data[:120].decode(errors="ignore").encode() + "…".encode()


class _Socket(web.WebSocketResponse):
    """aiohttp closes the socket itself when a frame is over max_msg_size, with no
    reason; this lets the connection say why first."""

    on_too_big: Callable[[], Awaitable[bytes]] | None = None

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        if code == CLOSE_TOO_BIG and not message and self.on_too_big is not None:
            hook, self.on_too_big = self.on_too_big, None
            message = await hook()
        return await super().close(code=code, message=message, drain=drain)


class _Connection:
    """One client socket: decodes its frames, encodes and sends the session's events."""

    def __init__(self, ws: _Socket, limit: int) -> None:
        self.ws = ws
        self.limit = limit
        self.format: FrameFormat | None = None  # set by the client's first frame
        self._send_lock = asyncio.Lock()
        ws.on_too_big = self._too_big

    async def frames(self) -> AsyncGenerator[Incoming, None]:
        """The client's messages until the socket closes (cleanly or not)."""
        async for msg in self.ws:
            if msg.type is WSMsgType.BINARY:
                fmt, item = FrameFormat.BINARY, parse_binary(msg.data)
            elif msg.type is WSMsgType.TEXT:
                fmt, item = FrameFormat.JSON, parse_json(msg.data)
            elif msg.type is WSMsgType.ERROR:
                return  # a protocol error or an oversized frame: aiohttp closed the socket
            else:
                continue
            if self.format is None:
                self.format = fmt
            yield item

    async def send(self, event: pb.ServerEvent) -> None:
        data = encode(event, self.format or FrameFormat.JSON)
        # The session's events and a shutdown notice may come from different tasks.
        async with self._send_lock:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data, compress=None)
            else:
                await self.ws.send_str(data, compress=None)

    async def end(self, code: ErrorCode, message: str, ws_code: int) -> None:
        """A last Error event (session_alive=false), then close with `ws_code`."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(codec.error_event(code, message, session_alive=False))
        await self.close(ws_code, message)

    async def close(self, ws_code: int, reason: str = "") -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=ws_code, message=close_reason(reason))

    async def _too_big(self) -> bytes:
        message = (
            f"a frame was over the server's limit of {self.limit} bytes "
            "(server.max_message_bytes): send audio in chunks of 20-200 ms"
        )
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(
                codec.error_event(ErrorCode.RESOURCE_EXHAUSTED, message, session_alive=False)
            )
        return close_reason(message)


class Gateway:
    """The aiohttp application: the Converse WebSocket and the health check."""

    def __init__(self, driver: SessionDriver, keys: KeyStore | None = None) -> None:
        self.driver = driver
        self.keys = keys if keys is not None else KeyStore.from_settings(driver.runtime.settings)
        self.app = web.Application()
        self.app.router.add_get(CONVERSE_PATH, self._converse)
        self.app.router.add_get(HEALTH_PATH, self._health)
        self.app.router.add_get(CHARACTERS_PATH, self._characters)
        self.app.router.add_get(SESSION_DEBUG_PATH, self._session_debug)
        self.app.router.add_get(PLAYER_MEMORY_PATH, self._player_memory)
        if driver.runtime.settings.telemetry.metrics:
            self.app.router.add_get(METRICS_PATH, self._metrics)
        for path in PAGES:
            self.app.router.add_get(path, self._page)
        # No caching headers: pages and scripts change with the installed version.
        self.app.router.add_static(WEB_PATH, WEB_DIR, follow_symlinks=False)
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[object]] = set()
        self._connections: set[_Connection] = set()
        self._stopping = False
        self.port = 0

    @property
    def connections(self) -> int:
        return len(self._connections)

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen; returns the port actually bound (port 0 = any free one)."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise OSError(
                f"cannot listen on {host}:{port} for the WebSocket gateway ({e.strerror or e}): "
                "stop the other server, pass --ws-port, or --ws-port -1 to turn the gateway off"
            ) from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.port

    async def stop(self, grace_s: float) -> None:
        """Stop accepting sockets, give running sessions `grace_s` to end, then close
        the rest with an UNAVAILABLE error and 1001 (going away)."""
        if self._runner is None:
            return
        self._stopping = True
        for site in list(self._runner.sites):
            await site.stop()
        if self._handlers and grace_s > 0:
            await asyncio.wait(set(self._handlers), timeout=grace_s)
        # At once and bounded: a client that stopped reading must not hold up the rest.
        await asyncio.gather(*(self._going_away(c) for c in list(self._connections)))
        if self._handlers:
            _, late = await asyncio.wait(set(self._handlers), timeout=5.0)
            for task in late:
                task.cancel()
        await self._runner.cleanup()
        self._runner = None

    async def _going_away(self, conn: _Connection) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                conn.end(
                    ErrorCode.UNAVAILABLE,
                    "the server is shutting down; reconnect to start a new session",
                    CLOSE_GOING_AWAY,
                ),
                timeout=2.0,
            )

    async def _health(self, request: web.Request) -> web.Response:
        if self._stopping:
            return web.json_response({"status": "shutting_down"}, status=503)
        return web.json_response(
            {
                "status": "serving",
                "version": __version__,
                "sessions": len(self.driver.sessions),
                "characters": self.driver.runtime.characters.ids(),
            }
        )

    def _caller(self, request: web.Request, scope: Scope, what: str) -> Principal:
        """The caller behind the request's key; raises AuthError."""
        principal = self.keys.authenticate(request_token(request))
        principal.require(scope, what)
        return principal

    async def _metrics(self, request: web.Request) -> web.Response:
        """Prometheus text exposition (see npc_runtime/metrics.py)."""
        runtime = self.driver.runtime
        body = runtime.telemetry.metrics.render(runtime, list(self.driver.sessions.values()))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _characters(self, request: web.Request) -> web.Response:
        """ListCharacters for clients without gRPC, as proto3 JSON."""
        try:
            principal = self._caller(request, "converse", "GET /v1/characters")
        except AuthError as e:
            return auth_failure(e)
        chars = self.driver.runtime.characters.characters
        listing = pb.ListCharactersResponse(
            characters=[
                codec.character_info(chars[i])
                for i in sorted(chars)
                if principal.may_use_character(i)
            ]
        )
        return web.json_response(json_format.MessageToDict(listing))

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            WEB_DIR / PAGES[request.path], headers={"Cache-Control": "no-cache"}
        )

    async def _session_debug(self, request: web.Request) -> web.Response:
        """The designer view's data: persona, the last turn's recall and perception."""
        try:
            self._caller(request, "admin", "the session debug view")
        except AuthError as e:
            return auth_failure(e)
        session_id = request.match_info["session_id"]
        if not _SESSION_ID.fullmatch(session_id):
            return web.json_response(
                {
                    "error": f"{session_id[:40]!r} is not a session id: use the 32 hex "
                    "digits of SessionReady.session_id"
                },
                status=400,
            )
        session = self.driver.sessions.get(session_id)
        if session is None:
            return web.json_response(
                {
                    "error": f"no open session {session_id}: sessions are kept only while "
                    "their stream or socket is open"
                },
                status=404,
            )
        return web.json_response(session_debug(session))

    async def _player_memory(self, request: web.Request) -> web.Response:
        """Memory export: everything stored about a player (admin keys only).
        `?character=ID` limits it to one character."""
        try:
            self._caller(request, "admin", "memory export")
        except AuthError as e:
            return auth_failure(e)
        memory = self.driver.runtime.memory
        if memory is None or not memory.available:
            return web.json_response(
                {"error": "the memory store is unreachable; try again when Redis is back"},
                status=503,
            )
        player_id = request.match_info["player_id"]
        character = request.query.get("character") or None
        try:
            data = await memory.export_player(player_id, character)
        except ConnectionError as e:
            return web.json_response(
                {"error": f"the memory store is unreachable ({e}); try again"}, status=503
            )
        return web.json_response(data)

    async def _converse(self, request: web.Request) -> web.StreamResponse:
        if self._stopping:
            return web.Response(status=503, text="the server is shutting down\n")
        limit = self.driver.runtime.settings.server.max_message_bytes
        ws = _Socket(
            max_msg_size=limit,
            heartbeat=HEARTBEAT_S,
            compress=COMPRESS,
            protocols=chosen_protocol(request),
        )
        if not ws.can_prepare(request).ok:
            return web.Response(
                status=426,
                headers={"Upgrade": "websocket"},
                text=f"{CONVERSE_PATH} is a WebSocket endpoint: connect with "
                f"ws://{request.host}{CONVERSE_PATH} and send a SessionStart first\n",
            )
        await ws.prepare(request)
        conn = _Connection(ws, limit)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._connections.add(conn)
        log.info("websocket from %s", request.remote)
        try:
            try:
                principal = self._caller(request, "converse", "Converse")
            except AuthError as e:
                await self._refuse(conn, e)
                return ws
            await self._serve(conn, principal)
        finally:
            self._connections.discard(conn)
            self._handlers.discard(task)
        return ws

    async def _refuse(self, conn: _Connection, e: AuthError) -> None:
        """Tell an unauthenticated socket why, in the format of its first frame."""
        frames = conn.frames()
        with contextlib.suppress(TimeoutError, StopAsyncIteration):
            await asyncio.wait_for(anext(frames), 5.0)
        await frames.aclose()
        await conn.end(e.code, str(e), close_code(e.code))

    async def _serve(self, conn: _Connection, principal: Principal) -> None:
        last: pb.ServerEvent | None = None
        try:
            # The end of the frames means the socket closed: abort, nobody is listening.
            events = self.driver.converse(
                conn.frames(), finish_on_end=False, principal=principal, transport="websocket"
            )
            async with contextlib.aclosing(events):
                async for event in events:
                    await conn.send(event)
                    last = event
        except SessionRefused as e:
            await conn.end(e.code, str(e), close_code(e.code))
            return
        except ConnectionError:
            log.info("websocket client went away mid-send; its session was aborted")
            return
        if last is not None and last.HasField("error") and not last.error.session_alive:
            await conn.close(close_code(ErrorCode(last.error.code)), last.error.message)
        else:
            await conn.close(CLOSE_NORMAL, "session ended")


def request_token(request: web.Request) -> str | None:
    """The API key a request carries: Authorization header, ?token=, or the
    WebSocket subprotocol bearer.<key>."""
    key = bearer(request.headers.get("Authorization"))
    if key:
        return key
    if request.query.get("token"):
        return request.query["token"]
    for proto in _offered_protocols(request):
        if proto.startswith(BEARER_PROTOCOL) and len(proto) > len(BEARER_PROTOCOL):
            return proto[len(BEARER_PROTOCOL) :]
    return None


def _offered_protocols(request: web.Request) -> list[str]:
    offered = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in offered.split(",") if p.strip()]


def chosen_protocol(request: web.Request) -> tuple[str, ...]:
    """The subprotocol to answer with: a browser that offers protocols fails the
    handshake unless the server picks one. npc.v1 when offered, else bearer.<key>."""
    offered = _offered_protocols(request)
    if WS_PROTOCOL in offered:
        return (WS_PROTOCOL,)
    return tuple(p for p in offered if p.startswith(BEARER_PROTOCOL))[:1]


def auth_failure(e: AuthError) -> web.Response:
    if e.code is ErrorCode.UNAUTHENTICATED:
        return web.json_response(
            {"error": str(e)}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return web.json_response({"error": str(e)}, status=403)


def ssl_context(cert: str, key: str) -> ssl.SSLContext | None:
    """A TLS server context from PEM files, or None when neither is set."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError(
            "TLS needs both server.tls_cert and server.tls_key (PEM files); "
            f"only {'tls_cert' if cert else 'tls_key'} is set"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load the TLS certificate {cert} with key {key}: {e}") from None
    return context


async def start_gateway(
    runtime: Runtime,
    host: str,
    port: int,
    driver: SessionDriver | None = None,
    keys: KeyStore | None = None,
) -> tuple[Gateway, int]:
    """Start the WebSocket gateway; returns it and the port actually bound (0 = any).
    Pass the gRPC server's driver so the session limit counts both transports.
    keys: the API keys (default: from runtime.settings); with none, only a loopback
    host is allowed. TLS (wss://, https://) when server.tls_cert and tls_key are set."""
    gateway = Gateway(driver or SessionDriver(runtime), keys)
    cfg = runtime.settings.server
    check_exposure(runtime.settings, gateway.keys, host)
    bound = await gateway.start(host, port, ssl_context(cfg.tls_cert, cfg.tls_key))
    return gateway, bound
