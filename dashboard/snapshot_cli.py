"""`onescreen snapshot [--at T]`: the situation (now, or at a past moment) as a 1920×1080 briefing PNG.

The PNG is one more consumer of the frames the screens use: the current situation's briefing frame comes from
the Runtime's frame hub, a past moment's from the same ``screen_frame`` over the rebuilt view — so the PNG shows
what the wall shows.
"""

from __future__ import annotations

import time
from pathlib import Path

import plotly.graph_objects as go

from dashboard.figures.briefing import build_briefing
from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame, ScreenContext, screen_frame
from dashboard.runtime import build_runtime, load_sla, redis_client
from dashboard.settings import Settings
from dashboard.snapshot import render_png
from incidents.timetravel import situation_at


def briefing_from_frame(
    base: MapBase, frame: Frame, *, street_name: str, at: float | None = None, now: float | None = None
) -> go.Figure:
    """The briefing figure of ``frame`` (a ``briefing`` or ``wall`` context): the wall's grid colours, markers
    and KPIs. ``at``: the frame is of that past moment (time travel); ``now``: the "generated" stamp."""
    return build_briefing(
        base,
        frame.grid_z,
        frame.incidents,
        frame.kpi_values,
        street_name=street_name,
        now=time.time() if now is None else now,
        lang=frame.ctx.lang,
        at=at,
    )


def snapshot_from_redis(
    settings: Settings, redis_url: str, out: Path, *, lang: str = "zh", at: float | None = None
) -> Path:
    """Write the briefing PNG of the current situation, or of the moment ``at`` (time travel, from the log)."""
    runtime = build_runtime(settings, redis_url)
    ctx = ScreenContext.of("briefing", lang)
    if at is None:
        runtime.load_state_once()
        frame = runtime.hub.frame(ctx)
    else:
        client = redis_client(redis_url, 10.0)
        try:
            view, _ = situation_at(client, runtime.keys, at, runtime.index.locate, load_sla(settings))
        finally:
            client.close()
        frame = screen_frame(view, runtime.map_base, ctx, boot_id=runtime.boot_id)
    render_png(briefing_from_frame(runtime.map_base, frame, street_name=runtime.street_name, at=at), out)
    return out
