"""A real onescreen server process and a real headless Chromium for screen tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from dashboard.bench.browser import CHROMIUM, CHROMIUM_ARGS
from incidents.keys import Keys
from incidents.redis_server import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    url: str
    redis_url: str
    keys: Keys
    client: redis.Redis
    process: subprocess.Popen[bytes]
    log_path: Path
    first_page: str  # the HTML of the very first request the server answered (/wall)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_http(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> str:
    """Until the server answers 200 on ``url``; returns the body (fails with the server's log otherwise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return str(resp.read().decode())
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout} s:\n{log_path.read_text(errors='replace')}")


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

    The urgent-marker pulse is off unless ``env`` turns it on: headless Chromium draws maps in software, where
    each pulse repaint holds the page's main thread for ~0.3 s and would blur every latency these tests check.
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
        **(env or {}),
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port), *args],
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        first_page = _wait_http(f"http://127.0.0.1:{port}/wall", process, log_path)
        yield LiveServer(f"http://127.0.0.1:{port}", redis_url, Keys(prefix), client, process, log_path, first_page)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        with suppress(redis.RedisError):
            for name in client.scan_iter(match=f"{prefix}:*"):
                client.delete(name)
        client.close()


@pytest.fixture(scope="module")
def live_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a test module, on its own prefix, so tests elsewhere cannot disturb it."""
    with spawn_server(redis_url, tmp_path_factory.mktemp("server")) as server:
        yield server


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    """Poll until ``predicate()`` is truthy; return its value (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


# The map's first draw is done once onescreen.js has counted a plotly_afterplot (Plotly resolves a map draw only
# after MapLibre reported loaded). MapLibre's own loaded() can flip back to false while it keeps repainting a
# large software-rendered canvas (a 4K wall), so it is no condition to wait on.
FIRST_DRAW_JS = "() => { const gd = document.querySelector('.js-plotly-plot'); return !!(gd && gd._osAckN >= 1); }"


def wait_until_live(page: Any, timeout_ms: int = 30_000) -> None:
    """Until the server has marked the push channel live and the map has been drawn once."""
    page.wait_for_selector(".os-live-dot.is-live", state="attached", timeout=timeout_ms)
    page.wait_for_function(FIRST_DRAW_JS, timeout=timeout_ms)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} missing: run `make test` (it installs chromium) or apt install chromium"
    )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
