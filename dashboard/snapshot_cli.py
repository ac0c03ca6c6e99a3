"""`onescreen snapshot [--at T] [--area KIND:ID] [--size …]`: the situation (now, or at a past moment; everything
or one area) as a briefing PNG/PDF — the figure part of the one composition in ``dashboard.briefing_export``.

The PNG is one more consumer of the frames the screens use: the current situation's briefing frame comes from
the Runtime's frame hub, a past moment's from the same ``screen_frame`` over the rebuilt view — so the PNG shows
what the wall shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import plotly.graph_objects as go

from dashboard import i18n
from dashboard.figures.briefing import LANDSCAPE, Page, build_briefing
from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame, ScreenContext
from dashboard.layouts.areas import area_title
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings
from dashboard.snapshot import Format, _write


def briefing_from_frame(
    base: MapBase,
    frame: Frame,
    *,
    street_name: str,
    at: float | None = None,
    now: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    page: Page = LANDSCAPE,
    watermark: bool = False,
    assignees: Mapping[str, str] | None = None,
) -> go.Figure:
    """The briefing figure of ``frame`` (a ``briefing`` or ``wall`` context): the wall's grid colours, markers
    and KPIs. ``at``: the frame is of that past moment (time travel); ``now``: the "generated" stamp;
    ``bounds``: the map's extent (the frame's area); ``page``, ``watermark``, ``assignees``: ``build_briefing``."""
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
        page=page,
        watermark=watermark,
        assignees=assignees,
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
    page: Page = LANDSCAPE,
    watermark: bool = False,
) -> go.Figure:
    """The briefing of area ``area`` (a ``geo.areas`` ref; None or the root: everything), ``frame_of(ctx)``
    giving its frame: named after the area and framed on it. ``AreaError`` for a ref the data set lacks.
    ``scope``: a confined actor's areas (only their incidents and KPIs); ``masked``: free text scrubbed
    (``ScreenContext``) and assignees' names masked (张*明); ``page``/``watermark``: ``build_briefing``."""
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
        page=page,
        watermark=watermark,
        assignees=assignee_names(runtime, masked=masked),
    )


def assignee_names(runtime: Runtime, *, masked: bool) -> dict[str, str]:
    """Member id → name (张*明 when ``masked``), for the lists that name assignees; computed once per runtime."""

    def names() -> dict[str, str]:
        m = runtime.layers.members
        if m is None or not len(m) or "name" not in m.columns:
            return {}
        shown = m["name"].astype(str).map(i18n.mask_name) if masked else m["name"].astype(str)
        return dict(zip(m["member_id"].astype(str), shown, strict=True))

    return runtime.memo(("briefing.assignees", masked), names)


def snapshot_from_redis(
    settings: Settings,
    redis_url: str,
    out: Path,
    *,
    lang: str = "zh",
    at: float | None = None,
    area: str | None = None,
    size: str | None = None,
    fmt: Format = "png",
    watermark: bool = False,
    masked: bool = True,
) -> Path:
    """Write the briefing (``dashboard.briefing_export``: ``size`` 1920x1080 / 3840x2160 / a4, PNG or — A4 —
    PDF) of the current situation, or of the moment ``at`` (time travel, from the log), of the whole data set or
    of ``area``, with a one-shot browser. ``AreaError`` for an area the data set does not have; ``ValueError``
    for a bad size/format; ``SnapshotError`` when nothing could be drawn."""
    from dashboard.briefing_export import BriefingSpec, compose, parse_size, render

    spec = BriefingSpec(area=area, at=at, size=parse_size(size), fmt=fmt, watermark=watermark, lang=lang, masked=masked)
    runtime = build_runtime(settings, redis_url)
    if at is None:
        runtime.load_state_once()
    data = render(compose(runtime, spec), spec)
    _write(data, out)
    return out
