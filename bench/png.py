"""Briefing PNG: a cold ``render_png`` (starts and stops a browser, as ``onescreen snapshot`` does) against a warm
``Snapshotter.render`` (one kaleido browser kept open) of the same briefing figure, built from the briefing frame
like snapshot_cli."""

from __future__ import annotations

import time
from pathlib import Path

import plotly.graph_objects as go

from bench.env import BenchEnv, demo_path, layers, median
from bench.report import Measurement, failed, ratio
from bench.scenario import seed_redis, simulator_messages, situation_from_redis
from dashboard.figures.incident_map import MapBase
from dashboard.frames import ScreenContext, screen_frame
from dashboard.snapshot import Snapshotter, png_size, render_png
from dashboard.snapshot_cli import briefing_from_frame
from incidents.keys import Keys

FAMILY = "PNG"
WARM_BUDGET_S = 1.0


def briefing_figure(env: BenchEnv, path: Path) -> go.Figure:
    lay = layers(path)
    keys = Keys.for_redis_url(env.prefix("png"), env.redis_url)
    client = env.client()
    try:
        seed_redis(client, keys, simulator_messages(lay))
        situation = situation_from_redis(client, keys, lay)
    finally:
        client.close()
    base = MapBase.from_layers(lay)
    frame = screen_frame(situation.view(time.time()), base, ScreenContext.of("briefing", "zh"))
    street = str(lay.street["name"].iloc[0]) if len(lay.street) else "onescreen"
    return briefing_from_frame(base, frame, street_name=street, now=frame.now)


def run(env: BenchEnv) -> list[Measurement]:
    try:
        fig = briefing_figure(env, demo_path())
        t0 = time.perf_counter()
        cold_png = render_png(fig)
        cold = time.perf_counter() - t0
        warm: list[float] = []
        with Snapshotter() as snap:
            t0 = time.perf_counter()
            snap.wait_ready(120)
            ready = time.perf_counter() - t0
            for _ in range(3 if env.quick else 5):
                t0 = time.perf_counter()
                data = snap.render(fig)
                warm.append(time.perf_counter() - t0)
        w = median(warm)
        width, height = png_size(data)
        return [
            Measurement(
                FAMILY,
                "briefing PNG, warm Snapshotter.render (demo, median)",
                w,
                "s",
                baseline=cold,
                baseline_name="cold render_png",
                ratio=ratio(w, cold),
                budget=f"≤ {WARM_BUDGET_S:g} s",
                passed=w is not None and w <= WARM_BUDGET_S,
                note=(
                    f"{width}×{height}, {len(cold_png) / 1024:.0f} KB; "
                    f"warm runs {', '.join(f'{t:.2f}' for t in warm)} s;"
                    f" Snapshotter start → ready {ready:.1f} s; ratio = warm/cold"
                ),
                extra={"warm_s": warm, "cold_s": cold, "ready_s": ready},
            )
        ]
    except Exception as exc:
        return [failed(FAMILY, "briefing PNG", exc)]
