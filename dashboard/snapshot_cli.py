"""`onescreen snapshot [--at T] [--area KIND:ID]`: the situation (now, or at a past moment; everything or one
area) as a 1920×1080 briefing PNG.

The PNG is one more consumer of the frames the screens use: the current situation's briefing frame comes from
the Runtime's frame hub, a past moment's from the screens' replay (``dashboard.replay``: ``screen_frame`` over
``situation_at``'s view, as ``?at=`` shows it) — so the PNG shows what the wall shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go

from dashboard.figures.briefing import build_briefing
from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame, ScreenContext
from dashboard.layouts.areas import area_title
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings
from dashboard.snapshot import render_png


def briefing_from_frame(
    base: MapBase,
    frame: Frame,
    *,
    street_name: str,
    at: float | None = None,
    now: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> go.Figure:
    """The briefing figure of ``frame`` (a ``briefing`` or ``wall`` context): the wall's grid colours, markers
    and KPIs. ``at``: the frame is of that past moment (time travel); ``now``: the "generated" stamp;
    ``bounds``: the map's extent (the frame's area)."""
    return build_briefing(
        base,
        frame.grid_z,
        frame.incidents,
        frame.kpi_values,
        street_name=street_name,
        now=time.time() if now is None else now,
        lang=frame.ctx.lang,
        at=at,
        bounds=bounds,
        area_counts=frame.area_counts,
    )


def scoped_briefing(
    runtime: Runtime,
    lang: str,
    area: str | None,
    frame_of: Callable[[ScreenContext], Frame],
    *,
    at: float | None = None,
    scope: tuple[str, ...] = (),
    masked: bool = False,
) -> go.Figure:
    """The briefing of area ``area`` (a ``geo.areas`` ref; None or the root: everything), ``frame_of(ctx)``
    giving its frame: named after the area and framed on it. ``AreaError`` for a ref the data set lacks.
    ``scope``: a confined actor's areas (only their incidents and KPIs); ``masked``: free text scrubbed
    (``ScreenContext``)."""
    tree = runtime.geo.areas
    ref = tree.get(area).ref if area else tree.root
    ctx = ScreenContext.of("briefing", lang, area="" if ref == tree.root else ref, scope=scope, masked=masked)
    path = tree.path(ref)
    return briefing_from_frame(
        runtime.hub.base_for(ctx),
        frame_of(ctx),
        street_name=area_title(path),
        at=at,
        bounds=path[-1].bbox if ctx.area else None,
    )


def snapshot_from_redis(
    settings: Settings,
    redis_url: str,
    out: Path,
    *,
    lang: str = "zh",
    at: float | None = None,
    area: str | None = None,
) -> Path:
    """Write the briefing PNG of the current situation, or of the moment ``at`` (time travel, from the log), of
    the whole data set or of ``area``. ``AreaError`` for an area the data set does not have."""
    runtime = build_runtime(settings, redis_url)
    frame_of: Callable[[ScreenContext], Frame]
    if at is None:
        runtime.load_state_once()
        frame_of = runtime.hub.frame
    else:
        # the screens' own replay (``?at=``, the scrubber): the same rebuild and the same frames, read cold here
        replay = runtime.replay

        def frame_of(ctx: ScreenContext) -> Frame:
            return replay.frame(ctx, at)[0]

    render_png(scoped_briefing(runtime, lang, area, frame_of, at=at), out)
    return out
