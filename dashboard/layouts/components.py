"""Small building blocks shared by the wall and the console: header with clock, KPI tiles, feed items,
"feed lost" banner, legends and the incident detail panel. Pure functions returning Dash components.

Names are masked (``i18n.mask_name``) before they reach any component.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from dash import html

from dashboard import i18n
from dashboard.figures.incident_map import (
    GRID_STATE_COLORS,
    GRID_STATE_ORDER,
    MAP_STATUSES,
    OVERDUE_COLOR,
    STATUS_COLORS,
    THEMES,
    URGENT_COLOR,
)
from dashboard.figures.kpi import KpiTile
from incidents.assign import Suggestion
from incidents.situation import FUNNEL_STAGES, Funnel

from . import ids


def header(
    *, title: str, title_id: str, clock_id: str, subtitle: str = "", extra: Any = None, lang: str = "zh"
) -> html.Header:
    """Title left, live clock right (the clock text is kept current by assets/wall.js)."""
    data_lang: dict[str, Any] = {"data-lang": i18n.norm_lang(lang)}
    return html.Header(
        className="os-header",
        children=[
            html.Div(
                className="os-header__titles",
                children=[
                    html.H1(title, id=title_id, className="os-header__title"),
                    html.Div(subtitle, className="os-header__subtitle") if subtitle else None,
                ],
            ),
            html.Div(extra, className="os-header__extra") if extra is not None else None,
            html.Div(
                className="os-header__clock",
                children=[
                    html.Span(
                        i18n.fmt_time(time.time()),
                        id=clock_id,
                        className="os-clock",
                        **data_lang,
                    ),
                    html.Span(
                        i18n.fmt_datetime(time.time(), lang).split(" ")[0] + " " + i18n.t("clock.label", lang),
                        className="os-clock-date",
                        **data_lang,
                    ),
                ],
            ),
        ],
    )


def kpi_tile(tile: KpiTile, screen: str = "wall") -> html.Div:
    """One KPI tile: label, big value (id ``ids.kpi_value_id``), unit, and the window it is over (static, also
    the tile's tooltip). Severity is in the className."""
    return html.Div(
        id=ids.kpi_tile_id(tile.key, screen),
        className=f"os-kpi os-kpi--{tile.severity}",
        title=f"{tile.label} · {tile.window}" if tile.window else tile.label,
        children=[
            html.Div(
                [tile.label, html.Span(tile.window, className="os-kpi__window")] if tile.window else tile.label,
                className="os-kpi__label",
            ),
            html.Div(
                className="os-kpi__value-row",
                children=[
                    html.Span(tile.value, id=ids.kpi_value_id(tile.key, screen), className="os-kpi__value"),
                    html.Span(tile.unit, className="os-kpi__unit"),
                ],
            ),
        ],
    )


def kpi_tile_class(tile: KpiTile) -> str:
    """className for a live update of a tile's severity."""
    return f"os-kpi os-kpi--{tile.severity}"


def kpi_row(tiles: Sequence[KpiTile], screen: str = "wall", row_id: str | None = None) -> html.Div:
    """The row of KPI tiles for ``screen`` (wall or console)."""
    return html.Div([kpi_tile(t, screen) for t in tiles], className="os-kpis", **_id(row_id))


def attrs(values: dict[str, str]) -> Any:
    """``aria-*`` / ``data-*`` attributes as keyword arguments (Dash accepts them; its type hints do not)."""
    return values


def funnel_stages(funnel: Funnel | None, lang: str = "zh") -> list[Any]:
    """Today's loop 点单 → 派单 → 接单 → 办结 → 评单: each stage's count, between stages the median time taken
    (``incidents.situation.Funnel``); an empty funnel shows zeros."""
    out: list[Any] = [html.Span(i18n.t("funnel.title", lang), className="os-funnel__title")]
    for k, stage in enumerate(FUNNEL_STAGES):
        if k:
            step = f"{FUNNEL_STAGES[k - 1]}→{stage}"
            value, unit = i18n.fmt_minutes(None if funnel is None else funnel.median_min.get(step), lang)
            median = i18n.t("funnel.median", lang, value=value, unit=unit) if unit else "→"
            out.append(html.Span(median, className="os-funnel__step", **attrs({"data-step": step})))
        count = 0 if funnel is None else funnel.today.get(stage, 0)
        out.append(
            html.Span(
                [
                    html.Span(i18n.t(f"funnel.{stage}", lang), className="os-funnel__label"),
                    html.Span(i18n.fmt_count(count), className="os-funnel__count"),
                ],
                className="os-funnel__stage",
                **attrs({"data-stage": stage}),
            )
        )
    return out


def feed_lost_banner(banner_id: str, lang: str = "zh", hidden: bool = True) -> html.Div:
    """Red banner shown while the live connection is down; callbacks/JS flip ``hidden``."""
    return html.Div(
        [html.Span("⚠", className="os-banner__icon"), html.Span(i18n.t("feed.lost", lang))],
        id=banner_id,
        className="os-banner",
        role="alert",
        hidden=hidden,
    )


def status_badge(status: str, lang: str = "zh") -> html.Span:
    """A coloured badge with the status label."""
    return html.Span(
        i18n.status_label(status, lang),
        className=f"os-badge os-badge--{status}",
        style={"--badge": STATUS_COLORS.get(status, "#888")},
    )


def _val(row: Mapping[str, Any] | Any, key: str, default: Any = "") -> Any:
    v = row.get(key, default) if isinstance(row, Mapping) else getattr(row, key, default)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return default
    return v


def _id(component_id: str | None) -> dict[str, Any]:
    """``id=`` only when given (Dash rejects ``id=None``)."""
    return {} if component_id is None else {"id": component_id}


def _data(**attrs: Any) -> dict[str, Any]:
    """``data-*`` attributes for html components."""
    return {f"data-{k}": v for k, v in attrs.items()}


def feed_item(row: Mapping[str, Any] | Any, lang: str = "zh", now: float | None = None) -> html.Li:
    """One live-feed line: time · status badge · title · category · grid (+ overdue/urgent tags)."""
    status = str(_val(row, "status"))
    cat = _val(row, "category_label") if i18n.norm_lang(lang) == "zh" else ""
    cat = cat or i18n.category_label(_val(row, "category"), lang)
    title = str(_val(row, "title")) or cat
    tags = []
    if bool(_val(row, "overdue", False)):
        tags.append(html.Span(i18n.t("feed.overdue_tag", lang), className="os-tag os-tag--overdue"))
    if bool(_val(row, "urgent", False)):
        tags.append(html.Span(i18n.t("feed.urgent_tag", lang), className="os-tag os-tag--urgent"))
    ts = _val(row, "ts", None)
    return html.Li(
        className=f"os-feed__item os-feed__item--{status}" + (" is-overdue" if tags else ""),
        children=[
            html.Span(i18n.fmt_time(ts, "%H:%M") if ts is not None else "—", className="os-feed__time"),
            status_badge(status, lang),
            html.Span(title, className="os-feed__title", title=title),
            *tags,
            html.Span(f"{cat} · {_val(row, 'grid_name') or _val(row, 'grid_id')}", className="os-feed__meta"),
        ],
        **_data(id=str(_val(row, "id"))),
    )


def feed_items(df: pd.DataFrame | Iterable[Mapping[str, Any]] | None, lang: str = "zh", n: int = 12) -> list[html.Li]:
    """The feed list's children: the first ``n`` rows (callers pass ``SituationView.latest(n)``)."""
    if df is None:
        return [html.Li(i18n.t("feed.empty", lang), className="os-feed__empty")]
    rows = df.head(n).to_dict("records") if isinstance(df, pd.DataFrame) else list(df)[:n]
    if not rows:
        return [html.Li(i18n.t("feed.empty", lang), className="os-feed__empty")]
    return [feed_item(r, lang) for r in rows]


def _swatch(color: str, shape: str = "square") -> html.Span:
    return html.Span(className=f"os-swatch os-swatch--{shape}", style={"--swatch": color})


def grid_state_legend(lang: str = "zh") -> html.Div:
    """HTML legend for the grid fill (the map itself has no colour bar)."""
    items = [
        html.Div(
            [_swatch(GRID_STATE_COLORS[str(s)]), html.Span(i18n.grid_state_label(s, lang))],
            className="os-legend__item",
        )
        for s in reversed(GRID_STATE_ORDER)
    ]
    return html.Div(
        [html.Div(i18n.t("legend.grid_states", lang), className="os-legend__title"), *items],
        className="os-legend__group",
    )


def status_legend(lang: str = "zh", colors: Mapping[str, str] = STATUS_COLORS) -> html.Div:
    """The map legend: one swatch per status in ``colors``."""
    items = [
        html.Div(
            [_swatch(colors[str(s)], "dot"), html.Span(i18n.status_label(s, lang))],
            className="os-legend__item",
        )
        for s in MAP_STATUSES
    ]
    items += [
        html.Div(
            [_swatch(OVERDUE_COLOR, "ring"), html.Span(i18n.t("legend.overdue", lang))],
            className="os-legend__item",
        ),
        html.Div(
            [_swatch(URGENT_COLOR, "dot"), html.Span(i18n.t("legend.urgent", lang))],
            className="os-legend__item",
        ),
    ]
    return html.Div(
        [html.Div(i18n.t("legend.incidents", lang), className="os-legend__title"), *items],
        className="os-legend__group",
    )


def map_legend(lang: str = "zh", legend_id: str | None = None, theme: str = "wall") -> html.Div:
    """Grid-state and incident legends; marker colours follow the map theme."""
    colors = THEMES[theme].status_colors if theme in THEMES else STATUS_COLORS
    return html.Div([grid_state_legend(lang), status_legend(lang, colors)], className="os-legend", **_id(legend_id))


# ---- incident detail (console) ---------------------------------------------------------------------


def _row(label: str, value: Any) -> html.Div:
    return html.Div([html.Dt(label), html.Dd(value if value not in (None, "") else "—")], className="os-detail__row")


def incident_detail(
    incident: Mapping[str, Any] | Any | None,
    *,
    lang: str = "zh",
    history: Sequence[Sequence[Any]] | None = None,
    nearest: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    grid_name: str | None = None,
    community_name: str | None = None,
    now: float | None = None,
    suggestions: Sequence[Suggestion] | None = None,
    actions: Sequence[str] = (),
    result: tuple[bool, str] | None = None,
) -> list[Any]:
    """Children of ``ids.Console.DETAIL``: title + status, facts, status timeline, 5 nearest members.

    ``incident``: a row of the incidents table (or an ``Incident``/dict); ``history``: ``[(status, ts[, actor]), …]``
    oldest first (defaults to ``incident.history``); ``nearest``: ``SpatialIndex.nearest_members`` output
    (member_id, name, role, grid_id, distance_m). Names are masked here.
    ``suggestions`` (``incidents.assign``): members to dispatch to, each with a 派单 button (None: no
    dispatching from this status); ``actions``: the statuses offered as buttons (接单/办结/取消);
    ``result``: ``(ok, message)`` of the last action, shown at the top.
    """
    if incident is None:
        return [html.Div(i18n.t("console.detail_hint", lang), className="os-detail__hint")]
    now = time.time() if now is None else now
    status = str(_val(incident, "status"))
    cat = i18n.category_label(_val(incident, "category"), lang)
    title = str(_val(incident, "title")) or cat
    hist = list(history if history is not None else _val(incident, "history", []) or [])
    created = _val(incident, "created_ts", None)
    due = _val(incident, "due", None)
    tags = []
    if bool(_val(incident, "overdue", False)):
        tags.append(html.Span(i18n.t("feed.overdue_tag", lang), className="os-tag os-tag--overdue"))
    if bool(_val(incident, "urgent", False)):
        tags.append(html.Span(i18n.t("feed.urgent_tag", lang), className="os-tag os-tag--urgent"))
    if bool(_val(incident, "escalated", False)):
        tags.append(html.Span(i18n.t("console.escalated", lang), className="os-tag os-tag--overdue"))
    reopened = int(_val(incident, "reopened", 0) or 0)
    if reopened:
        tags.append(html.Span(i18n.t("console.reopened", lang, n=reopened), className="os-tag os-tag--urgent"))

    facts = html.Dl(
        className="os-detail__facts",
        children=[
            _row(i18n.t("console.category", lang), cat),
            _row(
                i18n.t("console.priority", lang),
                i18n.t(f"priority.{_val(incident, 'priority', 'normal')}", lang),
            ),
            _row(i18n.t("console.grid", lang), grid_name or _val(incident, "grid_id")),
            _row(i18n.t("console.micro_grid", lang), _val(incident, "micro_grid_id")),
            _row(i18n.t("console.community", lang), community_name or _val(incident, "community_id")),
            _row(i18n.t("console.created", lang), i18n.fmt_datetime(created, lang) if created else "—"),
            _row(i18n.t("console.due", lang), i18n.fmt_datetime(due, lang) if due else "—"),
            _row(i18n.t("console.assignee", lang), _val(incident, "assignee")),
        ],
    )
    steps = [
        html.Li(
            [
                html.Span(className="os-timeline__dot", style={"--dot": STATUS_COLORS.get(str(s), "#888")}),
                html.Span(i18n.status_label(s, lang), className="os-timeline__status"),
                html.Span(i18n.fmt_datetime(float(ts), lang), className="os-timeline__time"),
                html.Span(i18n.fmt_age(now - float(ts), lang), className="os-timeline__age"),
                *([html.Span(str(who[0]), className="os-timeline__actor")] if who and who[0] else []),
            ],
            className=f"os-timeline__step os-timeline__step--{s}",
        )
        for s, ts, *who in hist
    ]
    if not steps:
        ts = _val(incident, "ts", None)
        steps = [
            html.Li(
                [
                    html.Span(className="os-timeline__dot", style={"--dot": STATUS_COLORS.get(status, "#888")}),
                    html.Span(i18n.status_label(status, lang), className="os-timeline__status"),
                    html.Span(i18n.fmt_datetime(ts, lang) if ts else "—", className="os-timeline__time"),
                ],
                className="os-timeline__step",
            )
        ]
    return [
        html.Div(
            className="os-detail__head",
            children=[
                html.H3(title, id=ids.Console.DETAIL_TITLE, className="os-detail__title"),
                status_badge(status, lang),
                *tags,
                html.Span(f"#{_val(incident, 'id')}", className="os-detail__id"),
            ],
        ),
        html.Div(
            id=ids.Console.DETAIL_BODY,
            className="os-detail__body",
            children=[
                action_result(result),
                *action_bar(actions, lang),
                facts,
                *suggestion_list(suggestions, lang),
                html.H4(i18n.t("console.timeline", lang), className="os-detail__h"),
                html.Ol(steps, className="os-timeline"),
                html.H4(i18n.t("console.nearest_members", lang), className="os-detail__h"),
                nearest_members_list(nearest, lang),
            ],
        ),
    ]


def nearest_members_list(nearest: pd.DataFrame | Iterable[Mapping[str, Any]] | None, lang: str = "zh") -> Any:
    """An ordered list of up to 5 members (rows of ``SpatialIndex.nearest_members``), or a hint if there are none."""
    rows = nearest.head(5).to_dict("records") if isinstance(nearest, pd.DataFrame) else list(nearest or [])[:5]
    if not rows:
        return html.Div(i18n.t("console.no_members", lang), className="os-detail__hint")
    return html.Ol(
        className="os-members",
        children=[
            html.Li(
                [
                    html.Span(i18n.mask_name(_val(r, "name")), className="os-members__name"),
                    html.Span(i18n.role_label(_val(r, "role"), lang), className="os-members__role"),
                    html.Span(str(_val(r, "grid_id")), className="os-members__grid"),
                    html.Span(
                        i18n.t("console.distance_m", lang, d=f"{float(_val(r, 'distance_m', 0)):,.0f}"),
                        className="os-members__dist",
                    ),
                ],
                className="os-members__item",
            )
            for r in rows
        ],
    )


def action_result(result: tuple[bool, str] | None) -> html.Div:
    """The outcome of the last action (empty when none): ``ids.Console.DETAIL_RESULT``."""
    ok, text = result if result is not None else (True, "")
    state = "" if result is None else (" os-detail__result--ok" if ok else " os-detail__result--error")
    return html.Div(text, id=ids.Console.DETAIL_RESULT, className="os-detail__result" + state, role="status")


def action_bar(actions: Sequence[str], lang: str = "zh") -> list[Any]:
    """接单 / 办结 / 取消 buttons, one per status the incident may move to."""
    if not actions:
        return []
    return [
        html.Div(
            [
                html.Button(
                    i18n.t(f"action.{status}", lang),
                    id=ids.action_button_id(status),
                    className=f"os-btn os-btn--{status}",
                    n_clicks=0,
                )
                for status in actions
            ],
            className="os-actions",
            title=i18n.t("console.actions", lang),
        )
    ]


def suggestion_list(suggestions: Sequence[Suggestion] | None, lang: str = "zh") -> list[Any]:
    """派单建议: masked name, role, own-grid tag, matched skills, metres, and a 派单 button each."""
    if suggestions is None:
        return []
    head = html.H4(i18n.t("console.suggestions", lang), className="os-detail__h")
    if not suggestions:
        return [head, html.Div(i18n.t("console.no_suggestions", lang), className="os-detail__hint")]
    items = [
        html.Li(
            [
                html.Span(i18n.mask_name(s.name), className="os-suggest__name"),
                html.Span(i18n.role_label(s.role, lang), className="os-suggest__role"),
                *(
                    [html.Span(i18n.t("console.own_grid", lang), className="os-tag os-suggest__own")]
                    if s.same_grid
                    else []
                ),
                html.Span("、".join(s.matched_skills or s.skills[:2]), className="os-suggest__skills"),
                html.Span(
                    i18n.t("console.distance_m", lang, d=f"{s.distance_m:,.0f}"),
                    className="os-suggest__dist",
                ),
                html.Button(
                    i18n.t("action.dispatch", lang),
                    id=ids.dispatch_button_id(s.member_id),
                    className="os-btn os-btn--dispatch",
                    n_clicks=0,
                ),
            ],
            className="os-suggest__item",
            title=s.member_id,
        )
        for s in suggestions
    ]
    return [head, html.Ol(items, className="os-suggest")]
