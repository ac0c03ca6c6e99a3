"""City-scale first render, one app per child process with a hard deadline.

At city scale a page can keep Chromium's main thread busy for minutes (a single Plotly redraw of 100,000
markers and 10,000 polygons in software GL), and then even closing the tab waits on it. So each app is
measured in its own process group (``python -m bench.cityrender``) that the bench kills when the
deadline passes; the child prints one JSON line with what it got before that.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.apps import PATHS, SERVE, probe_for
from bench.browser import first_render_ms, probed_page
from bench.env import ROOT, BenchEnv, city_path, layers, member_points
from bench.scenario import incident_messages, open_incidents, seed_redis, simulator_messages
from incidents.keys import Keys
from tests.support.browser import chromium

CITY_OPEN = 10_000


@dataclass
class CityRender:
    app: str
    cold_ms: float | None = None
    warm_ms: float | None = None
    rss_mb: float | None = None
    server_start_s: float | None = None
    seeded: int = 0
    error: str = ""


def city_seed() -> list[dict[str, Any]]:
    """A day of city history plus ~10,000 open incidents, as wire messages."""
    lay = layers(city_path())
    history = simulator_messages(lay, per_hour=150)
    opened = open_incidents(member_points(lay), CITY_OPEN, np.random.default_rng(3), time.time())
    return history + incident_messages(opened)


def _emit(result: CityRender) -> None:
    print("RESULT " + json.dumps(asdict(result)), flush=True)


def measure(
    redis_url: str, prefix: str, app: str, render_timeout_s: float, out_dir: Path, path: str | None = None
) -> CityRender:
    """Seed, serve, load the page twice (cold, then scripts cached). Prints a RESULT line after every stage; a
    watchdog prints the last one and exits hard if the page hangs (Playwright's own timeouts run in the page)."""
    result = CityRender(app)
    env = BenchEnv(quick=False, redis_url=redis_url, out_dir=out_dir)
    client = env.client()
    try:
        result.seeded = seed_redis(client, Keys.for_redis_url(prefix, env.redis_url), city_seed())
    finally:
        client.close()
    _emit(result)
    with SERVE[app](redis_url, prefix, city_path(), out_dir / "logs") as srv:
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
    return result


def run_isolated(
    env: BenchEnv, app: str, render_timeout_s: float, hard_timeout_s: float, path: str | None = None
) -> CityRender:
    """``measure`` in a child process group; whatever it printed last counts if the deadline kills it.
    ``path``: the page to load (default the app's wall), e.g. one street's wall ``/wall?scope=street:…``."""
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
    args = p.parse_args(argv)
    measure(args.redis_url, args.prefix, args.app, args.timeout, args.out_dir, args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
