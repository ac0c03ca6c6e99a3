"""The soak (family ``soak``): is the server's memory within budget and flat under a steady load?

The city data set, 10,000 open incidents (plus a day of history), ``PAGES`` connected pages (WebSocket tabs that
behave like a page, ``tests.support.dash_ws.FakeTab``: walls and officials' pages alternately) and a producer
moving open incidents on at ``RATE`` changes/s through the durable path (``bench.fanout.Producer``). The server's
RSS is sampled every ``SAMPLE_S`` seconds for ``ONESCREEN_BENCH_SOAK_S`` seconds (default 180; 30 with
``--quick``, which uses the demo data and fewer pages).

Rows: peak RSS against the 600 MB budget (baseline: RSS with the pages connected, before the load); the slope of
RSS over the load (least squares, MB per 10 min; flat: ≤ ``SLOPE_BUDGET``), start/end in the note. The series is
in the row's ``extra`` and in ``soak-<run>.csv`` beside ``latest.json``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench.cityrender import CITY_OPEN
from bench.env import BenchEnv, city_path, demo_path, layers, member_points
from bench.fanout import Producer
from bench.procs import rss_mb, serve_onescreen
from bench.report import Measurement, failed, ratio
from bench.scenario import incident_messages, open_incidents, seed_redis, simulator_messages
from incidents.keys import Keys
from tests.support.dash_ws import FakeTab, callback_outputs

FAMILY = "soak"
PAGES = 20
RATE = 100.0  # changes per second
SAMPLE_S = 5.0
BUDGET_MB = 600.0
SLOPE_BUDGET = 5.0  # MB per 10 min: over an hour that is 30 MB, the noise of one big push
WARMUP_S = 30.0  # the slope is fitted from here (the first full pushes under load settle)
JUDGED_SPAN_S = 120.0  # a shorter fit only informs: the warm-up's climb dominates it


def soak_seconds(quick: bool) -> float:
    value = os.environ.get("ONESCREEN_BENCH_SOAK_S")
    return float(value) if value else (30.0 if quick else 180.0)


def slope_mb_per_10min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) samples, in MB per 10 minutes; None with fewer than 3 samples."""
    if len(samples) < 3:
        return None
    t, mb = np.asarray(samples, dtype=float).T
    return float(np.polyfit(t, mb, 1)[0]) * 600.0


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/healthz", timeout=30) as resp:
        return dict(json.loads(resp.read()))


def _seed(env: BenchEnv, keys: Keys, data: Path, open_n: int) -> dict[str, str]:
    """A day of history and ``open_n`` open incidents; returns the open ones' ids → status."""
    lay = layers(data)
    history = simulator_messages(lay, per_hour=max(12.0, 150.0 * open_n / CITY_OPEN))
    opened = open_incidents(member_points(lay), open_n, np.random.default_rng(3), time.time())
    client = env.client()
    try:
        seed_redis(client, keys, history + incident_messages(opened))
    finally:
        client.close()
    return {i.id: str(i.status) for i in opened}


def run(env: BenchEnv) -> list[Measurement]:
    seconds = soak_seconds(env.quick)
    data = demo_path() if env.quick else city_path()
    open_n = 1_000 if env.quick else CITY_OPEN
    pages = 6 if env.quick else PAGES
    where = f"({'demo' if env.quick else 'city'}, {open_n:,} open, {pages} pages, {RATE:g} changes/s)"
    prefix = env.prefix("soak")
    keys = Keys.for_redis_url(prefix, env.redis_url)
    try:
        status = _seed(env, keys, data, open_n)
        with serve_onescreen(env.redis_url, prefix, data, env.out_dir / "tmp") as served:
            deadline = time.monotonic() + 180
            while _health(served.url)["situation"]["incidents"] < open_n and time.monotonic() < deadline:
                time.sleep(0.5)
            cb = callback_outputs(served.url)
            tabs = [FakeTab(served.url, "/wall" if k % 2 == 0 else "/", cb) for k in range(pages)]
            producer = Producer(env.redis_url, keys, list(status), RATE, status=status)
            try:
                deadline = time.monotonic() + 180
                while any(t.drawn < 1 and t.error is None for t in tabs) and time.monotonic() < deadline:
                    time.sleep(0.5)
                connected_mb = rss_mb(served.pid)
                producer.start()
                t0 = time.monotonic()
                samples: list[tuple[float, float]] = []
                while (now := time.monotonic() - t0) < seconds:
                    samples.append((now, rss_mb(served.pid)))
                    time.sleep(max(0.0, t0 + len(samples) * SAMPLE_S - time.monotonic()))
                samples.append((time.monotonic() - t0, rss_mb(served.pid)))
                sent, elapsed = producer.sent, time.monotonic() - t0
                errors = [t.error for t in tabs if t.error is not None]
                drawn = sorted(t.drawn for t in tabs)
            finally:
                producer.halt.set()
                if producer.is_alive():
                    producer.join(5)
                for t in tabs:
                    t.close()
        _write_csv(env, samples)
        return _rows(where, samples, connected_mb, seconds, sent / elapsed, len(tabs) - len(errors), drawn, errors)
    except Exception as exc:
        return [failed(FAMILY, "(family)", exc)]


def _write_csv(env: BenchEnv, samples: list[tuple[float, float]]) -> None:
    env.out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["seconds,rss_mb", *(f"{t:.1f},{mb:.1f}" for t, mb in samples)]
    (env.out_dir / f"soak-{env.run_id}.csv").write_text("\n".join(lines) + "\n")


def _rows(
    where: str,
    samples: list[tuple[float, float]],
    connected_mb: float,
    seconds: float,
    rate: float,
    live_pages: int,
    drawn: list[int],
    errors: list[BaseException],
) -> list[Measurement]:
    mbs = [mb for _, mb in samples]
    peak, start, end = max(mbs), mbs[0], mbs[-1]
    fitted = [s for s in samples if s[0] >= WARMUP_S] if seconds > 2 * WARMUP_S else samples
    slope = slope_mb_per_10min(fitted)
    judged = fitted[-1][0] - fitted[0][0] >= JUDGED_SPAN_S
    lost = f"; {len(errors)} pages lost their connection: {errors[0]!r}" if errors else ""
    series = {"samples": [[round(t, 1), round(mb, 1)] for t, mb in samples]}
    return [
        Measurement(
            FAMILY,
            f"server RSS peak over {seconds / 60:.1f} min {where}",
            peak,
            "MB",
            baseline=connected_mb,
            baseline_name="pages connected, before the load",
            ratio=ratio(peak, connected_mb),
            budget=f"≤ {BUDGET_MB:g} MB",
            passed=peak <= BUDGET_MB and not errors,
            note=(
                f"start {start:.0f} MB, end {end:.0f} MB; {rate:.0f} changes/s sent; {live_pages} pages live, "
                f"map pushes drawn per page {drawn[0]}–{drawn[-1]}{lost}"
            ),
            extra=series,
        ),
        Measurement(
            FAMILY,
            f"server RSS slope under load {where}",
            slope,
            "MB/10 min",
            budget=f"≤ {SLOPE_BUDGET:g} MB/10 min",
            passed=(slope is not None and slope <= SLOPE_BUDGET) if judged else None,
            note=(
                f"least squares over {len(fitted)} samples every {SAMPLE_S:g} s from {fitted[0][0]:.0f} s"
                + ("" if judged else f" (informative: under {JUDGED_SPAN_S:g} s fitted)")
            ),
        ),
    ]
