"""The 1920×1080 briefing figure for PNG export (kaleido).

Pure SVG: the map is drawn on plain cartesian axes (no MapLibre/WebGL, which is unreliable in headless
Chromium) with an equal-area aspect (y scaled by 1/cos(lat), via ``scaleanchor``). Grid polygons are one
filled ``go.Scatter`` per grid state (rings separated by ``None``); incidents are markers by status with
real outlines (overdue = red ring, urgent = magenta diamond). Text uses Noto Sans CJK SC (fonts-noto-cjk).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboard import i18n
from geo.privacy import plotly_text
from incidents.model import OPEN_STATUS_VALUES

from .incident_map import (
    GRID_STATE_COLORS,
    GRID_STATE_ORDER,
    MAP_STATUSES,
    OVERDUE_COLOR,
    STATUS_COLORS,
    TRACE_OVERDUE_HALO,
    TRACE_STATUS,
    TRACE_URGENT,
    URGENT_COLOR,
    MapBase,
    area_count_text,
    incident_trace_updates,
)
from .kpi import BRIEFING_KPIS, kpi_get, kpi_tiles, trend_hour_labels

WIDTH, HEIGHT = 1920, 1080
FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif'
NUM_FONT = '"DejaVu Sans", "Noto Sans CJK SC", sans-serif'

BG = "#041228"
PANEL = "rgba(12,36,74,0.78)"
PANEL_LINE = "rgba(64,140,255,0.45)"
TEXT = "#d6e6ff"
TEXT_DIM = "#8aa6cf"
SEVERITY_COLORS = {"normal": "#f1f7ff", "good": "#38d9a9", "warn": "#ffc078", "alert": "#ff6b6b"}

# Layout in paper fractions (y from the bottom).
HEADER_Y0 = 1 - 96 / HEIGHT
KPI_Y0, KPI_Y1 = 1 - 222 / HEIGHT, 1 - 112 / HEIGHT
MAP_X0, MAP_X1 = 24 / WIDTH, 1250 / WIDTH
MAP_Y0, MAP_Y1 = 24 / HEIGHT, 1 - 240 / HEIGHT
SIDE_X0, SIDE_X1 = 1270 / WIDTH, 1 - 24 / WIDTH


def _rings(geojson: Mapping[str, Any], ids: Iterable[str] | None = None) -> tuple[list[float | None], ...]:
    """Exterior rings of the selected features as one x/y pair of lists separated by None."""
    wanted = None if ids is None else set(ids)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for f in geojson.get("features", []):
        if wanted is not None and str(f.get("id")) not in wanted:
            continue
        g = f["geometry"]
        polys = (
            [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"] if g["type"] == "MultiPolygon" else []
        )
        for poly in polys:
            ring = poly[0]
            xs.extend(p[0] for p in ring)
            ys.extend(p[1] for p in ring)
            xs.append(None)
            ys.append(None)
    return xs, ys


def _panel(
    x0: float, y0: float, x1: float, y1: float, title: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    shape = {
        "type": "rect",
        "xref": "paper",
        "yref": "paper",
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "fillcolor": PANEL,
        "line": {"color": PANEL_LINE, "width": 1},
        "layer": "below",
    }
    notes = []
    if title:
        notes.append(
            {
                "text": f"<b>▍{title}</b>",
                "xref": "paper",
                "yref": "paper",
                "x": x0 + 12 / WIDTH,
                "y": y1 - 8 / HEIGHT,
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 20, "color": TEXT},
            }
        )
    return shape, notes


def _kpi_cards(kpis: Any, lang: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tiles = kpi_tiles(kpis, BRIEFING_KPIS, lang)
    n = len(tiles)
    gap = 14 / WIDTH
    width = (1 - 48 / WIDTH - gap * (n - 1)) / n
    shapes, notes = [], []
    for i, tile in enumerate(tiles):
        x0 = 24 / WIDTH + i * (width + gap)
        color = SEVERITY_COLORS[tile.severity]
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "yref": "paper",
                "x0": x0,
                "x1": x0 + width,
                "y0": KPI_Y0,
                "y1": KPI_Y1,
                "fillcolor": "rgba(18,52,104,0.85)",
                "line": {"color": "rgba(255,107,107,0.8)" if tile.severity == "alert" else PANEL_LINE, "width": 1},
                "layer": "below",
            }
        )
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "yref": "paper",
                "x0": x0,
                "x1": x0 + 5 / WIDTH,
                "y0": KPI_Y0,
                "y1": KPI_Y1,
                "fillcolor": color if tile.severity != "normal" else "#4dabf7",
                "line": {"width": 0},
            }
        )
        notes.append(
            {
                "text": tile.label + (f"<span style='font-size:14px'> {tile.window}</span>" if tile.window else ""),
                "x": x0 + 18 / WIDTH,
                "y": KPI_Y1 - 12 / HEIGHT,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 19, "color": TEXT_DIM},
            }
        )
        notes.append(
            {
                "text": f"<b>{tile.value}</b><span style='font-size:18px;color:{TEXT_DIM}'> {tile.unit}</span>",
                "x": x0 + 18 / WIDTH,
                "y": KPI_Y0 + 12 / HEIGHT,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 44, "color": color, "family": NUM_FONT},
            }
        )
    for a in notes:
        a.update({"xref": "paper", "yref": "paper", "showarrow": False})
    return shapes, notes


def _map_traces(
    base: MapBase, grid_z: Sequence[int], incidents: pd.DataFrame | None, lang: str, area_counts: Sequence[int] = ()
) -> list[go.Scatter]:
    traces: list[go.Scatter] = []
    z = list(grid_z) if len(grid_z) == len(base.grid_ids) else [0] * len(base.grid_ids)
    for rank, state in enumerate(GRID_STATE_ORDER):
        sel = [gid for gid, r in zip(base.grid_ids, z, strict=True) if r == rank]
        xs, ys = _rings(base.geojson, sel)
        n = len(sel)
        traces.append(
            go.Scatter(
                x=xs or [None],
                y=ys or [None],
                mode="lines",
                fill="toself",
                fillcolor=_alpha(GRID_STATE_COLORS[str(state)], 0.5),
                line={"color": "rgba(140,190,255,0.55)", "width": 0.8},
                name=f"{i18n.grid_state_label(state, lang)}（{n}）"
                if lang == "zh"
                else f"{i18n.grid_state_label(state, lang)} ({n})",
                legendgroup="grids",
                legendgrouptitle={"text": i18n.t("legend.grid_states", lang)} if rank == 0 else None,
                hoverinfo="skip",
            )
        )
    if base.community_geojson:
        xs, ys = _rings(base.community_geojson)
        traces.append(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": "rgba(200,225,255,0.9)", "width": 2.2},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    lon, lat = base.label_points
    if lon and len(area_counts) == len(lon):  # a district's overview: each community's open count, as on the wall
        traces.append(
            go.Scatter(
                x=lon, y=lat, mode="text", text=area_count_text(area_counts), textposition="bottom center",
                textfont={"size": 20, "color": "#ffd166", "weight": "bold"}, showlegend=False, hoverinfo="skip",
            )
        )  # fmt: skip
    ups = incident_trace_updates(incidents, lang)
    for s in MAP_STATUSES:
        u = ups[TRACE_STATUS[str(s)]]
        traces.append(
            go.Scatter(
                x=u["lon"],
                y=u["lat"],
                mode="markers",
                marker={"size": 11, "color": STATUS_COLORS[str(s)], "line": {"color": "#061226", "width": 1.2}},
                name=f"{i18n.status_label(s, lang)}（{len(u['lon'])}）"
                if lang == "zh"
                else f"{i18n.status_label(s, lang)} ({len(u['lon'])})",
                legendgroup="status",
                legendgrouptitle={"text": i18n.t("legend.incidents", lang)} if s == MAP_STATUSES[0] else None,
            )
        )
    halo = ups[TRACE_OVERDUE_HALO]
    traces.append(
        go.Scatter(
            x=halo["lon"],
            y=halo["lat"],
            mode="markers",
            marker={
                "size": 24,
                "symbol": "circle-open",
                "color": OVERDUE_COLOR,
                "line": {"width": 3, "color": OVERDUE_COLOR},
            },
            name=i18n.t("legend.overdue", lang)
            + (f"（{len(halo['lon'])}）" if lang == "zh" else f" ({len(halo['lon'])})"),
            legendgroup="status",
        )
    )
    urgent = ups[TRACE_URGENT]
    traces.append(
        go.Scatter(
            x=urgent["lon"],
            y=urgent["lat"],
            mode="markers",
            marker={"size": 15, "symbol": "diamond", "color": URGENT_COLOR, "line": {"width": 1.5, "color": "#ffffff"}},
            name=i18n.t("legend.urgent", lang)
            + (f"（{len(urgent['lon'])}）" if lang == "zh" else f" ({len(urgent['lon'])})"),
            legendgroup="status",
        )
    )
    for tr in traces:
        tr.update(xaxis="x", yaxis="y", hoverinfo="skip")
    return traces


def _alpha(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


def _overdue_lines(incidents: pd.DataFrame | None, lang: str, now: float, n: int = 6) -> list[str]:
    if incidents is None or len(incidents) == 0 or "overdue" not in incidents.columns:
        return []
    df = incidents[incidents["overdue"].fillna(False).astype(bool) & incidents["status"].isin(OPEN_STATUS_VALUES)]
    df = df.sort_values("created_ts" if "created_ts" in df.columns else "ts").head(n)
    lines = []
    for r in df.to_dict("records"):
        cat = (
            r.get("category_label")
            if lang == "zh" and r.get("category_label")
            else i18n.category_label(r.get("category"), lang)
        )
        title = plotly_text(str(r.get("title") or cat)[:16])  # drawn as typed: no <br>/<span> of its own
        age = i18n.fmt_age(now - float(r.get("created_ts") or r.get("ts") or now), lang)
        status = i18n.status_label(r.get("status"), lang)
        lines.append(
            f"<span style='color:{OVERDUE_COLOR}'>●</span> <b>{title}</b>"
            f"  <span style='color:{TEXT_DIM}'>{plotly_text(str(r.get('grid_id', '')))} · {status} · {age}</span>"
        )
    return lines


def build_briefing(
    base: MapBase,
    grid_z: Sequence[int],
    incidents: pd.DataFrame | None,
    kpis: Any,
    *,
    street_name: str,
    now: float | None = None,
    lang: str = "zh",
    at: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    area_counts: Sequence[int] = (),
) -> go.Figure:
    """The briefing page: header (street, timestamp), KPI cards, SVG map with overlays and legend,
    24 h trend, open incidents by category, top overdue incidents.

    ``grid_z``: grid-state rank per grid in ``base.grid_ids`` order (``grid_fill_z``; an empty list = all
    clear); ``incidents``: the incidents to draw — pass a ``dashboard.frames.Frame``'s ``grid_z`` and
    ``incidents`` (``dashboard.snapshot.briefing_from_frame``) so the PNG shows exactly what the wall shows.

    ``at``: a historical briefing (time travel) of the situation at that moment; the title names the moment
    and every clock-dependent part (trend hours, overdue ages) uses it; ``now`` is then only the "generated"
    stamp. ``bounds``: the map's extent (an area's bbox: min lon, min lat, max lon, max lat), default the data's.
    ``area_counts``: a district overview's open incidents per community (``Frame.area_counts``), written on the map.
    """
    lang = i18n.norm_lang(lang)
    generated = time.time() if now is None else now
    now = generated if at is None else at
    fig = go.Figure(_map_traces(base, grid_z, incidents, lang, area_counts))

    # ---- map axes: equal-area aspect around the street ----
    min_lon, min_lat, max_lon, max_lat = bounds or base.bounds
    lat0 = (min_lat + max_lat) / 2
    pad_x = (max_lon - min_lon) * 0.04 or 0.001
    pad_y = (max_lat - min_lat) * 0.04 or 0.001
    axis_off = {"visible": False, "showgrid": False, "zeroline": False, "fixedrange": True}
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []

    # header band
    shapes.append(
        {
            "type": "rect",
            "xref": "paper",
            "yref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": HEADER_Y0,
            "y1": 1,
            "fillcolor": "#0a2a5c",
            "line": {"width": 0},
            "layer": "below",
        }
    )
    shapes.append(
        {
            "type": "line",
            "xref": "paper",
            "yref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": HEADER_Y0,
            "y1": HEADER_Y0,
            "line": {"color": "#4dabf7", "width": 2},
        }
    )
    if at is None:
        title = i18n.t("briefing.title", lang, street=plotly_text(street_name))
    else:
        title = i18n.t("briefing.title_at", lang, street=plotly_text(street_name), time=i18n.fmt_datetime(at, lang))
    notes += [
        {
            "text": i18n.t("briefing.generated", lang, time=i18n.fmt_datetime(generated, lang)),
            "x": 1 - 24 / WIDTH,
            "y": 1 - 36 / HEIGHT,
            "xanchor": "right",
            "yanchor": "middle",
            "font": {"size": 22, "color": "#f1f7ff"},
        },
        {
            "text": f"{i18n.t('app.title', lang)} · {i18n.t('app.subtitle', lang)}",
            "x": 1 - 24 / WIDTH,
            "y": 1 - 70 / HEIGHT,
            "xanchor": "right",
            "yanchor": "middle",
            "font": {"size": 16, "color": TEXT_DIM},
        },
    ]
    s, n = _kpi_cards(kpis, lang)
    shapes += s
    notes += n

    # scale bar (a round length ≈ 1/5 of the street's width) and north arrow, in map data coordinates
    metres_per_deg = 111_320 * math.cos(math.radians(lat0))
    target = (max_lon - min_lon) * metres_per_deg / 5
    bar_m = max((m for m in (50, 100, 200, 250, 500, 1000, 2000, 5000, 10000) if m <= max(target, 50)), default=50)
    bx1, by = max_lon + pad_x * 0.2, min_lat - pad_y * 0.55
    bx0 = bx1 - bar_m / metres_per_deg
    shapes.append(
        {
            "type": "line",
            "xref": "x",
            "yref": "y",
            "x0": bx0,
            "x1": bx1,
            "y0": by,
            "y1": by,
            "line": {"color": TEXT, "width": 3},
        }
    )
    notes += [
        {
            "text": i18n.t("console.distance_m", lang, d=f"{bar_m:,}") if bar_m < 1000 else f"{bar_m / 1000:g} km",
            "xref": "x",
            "yref": "y",
            "x": (bx0 + bx1) / 2,
            "y": by,
            "yanchor": "bottom",
            "font": {"size": 14, "color": TEXT},
        },
        {
            "text": "<b>N</b><br>▲",
            "xref": "x",
            "yref": "y",
            "x": max_lon + pad_x * 0.6,
            "y": max_lat + pad_y * 0.3,
            "xanchor": "center",
            "yanchor": "top",
            "font": {"size": 15, "color": TEXT},
        },
    ]

    # map panel
    s1, n1 = _panel(MAP_X0, MAP_Y0, MAP_X1, MAP_Y1)
    shapes.append(s1)
    notes += n1

    # side panels: trend, category, overdue list
    side_h = MAP_Y1 - MAP_Y0
    gap = 16 / HEIGHT
    h = (side_h - 2 * gap) / 3
    y_trend = (MAP_Y1 - h, MAP_Y1)
    y_cat = (y_trend[0] - gap - h, y_trend[0] - gap)
    y_list = (MAP_Y0, y_cat[0] - gap)
    for (y0, y1), key in (
        (y_trend, "briefing.trend"),
        (y_cat, "briefing.by_category"),
        (y_list, "briefing.top_overdue"),
    ):
        sp, npn = _panel(SIDE_X0, y0, SIDE_X1, y1, i18n.t(key, lang))
        shapes.append(sp)
        notes += npn

    # 24 h trend (x2/y2)
    trend = [0.0 if i18n.is_missing(v) else float(v) for v in (kpi_get(kpis, "trend_24h") or [])]
    labels = trend_hour_labels(len(trend), kpi_get(kpis, "trend_start"), now)
    colors = ["#3aa0ff"] * len(trend)
    if colors:
        colors[-1] = "#ffd43b"
    fig.add_trace(
        go.Bar(
            x=list(range(len(trend))),
            y=trend,
            marker={"color": colors},
            xaxis="x2",
            yaxis="y2",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    # by category (x3/y3)
    by_cat = {str(k): float(v) for k, v in dict(kpi_get(kpis, "by_category") or {}).items()}
    items = sorted(by_cat.items(), key=lambda kv: (-kv[1], kv[0]))[:6][::-1]
    fig.add_trace(
        go.Bar(
            x=[v for _, v in items],
            y=[i18n.category_label(k, lang) for k, _ in items],
            orientation="h",
            marker={"color": "#3aa0ff"},
            text=[f"{v:.0f}" for _, v in items],
            textposition="outside",
            cliponaxis=False,
            textfont={"color": TEXT, "size": 16},
            xaxis="x3",
            yaxis="y3",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    # overdue list
    lines = _overdue_lines(incidents, lang, now)
    notes.append(
        {
            "text": "<br>".join(lines)
            if lines
            else f"<span style='color:{TEXT_DIM}'>{i18n.t('briefing.none', lang)}</span>",
            "x": SIDE_X0 + 18 / WIDTH,
            "y": y_list[1] - 48 / HEIGHT,
            "xanchor": "left",
            "yanchor": "top",
            "align": "left",
            "font": {"size": 18, "color": TEXT},
        }
    )
    for a in notes:
        a.setdefault("xref", "paper")
        a.setdefault("yref", "paper")
        a.setdefault("showarrow", False)

    inner = 12 / WIDTH
    step = 4 if len(trend) > 12 else 1
    fig.update_layout(
        width=WIDTH,
        height=HEIGHT,
        paper_bgcolor=BG,
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT, "color": TEXT, "size": 16},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        shapes=shapes,
        annotations=notes,
        title={
            "text": f"<b>{title}</b>",
            "x": 24 / WIDTH,
            "y": 1 - 48 / HEIGHT,
            "xanchor": "left",
            "yanchor": "middle",
            "xref": "paper",
            "yref": "container",
            "font": {"size": 40, "color": "#f1f7ff"},
        },
        xaxis={
            **axis_off,
            "domain": [MAP_X0 + inner, MAP_X1 - inner],
            "range": [min_lon - pad_x, max_lon + pad_x],
            "constrain": "domain",
        },
        yaxis={
            **axis_off,
            "domain": [MAP_Y0 + 12 / HEIGHT, MAP_Y1 - 12 / HEIGHT],
            "range": [min_lat - pad_y, max_lat + pad_y],
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
            "constrain": "domain",
        },
        xaxis2={
            "domain": [SIDE_X0 + 20 / WIDTH, SIDE_X1 - 16 / WIDTH],
            "anchor": "y2",
            "tickmode": "array",
            "tickvals": list(range(0, len(trend), step)),
            "ticktext": [labels[i] + ("时" if lang == "zh" else "h") for i in range(0, len(trend), step)],
            "tickfont": {"size": 14, "color": TEXT_DIM},
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        yaxis2={
            "domain": [y_trend[0] + 34 / HEIGHT, y_trend[1] - 52 / HEIGHT],
            "anchor": "x2",
            "gridcolor": "rgba(120,170,255,0.15)",
            "tickfont": {"size": 14, "color": TEXT_DIM},
            "zeroline": False,
            "nticks": 4,
            "fixedrange": True,
        },
        xaxis3={
            "domain": [SIDE_X0 + 140 / WIDTH, SIDE_X1 - 60 / WIDTH],
            "anchor": "y3",
            "visible": False,
            "range": [0, (max(by_cat.values()) if by_cat else 1) * 1.1],
            "fixedrange": True,
        },
        yaxis3={
            "domain": [y_cat[0] + 14 / HEIGHT, y_cat[1] - 50 / HEIGHT],
            "anchor": "x3",
            "tickfont": {"size": 16, "color": TEXT},
            "ticks": "",
            "showgrid": False,
            "fixedrange": True,
        },
        bargap=0.28,
        showlegend=True,
        legend={
            "x": MAP_X0 + 16 / WIDTH,
            "y": MAP_Y0 + 16 / HEIGHT,
            "xanchor": "left",
            "yanchor": "bottom",
            "bgcolor": "rgba(4,14,32,0.85)",
            "bordercolor": PANEL_LINE,
            "borderwidth": 1,
            "font": {"size": 16, "color": TEXT},
            "groupclick": "toggleitem",
            "tracegroupgap": 10,
            "itemsizing": "constant",
        },
        meta={"street": street_name, "generated": now},
    )
    return fig
