"""The work list (工单列表) block of the officials' page: a toolbar of filters, the export links, the count, a
notice for bad URL parameters and a server-paged, server-sorted table. Empty as laid out (the page is cached per
area, language and viewer): ``callbacks.worklist`` fills it from the page URL's query."""

from __future__ import annotations

from typing import Any

from dash import dash_table, dcc, html

from dashboard import i18n
from dashboard.layouts.console import dropdown_labels
from dashboard.work_table import PAGE_SIZE, WINDOW_RANGE, sort_by_of
from dashboard.worklist import COLUMNS, PRIORITY_LABELS
from incidents.model import CATEGORIES
from incidents.worklist import DEFAULT_SORT, STATUS_VALUES, WINDOWS_S

from . import components as c
from .ids import WorkList

REFRESH_MS = 5000  # the table follows the situation at most this often (only when something changed)
# Statuses as an official names them: the views first (待办, 超期, 紧急, 已取消, 返工, 催办), then the lifecycle.
STATUS_CHOICES: tuple[str, ...] = ("open", "overdue", "urgent", "cancelled", "reworked", "escalated")


def _moment_input(label: str, input_id: str) -> html.Label:
    """One end of the custom time range: a labelled ``datetime-local`` input (Beijing time)."""
    return html.Label(
        [
            label,
            dcc.Input(
                id=input_id,
                type="datetime-local",  # type: ignore[arg-type]  # an HTML input type dcc.Input passes on
                debounce=True,
                value="",
            ),
        ]
    )


def status_options(lang: str) -> list[dict[str, str]]:
    """Options of the status filter: the views and every lifecycle status (``incidents.worklist`` values)."""
    out = []
    for value in (*STATUS_CHOICES, *(s for s in STATUS_VALUES if s not in STATUS_CHOICES)):
        named = value in STATUS_CHOICES  # 已取消 as the list says it (the lifecycle label is 已撤销)
        label = i18n.t(f"work.view.{value}", lang) if named else i18n.status_label(value, lang)
        out.append({"label": label, "value": value})
    return out


def category_options(lang: str) -> list[dict[str, str]]:
    """Options of the category filter (the data model's categories)."""
    return [{"label": i18n.category_label(c, lang), "value": c} for c in CATEGORIES]


def priority_options(lang: str) -> list[dict[str, str]]:
    """Options of the priority filter, most urgent first."""
    labels = PRIORITY_LABELS[i18n.norm_lang(lang)]
    return [{"label": labels[p], "value": p} for p in ("urgent", "high", "normal", "low")]


def window_options(lang: str) -> list[dict[str, str]]:
    """Options of the time filter: the windows of ``incidents.worklist.WINDOWS_S`` and a custom range."""
    return [{"label": i18n.t(f"work.window.{w}", lang), "value": w} for w in (*WINDOWS_S, WINDOW_RANGE)]


def _select(select_id: str, options: list[dict[str, str]], label: str, lang: str, *, multi: bool = True) -> Any:
    return html.Div(
        dcc.Dropdown(
            id=select_id,
            options=options,
            value=[] if multi else None,
            multi=multi,
            searchable=True,
            placeholder=label,
            labels=dropdown_labels(lang),
            className="os-dropdown os-work__select",
        ),
        className="os-work__field",
        title=label,
    )


def work_list_block(lang: str = "zh") -> html.Section:
    """The block below the map: toolbar, notice, table (columns ``dashboard.worklist.COLUMNS``)."""
    lang = i18n.norm_lang(lang)
    columns = [{"id": key, "name": zh if lang == "zh" else en} for key, zh, en in COLUMNS]
    toolbar = html.Div(
        className="os-work__toolbar",
        children=[
            html.Button(
                [html.Span("▲", className="os-work__chevron"), i18n.t("work.title", lang)],
                id=WorkList.TOGGLE,
                n_clicks=0,
                className="os-work__toggle os-panel__title",
                title=i18n.t("work.toggle", lang),
                **c.attrs({"aria-controls": WorkList.TABLE}),
            ),
            dcc.Input(
                id=WorkList.SEARCH,
                type="search",
                debounce=0.4,  # seconds after the last key (and at once on Enter)
                placeholder=i18n.t("work.search", lang),
                className="os-work__search",
                value="",
            ),
            _select(WorkList.STATUS, status_options(lang), i18n.t("work.status", lang), lang),
            _select(WorkList.CATEGORY, category_options(lang), i18n.t("work.category", lang), lang),
            _select(WorkList.PRIORITY, priority_options(lang), i18n.t("work.priority", lang), lang),
            _select(WorkList.ASSIGNEE, [], i18n.t("work.assignee", lang), lang),
            _select(WorkList.WINDOW, window_options(lang), i18n.t("work.time", lang), lang, multi=False),
            html.Div(
                id=WorkList.RANGE,
                className="os-work__range",
                hidden=True,
                children=[
                    _moment_input(i18n.t("work.since", lang), WorkList.SINCE),
                    _moment_input(i18n.t("work.until", lang), WorkList.UNTIL),
                ],
            ),
            html.Button(i18n.t("work.reset", lang), id=WorkList.RESET, n_clicks=0, className="os-btn os-work__reset"),
            html.Span(id=WorkList.COUNT, className="os-work__count"),
            html.A(
                i18n.t("work.export_csv", lang),
                id=WorkList.EXPORT_CSV,
                href="/api/incidents.csv",
                className="os-work__export",
                download="",
            ),
            html.A(
                i18n.t("work.export_xlsx", lang),
                id=WorkList.EXPORT_XLSX,
                href="/api/incidents.xlsx",
                className="os-work__export",
                download="",
            ),
        ],
    )
    table = dash_table.DataTable(  # type: ignore[attr-defined]  # no stubs for dash_table
        id=WorkList.TABLE,
        columns=columns,
        data=[],
        page_action="custom",
        page_current=0,
        page_size=PAGE_SIZE,
        page_count=1,
        sort_action="custom",
        sort_mode="single",
        sort_by=sort_by_of(DEFAULT_SORT),
        cell_selectable=True,
        fixed_rows={"headers": True},
        style_table={"height": "100%", "overflowY": "auto", "overflowX": "auto"},
        style_cell={
            "fontFamily": "var(--font)",  # the page's, not the table's monospace
            "fontSize": "13px",
            "padding": "4px 8px",
            "textAlign": "left",
            "whiteSpace": "nowrap",
            "overflow": "hidden",
            "textOverflow": "ellipsis",
            "maxWidth": "220px",
            "cursor": "pointer",
        },
        style_cell_conditional=[  # short values keep their header readable
            {"if": {"column_id": k}, "minWidth": "64px"}
            for k in ("priority", "status", "overdue", "source", "rating", "reopened")
        ],
        style_header={"fontWeight": "600", "backgroundColor": "#f3f6fa"},
        css=[{"selector": ".dash-spreadsheet-menu", "rule": "display: none"}],
    )  # fmt: skip
    return html.Section(
        id=WorkList.ROOT,
        className="os-work",
        children=[
            toolbar,
            html.Div(id=WorkList.NOTICE, className="os-notice os-work__notice", hidden=True, role="status"),
            html.Div(table, className="os-work__table"),
            dcc.Interval(id=WorkList.TICK, interval=REFRESH_MS),
            dcc.Store(id=WorkList.QUERY, data=None),
            dcc.Store(id=WorkList.BUILT, data=None),
            dcc.Store(id=WorkList.FLY, data=None),
            dcc.Store(id=WorkList.FLOWN, data=None),
        ],
    )
