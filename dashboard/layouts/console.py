"""The officials' console (``/``): light theme, the same map with layer toggles, filters, language switch
and an incident detail panel (filled by callbacks via ``components.incident_detail``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard import i18n
from dashboard.figures.incident_map import MAP_STATUSES
from dashboard.figures.kpi import BRIEFING_KPIS, kpi_tiles
from dashboard.work_table import KPI_TILES

from . import components as c
from . import ids
from .briefing_menu import briefing_menu
from .ids import Console

MAP_CONFIG: dcc.Graph.Config = {
    "displaylogo": False,
    "scrollZoom": True,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"],
}
DEFAULT_LAYERS: tuple[str, ...] = (
    ids.LAYER_GRIDS,
    ids.LAYER_INCIDENTS,
    "grid_types",
    "party_orgs",
    ids.LAYER_MEMBERS,
    "place_names",
)


def layer_options(lang: str = "zh", counts: Mapping[str, int | None] | None = None) -> list[dict[str, str]]:
    """Checklist options of the console's map layers; ``counts``: features per layer in the area, shown after
    the name (``党员 · 412``)."""
    out = []
    for k in ids.CONSOLE_LAYERS:
        n = (counts or {}).get(k)
        label = i18n.layer_label(k, lang) + (f" · {n:,}" if n is not None else "")
        out.append({"label": label, "value": k})
    return out


def status_options(lang: str = "zh") -> list[dict[str, str]]:
    """Dropdown options of the statuses shown on the map."""
    return [{"label": i18n.status_label(s, lang), "value": str(s)} for s in MAP_STATUSES]


def community_options(communities: Mapping[str, str] | None) -> list[dict[str, str]]:
    """``{community_id: name}`` → dropdown options (sorted by name)."""
    items = sorted((communities or {}).items(), key=lambda kv: kv[1])
    return [{"label": name, "value": cid} for cid, name in items]


def dropdown_labels(lang: str = "zh") -> dcc.Dropdown.Labels:
    """The dcc.Dropdown UI texts (select all, search, ...) in ``lang``."""
    if i18n.norm_lang(lang) == "zh":
        return {
            "select_all": "全选",
            "deselect_all": "全不选",
            "selected_count": "已选 {num_selected} 项",
            "search": "搜索",
            "clear_search": "清除",
            "clear_selection": "清除选择",
            "no_options_found": "无匹配项",
        }
    return {}


def _filter(filter_id: str, options: list[dict[str, str]], lang: str) -> dcc.Dropdown:
    """A multi-select filter; empty means all. Persisted so it survives the re-render of a language switch."""
    return dcc.Dropdown(
        id=filter_id,
        persistence=True,
        persistence_type="session",
        options=options,
        value=[],
        multi=True,
        placeholder=i18n.t("console.all", lang),
        labels=dropdown_labels(lang),
        className="os-dropdown",
    )


def _control(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="os-control__label"), control], className="os-control")


def console_layout(
    *,
    street_name: str | None = None,
    lang: str = "zh",
    figure: go.Figure | dict[str, Any] | None = None,
    kpis: Any = None,
    communities: Mapping[str, str] | None = None,
    area_bar: Any = None,
    funnel: Any = None,
    layer_counts: Mapping[str, int | None] | None = None,
    layer_stack: Mapping[str, Any] | None = None,
    layers_on: Sequence[str] = DEFAULT_LAYERS,
    replay: Any = None,
    work_list: Any = None,
) -> html.Div:
    """The console page. ``figure``: ``build_incident_map(..., theme="console")``;
    ``communities``: ``{community_id: name}`` for the filter; ``area_bar``: ``layouts.areas.area_bar``;
    ``funnel``: today's loop (``incidents.situation.Funnel``); ``layer_counts``: features per layer in the area;
    ``layer_stack``: where the figure's layers are (``figures.layer_stack.Stack.as_json``); ``layers_on``: the
    layers the figure shows; ``replay``: the time scrubber (``layouts.replay.replay_bar``); ``work_list``: the
    work list block below the map (``layouts.worklist``)."""
    lang = i18n.norm_lang(lang)
    street = street_name or i18n.t("street.placeholder", lang)
    controls = html.Aside(
        className="os-console__controls",
        children=[
            _control(
                i18n.t("console.layers", lang),
                dcc.Checklist(
                    id=Console.LAYERS,
                    persistence=True,  # survives the re-render of a language switch
                    persistence_type="session",
                    options=layer_options(lang, layer_counts),
                    value=list(layers_on),
                    className="os-checklist",
                    inputClassName="os-checklist__input",
                    labelClassName="os-checklist__label",
                ),
            ),
            _control(i18n.t("console.filter_status", lang), _filter(Console.STATUS_FILTER, status_options(lang), lang)),
            _control(
                i18n.t("console.filter_community", lang),
                _filter(Console.COMMUNITY_FILTER, community_options(communities), lang),
            ),
            html.Div(c.map_legend(lang, theme="console"), className="os-console__legend"),
            # 在岗值守: filled for the page's area by callbacks.console.show_on_duty
            _control(i18n.t("console.on_duty", lang), html.Div(id=Console.ON_DUTY, className="os-duty-panel")),
        ],
    )
    lang_switch = dcc.RadioItems(
        id=Console.LANG,
        options=[
            {"label": i18n.t("lang.zh", lang), "value": "zh"},
            {"label": i18n.t("lang.en", lang), "value": "en"},
        ],
        value=lang,
        inline=True,
        className="os-lang",
        inputClassName="os-lang__input",
        labelClassName="os-lang__label",
    )
    return html.Div(
        id=Console.ROOT,
        className="os-console",
        lang="zh-CN" if lang == "zh" else "en",
        children=[
            c.header(
                title=i18n.t("console.title", lang, street=street),
                title_id=Console.TITLE,
                clock_id=Console.CLOCK,
                lang=lang,
                extra=html.Div(
                    [
                        html.Span(id=Console.STATUS_DOT, className="os-live-dot", title="connecting"),
                        briefing_menu(lang),  # 简报: size, watermark, download (layouts.briefing_menu)
                        lang_switch,
                        # a plain form post (dashboard.access.login): ends the session, back to the login page
                        html.Form(
                            html.Button(i18n.t("login.logout", lang), type="submit", className="os-logout__button"),
                            action="/logout",
                            method="POST",
                            className="os-logout",
                        ),
                    ],
                    className="os-header__tools",
                ),
            ),
            c.feed_lost_banner(Console.BANNER, lang),
            area_bar,
            replay,
            c.kpi_row(
                kpi_tiles(kpis, BRIEFING_KPIS, lang),
                "console",
                row_id=Console.KPIS,
                buttons=dict.fromkeys(KPI_TILES, i18n.t("work.kpi_hint", lang)),  # 超期 → the overdue list
            ),
            html.Div(c.funnel_stages(funnel, lang), id=Console.FUNNEL, className="os-funnel"),
            html.Main(
                className="os-console__main",
                children=[
                    controls,
                    html.Div(
                        className="os-console__map os-frame",
                        children=dcc.Graph(
                            id=Console.MAP,
                            figure=figure if figure is not None else go.Figure(),
                            config=MAP_CONFIG,
                            responsive=True,
                            className="os-graph os-graph--map",
                            style={"height": "100%", "width": "100%"},
                        ),
                    ),
                    html.Aside(
                        className="os-console__detail",
                        children=[
                            html.Div(
                                [
                                    html.H2(i18n.t("console.detail", lang), className="os-panel__title"),
                                    html.Button("×", id=Console.DETAIL_CLOSE, className="os-detail__close", n_clicks=0),
                                ],
                                className="os-panel__head",
                            ),
                            html.Div(c.incident_detail(None, lang=lang), id=Console.DETAIL, className="os-detail"),
                        ],
                    ),
                ],
            ),
            work_list,  # 工单列表 (layouts.worklist.work_list_block), below the map
            dcc.Store(id=Console.STORE_SELECTED, data=None),
            dcc.Store(id=Console.ON_DUTY_SHOWN, data=None),
            dcc.Store(id=Console.LAYER_STACK, data=dict(layer_stack or {})),
            dcc.Store(id=Console.MAP_VIEW, data=None),
        ],
    )
