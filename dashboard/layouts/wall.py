"""The big-screen wall (``/wall``): dark, display-only, designed on a 1920×1080 stage.

Scaling: every size in assets/onescreen.css is a multiple of ``--u`` = min(100vw/1920, 100vh/1080), so the
stage fills a 1920×1080 or 3840×2160 screen at native resolution (no CSS transform: the map canvas stays
crisp and Plotly's pointer maths stays right). Plotly fonts are scaled by assets/onescreen.js from each
figure's ``layout.meta.base_font_size``. A 32:9 screen (3840×1080, 7680×2160) gets its own grid on a 3840-wide
stage; the map frames its area in whatever box it has (``layout.meta.bounds``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard import i18n
from dashboard.figures.incident_map import WALL_MIN_FONT_PX
from dashboard.figures.kpi import (
    WALL_KPIS,
    ChartParts,
    category_bar_figure,
    category_bar_parts,
    kpi_tiles,
    trend_figure,
    trend_parts,
)

from . import components as c
from .ids import Wall

MAP_CONFIG: dcc.Graph.Config = {
    "displayModeBar": False,
    "scrollZoom": False,
    "doubleClick": False,
    "showTips": False,
    "responsive": True,
}
# Axis, tick and bar-label text of the wall's charts, in design px (the wall's smallest text: 18 px on a 1920-wide
# stage; assets/onescreen.js multiplies it by the stage scale).
WALL_CHART_FONT_PX = WALL_MIN_FONT_PX
CHART_CONFIG: dcc.Graph.Config = {"displayModeBar": False, "staticPlot": True, "responsive": True}


TREND_TICK_EVERY = 6  # hours between the trend's labels: 18 px labels on a 302-px-wide panel (16:9)
CATEGORY_TOP = 6


def wall_side_figures(kpis: Any, lang: str = "zh", now: float | None = None) -> tuple[go.Figure, go.Figure]:
    """(24 h trend, open by category) for the sidebar, as a page renders them."""
    trend = trend_figure(
        getattr(kpis, "trend_24h", None) if kpis is not None else None,
        trend_start=getattr(kpis, "trend_start", None) if kpis is not None else None,
        now=now,
        lang=lang,
        theme="wall",
        font_size=WALL_CHART_FONT_PX,
        tick_every=TREND_TICK_EVERY,
    )
    cats = category_bar_figure(
        getattr(kpis, "by_category", None) if kpis is not None else None,
        lang=lang,
        top=CATEGORY_TOP,
        theme="wall",
        font_size=WALL_CHART_FONT_PX,
    )
    return trend, cats


def wall_side_parts(kpis: Any, lang: str = "zh", now: float | None = None) -> tuple[ChartParts, ChartParts]:
    """What of ``wall_side_figures`` changes with the numbers (``figures.kpi.trend_parts``,
    ``category_bar_parts``): what a live push sends."""
    trend = trend_parts(
        getattr(kpis, "trend_24h", None) if kpis is not None else None,
        trend_start=getattr(kpis, "trend_start", None) if kpis is not None else None,
        now=now,
        lang=lang,
        theme="wall",
        tick_every=TREND_TICK_EVERY,
    )
    cats = category_bar_parts(
        getattr(kpis, "by_category", None) if kpis is not None else None, lang=lang, top=CATEGORY_TOP, theme="wall"
    )
    return trend, cats


def _panel(title: str, body: Any, cls: str = "", extra: Any = None) -> html.Section:
    return html.Section(
        className=f"os-panel {cls}".strip(),
        children=[
            html.Div([html.H2(title, className="os-panel__title"), extra], className="os-panel__head"),
            html.Div(body, className="os-panel__body"),
        ],
    )


def _chart_panel(title: str, graph_id: str, figure: go.Figure, kind: str) -> html.Section:
    """A sidebar panel holding one small static chart (its data is patched live)."""
    graph = dcc.Graph(
        id=graph_id, figure=figure, config=CHART_CONFIG, responsive=True, className="os-graph os-graph--chart"
    )
    return _panel(title, graph, f"os-panel--{kind}")


def wall_layout(
    *,
    street_name: str | None = None,
    lang: str = "zh",
    figure: go.Figure | dict[str, Any] | None = None,
    kpis: Any = None,
    feed: pd.DataFrame | None = None,
    now: float | None = None,
    pulse: bool = False,
) -> html.Div:
    """The wall page. ``figure``: ``build_incident_map(..., theme="wall")``; ``kpis``: the KPI object;
    ``feed``: latest incidents (``SituationView.latest(n)``);
    ``pulse``: animate urgent markers (assets/onescreen.js, off by default: costs GPU/CPU on every frame)."""
    lang = i18n.norm_lang(lang)
    street = street_name or i18n.t("street.placeholder", lang)
    trend_fig, cat_fig = wall_side_figures(kpis, lang, now)
    return html.Div(
        id=Wall.ROOT,
        className="os-wall os-pulse" if pulse else "os-wall",
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            html.Div(
                id=Wall.STAGE,
                className="os-stage",
                children=[
                    c.header(
                        title=i18n.t("wall.title", lang, street=street),
                        title_id=Wall.TITLE,
                        clock_id=Wall.CLOCK,
                        subtitle=i18n.t("app.subtitle", lang),
                        lang=lang,
                        extra=html.Span(id=Wall.STATUS_DOT, className="os-live-dot", title="connecting"),
                    ),
                    c.kpi_row(kpi_tiles(kpis, WALL_KPIS, lang), "wall", row_id=Wall.KPIS),
                    html.Main(
                        className="os-wall__main",
                        children=[
                            html.Div(
                                className="os-wall__map os-frame",
                                children=[
                                    dcc.Graph(
                                        id=Wall.MAP,
                                        figure=figure if figure is not None else go.Figure(),
                                        config=MAP_CONFIG,
                                        responsive=True,
                                        className="os-graph os-graph--map",
                                        style={"height": "100%", "width": "100%"},
                                    ),
                                    c.map_legend(lang),
                                    dcc.Store(id=Wall.MAP_EDIT, data=None),
                                ],
                            ),
                            html.Aside(
                                className="os-wall__side",
                                children=[
                                    _chart_panel(i18n.t("kpi.trend_24h", lang), Wall.TREND, trend_fig, "trend"),
                                    _chart_panel(i18n.t("kpi.by_category", lang), Wall.CATEGORY, cat_fig, "category"),
                                    _panel(
                                        i18n.t("feed.title", lang),
                                        html.Ul(c.feed_items(feed, lang), id=Wall.FEED, className="os-feed"),
                                        "os-panel--feed",
                                        extra=html.Span(
                                            i18n.fmt_time(now, "%H:%M:%S") if now else "",
                                            id=Wall.UPDATED,
                                            className="os-panel__meta",
                                        ),
                                    ),
                                ],
                            ),
                        ],
                    ),
                    c.feed_lost_banner(Wall.BANNER, lang),
                ],
            ),
        ],
    )
