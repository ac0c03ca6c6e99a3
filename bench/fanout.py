"""Fan-out: what more screens cost the server — 50 walls against 1, 200 page loads at once against one.

A wall here is a WebSocket client speaking Dash's renderer protocol (context, the persistent push, answers to
liveness probes, a "drawn" acknowledgement for every map patch), so 50 of them fit on a 2-core machine beside
the server; the server cannot tell them from Chromium. The server holds 10,000 open incidents (the design's city
load) while a producer changes 10 of them per second through the durable path.

Rows:
* server CPU seconds per second with 50 walls connected ÷ with 1 wall, same run (budget ≤ 1.5×);
* ``/_dash-layout`` p50 with 200 clients loading the wall at once ÷ one client alone (budget ≤ 3×).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.env import BenchEnv, demo_path, layers, median, member_points
from bench.procs import Served, serve_onescreen
from bench.report import Measurement, failed, ratio
from incidents.keys import Keys
from incidents.publish import publish, publish_many
from tests.support.dash_ws import FakeTab, callback_outputs

OPEN_INCIDENTS = 10_000
CHANGES_PER_S = 10.0
WALLS = 50
LOAD_CLIENTS = 200
CPU_BUDGET = 1.5
LAYOUT_BUDGET = 3.0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/healthz", timeout=30) as resp:
        return dict(json.loads(resp.read()))


class Producer(threading.Thread):
    """Moves open incidents on (reported → dispatched → accepted) at a steady rate, durably. ``status``: the
    incidents' current statuses (default: all reported)."""

    def __init__(
        self, redis_url: str, keys: Keys, ids: list[str], rate: float, status: dict[str, str] | None = None
    ) -> None:
        super().__init__(daemon=True)
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.keys, self.ids, self.rate = keys, ids, rate
        self.halt = threading.Event()
        self.sent = 0
        self.status = dict(status) if status else dict.fromkeys(ids, "reported")

    def run(self) -> None:
        rng = random.Random(7)
        step = {"reported": "dispatched", "dispatched": "accepted", "accepted": "dispatched"}
        status = self.status
        t0 = time.monotonic()
        while not self.halt.is_set():
            i = rng.choice(self.ids)
            status[i] = step[status[i]]
            publish(self.client, self.keys, {"id": i, "status": status[i], "ts": time.time(), "assignee": "M000001"})
            self.sent += 1
            self.halt.wait(max(0.0, t0 + self.sent / self.rate - time.monotonic()))
        self.client.close()


def _seed(env: BenchEnv, keys: Keys) -> list[str]:
    pts = member_points(layers(demo_path()))
    rng = random.Random(11)
    now = time.time()
    ids = [f"F-{n:05d}" for n in range(OPEN_INCIDENTS)]
    msgs = []
    for n, i in enumerate(ids):
        lon, lat = pts[rng.randrange(len(pts))]
        msgs.append(
            {
                "id": i,
                "status": "reported",
                "ts": now - 600 + n * 0.01,
                "lon": float(lon),
                "lat": float(lat),
                "category": "environment",
                "title": f"压测事件{n}",
            }
        )
    client = env.client()
    try:
        publish_many(client, keys, msgs)
    finally:
        client.close()
    return ids


def _cpu_per_s(served: Served, seconds: float) -> float:
    c0, t0 = _cpu_s(served.pid), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(served.pid) - c0) / (time.monotonic() - t0)


def _walls_cpu(served: Served, n: int, seconds: float) -> tuple[float, int]:
    cb = callback_outputs(served.url)
    walls = [FakeTab(served.url, "/wall", cb) for _ in range(n)]
    try:
        deadline = time.monotonic() + 60
        while _health(served.url)["live"]["push_loops"] < n and time.monotonic() < deadline:
            time.sleep(0.2)
        # past the first full pushes (10,000 markers each): every wall has drawn one, then a little more
        deadline = time.monotonic() + 60
        while any(w.drawn < 1 for w in walls) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # state-free: the steady state is measured from here
        start = sum(w.messages for w in walls)
        cpu = _cpu_per_s(served, seconds)
        errors = [w.error for w in walls if w.error is not None]
        if errors:
            raise RuntimeError(f"{len(errors)} of {n} walls lost their connection: {errors[0]!r}")
        return cpu, sum(w.messages for w in walls) - start
    finally:
        for w in walls:
            w.close()


def _layout_s(url: str, page: str = "/wall") -> float:
    req = urllib.request.Request(url + "/_dash-layout", headers={"Referer": url + page, "Accept-Encoding": "gzip"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        resp.read()
    return time.perf_counter() - t0


# Pages nobody has loaded yet in this run: each load renders its page (the cost of one client's page load).
COLD_PAGES = ("/wall?lang=en", "/wall/", "/wall/?lang=en")


def _layout_rows(served: Served, quick: bool) -> list[Measurement]:
    cold = [_layout_s(served.url, page) for page in COLD_PAGES]
    _layout_s(served.url)  # the crowd's page, once, as the first wall of the morning renders it
    clients = 50 if quick else LOAD_CLIENTS
    with ThreadPoolExecutor(max_workers=clients) as pool:
        together = sorted(pool.map(lambda _: _layout_s(served.url), range(clients)))
    warm = [_layout_s(served.url) for _ in range(10)]
    c, t, w = median(cold), median(together), median(warm)
    r = ratio(t, c)
    return [
        Measurement(
            "fan-out",
            f"/_dash-layout p50, {clients} clients at once vs one page load (10,000 open)",
            t * 1000 if t else None,
            "ms",
            baseline=c * 1000 if c else None,
            baseline_name="one client, page rendered for it",
            ratio=r,
            budget=f"ratio ≤ {LAYOUT_BUDGET:g}",
            passed=r is not None and r <= LAYOUT_BUDGET,
            note=(
                f"p95 {together[int(len(together) * 0.95) - 1] * 1000:.0f} ms; one client loading an already "
                f"rendered page: p50 {(w or 0) * 1000:.0f} ms (ratio to that {ratio(t, w) or 0:.1f}×: the crowd "
                "queues for one core)"
            ),
        )
    ]


def run(env: BenchEnv) -> list[Measurement]:
    prefix = env.prefix("fanout")
    keys = Keys.for_redis_url(prefix, env.redis_url)
    rows: list[Measurement] = []
    try:
        ids = _seed(env, keys)
        with serve_onescreen(env.redis_url, prefix, demo_path(), env.out_dir / "tmp") as served:
            deadline = time.monotonic() + 120
            while _health(served.url)["situation"]["incidents"] < OPEN_INCIDENTS and time.monotonic() < deadline:
                time.sleep(0.5)
            producer = Producer(env.redis_url, keys, ids, CHANGES_PER_S)
            producer.start()
            try:
                seconds = 8.0 if env.quick else 30.0
                walls = 10 if env.quick else WALLS
                one, msgs1 = _walls_cpu(served, 1, seconds)
                many, msgs_n = _walls_cpu(served, walls, seconds)
                r = ratio(many, one)
                rows.append(
                    Measurement(
                        "fan-out",
                        f"server CPU, {walls} walls vs 1 (10,000 open, {CHANGES_PER_S:g} changes/s)",
                        many,
                        "s/s",
                        baseline=one,
                        baseline_name="1 wall",
                        ratio=r,
                        budget=f"ratio ≤ {CPU_BUDGET:g}",
                        passed=r is not None and r <= CPU_BUDGET,
                        note=f"messages to the walls: {msgs1} (1 wall), {msgs_n} ({walls} walls)",
                    )
                )
                rows += _layout_rows(served, env.quick)
            finally:
                producer.halt.set()
                producer.join(5)
    except Exception as exc:
        rows.append(failed("fan-out", "(family)", exc))
    return rows
