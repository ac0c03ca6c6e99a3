"""`python -m bench` / `make bench`: the design's budgets, each against a baseline measured in the same run.

Families (one module each): ``pointgrid`` (point → grid vs geopandas.sjoin), ``ingest`` (events/s through the
feed vs redis-benchmark PUBLISH), ``patchsize`` (bytes per live tick vs the whole figure, offline, demo and city
scale), ``screens`` (Chromium: event → DOM latency, bytes over the wire, first render and RSS vs a naive Dash
app), ``live`` (under load: publish → map drawn p95 at 100 changes/s vs the naive app in Chromium, the lag's
trend at city scale at 200 changes/s over ``ONESCREEN_BENCH_LIVE_CITY_S``, bytes per push vs the whole figure),
``png`` (briefings through the one composition: warm vs cold, a community and the street, 1920×1080, 3840×2160, A4
PDF), ``replay`` (a warm scrubber step vs the cold ``snapshot --at`` rebuild), ``costcurve`` (first
render, RSS with 20 pages, CPU per change and bytes per update from the demo through three in-between sizes to the
city), ``manyscreens`` (event → frame p95 and /healthz with 200 live pages on one server process — 3 of them real
Chromium — against 1 page, then 1,000 pages over 4 processes on one Redis), ``soak`` (server RSS peak and slope
over a steady 100 changes/s with 20 pages on the city data, ``ONESCREEN_BENCH_SOAK_S`` long). Prints a table and
writes ``.onescreen/bench/latest.json``.

``--quick``: demo scale, short runs. Full: city scale where it matters, 60 s of ingest (``ingest_seconds`` /
``ONESCREEN_BENCH_INGEST_S`` for the issue's 5 minutes) — no longer under 15 min: ``live``'s 5-minute city run,
``soak``'s 3 minutes and ``manyscreens``' curve add roughly 20 (``family_seconds`` in the JSON says where it
went). ``only`` / ``ONESCREEN_BENCH_ONLY`` (comma-separated family module names) runs a subset.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.env import BenchEnv
from bench.report import Measurement, failed, summary, table, write_json

FAMILIES: tuple[str, ...] = (
    "pointgrid",
    "ingest",
    "patchsize",
    "fanout",
    "manyscreens",
    "screens",
    "live",
    "png",
    "export",
    "replay",
    "costcurve",
    "soak",
)


def _family(name: str) -> Callable[[BenchEnv], list[Measurement]]:
    import importlib

    module = importlib.import_module(f"bench.{name}")
    fn: Callable[[BenchEnv], list[Measurement]] = module.run
    return fn


def _env_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


def run_bench(
    quick: bool = False,
    *,
    ingest_seconds: float | None = None,
    only: Sequence[str] | None = None,
    out_dir: Path | None = None,
) -> int:
    """Run the families, print the table, write ``latest.json`` into ``out_dir`` (default ``.onescreen/bench`` of
    the checkout). Exit code 0 if every budget passed, 1 if one failed or a family errored, 2 unknown family."""
    if only is None and os.environ.get("ONESCREEN_BENCH_ONLY"):
        only = [s.strip() for s in os.environ["ONESCREEN_BENCH_ONLY"].split(",") if s.strip()]
    names = [n for n in FAMILIES if not only or n in only]
    unknown = sorted(set(only or ()) - set(FAMILIES))
    if unknown:
        print(f"unknown bench families: {', '.join(unknown)} (have: {', '.join(FAMILIES)})")
        return 2
    env = BenchEnv(quick=quick, ingest_seconds=ingest_seconds or _env_float("ONESCREEN_BENCH_INGEST_S"))
    if out_dir is not None:
        env.out_dir = out_dir
    for noisy in ("incidents.feed", "choreographer", "kaleido", "logistro"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    mode = "quick" if quick else "full"
    print(f"bench ({mode}) — Redis {env.redis_url}, run {env.run_id}", flush=True)
    results: list[Measurement] = []
    durations: dict[str, float] = {}
    started = time.perf_counter()
    try:
        for name in names:
            t0 = time.perf_counter()
            print(f"· {name} …", flush=True)
            try:
                rows = _family(name)(env)
            except Exception as exc:  # a family that cannot even start must not stop the others
                rows = [failed(name, "(family)", exc)]
            durations[name] = time.perf_counter() - t0
            for m in rows:
                print(f"    {m.name}: {m.verdict}", flush=True)
            results += rows
            write_json(results, env.out_dir / "partial.json", meta={"mode": "quick" if quick else "full"})
    finally:
        env.cleanup()
    total = time.perf_counter() - started
    print()
    print(table(results))
    counts = summary(results)
    print(
        f"\n{counts['PASS']} passed, {counts['FAIL']} failed, {counts['ERROR']} errors, {counts['info']} info"
        f" — {total:.0f} s"
    )
    path = write_json(
        results,
        env.out_dir / "latest.json",
        meta={
            "mode": mode,
            "redis_url": env.redis_url,
            "run_id": env.run_id,
            "seconds": total,
            "family_seconds": durations,
            "ingest_seconds": env.sustained_s,
        },
    )
    print(f"wrote {path}")
    return 0 if counts["FAIL"] == 0 and counts["ERROR"] == 0 else 1
