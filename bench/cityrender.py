"""City-scale first render, one app per child process with a hard deadline.

At city scale a page can keep Chromium's main thread busy for minutes (a single Plotly redraw of 100,000
markers and 10,000 polygons in software GL), and then even closing the tab waits on it. So each app is
measured in its own process group (``python -m bench.cityrender``) that the bench kills when the
deadline passes; the child prints one JSON line with what it got before that.

Optionally (the cost curve, ``bench.costcurve``) on any data set (``--data``, ``--open`` incidents): after the
renders, a live phase on the open page (``--live`` changes at ``LIVE_RATE``/s: server CPU per change above its
idle rate, bytes of each pushed update) and ``--tabs`` more connected pages (WebSocket tabs that behave like a
page, ``tests.support.dash_ws.FakeTab``, walls and officials' pages alternately): server RSS with them connected.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.apps import PATHS, SERVE, probe_for
from bench.browser import first_render_ms, probed_page
from bench.env import ROOT, BenchEnv, city_path, layers, member_points
from bench.procs import rss_mb
from bench.scenario import incident_messages, open_incidents, seed_redis, simulator_messages
from incidents.keys import Keys
from tests.support.browser import chromium

CITY_OPEN = 10_000
LIVE_RATE = 10.0  # changes per second in the live phase


@dataclass
class CityRender:
    app: str
    cold_ms: float | None = None
    warm_ms: float | None = None
    rss_mb: float | None = None
    server_start_s: float | None = None
    seeded: int = 0
    error: str = ""
    cpu_ms_per_event: float | None = None  # server CPU per change above idle (live phase)
    update_bytes: float | None = None  # median bytes of a pushed update (live phase)
    updates: int = 0
    tabs: int = 0  # connected WebSocket tabs when rss_tabs_mb was read
    rss_tabs_mb: float | None = None


def city_seed(data: Path | None = None, open_n: int = CITY_OPEN) -> list[dict[str, Any]]:
    """A day of history plus ``open_n`` open incidents on ``data`` (default the city set: ~10,000), as wire
    messages; the history's rate scales with the open incidents (150/h for the city's 10,000)."""
    lay = layers(data or city_path())
    history = simulator_messages(lay, per_hour=max(12.0, 150.0 * open_n / CITY_OPEN))
    opened = open_incidents(member_points(lay), open_n, np.random.default_rng(3), time.time())
    return history + incident_messages(opened)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _live_phase(
    page: Any, client: Any, keys: Keys, pid: int, points: np.ndarray, events: int
) -> tuple[float, list[int]]:
    """``events`` changes at ``LIVE_RATE``/s on the wire channel (new incidents, every other one moving an earlier
    one a step on). Returns (server CPU ms per change above its idle rate, bytes of each update pushed to the
    page that carried the map)."""
    idle_s = 3.0
    c0, t0 = _cpu_s(pid), time.monotonic()
    time.sleep(idle_s)
    idle_rate = (_cpu_s(pid) - c0) / (time.monotonic() - t0)
    page.evaluate("() => { window.__bench.ws = []; }")
    rng = np.random.default_rng(9)
    fresh: list[str] = []
    c0, t0 = _cpu_s(pid), time.monotonic()
    for i in range(events):
        delay = t0 + i / LIVE_RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        if i % 2 == 0 or not fresh:
            lon, lat = points[int(rng.integers(0, len(points)))]
            iid = f"C{i:05d}-{uuid.uuid4().hex[:6]}"
            fresh.append(iid)
            msg = {"id": iid, "status": "reported", "lon": float(lon), "lat": float(lat), "ts": now,
                   "category": "environment", "title": f"成本{i}", "priority": "normal", "source": "bench"}  # fmt: skip
        else:
            msg = {"id": fresh[(i // 2) % len(fresh)], "status": "dispatched", "ts": now}
        client.publish(keys.channel, json.dumps(msg, ensure_ascii=False))
    time.sleep(1.5)  # the last changes' frames and pushes
    busy = _cpu_s(pid) - c0 - idle_rate * (time.monotonic() - t0)
    frames = page.evaluate("() => window.__bench.ws")
    sizes = [int(m["n"]) for m in frames if "set_props" in m["types"]]
    return max(busy, 0.0) * 1000 / events, sizes


def _tabs_rss(url: str, pid: int, n: int) -> tuple[int, float]:
    """``n`` connected tabs (walls and officials' pages alternately), each past its first push: (tabs, RSS MB)."""
    from tests.support.dash_ws import FakeTab, callback_outputs

    cb = callback_outputs(url)
    tabs = [FakeTab(url, "/wall" if k % 2 == 0 else "/", cb) for k in range(n)]
    try:
        deadline = time.monotonic() + 90
        while any(t.drawn < 1 and t.error is None for t in tabs) and time.monotonic() < deadline:
            time.sleep(0.2)
        return sum(t.error is None for t in tabs), rss_mb(pid)
    finally:
        for t in tabs:
            t.close()


def _emit(result: CityRender) -> None:
    print("RESULT " + json.dumps(asdict(result)), flush=True)


def measure(
    redis_url: str,
    prefix: str,
    app: str,
    render_timeout_s: float,
    out_dir: Path,
    path: str | None = None,
    *,
    data: Path | None = None,
    open_n: int = CITY_OPEN,
    live: int = 0,
    tabs: int = 0,
) -> CityRender:
    """Seed, serve, load the page twice (cold, then scripts cached); then the live phase (``live`` changes) and
    ``tabs`` connected tabs if asked. ``data``: the data set (default the city set), ``open_n`` open incidents.
    Prints a RESULT line after every stage; a watchdog prints the last one and exits hard if the page hangs
    (Playwright's own timeouts run in the page)."""
    result = CityRender(app)
    env = BenchEnv(quick=False, redis_url=redis_url, out_dir=out_dir)
    keys = Keys.for_redis_url(prefix, env.redis_url)
    data = data or city_path()
    client = env.client()
    try:
        result.seeded = seed_redis(client, keys, city_seed(data, open_n))
    finally:
        client.close()
    _emit(result)
    with SERVE[app](redis_url, prefix, data, out_dir / "logs") as srv:
        result.server_start_s = srv.started_s
        _emit(result)

        def give_up() -> None:
            with contextlib.suppress(Exception):
                result.rss_mb = srv.rss_mb()
            stage = "cold" if result.cold_ms is None else "warm"
            result.error = f"no full render ({stage}) within {render_timeout_s:g} s: the page stayed busy"
            _emit(result)
            os._exit(3)  # the parent kills the process group (server, browser)

        with chromium() as browser, probed_page(browser, probe_for(app, path)) as page:
            for attempt in ("cold", "warm"):
                watchdog = threading.Timer(render_timeout_s + 5, give_up)
                watchdog.daemon = True
                watchdog.start()
                try:
                    ms = first_render_ms(page, srv.url + (path or PATHS[app]), render_timeout_s * 1000)
                except Exception as exc:
                    result.error = f"no full render ({attempt}) within {render_timeout_s:g} s ({type(exc).__name__})"
                    break
                finally:
                    watchdog.cancel()
                if attempt == "cold":
                    result.cold_ms = ms
                else:
                    result.warm_ms = ms
                result.rss_mb = srv.rss_mb()
                _emit(result)
            result.rss_mb = srv.rss_mb()
            _emit(result)  # before closing: a busy page can make closing it hang (the parent then kills us)
            if live and result.warm_ms is not None:
                client = env.client()
                try:
                    cpu, sizes = _live_phase(page, client, keys, srv.pid, member_points(layers(data)), live)
                finally:
                    client.close()
                result.cpu_ms_per_event, result.updates = cpu, len(sizes)
                result.update_bytes = float(np.median(sizes)) if sizes else None
                _emit(result)
        if tabs and result.warm_ms is not None:
            result.tabs, result.rss_tabs_mb = _tabs_rss(srv.url, srv.pid, tabs)
            _emit(result)
    return result


def run_isolated(
    env: BenchEnv,
    app: str,
    render_timeout_s: float,
    hard_timeout_s: float,
    path: str | None = None,
    *,
    data: Path | None = None,
    open_n: int = CITY_OPEN,
    live: int = 0,
    tabs: int = 0,
) -> CityRender:
    """``measure`` in a child process group; whatever it printed last counts if the deadline kills it.
    ``path``: the page to load (default the app's wall), e.g. one street's wall ``/wall?scope=street:…``;
    ``data``, ``open_n``, ``live``, ``tabs``: as ``measure``."""
    prefix = env.prefix(f"city-{app}")
    cmd = [
        sys.executable,
        "-m",
        "bench.cityrender",
        "--redis-url",
        env.redis_url,
        "--prefix",
        prefix,
        "--app",
        app,
        "--timeout",
        str(render_timeout_s),
        "--out-dir",
        str(env.out_dir),
        *(["--path", path] if path else []),
        *(["--data", str(data)] if data else []),
        *["--open", str(open_n), "--live", str(live), "--tabs", str(tabs)],
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    killed = False
    try:
        out, err = proc.communicate(timeout=hard_timeout_s)
    except subprocess.TimeoutExpired:
        killed = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    finally:
        with contextlib.suppress(ProcessLookupError):  # the server and browser it started, if still there
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    lines = [ln[len("RESULT ") :] for ln in out.splitlines() if ln.startswith("RESULT ")]
    result = CityRender(**json.loads(lines[-1])) if lines else CityRender(app)
    if killed:
        result.error = (result.error + "; " if result.error else "") + f"killed after {hard_timeout_s:g} s"
    elif proc.returncode != 0 and not lines:
        result.error = f"child failed ({proc.returncode}): {err.strip()[-300:]}"
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cityrender")
    p.add_argument("--redis-url", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--app", choices=["ours", "naive"], required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--path", help="page to load (default: the app's wall)")
    p.add_argument("--data", type=Path, help="data set (default: the city set)")
    p.add_argument("--open", type=int, default=CITY_OPEN, help="open incidents to seed")
    p.add_argument("--live", type=int, default=0, help="changes in the live phase (0: none)")
    p.add_argument("--tabs", type=int, default=0, help="connected tabs for the RSS reading (0: none)")
    args = p.parse_args(argv)
    measure(
        args.redis_url, args.prefix, args.app, args.timeout, args.out_dir, args.path,
        data=args.data, open_n=args.open, live=args.live, tabs=args.tabs,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
