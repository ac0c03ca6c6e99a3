"""Server processes the bench starts (ours via ``python -m dashboard.cli serve``, the naive baseline app) and
what it reads from them (RSS). Always stopped in ``finally``; only 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.env import ROOT
from incidents.keys import Keys
from incidents.redis_server import free_port
from tests.support.auth import provision, unregister
from tests.support.server import stop_process, wait_http


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started_s: float  # spawn → first 200 on the probe path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def rss_mb(self) -> float:
        return rss_mb(self.pid)


def rss_mb(pid: int) -> float:
    """VmRSS of a process, MB (from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextmanager
def spawn(
    args: Sequence[str], env: Mapping[str, str], log_path: Path, *, port: int, probe: str = "/", timeout: float = 90
) -> Iterator[Served]:
    """Run ``python <args>`` until the block ends (terminate, then kill after 10 s)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + probe, process, log_path, timeout)
        yield Served(url, process, log_path, time.perf_counter() - t0)
    finally:
        stop_process(process)


@contextmanager
def serve_onescreen(redis_url: str, prefix: str, data: Path, log_dir: Path) -> Iterator[Served]:
    """``onescreen serve`` as deployed (default tick), on its own key prefix — without the urgent-marker pulse:
    the naive baseline has no animation, and in headless Chromium's software rendering each pulse repaint holds
    the page's main thread for a few hundred ms (on a wall's GPU it is free)."""
    port = free_port()
    env = {"REDIS_URL": redis_url, "ONESCREEN_PREFIX": prefix, "ONESCREEN_DATA": str(data), "ONESCREEN_WALL_PULSE": "0"}
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    origin = f"http://127.0.0.1:{port}"
    provision(client, Keys.for_redis_url(prefix, redis_url), origin)  # a session its pages and probes present
    client.close()
    try:
        with spawn(
            ["-m", "dashboard.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            log_dir / f"onescreen-{prefix}.log",
            port=port,
            probe="/healthz",
        ) as served:
            yield served
    finally:
        unregister(origin)


@contextmanager
def serve_naive(redis_url: str, prefix: str, data: Path, log_dir: Path) -> Iterator[Served]:
    """The naive baseline app (``bench.naive``) on its own key prefix."""
    port = free_port()
    env = {"REDIS_URL": redis_url, "ONESCREEN_PREFIX": prefix, "ONESCREEN_DATA": str(data)}
    with spawn(["-m", "bench.naive", "--port", str(port)], env, log_dir / f"naive-{prefix}.log", port=port) as served:
        yield served
