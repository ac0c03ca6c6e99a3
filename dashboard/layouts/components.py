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
from incidents.model import OPEN_STATUS_VALUES
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


def kpi_tile(tile: KpiTile, screen: str = "wall", hint: str = "") -> html.Div:
    """One KPI tile: label, big value (id ``ids.kpi_value_id``), unit, and the window it is over (static, also
    the tile's tooltip). Severity is in the className. ``hint``: the tile is a button (a click filters the work
    list: ``callbacks.worklist``), the hint joins its tooltip."""
    title = f"{tile.label} · {tile.window}" if tile.window else tile.label
    button = attrs({"role": "button", "tabIndex": "0", "data-filter": tile.key}) if hint else {}
    return html.Div(
        id=ids.kpi_tile_id(tile.key, screen),
        className=f"os-kpi os-kpi--{tile.severity}",
        title=f"{title}（{hint}）" if hint else title,
        n_clicks=0,
        **button,
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


def kpi_row(
    tiles: Sequence[KpiTile], screen: str = "wall", row_id: str | None = None, buttons: Mapping[str, str] | None = None
) -> html.Div:
    """The row of KPI tiles for ``screen`` (wall or console); ``buttons``: tile key → hint of the tiles that
    are buttons (the officials' page: a click filters the work list)."""
    hints = buttons or {}
    return html.Div([kpi_tile(t, screen, hints.get(t.key, "")) for t in tiles], className="os-kpis", **_id(row_id))


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
    """One live-feed line: time · status badge · title · category · grid (+ overdue/urgent/催办 tags)."""
    status = str(_val(row, "status"))
    cat = _val(row, "category_label") if i18n.norm_lang(lang) == "zh" else ""
    cat = cat or i18n.category_label(_val(row, "category"), lang)
    title = str(_val(row, "title")) or cat
    tags = []
    if bool(_val(row, "overdue", False)):
        tags.append(html.Span(i18n.t("feed.overdue_tag", lang), className="os-tag os-tag--overdue"))
    if bool(_val(row, "urgent", False)):
        tags.append(html.Span(i18n.t("feed.urgent_tag", lang), className="os-tag os-tag--urgent"))
    flagged = bool(tags)
    if bool(_val(row, "escalated", False)):
        tags.append(html.Span(i18n.t("action.escalate", lang), className="os-tag os-tag--escalated"))
    ts = _val(row, "ts", None)
    return html.Li(
        className=f"os-feed__item os-feed__item--{status}" + (" is-overdue" if flagged else ""),
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
    place: Mapping[str, str] | None = None,
    assignee: tuple[str, str] | None = None,
    deadline: float | None = None,
    overdue_multiple: float = 0.0,
    ratings: bool = False,
    rework: bool = False,
    escalate: bool = False,
) -> list[Any]:
    """Children of ``ids.Console.DETAIL``: title + status, facts, status timeline, 5 nearest members.

    ``incident``: a row of the incidents table (or an ``Incident``/dict); ``history``: ``[(status, ts[, actor]), …]``
    oldest first (defaults to ``incident.history``); ``nearest``: ``SpatialIndex.nearest_members`` output
    (member_id, name, role, grid_id, distance_m). Names are masked here.
    ``suggestions`` (``incidents.assign``): members to dispatch to, each with a 派单 button (None: no
    dispatching from this status); ``actions``: the statuses offered as buttons (接单/办结/取消);
    ``result``: ``(ok, message)`` of the last action, shown at the top.
    ``place``: names by key (``address``, ``micro_grid``; grid/community come as ``grid_name``/``community_name``);
    ``assignee``: (name as it may be shown — masked by the caller per role —, role label); ``deadline``: the SLA
    deadline (epoch s, ``SlaPolicy.overdue_at``/``resolve_due``) with a live countdown; ``overdue_multiple``:
    超时倍数 (shown when > 0); ``ratings``/``rework``/``escalate``: offer 评单 (1-5), 返工, 催办.
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
    names = dict(place or {})
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
            *_text_rows(incident, lang),
            _row(i18n.t("console.address", lang), names.get("address") or "—"),
            _row(i18n.t("console.community", lang), community_name or _val(incident, "community_id")),
            _row(i18n.t("console.grid", lang), grid_name or _val(incident, "grid_id")),
            _row(i18n.t("console.micro_grid", lang), names.get("micro_grid") or _val(incident, "micro_grid_id")),
            _row(i18n.t("console.created", lang), i18n.fmt_datetime(created, lang) if created else "—"),
            _row(
                i18n.t("console.due", lang),
                sla_countdown(deadline if deadline is not None else due, now, lang, live=status in OPEN_STATUS_VALUES),
            ),
            *(
                [_row(i18n.t("console.overdue_multiple", lang), f"{overdue_multiple:.1f}×")]
                if overdue_multiple > 0
                else []
            ),
            _row(i18n.t("console.assignee", lang), assignee_text(assignee, _val(incident, "assignee"), lang)),
            *(
                [_row(i18n.t("console.rating", lang), "★" * int(rating) + f" {int(rating)}/5")]
                if (rating := _rating(incident)) is not None
                else []
            ),
        ],
    )
    steps = [
        html.Li(
            [
                html.Span(className="os-timeline__dot", style={"--dot": STATUS_COLORS.get(str(s), "#888")}),
                html.Span(i18n.status_label(s, lang), className="os-timeline__status"),
                html.Span(i18n.fmt_datetime(float(ts), lang), className="os-timeline__time"),
                html.Span(i18n.fmt_age(now - float(ts), lang), className="os-timeline__age"),
                *(
                    [html.Span(i18n.actor_label(who[0], lang), className="os-timeline__actor")]
                    if who and who[0]
                    else []
                ),
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
                *action_bar(actions, lang, ratings=ratings, rework=rework, escalate=escalate),
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


def action_bar(
    actions: Sequence[str], lang: str = "zh", *, ratings: bool = False, rework: bool = False, escalate: bool = False
) -> list[Any]:
    """接单 / 办结 / 取消 buttons, one per status the incident may move to; 返工 (``rework``: dispatched again),
    催办 (``escalate``) and 评单 with one button per rating 1-5 (``ratings``) when offered. Nothing at all when
    nothing is offered (a viewer sees no buttons)."""
    buttons = [
        html.Button(
            i18n.t(f"action.{status}", lang),
            id=ids.action_button_id(status),
            className=f"os-btn os-btn--{status}",
            n_clicks=0,
        )
        for status in actions
    ]
    if rework:
        buttons.append(
            html.Button(
                i18n.t("action.rework", lang),
                id=ids.action_button_id("dispatched"),
                className="os-btn os-btn--rework",
                n_clicks=0,
            )
        )
    if escalate:
        buttons.append(
            html.Button(
                i18n.t("action.escalate", lang), id=ids.escalate_button_id(), className="os-btn os-btn--escalate",
                n_clicks=0,
            )
        )  # fmt: skip
    out: list[Any] = []
    if buttons:
        out.append(html.Div(buttons, className="os-actions", title=i18n.t("console.actions", lang)))
    if ratings:
        out.append(
            html.Div(
                [
                    html.Span(i18n.t("action.rate", lang), className="os-rate__label"),
                    *(
                        html.Button(
                            "★" * k,
                            id=ids.rate_button_id(k),
                            className=f"os-btn os-btn--rate os-btn--rate-{k}",
                            title=i18n.t("action.rate_n", lang, n=k),
                            n_clicks=0,
                        )
                        for k in range(1, 6)
                    ),
                ],
                className="os-actions os-rate",
            )
        )
    return out


def _text_rows(incident: Mapping[str, Any] | Any, lang: str) -> list[Any]:
    """描述 and 来源 rows (description as given, already scrubbed for a masked actor by the caller)."""
    return [
        _row(i18n.t("console.description", lang), str(_val(incident, "description") or "") or "—"),
        _row(i18n.t("console.source", lang), str(_val(incident, "source") or "") or "—"),
    ]


def _rating(incident: Mapping[str, Any] | Any) -> int | None:
    value = _val(incident, "rating", None)
    if value is None or i18n.is_missing(value):
        return None
    return int(float(value))


def assignee_text(assignee: tuple[str, str] | None, raw: object, lang: str = "zh") -> html.Span:
    """承办人 as ``name（role）`` (``ids.Console.DETAIL_ASSIGNEE``); "—" for none. A member id the caller could not
    resolve to a person (a unit, an outside system's id) is shown as given."""
    if assignee is not None:
        name, role = assignee
        text = f"{name}（{role}）" if role else name
    else:
        text = str(raw or "") or "—"
    return html.Span(text, id=ids.Console.DETAIL_ASSIGNEE, className="os-detail__assignee")


def fmt_countdown(seconds: float, lang: str = "zh") -> str:
    """A countdown as the panel shows it: ``剩余 1:02:03`` / ``已超时 0:05:00`` (days as ``2天 3:04:05``).
    onescreen.js formats the same way every second (``data-left``/``data-over`` templates, ``{t}``)."""
    left = seconds >= 0
    s = int(abs(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    clock = f"{h}:{m:02d}:{sec:02d}"
    text = (i18n.t("console.days", lang, d=d) + " " + clock) if d else clock
    return i18n.t("console.time_left" if left else "console.time_over", lang, t=text)


def sla_countdown(deadline: float | None, now: float, lang: str = "zh", *, live: bool = True) -> Any:
    """办理时限: the deadline's date and time and (``live``: an open incident) a live countdown
    (``ids.Console.DETAIL_COUNTDOWN``, ticked by onescreen.js from ``data-deadline``, epoch seconds); "—" without
    a deadline."""
    if deadline is None or i18n.is_missing(deadline) or not math.isfinite(float(deadline)):
        return "—"
    if not live:
        return i18n.fmt_datetime(float(deadline), lang)
    return html.Span(
        [
            html.Span(i18n.fmt_datetime(float(deadline), lang), className="os-detail__deadline"),
            " ",
            html.Span(
                fmt_countdown(float(deadline) - now, lang),
                id=ids.Console.DETAIL_COUNTDOWN,
                className="os-countdown" + (" os-countdown--over" if now > float(deadline) else ""),
                **attrs(
                    {
                        "data-deadline": f"{float(deadline):.3f}",
                        "data-left": i18n.t("console.time_left", lang, t="{t}"),
                        "data-over": i18n.t("console.time_over", lang, t="{t}"),
                        "data-days": i18n.t("console.days", lang, d="{d}"),
                    }
                ),
            ),
        ]
    )


def on_duty_panel(
    rows: pd.DataFrame, lang: str = "zh", *, masked: bool = True, grid_names: Mapping[str, str] | None = None,
    per_role: int = 8,
) -> list[Any]:  # fmt: skip
    """在岗值守: the area's on-duty members (``dashboard.duty.on_duty_members`` rows: member_id, name, phone, role,
    grid_id, open_tasks) by role, each role's count and its ``per_role`` busiest members with masked (``masked``)
    name and phone, grid name and open tasks (在办 n)."""
    if not len(rows):
        return [html.Div(i18n.t("console.no_on_duty", lang), className="os-detail__hint")]
    grids = grid_names or {}
    roles = [r for r in i18n.ROLES_ZH if r in set(rows["role"])] + sorted(set(rows["role"]) - set(i18n.ROLES_ZH))
    out: list[Any] = []
    for role in roles:
        group = rows[rows["role"] == role]
        out.append(
            html.H4(
                f"{i18n.role_label(role, lang)} · {len(group)}",
                className="os-duty__role",
                **attrs({"data-role": role}),
            )
        )
        items = []
        for r in group.head(per_role).to_dict("records"):
            name = i18n.mask_name(r["name"]) if masked else str(r["name"])
            phone = i18n.mask_phone(r["phone"]) if masked else str(r["phone"] or "")
            items.append(
                html.Li(
                    [
                        html.Span(name, className="os-duty__name"),
                        html.Span(phone, className="os-duty__phone"),
                        html.Span(str(grids.get(str(r["grid_id"]), r["grid_id"])), className="os-duty__grid"),
                        html.Span(
                            i18n.t("console.open_tasks", lang, n=int(r["open_tasks"])),
                            className="os-duty__load" + (" os-duty__load--busy" if int(r["open_tasks"]) >= 5 else ""),
                        ),
                    ],
                    className="os-duty__item",
                    title=str(r["member_id"]) if not masked else None,
                )
            )
        out.append(html.Ol(items, className="os-duty"))
    return out


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
                html.Span(i18n.t("console.open_tasks", lang, n=s.open_tasks), className="os-suggest__load"),
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
