"""Many screens: 200 live pages on one server process, then 1,000 over 4 processes on one Redis (issue 11, point 4).

The load is the fanout bench's: 10,000 open incidents on the demo geometry (the city's open load; the city data set's
grids would make every page's first frame ~10× bigger and the measurement about page loads, not live pushes) and a
producer moving them on at 10 changes/s through the durable path. On top, a *marked* event every second: a new
incident whose id (``MK…-nnnn``) is also in its title. For each marked event and each page: publish time (the
publisher's ``time.time()`` before the durable write) → the page has it:

* a WebSocket page (``bench.wspages``, in its own process: the protocol of ``tests.support.dash_ws.FakeTab`` on one
  event loop) — the arrival of the first frame whose text holds the id (feed row or map edit, whichever is first);
* a real headless Chromium page (2 walls, 1 officials' page, 1-server runs only) — the id in the map's trace data or
  the title in the wall's feed (``bench.browser``'s probe, ``Date.now()``).

A separate thread asks each server's ``/healthz`` every 0.5 s throughout (p50/p95/max). Walls and officials' pages
(the console at ``/``, its map patched through ``figure``) are mixed 4:1.

Rows: event → frame p95 with 200 pages ÷ the same with 1 page on the same server in the same run (budget p95
≤ 500 ms absolute; the ratio is what more screens cost), /healthz p95 (≤ 100 ms) with 200 pages, and the same two
for 1,000 pages over 4 processes (``--quick``: 50 pages, 200 over 4). ``ONESCREEN_BENCH_SCREENS`` (comma-separated
page counts) adds a curve over 4 processes, for sizing.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench.apps import CONSOLE_PROBE, PROBES
from bench.browser import first_render_ms, probed_page
from bench.env import ROOT, BenchEnv, demo_path, layers, member_points, pct
from bench.fanout import CHANGES_PER_S, OPEN_INCIDENTS, Producer, _health, _seed
from bench.procs import Served, serve_onescreen
from bench.report import Measurement, failed, ratio
from incidents.keys import Keys
from incidents.publish import publish
from tests.support.auth import cookie_header
from tests.support.dash_ws import callback_outputs

FAMILY = "many screens"
LATENCY_BUDGET_MS = 500.0
HEALTH_BUDGET_MS = 100.0
HEALTH_EVERY_S = 0.5
MARKS_PER_S = 1.0
CONSOLE_EVERY = 5  # every 5th page an official's (the console), the rest walls
CHROMIUM_WALLS = 2
CHROMIUM_CONSOLES = 1
SETTLE_S = 5.0  # after every page is live: the first full pushes are done


@dataclass
class RunResult:
    pages: int
    servers: int
    lat_ms: list[float] = field(default_factory=list)  # every (marked event, page) pair that arrived
    browser_ms: list[float] = field(default_factory=list)  # the Chromium pages' share of ``lat_ms``
    missing: int = 0  # (marked event, page) pairs never seen
    marks: int = 0
    health_ms: list[float] = field(default_factory=list)
    health_errors: int = 0
    client_errors: list[str] = field(default_factory=list)
    cpu_s_per_s: list[float] = field(default_factory=list)  # each server process
    client_cpu_s_per_s: float = 0.0  # the page-client processes together
    loop_cpu_s_per_s: list[float] = field(default_factory=list)  # each server's main thread (its event loop)

    @property
    def p95(self) -> float | None:
        return pct(self.lat_ms, 95)


class HealthSampler(threading.Thread):
    """GET /healthz of every server every ``HEALTH_EVERY_S`` (one thread, in turn), latency in ms."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True, name="healthz-sampler")
        self.urls = urls
        self.ms: list[float] = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            t_next = time.monotonic() + HEALTH_EVERY_S
            for url in self.urls:
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=10) as resp:
                        resp.read()
                    self.ms.append((time.perf_counter() - t0) * 1000)
                except Exception:
                    self.errors += 1
            self.halt.wait(max(0.0, t_next - time.monotonic()))


def mark_id(tag: str, k: int) -> str:
    """The id of marked event ``k`` of a measurement (``bench.wspages`` finds it by its ``--marker`` regex)."""
    return f"MK{tag}-{k:04d}"


def mark_title(iid: str) -> str:
    return f"标记{iid}"


class Marks(threading.Thread):
    """A new incident every ``1/MARKS_PER_S`` s, durably; ``sent``: id → publish time (epoch s)."""

    def __init__(self, env: BenchEnv, keys: Keys, tag: str, seconds: float) -> None:
        super().__init__(daemon=True, name="marks")
        self.env, self.keys, self.tag, self.seconds = env, keys, tag, seconds
        self.sent: dict[str, float] = {}
        self.title: dict[str, str] = {}

    def run(self) -> None:
        pts = member_points(layers(demo_path()))
        rng = random.Random(3)
        client = self.env.client()
        try:
            t0 = time.monotonic()
            n = int(self.seconds * MARKS_PER_S)
            for k in range(n):
                time.sleep(max(0.0, t0 + k / MARKS_PER_S - time.monotonic()))
                iid = mark_id(self.tag, k)
                lon, lat = pts[rng.randrange(len(pts))]
                title = mark_title(iid)
                t = time.time()
                publish(
                    client,
                    self.keys,
                    {
                        "id": iid,
                        "status": "reported",
                        "ts": t,
                        "lon": float(lon),
                        "lat": float(lat),
                        "category": "environment",
                        "title": title,
                    },
                )
                self.sent[iid], self.title[iid] = t, title
        finally:
            client.close()


class Clients:
    """One ``bench.wspages`` process: ``pages`` WebSocket pages on one server."""

    def __init__(self, served: Served, pages: int, first_host: str) -> None:
        url = served.url
        self.pages = pages
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.wspages",
                "--url",
                url,
                "--cookie",
                cookie_header(url)["Cookie"],
                "--callbacks",
                json.dumps(callback_outputs(url)),
                "--pages",
                str(pages),
                "--console-every",
                str(CONSOLE_EVERY),
                "--first-host",
                first_host,
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.last: dict[str, Any] = {}

    def ready(self) -> bool:
        """Reads one status line; True once every page had its first push."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"page clients exited ({self.proc.poll()})")
        self.last = json.loads(line)
        return bool(self.last.get("ready", 0) >= self.pages)

    def finish(self) -> list[dict[str, Any]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg.get("done"):
                self.proc.wait(15)
                return list(msg["pages"])
        raise RuntimeError("page clients ended without results")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _wait_ready(clients: list[Clients], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(clients)
    while pending:
        pending = [c for c in pending if not c.ready()]
        if time.monotonic() > deadline:
            states = [c.last for c in clients]
            raise RuntimeError(f"pages not live after {timeout:.0f} s: {states}")


@contextlib.contextmanager
def _browser_pages(served: Served, n_walls: int, n_consoles: int) -> Iterator[list[Any]]:
    """Real Chromium pages on ``served`` (walls, then officials' pages), each live before the block."""
    from tests.support.browser import chromium

    with chromium() as browser, ExitStack() as stack:
        pages = []
        for probe, path, n in ((PROBES["ours"], "/wall", n_walls), (CONSOLE_PROBE, "/", n_consoles)):
            for _ in range(n):
                page = stack.enter_context(probed_page(browser, probe))
                first_render_ms(page, served.url + path, timeout_ms=120_000)
                page.wait_for_selector(".os-live-dot.is-live", state="attached", timeout=60_000)
                pages.append(page)
        yield pages


def _cpu_s(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of process ``pid`` so far, or of its thread ``tid`` (the main thread: ``pid``)."""
    with open(f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    env: BenchEnv, keys: Keys, servers: list[Served], pages: int, tag: str, *, chromium: bool = False
) -> RunResult:
    """``pages`` live pages spread over ``servers`` (``chromium``: 3 of them real browsers, on the first server),
    marked events for the measurement's duration; see the module doc."""
    seconds = 10.0 if env.quick else 30.0
    n_browser = CHROMIUM_WALLS + CHROMIUM_CONSOLES if chromium else 0
    ws_pages = pages - n_browser
    per = [ws_pages // len(servers) + (1 if i < ws_pages % len(servers) else 0) for i in range(len(servers))]
    result = RunResult(pages, len(servers))
    sampler = HealthSampler([s.url for s in servers])
    clients: list[Clients] = []
    with ExitStack() as stack:
        browser_pages: list[Any] = []
        if n_browser:
            browser_pages = stack.enter_context(_browser_pages(servers[0], CHROMIUM_WALLS, CHROMIUM_CONSOLES))
        try:
            for i, (srv, n) in enumerate(zip(servers, per, strict=True)):
                if n:
                    clients.append(Clients(srv, n, f"127.0.{10 + 5 * i}.1"))
            _wait_ready(clients, timeout=60 + pages * 0.5)
            time.sleep(SETTLE_S)
            want = {mark_id(tag, k): mark_title(mark_id(tag, k)) for k in range(int(seconds * MARKS_PER_S))}
            for page in browser_pages:  # the probe looks for these from now on (bench.browser)
                page.evaluate("(w) => { const B = window.__bench; B.want = w; B.feed = {}; B.map = {}; }", want)
            sampler.start()
            cpu0 = [(_cpu_s(s.pid), time.monotonic()) for s in servers]
            loop0 = [_cpu_s(s.pid, s.pid) for s in servers]
            client0 = sum(_cpu_s(c.proc.pid) for c in clients)
            marks = Marks(env, keys, tag, seconds)
            marks.start()
            marks.join()
            time.sleep(3.0)  # the last marks' pushes
            result.cpu_s_per_s = [
                (_cpu_s(s.pid) - c) / (time.monotonic() - t) for s, (c, t) in zip(servers, cpu0, strict=True)
            ]
            result.loop_cpu_s_per_s = [
                (_cpu_s(s.pid, s.pid) - c) / (time.monotonic() - t)
                for s, c, (_, t) in zip(servers, loop0, cpu0, strict=True)
            ]
            client_cpu = sum(_cpu_s(c.proc.pid) for c in clients) - client0
            result.client_cpu_s_per_s = client_cpu / (time.monotonic() - cpu0[0][1])
            for page in browser_pages:
                seen = page.evaluate("() => ({feed: window.__bench.feed, map: window.__bench.map})")
                for iid, t_pub in marks.sent.items():
                    times = [seen[k][iid] for k in ("feed", "map") if iid in seen[k]]
                    if times:
                        ms = min(times) - t_pub * 1000
                        result.lat_ms.append(ms)
                        result.browser_ms.append(ms)
                    else:
                        result.missing += 1
            for c in clients:
                for p in c.finish():
                    if p["error"]:
                        result.client_errors.append(p["error"])
                    for iid, t_pub in marks.sent.items():
                        t = p["first"].get(iid)
                        if t is None:
                            result.missing += 1
                        else:
                            result.lat_ms.append((t - t_pub) * 1000)
            result.marks = len(marks.sent)
        finally:
            sampler.halt.set()
            sampler.join(5)
            for c in clients:
                c.kill()
    result.health_ms, result.health_errors = sampler.ms, sampler.errors
    return result


# ---- rows ---------------------------------------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _where(r: RunResult) -> str:
    return f"{r.pages} pages on {r.servers} process{'es' if r.servers > 1 else ''}"


def _note(r: RunResult) -> str:
    cpu = ", ".join(f"{c:.2f} (loop {lp:.2f})" for c, lp in zip(r.cpu_s_per_s, r.loop_cpu_s_per_s, strict=True))
    out = (
        f"{r.marks} marked events × {r.pages} pages: {len(r.lat_ms)} seen, {r.missing} missing; "
        f"p50 {_fmt(pct(r.lat_ms, 50))} ms, max {_fmt(max(r.lat_ms, default=None))} ms; server CPU s/s {cpu} "
        f"(page clients {r.client_cpu_s_per_s:.2f})"
    )
    if r.browser_ms:
        out += f"; Chromium pages p50 {_fmt(pct(r.browser_ms, 50))} / p95 {_fmt(pct(r.browser_ms, 95))} ms"
    if r.client_errors:
        out += f"; {len(r.client_errors)} page errors, e.g. {r.client_errors[0]}"
    return out


def latency_row(r: RunResult, base: RunResult | None) -> Measurement:
    p95 = r.p95
    complete = r.missing == 0 and not r.client_errors
    return Measurement(
        FAMILY,
        f"event → frame p95, {_where(r)}",
        p95,
        "ms",
        baseline=base.p95 if base else None,
        baseline_name="1 page, same server" if base else "",
        ratio=ratio(p95, base.p95 if base else None),
        budget=f"≤ {LATENCY_BUDGET_MS:g} ms, every page sees every event",
        passed=p95 is not None and p95 <= LATENCY_BUDGET_MS and complete,
        note=_note(r) + (f"; 1 page: p50 {_fmt(pct(base.lat_ms, 50))} ms" if base else ""),
        extra={"lat_ms": r.lat_ms, "cpu": r.cpu_s_per_s},
    )


def health_row(r: RunResult, base: RunResult | None) -> Measurement:
    p95 = pct(r.health_ms, 95)
    base95 = pct(base.health_ms, 95) if base else None
    return Measurement(
        FAMILY,
        f"/healthz p95 every {HEALTH_EVERY_S:g} s, {_where(r)}",
        p95,
        "ms",
        baseline=base95,
        baseline_name="1 page" if base else "",
        ratio=ratio(p95, base95),
        budget=f"≤ {HEALTH_BUDGET_MS:g} ms",
        passed=p95 is not None and p95 <= HEALTH_BUDGET_MS and r.health_errors == 0,
        note=(
            f"{len(r.health_ms)} samples, p50 {_fmt(pct(r.health_ms, 50))} ms, "
            f"max {_fmt(max(r.health_ms, default=None))} ms, {r.health_errors} failed"
        ),
        extra={"health_ms": r.health_ms},
    )


@contextlib.contextmanager
def _servers(env: BenchEnv, prefix: str, n: int) -> Iterator[list[Served]]:
    with ExitStack() as stack:
        servers = [
            stack.enter_context(serve_onescreen(env.redis_url, prefix, demo_path(), env.out_dir / "tmp"))
            for _ in range(n)
        ]
        deadline = time.monotonic() + 180
        for s in servers:
            while _health(s.url)["situation"]["incidents"] < OPEN_INCIDENTS and time.monotonic() < deadline:
                time.sleep(0.5)
        yield servers


def _curve() -> list[int]:
    raw = os.environ.get("ONESCREEN_BENCH_SCREENS", "")
    return [int(x) for x in raw.split(",") if x.strip()]


def run(env: BenchEnv) -> list[Measurement]:
    prefix = env.prefix("manyscreens")
    keys = Keys.for_redis_url(prefix, env.redis_url)
    rows: list[Measurement] = []
    one_proc = 50 if env.quick else 200
    many = 200 if env.quick else 1000
    try:
        ids = _seed(env, keys)
        producer = Producer(env.redis_url, keys, ids, CHANGES_PER_S)
        producer.start()
        try:
            with _servers(env, prefix, 1) as servers:
                base = measure(env, keys, servers, 1, "a")
                r = measure(env, keys, servers, one_proc, "b", chromium=True)
                rows += [latency_row(r, base), health_row(r, base)]
            with _servers(env, prefix, 4) as servers:
                for k, n in enumerate(_curve() or [many]):
                    try:
                        r = measure(env, keys, servers, n, f"c{k}")
                        rows += [latency_row(r, base), health_row(r, base)]
                    except Exception as exc:
                        rows.append(failed(FAMILY, f"{n} pages on 4 processes", exc))
        finally:
            producer.halt.set()
            producer.join(5)
    except Exception as exc:
        rows.append(failed(FAMILY, "(family)", exc))
    return rows
