"""KPI tiles (value formatting, labels, severity) and the small sidebar charts (24 h trend, by category).

Pure: takes the KPI object by duck typing (``incidents.situation.Kpis`` or anything with the same
attributes / dict keys). Missing values show as ``—``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import plotly.graph_objects as go

from dashboard import i18n

from .incident_map import FONT_FAMILY

ChartTheme = Literal["wall", "console", "briefing"]
Severity = Literal["normal", "good", "warn", "alert"]
Kind = Literal["count", "percent", "minutes", "score"]

# KPI key → value kind. Order = display order of the full set.
KPI_KINDS: dict[str, Kind] = {
    "today_reported": "count",
    "open": "count",
    "overdue": "count",
    "on_time_rate": "percent",
    "mean_accept_min": "minutes",
    "median_accept_min": "minutes",
    "mean_resolve_min": "minutes",
    "median_resolve_min": "minutes",
    "rework": "count",
    "rework_rate": "percent",
    "satisfaction": "score",
    "satisfied_share": "percent",
}
# The window each KPI is over (``incidents.kpis.KPI_DEFINITIONS``): the i18n key of its caption, "" = now.
KPI_WINDOWS: dict[str, str] = {
    "today_reported": "kpi.window.today",
    "on_time_rate": "kpi.window.24h",
    "mean_accept_min": "kpi.window.24h",
    "median_accept_min": "kpi.window.24h",
    "mean_resolve_min": "kpi.window.24h",
    "median_resolve_min": "kpi.window.24h",
    "rework": "kpi.window.24h",
    "rework_rate": "kpi.window.24h",
    "satisfaction": "kpi.window.24h",
    "satisfied_share": "kpi.window.24h",
}
WALL_KPIS: tuple[str, ...] = ("today_reported", "open", "overdue", "on_time_rate", "mean_accept_min")
BRIEFING_KPIS: tuple[str, ...] = (
    "today_reported",
    "open",
    "overdue",
    "on_time_rate",
    "mean_accept_min",
    "mean_resolve_min",
    "rework_rate",
    "satisfaction",
)


@dataclass(frozen=True, slots=True)
class KpiTile:
    """One KPI ready to draw: label, formatted value and unit, severity, and the raw number."""

    key: str
    label: str
    value: str  # formatted number, "—" if missing
    unit: str
    severity: Severity
    raw: float | None
    window: str = ""  # the window the figure is over, e.g. "近24小时" ("" = now)


def kpi_get(kpis: Any, key: str) -> Any:
    """Attribute or mapping access (duck typing)."""
    if kpis is None:
        return None
    if isinstance(kpis, Mapping):
        return kpis.get(key)
    return getattr(kpis, key, None)


def _severity(key: str, v: float | None) -> Severity:
    if v is None:
        return "normal"
    if key == "overdue":
        return "alert" if v > 0 else "good"
    if key == "on_time_rate":
        pct = v * 100 if v <= 1 else v
        return "good" if pct >= 95 else "warn" if pct >= 85 else "alert"
    if key == "mean_accept_min":
        return "good" if v <= 15 else "warn" if v <= 30 else "alert"
    if key == "rework":
        return "warn" if v > 0 else "normal"
    if key == "rework_rate":
        pct = v * 100 if v <= 1 else v
        return "normal" if pct == 0 else "warn" if pct <= 5 else "alert"
    if key == "satisfaction":
        return "good" if v >= 4.5 else "warn" if v >= 4.0 else "alert"
    return "normal"


def format_kpi(key: str, value: Any, lang: str = "zh") -> tuple[str, str]:
    """(value text, unit) for one KPI."""
    kind = KPI_KINDS.get(key, "count")
    if i18n.is_missing(value):
        return "—", ""
    if kind == "percent":
        return i18n.fmt_percent(value), "%"
    if kind == "minutes":
        return i18n.fmt_minutes(value, lang)
    if kind == "score":
        v = float(value)
        if v <= 1.0:  # a share rather than a 1–5 rating
            return i18n.fmt_percent(v), "%"
        return f"{v:.1f}", i18n.t("unit.score", lang)
    return i18n.fmt_count(value), i18n.t("unit.items", lang)


def kpi_tile(kpis: Any, key: str, lang: str = "zh") -> KpiTile:
    """The tile for KPI ``key`` of ``kpis`` (a ``Kpis`` or a mapping); missing values show as —."""
    raw = kpi_get(kpis, key)
    value, unit = format_kpi(key, raw, lang)
    num = None if i18n.is_missing(raw) else float(raw)
    window = KPI_WINDOWS.get(key, "")
    return KpiTile(
        key, i18n.t(f"kpi.{key}", lang), value, unit, _severity(key, num), num, i18n.t(window, lang) if window else ""
    )


def kpi_tiles(kpis: Any, keys: Sequence[str] = WALL_KPIS, lang: str = "zh") -> list[KpiTile]:
    """``kpi_tile`` for each of ``keys``, in order."""
    return [kpi_tile(kpis, k, lang) for k in keys]


# ---- charts -----------------------------------------------------------------------------------------

_CHART: dict[str, dict[str, str]] = {
    "wall": {"bg": "rgba(0,0,0,0)", "text": "#9fb8dc", "grid": "rgba(120,170,255,0.12)", "bar": "#3aa0ff"},
    "briefing": {
        "bg": "rgba(0,0,0,0)",
        "text": "#9fb8dc",
        "grid": "rgba(120,170,255,0.12)",
        "bar": "#3aa0ff",
    },
    "console": {"bg": "rgba(0,0,0,0)", "text": "#44546a", "grid": "rgba(40,60,90,0.1)", "bar": "#1c7ed6"},
}


def _chart_layout(theme: ChartTheme, font_size: int) -> dict[str, Any]:
    c = _CHART[theme]
    return {
        "paper_bgcolor": c["bg"],
        "plot_bgcolor": c["bg"],
        "font": {"family": FONT_FAMILY, "color": c["text"], "size": font_size},
        "margin": {"l": 8, "r": 8, "t": 6, "b": 6},
        "showlegend": False,
        "bargap": 0.25,
        "hovermode": False,
        # font.size is the base the wall's scale hook multiplies (assets/wall.js)
        "meta": {"base_font_size": font_size},
    }


def trend_hour_labels(n: int, trend_start: float | None = None, now: float | None = None) -> list[str]:
    """``HH`` (Asia/Shanghai) for each hourly bucket, oldest first; the last bucket is the current hour."""
    if trend_start is None:
        now = time.time() if now is None else now
        trend_start = (now // 3600 - (n - 1)) * 3600
    return [i18n.fmt_time(trend_start + 3600 * i, "%H") for i in range(n)]


def trend_figure(
    trend: Sequence[float] | None,
    *,
    trend_start: float | None = None,
    now: float | None = None,
    lang: str = "zh",
    theme: ChartTheme = "wall",
    font_size: int = 13,
    tick_every: int = 4,
) -> go.Figure:
    """24 h reported-per-hour bars with a smoothed line; current hour highlighted. ``tick_every``: hours between
    the x-axis labels (when there are more than 12 bars)."""
    data, xaxis = trend_parts(trend, trend_start=trend_start, now=now, lang=lang, theme=theme, tick_every=tick_every)
    fig = go.Figure(data)
    fig.update_layout(**_chart_layout(theme, font_size))
    fig.update_xaxes(tickmode="array", showgrid=False, zeroline=False, fixedrange=True, ticks="", **xaxis)
    fig.update_yaxes(gridcolor=_CHART[theme]["grid"], zeroline=False, fixedrange=True, nticks=4, rangemode="tozero")
    return fig


ChartParts = tuple[list[dict[str, Any]], dict[str, Any]]  # (figure data, the x-axis properties that follow it)


def trend_parts(
    trend: Sequence[float] | None,
    *,
    trend_start: float | None = None,
    now: float | None = None,
    lang: str = "zh",
    theme: ChartTheme = "wall",
    tick_every: int = 4,
) -> ChartParts:
    """What of ``trend_figure`` changes with the numbers, as plain figure JSON: its bars and its hour labels
    (``tickvals``, ``ticktext``). A live push sends these — building a Plotly figure to send its data took ~12 ms
    of every push's 16."""
    values = [0.0 if i18n.is_missing(v) else float(v) for v in (trend or [])]
    n = len(values)
    labels = trend_hour_labels(n, trend_start, now)
    colors = [_CHART[theme]["bar"]] * n
    if n:
        colors[-1] = "#ffd43b"
    bar = {"type": "bar", "x": list(range(n)), "y": values, "marker": {"color": colors, "line": {"width": 0}}}
    step = tick_every if n > 12 else 1
    ticks = list(range(0, n, step))
    suffix = "时" if lang == "zh" else "h"
    return [{**bar, "name": "reported"}], {"tickvals": ticks, "ticktext": [labels[i] + suffix for i in ticks]}


def _as_counts(data: Any) -> dict[str, float]:
    if data is None:
        return {}
    if hasattr(data, "to_dict") and not isinstance(data, Mapping):
        data = data.to_dict()  # pandas Series
    return {str(k): float(v) for k, v in dict(data).items() if not i18n.is_missing(v)}


def ranked_bar_figure(
    counts: Mapping[str, float] | Any,
    labels: Mapping[str, str] | None = None,
    *,
    top: int = 8,
    theme: ChartTheme = "wall",
    font_size: int = 13,
    color: str | None = None,
) -> go.Figure:
    """Horizontal bars, largest on top, value at the end of each bar (SVG text, no map glyphs)."""
    data, xaxis = ranked_bar_parts(counts, labels, top=top, theme=theme, color=color)
    fig = go.Figure(data)
    fig.update_layout(**_chart_layout(theme, font_size))
    fig.update_xaxes(visible=False, fixedrange=True, **xaxis)
    fig.update_yaxes(showgrid=False, fixedrange=True, ticks="", automargin=True)
    return fig


def ranked_bar_parts(
    counts: Mapping[str, float] | Any,
    labels: Mapping[str, str] | None = None,
    *,
    top: int = 8,
    theme: ChartTheme = "wall",
    color: str | None = None,
) -> ChartParts:
    """What of ``ranked_bar_figure`` changes with the numbers, as plain figure JSON: its bars and the x-axis
    ``range`` (room for the value labels)."""
    items = sorted(_as_counts(counts).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    items.reverse()  # plotly draws the first category at the bottom
    values = [v for _, v in items]
    c = _CHART[theme]
    bar = {
        "type": "bar",
        "x": values,
        "y": [(labels or {}).get(k, k) for k, _ in items],
        "orientation": "h",
        "marker": {"color": color or c["bar"], "line": {"width": 0}},
        "text": [f"{v:,.0f}" for v in values],
        "textposition": "outside",
        "constraintext": "none",  # Plotly shrinks outside labels to the bar's thickness (8 px text on a wall)
        "cliponaxis": False,
        "textfont": {"color": c["text"]},
    }
    return [bar], {"range": [0, (max(values) if values else 1) * 1.18]}


def category_bar_parts(
    by_category: Mapping[str, float] | Any, *, lang: str = "zh", top: int = 8, theme: ChartTheme = "wall"
) -> ChartParts:
    """``ranked_bar_parts`` of open incidents per category code, labelled via i18n."""
    counts = _as_counts(by_category)
    return ranked_bar_parts(counts, {k: i18n.category_label(k, lang) for k in counts}, top=top, theme=theme)


def category_bar_figure(
    by_category: Mapping[str, float] | Any,
    *,
    lang: str = "zh",
    top: int = 8,
    theme: ChartTheme = "wall",
    font_size: int = 13,
) -> go.Figure:
    """Open incidents per category code, labelled via i18n."""
    counts = _as_counts(by_category)
    labels = {k: i18n.category_label(k, lang) for k in counts}
    return ranked_bar_figure(counts, labels, top=top, theme=theme, font_size=font_size)
