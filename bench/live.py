"""Live under load (issue 11.3): event → redrawn map under a stream of changes, in a real headless Chromium.

1. Demo scale, ours (``/wall``) against the naive app (``bench.naive``: ``dcc.Interval`` 1 s + whole figure),
   each on its own key prefix seeded with the same simulator day: a producer writes 100 changes/s through the
   durable path (``publish_many``: state + log; the servers follow the log) for ``DEMO_S``. Every 20th change is a
   new incident with a known id (a *marked* event); the page's probe (``bench.browser``) notes when the id is in
   the map's "reported" trace data and when MapLibre next reports the map ``idle`` (drawn: the frame painted).
   Latency = that browser ``Date.now()`` − the publisher's ``time.time()`` just before the batch with the event
   went to Redis (same machine). Not Plotly's ``plotly_afterplot``: our wall edits its MapLibre sources in place,
   without a Plotly re-plot (``assets/onescreen.js``), so there is no afterplot to wait for; MapLibre's idle is
   when either app's marker is on screen. A marked event a page never shows within ``GRACE_S`` after the producer
   stops counts as publish → end of that wait (a lower bound) and the row says how many.
2. City scale (10,000 grids, 100,000 members, ~10,000 open incidents): one wall, 200 changes/s for
   ``ONESCREEN_BENCH_LIVE_CITY_S`` (default 300 s; 30 s with ``--quick``). Lag of the marked events (publish → the
   map edit carrying them reaches the wall) per fifth of the run (a minute in the full run): first-fifth p95 vs
   last-fifth p95 and the least-squares slope of lag over time. The wall is a WebSocket client that acknowledges
   every map edit at once (``LagTab``), not Chromium: here, in software GL, one city map frame takes seconds and
   the MapLibre map never went idle under this load (2 idles in 30 s), so a browser measures only itself.
3. Bytes per live push at both rates: each WebSocket text frame that carried a map edit, as Dash's SharedWorker
   received it (UTF-8 size, before any permessage-deflate), mean and p95, against the whole figure's JSON
   (``patchsize.full_figure_bytes``) at the end of the run.

The mix keeps the situation steady, so a growing lag would be the live path falling behind, not a growing map:
per 4 changes one new incident, one cancelled (the oldest open one the producer may touch: it leaves the map at
once), two lifecycle steps (reported → dispatched → accepted → dispatched, 改派) of open incidents. Marked
incidents are never touched again (they stay in the reported trace where the probe looks for them).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import redis

from bench.apps import PATHS, PROBES, SERVE, App
from bench.browser import first_render_ms, probed_page
from bench.cityrender import city_seed
from bench.env import BenchEnv, city_path, demo_path, layers, member_points, pct
from bench.patchsize import SMALLER_BUDGET, TICK_BUDGET_B, full_figure_bytes
from bench.report import Measurement, failed, ratio
from bench.scenario import seed_redis, simulator_messages, situation_from_redis
from dashboard.figures.incident_map import MapBase
from dashboard.layouts.ids import Wall
from incidents.keys import Keys
from incidents.model import OPEN_STATUS_VALUES
from incidents.publish import publish_many
from tests.support.browser import chromium
from tests.support.dash_ws import FakeTab, callback_outputs, flat_messages

FAMILY = "live load"
DEMO_RATE = 100.0  # changes/s
CITY_RATE = 200.0
MARK_EVERY = 20  # every 20th change is a marked new incident
GRACE_S = 10.0  # after the producer stops, how long the pages get to show the last marked events
LATENCY_BUDGET = 0.5  # our p95 ÷ the naive app's
GROWTH_BUDGET = 1.2  # last-fifth p95 ÷ first-fifth p95
WINDOWS = 5
# what a heartbeat (or the feed's health) sets: a push of only these is no live update
BEAT = frozenset({Wall.STATUS_DOT, Wall.UPDATED, Wall.BANNER})
STEP = {"reported": "dispatched", "dispatched": "accepted", "accepted": "dispatched"}


def demo_seconds(quick: bool) -> float:
    value = os.environ.get("ONESCREEN_BENCH_LIVE_DEMO_S")
    return float(value) if value else (20.0 if quick else 45.0)


def city_seconds(quick: bool) -> float:
    value = os.environ.get("ONESCREEN_BENCH_LIVE_CITY_S")
    return float(value) if value else (30.0 if quick else 300.0)


# ---- the producer ----------------------------------------------------------------------------------------------


def open_pool(messages: Iterable[dict[str, Any]]) -> list[str]:
    """Ids whose last seeded status is open (in seed order): what the producer may move on or cancel."""
    last: dict[str, str] = {}
    for m in messages:
        last[str(m["id"])] = str(m["status"])
    return [i for i, s in last.items() if s in OPEN_STATUS_VALUES]


class Producer(threading.Thread):
    """Changes at ``rate``/s through the durable path in ~10 ms batches (the mix: module doc). ``marked``: id →
    publish time (epoch ms, taken just before its batch went to Redis) of every marked new incident."""

    def __init__(
        self, redis_url: str, keys: Keys, points: np.ndarray, pool: list[str], rate: float, seconds: float, tag: str
    ) -> None:
        super().__init__(daemon=True, name=f"live-producer-{tag}")
        self.client = redis.Redis.from_url(redis_url, socket_timeout=30)
        self.keys, self.points, self.rate, self.seconds, self.tag = keys, points, rate, seconds, tag
        self.pool: deque[str] = deque(pool)
        self.status: dict[str, str] = {}
        self.last_ts: dict[str, float] = {}
        self.rng = random.Random(17)
        self.marked: dict[str, float] = {}
        self.titles: dict[str, str] = {}
        self.sent = 0
        self.rejected = 0
        self.halt = threading.Event()
        self.started_at = 0.0
        self.error: BaseException | None = None

    def _ts(self, iid: str) -> float:
        ts = max(time.time(), self.last_ts.get(iid, 0.0) + 0.001)
        self.last_ts[iid] = ts
        return round(ts, 3)

    def _new(self, n: int, marked: bool) -> dict[str, Any]:
        lon, lat = self.points[self.rng.randrange(len(self.points))]
        iid = f"LV{self.tag}-{'M' if marked else 'N'}{n:06d}"
        title = f"负载{self.tag}{n:06d}"
        if marked:
            self.titles[iid] = title
        else:
            self.pool.append(iid)
        self.status[iid] = "reported"
        return {"id": iid, "status": "reported", "ts": self._ts(iid), "lon": round(float(lon), 6),
                "lat": round(float(lat), 6), "category": "environment", "title": title, "priority": "normal",
                "source": "bench"}  # fmt: skip

    def message(self, n: int) -> tuple[dict[str, Any], bool]:
        """The ``n``-th change and whether it is marked."""
        kind = n % 4
        if n % MARK_EVERY == 0:
            return self._new(n, True), True
        if kind == 0 or not self.pool:
            return self._new(n, False), False
        if kind == 1:
            iid = self.pool.popleft()
            self.status.pop(iid, None)
            return {"id": iid, "status": "cancelled", "ts": self._ts(iid)}, False
        iid = self.pool[self.rng.randrange(len(self.pool))]
        nxt = STEP[self.status.get(iid, "reported")]
        self.status[iid] = nxt
        return {"id": iid, "status": nxt, "ts": self._ts(iid), "assignee": "M000001"}, False

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the caller
            self.error = exc
        finally:
            self.client.close()

    def _run(self) -> None:
        total = int(self.rate * self.seconds)
        start = time.monotonic()
        self.started_at = time.time()
        while self.sent < total and not self.halt.is_set():
            due = min(total, int((time.monotonic() - start) * self.rate) + 1) - self.sent
            if due <= 0:
                time.sleep(0.005)
                continue
            batch, marks = [], []
            for k in range(due):
                msg, marked = self.message(self.sent + k)
                batch.append(msg)
                if marked:
                    marks.append(msg["id"])
            t = time.time() * 1000
            results = publish_many(self.client, self.keys, batch, source="bench")
            self.rejected += sum(1 for r in results if r.outcome.value == "error")
            for iid in marks:
                self.marked[iid] = t
            self.sent += len(batch)


# ---- one page under load ---------------------------------------------------------------------------------------


@dataclass
class LoadRun:
    app: str
    rate: float
    seconds: float
    sent: int = 0
    rejected: int = 0
    marked: dict[str, float] = field(default_factory=dict)  # id → publish ms
    map_ms: dict[str, float] = field(default_factory=dict)  # id → in the trace data, ms after publish
    drawn_ms: dict[str, float] = field(default_factory=dict)  # id → drawn (MapLibre idle), ms after publish
    unseen: int = 0
    waited_until: float = 0.0  # epoch ms when the wait for the last marked events ended
    push_bytes: list[int] = field(default_factory=list)  # frames that carried an update (not just a heartbeat)
    all_push_bytes: list[int] = field(default_factory=list)  # … of which those with a map edit
    http_bytes: list[int] = field(default_factory=list)  # Interval responses (naive)
    figure_bytes: int = 0
    arrive_ms: list[float] = field(default_factory=list)  # publish → the next map edit reaching the page's worker
    server_latency_s: dict[str, float] = field(default_factory=dict)  # /metrics push latency summary
    started_at: float = 0.0
    samples: list[dict[str, float]] = field(default_factory=list)  # /metrics during the run (``_scrape_latency``)

    def latencies(self, kind: str = "drawn") -> tuple[list[float], list[float]]:
        """(publish times s since start, latency ms) of every marked event; never seen: until the wait ended."""
        seen = self.drawn_ms if kind == "drawn" else self.map_ms
        xs, ys = [], []
        for iid, t0 in sorted(self.marked.items(), key=lambda kv: kv[1]):
            xs.append(t0 / 1000 - self.started_at)
            ys.append(seen[iid] if iid in seen else self.waited_until - t0)
        return xs, ys


PRUNE_JS = """() => { const B = window.__bench;
  for (const id of Object.keys(B.want)) if (id in B.map) delete B.want[id]; return Object.keys(B.want).length; }"""


def _scrape_latency(url: str) -> dict[str, float]:
    """The server's own numbers (``/metrics``): push latency (count, mean s), wall frame compute (count, mean s),
    the feed's lag (s) and backlog (log entries not yet applied)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except Exception:
        return {}
    out: dict[str, float] = {"t": time.time()}
    names = {
        "onescreen_push_latency_seconds_sum ": "sum",
        "onescreen_push_latency_seconds_count ": "count",
        'onescreen_frame_compute_seconds_sum{screen="wall"} ': "frame_sum",
        'onescreen_frame_compute_seconds_count{screen="wall"} ': "frames",
        "onescreen_feed_lag_seconds ": "feed_lag",
        "onescreen_feed_backlog_entries ": "backlog",
        "process_resident_memory_bytes ": "rss",
        "process_cpu_seconds_total ": "cpu",
    }
    for line in text.splitlines():
        for prefix, key in names.items():
            if line.startswith(prefix):
                out[key] = float(line[len(prefix) :])
    if out.get("count"):
        out["mean"] = out["sum"] / out["count"]
    if out.get("frames"):
        out["frame_mean"] = out["frame_sum"] / out["frames"]
    return out


def drive(page: Any, producer: Producer, run: LoadRun) -> None:
    """Run the producer, telling the page which ids to look for as they are published; then wait for the rest."""
    page.evaluate("() => { window.__bench.ws = []; window.__bench.msgs = []; window.__bench.http = []; }")
    told: set[str] = set()
    producer.start()
    last_prune = time.monotonic()

    def tell() -> None:
        # the titles are known before publishing: say them all up front in batches
        fresh = {i: producer.titles[i] for i in list(producer.titles) if i not in told}
        if fresh:
            page.evaluate("(w) => Object.assign(window.__bench.want, w)", fresh)
            told.update(fresh)

    while producer.is_alive():
        tell()
        if time.monotonic() - last_prune > 5:
            page.evaluate(PRUNE_JS)
            last_prune = time.monotonic()
        producer.join(0.2)
    tell()
    if producer.error is not None:
        raise RuntimeError(f"the producer failed: {producer.error!r}")
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        seen = page.evaluate("(ids) => ids.filter((i) => i in window.__bench.drawn).length", list(producer.marked))
        if seen == len(producer.marked):
            break
        time.sleep(0.25)
    run.waited_until = time.time() * 1000
    got = page.evaluate("() => ({map: window.__bench.map, drawn: window.__bench.drawn})")
    run.sent, run.rejected, run.marked, run.started_at = producer.sent, producer.rejected, producer.marked, 0.0
    run.started_at = producer.started_at
    run.map_ms = {i: got["map"][i] - t for i, t in producer.marked.items() if i in got["map"]}
    run.drawn_ms = {i: got["drawn"][i] - t for i, t in producer.marked.items() if i in got["drawn"]}
    run.unseen = sum(1 for i in producer.marked if i not in got["drawn"])


def _frames(page: Any, run: LoadRun) -> None:
    """Bytes of the pushes and, per marked event seen in the map data, publish → the first map edit to reach the
    page's WebSocket worker after the publish (no later than the data change): the server + transport share."""
    frames = page.evaluate("() => window.__bench.ws")
    pushes = [m for m in frames if "set_props" in m["types"] and set(m["comps"]) - BEAT]
    with_map = [m for m in pushes if Wall.MAP_EDIT in m["comps"]]
    run.push_bytes, run.all_push_bytes = [int(m["n"]) for m in pushes], [int(m["n"]) for m in with_map]
    times = sorted(float(m["t"]) for m in with_map)
    for iid, seen in run.map_ms.items():
        t0 = run.marked[iid]
        hit = next((t for t in times if t0 <= t <= t0 + seen), None)
        if hit is not None:
            run.arrive_ms.append(hit - t0)


def measure_app(
    env: BenchEnv, browser: Any, app: App, data: Path, seed: list[dict[str, Any]], rate: float, seconds: float,
    tag: str,
) -> LoadRun:  # fmt: skip
    """Seed ``app``'s prefix with ``seed``, serve it on ``data``, open its wall and run the producer on it."""
    prefix = env.prefix(f"live-{tag}-{app}")
    keys = Keys.for_redis_url(prefix, env.redis_url)
    client = env.client()
    lay = layers(data)
    try:
        seed_redis(client, keys, seed)
        with (
            SERVE[app](env.redis_url, prefix, data, env.out_dir / "logs") as srv,
            probed_page(browser, PROBES[app]) as page,
        ):
            first_render_ms(page, srv.url + PATHS[app], 120_000)
            if app == "ours":
                page.wait_for_selector(".os-live-dot.is-live", state="attached", timeout=60_000)
            page.wait_for_timeout(2000)  # settle: the first pushes / interval ticks after load
            run = LoadRun(app, rate, seconds)
            producer = Producer(
                env.redis_url, keys, member_points(lay), open_pool(seed), rate, seconds, f"{tag}{app[0]}"
            )
            drive(page, producer, run)
            _frames(page, run)
            run.http_bytes = [int(h["n"]) for h in page.evaluate("() => window.__bench.http")]
            if app == "ours":
                run.server_latency_s = _scrape_latency(srv.url)
                situation = situation_from_redis(client, keys, lay)
                run.figure_bytes = full_figure_bytes(situation, MapBase.from_layers(lay))
            if srv.process.poll() is not None:
                raise RuntimeError(f"server died during the measurement: {srv.log()}")
            return run
    finally:
        client.close()


# ---- city scale: a WebSocket wall ------------------------------------------------------------------------------


class LagTab(FakeTab):
    """A wall on its own WebSocket that acknowledges every map edit at once, as a wall with a GPU does a frame
    later (``tests.support.dash_ws.FakeTab``), and notes when each marked incident first arrives in a map edit
    (epoch ms) and the size of every frame. Headless Chromium cannot keep up at city scale here: its software GL
    takes seconds per map frame (10,000 grid polygons), so the MapLibre map never goes idle under load."""

    def __init__(self, base_url: str, callbacks: dict[str, str]) -> None:
        self.seen: dict[str, float] = {}
        self.frames: list[tuple[float, int, frozenset[str]]] = []  # (epoch ms, UTF-8 bytes, components)
        super().__init__(base_url, "/wall", callbacks)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.conn.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception as exc:  # the connection closed
                if not self._stop.is_set():
                    self.error = exc
                return
            t = time.time() * 1000
            try:
                messages = flat_messages(json.loads(raw))
                comps = frozenset(str(m["payload"]["componentId"]) for m in messages if m.get("type") == "set_props")
                self.frames.append((t, len(raw.encode() if isinstance(raw, str) else raw), comps))
                for m in messages:
                    if m.get("type") == "set_props" and m["payload"]["componentId"] == Wall.MAP_EDIT:
                        self._note(m["payload"]["props"]["data"], t)
                self._handle(messages)
            except Exception as exc:  # closed while answering
                if not self._stop.is_set():
                    self.error = exc
                return

    def _note(self, edit: dict[str, Any], t: float) -> None:
        for part in (edit.get("traces") or {}).values():
            values = part.get("add") or part.get("replace") or {}
            for iid in values.get("customdata") or ():
                if isinstance(iid, str) and "-M" in iid and iid not in self.seen:
                    self.seen[iid] = t


def measure_ws(env: BenchEnv, data: Path, seed: list[dict[str, Any]], rate: float, seconds: float) -> LoadRun:
    """As ``measure_app`` for ours, with a ``LagTab`` instead of Chromium."""
    prefix = env.prefix("live-city-ws")
    keys = Keys.for_redis_url(prefix, env.redis_url)
    client = env.client()
    lay = layers(data)
    try:
        seed_redis(client, keys, seed)
        with SERVE["ours"](env.redis_url, prefix, data, env.out_dir / "logs") as srv:
            tab = LagTab(srv.url, callback_outputs(srv.url))
            try:
                deadline = time.monotonic() + 120
                while tab.drawn < 1 and tab.error is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2.0)
                run = LoadRun("ours", rate, seconds)
                producer = Producer(env.redis_url, keys, member_points(lay), open_pool(seed), rate, seconds, "cw")
                producer.start()
                while producer.is_alive():  # the server's own numbers every few seconds: what grows, if anything
                    producer.join(min(10.0, max(1.0, seconds / 30)))
                    run.samples.append(_scrape_latency(srv.url))
                if producer.error is not None:
                    raise RuntimeError(f"the producer failed: {producer.error!r}")
                deadline = time.monotonic() + GRACE_S
                while time.monotonic() < deadline and any(i not in tab.seen for i in producer.marked):
                    time.sleep(0.25)
                run.waited_until = time.time() * 1000
                if tab.error is not None:
                    raise RuntimeError(f"the wall lost its connection: {tab.error!r}")
                run.sent, run.rejected, run.marked = producer.sent, producer.rejected, producer.marked
                run.started_at = producer.started_at
                run.drawn_ms = run.map_ms = {i: tab.seen[i] - t for i, t in producer.marked.items() if i in tab.seen}
                run.unseen = sum(1 for i in producer.marked if i not in tab.seen)
                t0 = producer.started_at * 1000
                live_frames = [(n, c) for t, n, c in tab.frames if t >= t0 and c - BEAT]
                run.push_bytes = [n for n, _ in live_frames]
                run.all_push_bytes = [n for n, c in live_frames if Wall.MAP_EDIT in c]
                run.server_latency_s = _scrape_latency(srv.url)
            finally:
                tab.close()
            situation = situation_from_redis(client, keys, lay)
            run.figure_bytes = full_figure_bytes(situation, MapBase.from_layers(lay))
            return run
    finally:
        client.close()


# ---- rows ------------------------------------------------------------------------------------------------------


def _seen_note(run: LoadRun) -> str:
    unseen = f", {run.unseen} never drawn within {GRACE_S:g} s (counted as publish → end of wait)" if run.unseen else ""
    return f"{run.app}: {len(run.marked)} marked of {run.sent} changes ({run.rejected} rejected){unseen}"


def _server_note(run: LoadRun) -> str:
    srv = run.server_latency_s
    out = ""
    if srv.get("mean") is not None:
        out += f"; server-side push latency mean {srv['mean'] * 1000:,.0f} ms ({srv['count']:.0f} pushes)"
    if srv.get("frame_mean") is not None:
        out += f"; wall frame compute mean {srv['frame_mean'] * 1000:,.0f} ms ({srv['frames']:.0f} frames)"
    return out


def latency_rows(ours: LoadRun, naive: LoadRun | None) -> list[Measurement]:
    _, o = ours.latencies()
    _, n = naive.latencies() if naive else ([], [])
    _, om = ours.latencies("map")
    o50, o95, n95 = pct(o, 50), pct(o, 95), pct(n, 95) if n else None
    r = ratio(o95, n95)
    note = f"{DEMO_RATE:g} changes/s for {ours.seconds:g} s (durable path); " + _seen_note(ours)
    if naive:
        note += f"; {_seen_note(naive)}; naive p50 {pct(n, 50) or 0:,.0f} ms"
    if ours.arrive_ms:
        note += (
            f"; ours publish → map edit at the page's WS worker p50 {pct(ours.arrive_ms, 50):,.0f} ms, p95 "
            f"{pct(ours.arrive_ms, 95):,.0f} ms (server + transport)"
        )
    note += _server_note(ours)
    return [
        Measurement(
            FAMILY,
            f"publish → map drawn p95 at {DEMO_RATE:g}/s (demo, Chromium)",
            o95,
            "ms",
            baseline=n95,
            baseline_name="naive p95" if n95 is not None else "",
            ratio=r,
            budget=f"ratio ≤ {LATENCY_BUDGET:g}",
            passed=r is not None and r <= LATENCY_BUDGET,
            note=note,
            extra={"ours_ms": o, "naive_ms": n},
        ),
        Measurement(
            FAMILY,
            f"publish → map drawn p50 at {DEMO_RATE:g}/s (demo)",
            o50,
            "ms",
            baseline=pct(n, 50) if n else None,
            baseline_name="naive p50" if n else "",
            ratio=ratio(o50, pct(n, 50) if n else None),
            note=f"in the trace data p50 {pct(om, 50) or 0:,.0f} ms, p95 {pct(om, 95) or 0:,.0f} ms",
        ),
    ]


def bytes_row(run: LoadRun, label: str) -> Measurement:
    """Bytes per live update (every push that set more than the heartbeat). The ≥ 100× is judged at city scale
    only, as in ``patchsize``: a demo street's whole figure is ~90 KB, so 100× would be under 1 KB for the ~40
    changes a push brings at 100/s."""
    sizes, maps = run.push_bytes, run.all_push_bytes
    mean = float(np.mean(sizes)) if sizes else None
    p95 = pct(sizes, 95)
    smaller = ratio(float(run.figure_bytes), p95)
    need_ratio = label == "city"
    return Measurement(
        FAMILY,
        f"bytes per live push at {run.rate:g}/s ({label}, p95 of {len(sizes)})",
        p95,
        "B",
        baseline=float(run.figure_bytes) or None,
        baseline_name="whole figure",
        ratio=smaller,
        budget=f"≤ 20 KB and ≥ {SMALLER_BUDGET:g}× smaller" if need_ratio else "≤ 20 KB (100× at city scale)",
        passed=p95 is not None and p95 <= TICK_BUDGET_B and (not need_ratio or (smaller or 0) >= SMALLER_BUDGET),
        note=(
            f"mean {mean or 0:,.0f} B, max {max(sizes, default=0):,} B; with a map edit: {len(maps)} pushes, mean "
            f"{float(np.mean(maps)) if maps else 0:,.0f} B, p95 {pct(maps, 95) or 0:,.0f} B; WebSocket text frames "
            "as Dash's SharedWorker received them (UTF-8, before permessage-deflate); ratio = whole figure ÷ p95"
        ),
        extra={"push_bytes": sizes, "map_push_bytes": maps},
    )


def trend(run: LoadRun) -> tuple[list[float | None], float | None]:
    """p95 lag (ms) per fifth of the run and the least-squares slope (ms per minute) of lag over publish time."""
    xs, ys = run.latencies()
    edges = np.linspace(0, run.seconds, WINDOWS + 1)
    p95s = [pct([y for x, y in zip(xs, ys, strict=True) if lo <= x < hi], 95) for lo, hi in itertools.pairwise(edges)]
    slope = float(np.polyfit(xs, ys, 1)[0]) * 60 if len(xs) > 2 else None
    return p95s, slope


def sample_trend(run: LoadRun) -> str:
    """Per fifth of the run, from the server's /metrics: wall frame compute mean, feed lag, backlog, CPU, RSS."""
    out = []
    t0 = run.started_at
    for k in range(WINDOWS):
        lo, hi = t0 + k * run.seconds / WINDOWS, t0 + (k + 1) * run.seconds / WINDOWS
        win = [x for x in run.samples if lo <= x.get("t", 0) < hi + 1]
        if len(win) < 2:
            continue
        a, b = win[0], win[-1]
        frames = b.get("frames", 0) - a.get("frames", 0)
        fm = (b.get("frame_sum", 0) - a.get("frame_sum", 0)) / frames * 1000 if frames else 0
        cpu = (b.get("cpu", 0) - a.get("cpu", 0)) / max(1e-9, b["t"] - a["t"])
        lag = max(x.get("feed_lag", 0) for x in win) * 1000
        backlog = max(x.get("backlog", 0) for x in win)
        out.append(
            f"[{fm:,.0f} ms/frame ×{frames:.0f}, feed lag ≤ {lag:,.0f} ms, backlog ≤ {backlog:,.0f}, "
            f"CPU {cpu:.2f} s/s, RSS {b.get('rss', 0) / 2**20:,.0f} MB]"
        )
    return "server per fifth: " + " ".join(out) if out else ""


def city_rows(run: LoadRun) -> list[Measurement]:
    p95s, slope = trend(run)
    first, last = p95s[0], p95s[-1]
    r = ratio(last, first)
    window = run.seconds / WINDOWS
    per = ", ".join(f"{p or 0:,.0f}" for p in p95s)
    _, ys = run.latencies()
    return [
        Measurement(
            FAMILY,
            f"lag growth at {CITY_RATE:g}/s over {run.seconds:g} s (city, WS wall): last ÷ first {window:g} s p95",
            last,
            "ms",
            baseline=first,
            baseline_name=f"first {window:g} s p95",
            ratio=r,
            budget=f"ratio ≤ {GROWTH_BUDGET:g}",
            passed=r is not None and r <= GROWTH_BUDGET,
            note=(
                f"p95 per {window:g} s: {per} ms; slope {slope or 0:+,.1f} ms/min; overall p50 "
                f"{pct(ys, 50) or 0:,.0f} ms, p95 {pct(ys, 95) or 0:,.0f} ms; "
                + _seen_note(run)
                + _server_note(run)
                + "; "
                + sample_trend(run)
            ),
            extra={"p95s": p95s, "slope_ms_per_min": slope, "lags_ms": ys, "server": run.samples},
        )
    ]


def run(env: BenchEnv) -> list[Measurement]:
    out: list[Measurement] = []
    seconds = demo_seconds(env.quick)
    seed = simulator_messages(layers(demo_path()), now=time.time())
    runs: dict[str, LoadRun] = {}
    # ONESCREEN_BENCH_LIVE_PARTS=demo or =city: one half alone (while working on it)
    parts = os.environ.get("ONESCREEN_BENCH_LIVE_PARTS", "demo,city").split(",")
    with chromium() as browser:
        for app in ("ours", "naive") if "demo" in parts else ():
            try:
                runs[app] = measure_app(env, browser, app, demo_path(), seed, DEMO_RATE, seconds, "d")
            except Exception as exc:
                out.append(failed(FAMILY, f"{app} at {DEMO_RATE:g}/s (demo)", exc))
        if "ours" in runs:
            out = [*latency_rows(runs["ours"], runs.get("naive")), bytes_row(runs["ours"], "demo"), *out]
    try:
        if "city" not in parts:
            return out
        city = measure_ws(env, city_path(), city_seed(), CITY_RATE, city_seconds(env.quick))
        out += [*city_rows(city), bytes_row(city, "city")]
    except Exception as exc:
        out.append(failed(FAMILY, f"ours at {CITY_RATE:g}/s (city)", exc))
    return out


def main() -> int:
    """``python -m bench.live [--quick]``: this family alone, printed as the bench's table."""
    import sys

    from bench.report import table

    env = BenchEnv(quick="--quick" in sys.argv)
    try:
        rows = run(env)
    finally:
        with contextlib.suppress(Exception):
            env.cleanup()
    print(table(rows))
    print(json.dumps([{"name": m.name, "value": m.value, "ratio": m.ratio, "note": m.note} for m in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
