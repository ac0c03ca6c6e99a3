"""A real onescreen server process for the tests (``python -m dashboard.cli serve`` from the checkout), and the
wait for a process to answer over HTTP that the bench's servers use too."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis

from incidents.keys import Keys
from incidents.redis_server import free_port
from tests.support.auth import Credentials, provision, unregister
from tests.support.keyspace import delete_prefix
from tests.support.paths import REPO
from tests.support.wait import wait_for


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:<port>
    redis_url: str
    keys: Keys  # the server's own prefix
    client: redis.Redis  # on redis_url, bytes responses
    process: subprocess.Popen[bytes]
    log_path: Path
    first_page: str  # the HTML of the very first request the server answered (/wall)
    creds: Credentials  # its admin session and wall link (tests.support.auth), presented by every test client

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_http(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> str:
    """Until ``url`` answers 200; returns the body (UTF-8). ``WaitTimeout`` with the process's log if it exits
    first or does not answer within ``timeout`` seconds."""

    def answered() -> str | None:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode() if resp.status == 200 else None

    def exited() -> str | None:
        if process.poll() is None:
            return None
        return f"the process exited with {process.returncode}:\n{_tail(log_path)}"

    return wait_for(
        answered,
        timeout,
        poll=0.2,
        message=lambda: f"HTTP 200 from {url}; log:\n{_tail(log_path)}",
        ignore=(OSError,),
        abort=exited,
    )


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; reaped either way."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def spawn_server(
    redis_url: str,
    workdir: Path,
    *,
    prefix: str | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[LiveServer]:
    """`onescreen serve` in a subprocess on its own key prefix; stopped and its keys deleted afterwards.

    ``workdir`` gets the server's log. ``env`` is added to (and overrides) the defaults below; ``args`` are more
    ``serve`` options. The urgent-marker pulse is off unless ``env`` turns it on: headless Chromium draws maps in
    software, where each pulse repaint holds the page's main thread for ~0.3 s and would blur every latency
    these tests check.
    """
    prefix = prefix or f"e2e{uuid.uuid4().hex[:8]}"
    port = free_port()
    log_path = workdir / f"server-{prefix}.log"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "ONESCREEN_PREFIX": prefix,
        "ONESCREEN_TICK_MS": "100",
        "ONESCREEN_WALL_PULSE": "0",
        "ONESCREEN_KEY_RATE": "1000000",  # the tests' ingest key is not rate-limited unless a test asks
        "ONESCREEN_BRIEFING_WARM": "0",  # no exporter browser per test server unless a test asks for one
        **(env or {}),
    }
    with log_path.open("wb") as log_file:  # (the credentials are made in Redis before it answers: no race)
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port), *args],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    keys = Keys.for_redis_url(prefix, redis_url)
    origin = f"http://127.0.0.1:{port}"
    try:
        creds = provision(client, keys, origin)
        first_page = wait_http(f"{origin}/wall", process, log_path)
        yield LiveServer(origin, redis_url, keys, client, process, log_path, first_page, creds)
    finally:
        unregister(origin)
        stop_process(process)
        with suppress(redis.RedisError):
            delete_prefix(client, prefix)
        client.close()
