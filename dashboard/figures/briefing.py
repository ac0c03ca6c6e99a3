"""The briefing figure for PNG/PDF export (kaleido): a 1920×1080 landscape page (the wall's proportions; 3840×2160
is the same page at scale 2) or an A4 portrait page (1240×1754 CSS px: map on top, KPIs, trend and categories
side by side, the overdue list below; 2480×3508 px = 300 dpi at scale 2, or a one-page A4 PDF).

Pure SVG: the map is drawn on plain cartesian axes (no MapLibre/WebGL, which is unreliable in headless
Chromium) with an equal-area aspect (y scaled by 1/cos(lat), via ``scaleanchor``). Grid polygons are one
filled ``go.Scatter`` per grid state (rings separated by ``None``); incidents are markers by status with
real outlines (overdue = red ring, urgent = magenta diamond). Text uses Noto Sans CJK SC (fonts-noto-cjk).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

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
    STATUS_COLORS_LIGHT,
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
A4_WIDTH, A4_HEIGHT = 1240, 1754  # A4 (210 × 297 mm) at 150 dpi; 300 dpi at scale 2
FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif'
NUM_FONT = '"DejaVu Sans", "Noto Sans CJK SC", sans-serif'


@dataclass(frozen=True)
class Ink:
    """The briefing's colours: ``SCREEN`` (the wall's dark theme, for a screen or a projector) or ``PAPER`` (dark
    ink on white for print: a dark A4 page empties a toner cartridge and greys out on a copier)."""

    name: Literal["screen", "paper"]
    bg: str
    header: str  # the header band
    accent: str  # the header's rule, the neutral KPI bar
    panel: str
    panel_line: str
    card: str  # a KPI card's fill
    text: str
    text_dim: str
    text_strong: str  # title, the generated stamp
    severity: Mapping[str, str]  # a KPI value by its severity
    status: Mapping[str, str]  # incident markers by status
    marker_line: str
    grid_line: str
    community_line: str
    count_text: str  # a district overview's per-community open counts
    bar: str
    bar_now: str  # the trend's current hour
    axis_grid: str
    legend_bg: str
    watermark: str


SCREEN = Ink(
    name="screen",
    bg="#041228",
    header="#0a2a5c",
    accent="#4dabf7",
    panel="rgba(12,36,74,0.78)",
    panel_line="rgba(64,140,255,0.45)",
    card="rgba(18,52,104,0.85)",
    text="#d6e6ff",
    text_dim="#8aa6cf",
    text_strong="#f1f7ff",
    severity={"normal": "#f1f7ff", "good": "#38d9a9", "warn": "#ffc078", "alert": "#ff6b6b"},
    status=STATUS_COLORS,
    marker_line="#061226",
    grid_line="rgba(140,190,255,0.55)",
    community_line="rgba(200,225,255,0.9)",
    count_text="#ffd166",
    bar="#3aa0ff",
    bar_now="#ffd43b",
    axis_grid="rgba(120,170,255,0.15)",
    legend_bg="rgba(4,14,32,0.85)",
    watermark="rgba(255,255,255,0.13)",
)
PAPER = Ink(
    name="paper",
    bg="#ffffff",
    header="#e7eef8",
    accent="#1c5fb8",
    panel="rgba(255,255,255,0)",
    panel_line="#9fb3cc",
    card="#f4f7fb",
    text="#1b2a3d",
    text_dim="#5a6b80",
    text_strong="#0b1f3a",
    severity={"normal": "#0b1f3a", "good": "#0b8a5f", "warn": "#c2570c", "alert": "#c92a2a"},
    status=STATUS_COLORS_LIGHT,
    marker_line="#ffffff",
    grid_line="rgba(60,80,110,0.55)",
    community_line="#24364f",
    count_text="#a3480a",
    bar="#1c7ed6",
    bar_now="#e8590c",
    axis_grid="rgba(60,80,110,0.18)",
    legend_bg="rgba(255,255,255,0.92)",
    watermark="rgba(20,40,70,0.10)",
)

Rect = tuple[float, float, float, float]  # x0, top, x1, bottom in px from the page's top-left corner


@dataclass(frozen=True)
class Page:
    """Where each part of the briefing goes on a ``w``×``h`` CSS-px page (``rect``s in px from the top-left)."""

    kind: Literal["landscape", "a4"]
    w: int
    h: int
    header_h: float
    kpi: Rect  # the KPI cards' block
    kpi_rows: int
    map: Rect
    trend: Rect
    category: Rect
    overdue: Rect
    overdue_rows: int  # incidents listed
    title_chars: int  # an incident title is cut after this many characters
    ink: Ink = SCREEN  # A4 is for paper: dark ink on white

    def fx(self, px: float) -> float:
        """x in px → paper fraction."""
        return px / self.w

    def fy(self, px: float) -> float:
        """y in px from the top → paper fraction (from the bottom)."""
        return 1 - px / self.h

    def paper(self, r: Rect) -> tuple[float, float, float, float]:
        """``r`` as paper fractions x0, y0, x1, y1 (y from the bottom)."""
        return self.fx(r[0]), self.fy(r[3]), self.fx(r[2]), self.fy(r[1])


def _landscape() -> Page:
    side_top, side_bottom, gap = 240.0, HEIGHT - 24.0, 16.0
    h = (side_bottom - side_top - 2 * gap) / 3
    x0, x1 = 1270.0, WIDTH - 24.0
    return Page(
        "landscape",
        WIDTH,
        HEIGHT,
        header_h=96,
        kpi=(24, 112, WIDTH - 24, 222),
        kpi_rows=1,
        map=(24, 240, 1250, HEIGHT - 24),
        trend=(x0, side_top, x1, side_top + h),
        category=(x0, side_top + h + gap, x1, side_top + 2 * h + gap),
        overdue=(x0, side_top + 2 * (h + gap), x1, side_bottom),
        overdue_rows=6,
        title_chars=16,
    )


def _a4() -> Page:
    w, h, m = A4_WIDTH, A4_HEIGHT, 24.0
    return Page(
        "a4",
        w,
        h,
        header_h=110,
        kpi=(m, 126, w - m, 346),
        kpi_rows=2,
        map=(m, 362, w - m, 1172),
        trend=(m, 1188, w / 2 - 8, 1450),
        category=(w / 2 + 8, 1188, w - m, 1450),
        overdue=(m, 1466, w - m, h - m),
        overdue_rows=9,
        title_chars=30,
        ink=PAPER,
    )


LANDSCAPE, A4 = _landscape(), _a4()
PAGES: dict[str, Page] = {"landscape": LANDSCAPE, "a4": A4}
WATERMARK = "watermark"  # the ``name`` of the watermark's annotations


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
            ring = poly[0]  # positions: lists, or one (n, 2) array (incident_map.packed_geojson)
            xs.extend(float(p[0]) for p in ring)
            ys.extend(float(p[1]) for p in ring)
            xs.append(None)
            ys.append(None)
    return xs, ys


def _panel(page: Page, r: Rect, title: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    x0, y0, x1, y1 = page.paper(r)
    shape = {
        "type": "rect",
        "xref": "paper",
        "yref": "paper",
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "fillcolor": page.ink.panel,
        "line": {"color": page.ink.panel_line, "width": 1},
        "layer": "below",
    }
    notes = []
    if title:
        notes.append(
            {
                "text": f"<b>▍{title}</b>",
                "xref": "paper",
                "yref": "paper",
                "x": page.fx(r[0] + 12),
                "y": page.fy(r[1] + 8),
                "xanchor": "left",
                "yanchor": "top",
                "showarrow": False,
                "font": {"size": 20, "color": page.ink.text},
            }
        )
    return shape, notes


def _kpi_cards(page: Page, kpis: Any, lang: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tiles = kpi_tiles(kpis, BRIEFING_KPIS, lang)
    rows = page.kpi_rows
    per_row = max(1, math.ceil(len(tiles) / rows))
    left, top, right, bottom = page.kpi
    gap = 14.0
    width = (right - left - gap * (per_row - 1)) / per_row
    height = (bottom - top - gap * (rows - 1)) / rows
    ink = page.ink
    shapes, notes = [], []
    for i, tile in enumerate(tiles):
        row, col = divmod(i, per_row)
        px0 = left + col * (width + gap)
        ptop = top + row * (height + gap)
        x0, x1 = page.fx(px0), page.fx(px0 + width)
        y1, y0 = page.fy(ptop), page.fy(ptop + height)
        color = ink.severity[tile.severity]
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "yref": "paper",
                "x0": x0,
                "x1": x1,
                "y0": y0,
                "y1": y1,
                "fillcolor": ink.card,
                "line": {"color": ink.severity["alert"] if tile.severity == "alert" else ink.panel_line, "width": 1},
                "layer": "below",
            }
        )
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "yref": "paper",
                "x0": x0,
                "x1": page.fx(px0 + 5),
                "y0": y0,
                "y1": y1,
                "fillcolor": color if tile.severity != "normal" else ink.accent,
                "line": {"width": 0},
            }
        )
        notes.append(
            {
                "text": tile.label + (f"<span style='font-size:14px'> {tile.window}</span>" if tile.window else ""),
                "x": page.fx(px0 + 18),
                "y": page.fy(ptop + 12),
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 19, "color": ink.text_dim},
            }
        )
        notes.append(
            {
                "text": f"<b>{tile.value}</b><span style='font-size:18px;color:{ink.text_dim}'> {tile.unit}</span>",
                "x": page.fx(px0 + 18),
                "y": page.fy(ptop + height - 12),
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 44, "color": color, "family": NUM_FONT},
            }
        )
    for a in notes:
        a.update({"xref": "paper", "yref": "paper", "showarrow": False})
    return shapes, notes


def watermark_notes(page: Page, lang: str) -> list[dict[str, Any]]:
    """The "内部资料" / "INTERNAL" watermark: the word repeated diagonally over the page, semi-transparent (a crop
    cannot remove it), as annotations named ``WATERMARK``."""
    text = i18n.t("briefing.watermark", lang)
    cols, rows = (3, 2) if page.kind == "landscape" else (2, 4)
    size = 120 if lang == "zh" else 110
    notes = []
    for r in range(rows):
        for c in range(cols):
            notes.append(
                {
                    "name": WATERMARK,
                    "text": f"<b>{text}</b>",
                    "x": (c + 0.5) / cols,
                    "y": 1 - (r + 0.5) / rows,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "middle",
                    "textangle": -30,
                    "showarrow": False,
                    "font": {"size": size, "color": page.ink.watermark},
                }
            )
    return notes


def _map_traces(
    base: MapBase,
    grid_z: Sequence[int],
    incidents: pd.DataFrame | None,
    lang: str,
    area_counts: Sequence[int] = (),
    ink: Ink = SCREEN,
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
                line={"color": ink.grid_line, "width": 0.8},
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
                line={"color": ink.community_line, "width": 2.2},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    lon, lat = base.label_points
    if lon and len(area_counts) == len(lon):  # a district's overview: each community's open count, as on the wall
        traces.append(
            go.Scatter(
                x=lon, y=lat, mode="text", text=area_count_text(area_counts), textposition="bottom center",
                textfont={"size": 20, "color": ink.count_text, "weight": "bold"}, showlegend=False, hoverinfo="skip",
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
                marker={"size": 11, "color": ink.status[str(s)], "line": {"color": ink.marker_line, "width": 1.2}},
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
            marker={
                "size": 15,
                "symbol": "diamond",
                "color": URGENT_COLOR,
                "line": {"width": 1.5, "color": ink.marker_line},
            },
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


def _overdue_lines(
    incidents: pd.DataFrame | None,
    lang: str,
    now: float,
    n: int = 6,
    *,
    grid_names: Mapping[str, str] | None = None,
    assignees: Mapping[str, str] | None = None,
    title_chars: int = 16,
    ink: Ink = SCREEN,
) -> list[str]:
    """The oldest ``n`` open overdue incidents as lines: title (else category label), grid by name, assignee
    by (already masked) name, status, age. Ids are never shown: a grid or assignee without a name is left out."""
    if incidents is None or len(incidents) == 0 or "overdue" not in incidents.columns:
        return []
    df = incidents[incidents["overdue"].fillna(False).astype(bool) & incidents["status"].isin(OPEN_STATUS_VALUES)]
    df = df.sort_values("created_ts" if "created_ts" in df.columns else "ts").head(n)
    grid_names = grid_names or {}
    assignees = assignees or {}
    lines = []
    for r in df.to_dict("records"):
        cat = (
            r.get("category_label")
            if lang == "zh" and r.get("category_label")
            else i18n.category_label(r.get("category"), lang)
        )
        title = plotly_text(str(r.get("title") or cat)[:title_chars])  # drawn as typed: no <br>/<span> of its own
        age = i18n.fmt_age(now - float(r.get("created_ts") or r.get("ts") or now), lang)
        status = i18n.status_label(r.get("status"), lang)
        where = grid_names.get(str(r.get("grid_id") or ""), "")
        who = assignees.get(str(r.get("assignee") or ""), "")
        facts = " · ".join(plotly_text(x) for x in (where, who) if x)
        facts = f"{facts} · {status} · {age}" if facts else f"{status} · {age}"
        lines.append(
            f"<span style='color:{OVERDUE_COLOR}'>●</span> <b>{title}</b>"
            f"  <span style='color:{ink.text_dim}'>{facts}</span>"
        )
    return lines


def title_size(text: str, width_px: float, largest: int = 40, smallest: int = 22) -> int:
    """The title's font size (px) so ``text`` fits ``width_px``: a wide (CJK) character is one em, anything else
    ~0.6 em (bold Noto Sans); between ``smallest`` and ``largest``."""
    ems = sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in text)
    return max(smallest, min(largest, int(width_px / max(ems, 1.0))))


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
    page: Page = LANDSCAPE,
    watermark: bool = False,
    assignees: Mapping[str, str] | None = None,
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
    ``page``: ``LANDSCAPE`` (1920×1080) or ``A4`` (1240×1754 portrait); ``watermark``: "内部资料" / "INTERNAL"
    across the page (``watermark_notes``); ``assignees``: member id → display name, masked by the caller's role
    (the overdue list names grids and assignees, never ids).
    """
    lang = i18n.norm_lang(lang)
    generated = time.time() if now is None else now
    now = generated if at is None else at
    ink = page.ink
    fig = go.Figure(_map_traces(base, grid_z, incidents, lang, area_counts, ink))

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
            "y0": page.fy(page.header_h),
            "y1": 1,
            "fillcolor": ink.header,
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
            "y0": page.fy(page.header_h),
            "y1": page.fy(page.header_h),
            "line": {"color": ink.accent, "width": 2},
        }
    )
    if at is None:
        title = i18n.t("briefing.title", lang, street=plotly_text(street_name))
    else:
        title = i18n.t("briefing.title_at", lang, street=plotly_text(street_name), time=i18n.fmt_datetime(at, lang))
    notes += [
        {
            "text": i18n.t("briefing.generated", lang, time=i18n.fmt_datetime(generated, lang)),
            "x": page.fx(page.w - 24),
            "y": page.fy(36 if page.kind == "landscape" else 88),
            "xanchor": "right",
            "yanchor": "middle",
            "font": {"size": 22, "color": ink.text_strong},
        },
        {
            "text": f"{i18n.t('app.title', lang)} · {i18n.t('app.subtitle', lang)}",
            "x": page.fx(page.w - 24) if page.kind == "landscape" else page.fx(24),
            "y": page.fy(70 if page.kind == "landscape" else 88),
            "xanchor": "right" if page.kind == "landscape" else "left",
            "yanchor": "middle",
            "font": {"size": 16, "color": ink.text_dim},
        },
    ]
    s, n = _kpi_cards(page, kpis, lang)
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
            "line": {"color": ink.text, "width": 3},
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
            "font": {"size": 14, "color": ink.text},
        },
        {
            "text": "<b>N</b><br>▲",
            "xref": "x",
            "yref": "y",
            "x": max_lon + pad_x * 0.6,
            "y": max_lat + pad_y * 0.3,
            "xanchor": "center",
            "yanchor": "top",
            "font": {"size": 15, "color": ink.text},
        },
    ]

    # map panel
    s1, n1 = _panel(page, page.map)
    shapes.append(s1)
    notes += n1

    # panels: trend, category, overdue list
    for rect, key in (
        (page.trend, "briefing.trend"),
        (page.category, "briefing.by_category"),
        (page.overdue, "briefing.top_overdue"),
    ):
        sp, npn = _panel(page, rect, i18n.t(key, lang))
        shapes.append(sp)
        notes += npn

    # 24 h trend (x2/y2)
    trend = [0.0 if i18n.is_missing(v) else float(v) for v in (kpi_get(kpis, "trend_24h") or [])]
    labels = trend_hour_labels(len(trend), kpi_get(kpis, "trend_start"), now)
    colors = [ink.bar] * len(trend)
    if colors:
        colors[-1] = ink.bar_now
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
            marker={"color": ink.bar},
            text=[f"{v:.0f}" for _, v in items],
            textposition="outside",
            cliponaxis=False,
            textfont={"color": ink.text, "size": 16},
            xaxis="x3",
            yaxis="y3",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    if not items:  # no open incidents by category: say so rather than draw an empty axis
        notes.append(
            {
                "text": f"<span style='color:{ink.text_dim}'>{i18n.t('briefing.none', lang)}</span>",
                "x": page.fx(page.category[0] + 18),
                "y": page.fy(page.category[1] + 48),
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 18, "color": ink.text},
            }
        )
    # overdue list
    lines = _overdue_lines(
        incidents,
        lang,
        now,
        page.overdue_rows,
        grid_names=base.grid_name_by_id,
        assignees=assignees,
        title_chars=page.title_chars,
        ink=ink,
    )
    notes.append(
        {
            "text": "<br>".join(lines)
            if lines
            else f"<span style='color:{ink.text_dim}'>{i18n.t('briefing.none', lang)}</span>",
            "x": page.fx(page.overdue[0] + 18),
            "y": page.fy(page.overdue[1] + 48),
            "xanchor": "left",
            "yanchor": "top",
            "align": "left",
            "font": {"size": 18, "color": ink.text},
        }
    )
    for a in notes:
        a.setdefault("xref", "paper")
        a.setdefault("yref", "paper")
        a.setdefault("showarrow", False)

    if watermark:
        notes += watermark_notes(page, lang)
    mx0, my0, mx1, my1 = page.paper(page.map)
    tx0, ty0, tx1, ty1 = page.paper(page.trend)
    cx0, cy0, cx1, cy1 = page.paper(page.category)
    inner = page.fx(12)
    step = 4 if len(trend) > 12 else 1
    fig.update_layout(
        width=page.w,
        height=page.h,
        paper_bgcolor=ink.bg,
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT, "color": ink.text, "size": 16},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        shapes=shapes,
        annotations=notes,
        title={
            "text": f"<b>{title}</b>",
            "x": page.fx(24),
            "y": page.fy(48 if page.kind == "landscape" else 40),
            "xanchor": "left",
            "yanchor": "middle",
            "xref": "paper",
            "yref": "container",
            "font": {
                "size": title_size(title, page.w - 48 - (600 if page.kind == "landscape" else 0)),
                "color": ink.text_strong,
            },
        },
        xaxis={
            **axis_off,
            "domain": [mx0 + inner, mx1 - inner],
            "range": [min_lon - pad_x, max_lon + pad_x],
            "constrain": "domain",
        },
        yaxis={
            **axis_off,
            "domain": [my0 + 12 / page.h, my1 - 12 / page.h],
            "range": [min_lat - pad_y, max_lat + pad_y],
            "scaleanchor": "x",
            "scaleratio": 1 / math.cos(math.radians(lat0)),
            "constrain": "domain",
        },
        xaxis2={
            "domain": [tx0 + page.fx(20), tx1 - page.fx(16)],
            "anchor": "y2",
            "tickmode": "array",
            "tickvals": list(range(0, len(trend), step)),
            "ticktext": [labels[i] + ("时" if lang == "zh" else "h") for i in range(0, len(trend), step)],
            "tickfont": {"size": 14, "color": ink.text_dim},
            "showgrid": False,
            "zeroline": False,
            "fixedrange": True,
        },
        yaxis2={
            "domain": [ty0 + 34 / page.h, ty1 - 52 / page.h],
            "anchor": "x2",
            "gridcolor": ink.axis_grid,
            "tickfont": {"size": 14, "color": ink.text_dim},
            "zeroline": False,
            "nticks": 4,
            "rangemode": "nonnegative",
            "fixedrange": True,
        },
        xaxis3={
            "domain": [cx0 + page.fx(140), cx1 - page.fx(60)],
            "anchor": "y3",
            "visible": False,
            "range": [0, (max(by_cat.values()) if by_cat else 1) * 1.1],
            "fixedrange": True,
        },
        yaxis3={
            "domain": [cy0 + 14 / page.h, cy1 - 50 / page.h],
            "anchor": "x3",
            "visible": bool(items),
            "tickfont": {"size": 16, "color": ink.text},
            "ticks": "",
            "showgrid": False,
            "fixedrange": True,
        },
        bargap=0.28,
        showlegend=True,
        legend={
            "x": mx0 + page.fx(16),
            "y": my0 + 16 / page.h,
            "xanchor": "left",
            "yanchor": "bottom",
            "bgcolor": ink.legend_bg,
            "bordercolor": ink.panel_line,
            "borderwidth": 1,
            "font": {"size": 16, "color": ink.text},
            "groupclick": "toggleitem",
            "tracegroupgap": 10,
            "itemsizing": "constant",
        },
        meta={"street": street_name, "generated": now, "page": page.kind, "ink": ink.name, "watermark": watermark},
    )
    return fig
