"""Time on screen: one scrubber step (``situation_at`` over a warm log ``Timeline``: a moment a minute from the
last one) against the cold rebuild ``onescreen snapshot --at`` runs (the whole log read), same data, same run.
Also informative: the step as the officials' page pays it (``dashboard.replay.Replay.frame``: the rebuild plus the
console frame).

Data: the simulator's last 24 h through the durable path (demo: its backfill rate; full: a busy street's day,
~10,000 incidents, every change a log entry)."""

from __future__ import annotations

import time

from bench.env import BenchEnv, demo_path, layers, median
from bench.report import Measurement, failed, ratio
from bench.scenario import seed_redis, simulator_messages
from dashboard.figures.incident_map import MapBase
from dashboard.frames import ScreenContext
from dashboard.replay import Replay
from geo.index import SpatialIndex
from incidents.keys import Keys
from incidents.sla import SlaPolicy
from incidents.timetravel import Timeline, refresh_timeline, situation_at

FAMILY = "replay"
STEP_RATIO_BUDGET = 0.25  # a warm scrubber step costs at most a quarter of the cold rebuild


def run(env: BenchEnv) -> list[Measurement]:
    try:
        lay = layers(demo_path())
        index = SpatialIndex(lay)
        keys = Keys.for_redis_url(env.prefix("replay"), env.redis_url)
        client = env.client()
        now = time.time()
        seed_redis(client, keys, simulator_messages(lay, per_hour=60.0 if env.quick else 400.0, now=now))
        entries = int(client.xlen(keys.log))
        sla = SlaPolicy()
        moments = [now - 20 * 3600 + 60 * i for i in range(10 if env.quick else 30)]
        cold: list[float] = []
        for at in moments[:3]:
            t0 = time.perf_counter()
            situation_at(client, keys, at, index.locate, sla)
            cold.append(time.perf_counter() - t0)
        tl = Timeline()
        t0 = time.perf_counter()
        refresh_timeline(client, keys, tl)
        first = time.perf_counter() - t0
        warm: list[float] = []
        for at in moments:
            t0 = time.perf_counter()
            view, _ = situation_at(client, keys, at, index.locate, sla, timeline=tl)
            warm.append(time.perf_counter() - t0)
        base = MapBase.from_layers(lay)
        replay = Replay(lambda: client, keys, index.locate, sla, base_for=lambda _ctx: base, areas=None, boot_id="b")
        replay.view_at(moments[0])  # warm
        frames: list[float] = []
        ctx = ScreenContext.of("console", "zh", masked=False)
        for at in moments[1:]:
            t0 = time.perf_counter()
            replay.frame(ctx, at + 30)
            frames.append(time.perf_counter() - t0)
        client.close()
        c, w, f = median(cold), median(warm), median(frames)
        note = f"{entries:,} log entries, {len(view.incidents):,} incidents at the moment; timeline read {first:.2f} s"
        return [
            Measurement(
                FAMILY,
                "scrubber step: situation_at on a warm timeline (median)",
                w,
                "s",
                baseline=c,
                baseline_name="cold situation_at (whole log read)",
                ratio=ratio(w, c),
                budget=f"ratio ≤ {STEP_RATIO_BUDGET:g}",
                passed=w is not None and c is not None and w <= STEP_RATIO_BUDGET * c,
                note=note + "; ratio = warm/cold",
                extra={"warm_s": warm, "cold_s": cold, "timeline_s": first, "entries": entries},
            ),
            Measurement(
                FAMILY,
                "scrubber step as the page pays it: rebuild + console frame (median)",
                f,
                "s",
                baseline=c,
                baseline_name="cold situation_at",
                ratio=ratio(f, c),
                note="informative",
                extra={"frame_s": frames},
            ),
        ]
    except Exception as exc:
        return [failed(FAMILY, "scrubber step", exc)]
