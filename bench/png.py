"""Briefings (family ``png``): cold against warm, for a community and for the street, at 1920×1080, 3840×2160
and A4 PDF — the figures built by the one composition (``dashboard.briefing_export.compose``) on a Runtime over
the demo's simulated day in Redis.

Cold = ``briefing_export.render`` without a snapshotter: a new browser per briefing (start, render, stop — as
a one-off ``onescreen snapshot`` does). Warm = the same figure through one ``Snapshotter`` kept open (the
server's exporter), median of a few runs. The ratio is warm/cold, measured in the same run; the budget is the
issue's: a warm 1920×1080 briefing ≤ 1 s (community and street); 4K and A4 PDF are reported beside them."""

from __future__ import annotations

import time

from bench.env import BenchEnv, demo_path, layers, median
from bench.report import Measurement, failed, ratio
from bench.scenario import seed_redis, simulator_messages
from dashboard.briefing_export import SIZES, BriefingSpec, compose, render
from dashboard.runtime import build_runtime
from dashboard.settings import Settings
from dashboard.snapshot import Format, Snapshotter, missing_render_deps
from incidents.keys import Keys

FAMILY = "briefing"
WARM_BUDGET_S = 1.0
CASES: tuple[tuple[str, str, Format], ...] = (
    ("1920x1080", "1920×1080 PNG", "png"),
    ("3840x2160", "3840×2160 PNG", "png"),
    ("a4", "A4 PDF", "pdf"),
)


def run(env: BenchEnv) -> list[Measurement]:
    try:
        missing = missing_render_deps()
        if missing:
            raise RuntimeError(missing)
        path = demo_path()
        prefix = env.prefix("png")
        client = env.client()
        try:
            seed_redis(client, Keys.for_redis_url(prefix, env.redis_url), simulator_messages(layers(path)))
        finally:
            client.close()
        runtime = build_runtime(Settings.from_env(redis_prefix=prefix, data_path=path), env.redis_url)
        runtime.load_state_once()
        tree = runtime.geo.areas
        community = next(a for a in tree.areas.values() if a.kind == "community")
        street = next(a for a in tree.areas.values() if a.kind == "street")
        rows: list[Measurement] = []
        runs = 3 if env.quick else 5
        with Snapshotter() as snap:
            t0 = time.perf_counter()
            snap.wait_ready(120)
            ready = time.perf_counter() - t0
            for area, label in ((community, "community"), (street, "street")):
                for size, size_label, fmt in CASES:
                    spec = BriefingSpec(area=area.ref, size=SIZES[size], fmt=fmt, masked=True)
                    t0 = time.perf_counter()
                    fig = compose(runtime, spec)
                    compose_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    cold_bytes = render(fig, spec)
                    cold = time.perf_counter() - t0
                    warm: list[float] = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        render(fig, spec, snap)
                        warm.append(time.perf_counter() - t0)
                    w = median(warm)
                    budgeted = size == "1920x1080"
                    rows.append(
                        Measurement(
                            FAMILY,
                            f"{label} {size_label}, warm (median)",
                            w,
                            "s",
                            baseline=cold,
                            baseline_name="cold (new browser)",
                            ratio=ratio(w, cold),
                            budget=f"≤ {WARM_BUDGET_S:g} s" if budgeted else "",
                            passed=(w is not None and w <= WARM_BUDGET_S) if budgeted else None,
                            note=(
                                f"{area.name}; cold {cold:.2f} s, warm {', '.join(f'{t:.2f}' for t in warm)} s; "
                                f"compose {compose_s * 1000:.0f} ms; {len(cold_bytes) / 1024:.0f} KB; ratio = warm/cold"
                            ),
                            extra={"warm_s": warm, "cold_s": cold, "compose_s": compose_s, "ready_s": ready},
                        )
                    )
        runtime.stop()
        return rows
    except Exception as exc:
        return [failed(FAMILY, "briefing", exc)]
