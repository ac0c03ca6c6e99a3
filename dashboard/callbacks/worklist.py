"""The work list (工单列表) on the officials' page: the URL ↔ toolbar sync, the KPI tiles as filters, the table
(server-side pages and sort, following the situation) and row ↔ map selection. Thin: the filter is
``incidents.worklist``, the rows ``dashboard.worklist``, the URL handling ``dashboard.work_table``.

What a table shows is what the caller may see: the page URL is confined to the actor's areas
(``callbacks.pages.request_of``), the rows to its scope (``work_list(scope=…)``) and masked by its role.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from dash import ClientsideFunction, Dash, Input, Output, State, ctx, no_update

from dashboard import i18n
from dashboard.access.actor import current_actor
from dashboard.access.scope import masked, may_see_incident
from dashboard.callbacks import pages as page_callbacks
from dashboard.layouts.ids import Console, WorkList, kpi_tile_id
from dashboard.layouts.root import PAGE_RENDERED, URL
from dashboard.page_request import PageRequest, at_param
from dashboard.runtime import Runtime
from dashboard.work_table import (
    KPI_TILES,
    PAGE_SIZE,
    WINDOW_RANGE,
    Controls,
    active_tile,
    controls_of,
    filter_of,
    filter_params,
    kpi_params,
    merged_search,
    page_count,
    page_with,
    sort_by_of,
    sort_of,
)
from dashboard.worklist import records, work_list
from geo.gcj02 import wgs84_to_gcj02
from incidents.model import CATEGORIES
from incidents.worklist import UNASSIGNED, WorkFilter

REBUILD_S = 60.0  # an unchanged situation's table is built again this often (relative time windows move on)
FLY_ZOOM = 16.0  # the map flies at least this close to a picked row's incident
SELECTED_STYLE = {"backgroundColor": "#d0ebff", "fontWeight": "600"}
TILE_OF = {kpi_tile_id(k, "console"): k for k in KPI_TILES}  # the officials' KPI tiles that filter, by element id
CONTROL_INPUTS = (
    WorkList.SEARCH,
    WorkList.STATUS,
    WorkList.CATEGORY,
    WorkList.PRIORITY,
    WorkList.ASSIGNEE,
    WorkList.WINDOW,
    WorkList.SINCE,
    WorkList.UNTIL,
)


def control_values(c: Controls) -> list[Any]:
    """The controls' values (``CONTROL_INPUTS`` order) showing ``c``."""
    return [c.q, list(c.status), list(c.category), list(c.priority), list(c.assignee), c.window or None,
            c.since, c.until]  # fmt: skip


def sync(trigger: Any, search: str | None, values: list[Any], sort_by: Any) -> tuple[Any, list[Any], Any]:
    """One step of the URL ↔ toolbar sync: (the URL's new query or ``no_update``, each control's new value or
    ``no_update``, the table's ``sort_by`` or ``no_update``) for a change of ``trigger`` (a control, the table's
    sort, a KPI tile, the reset button; anything else — the URL, the first call — reads the URL)."""
    shown = controls_of(search)
    tile = TILE_OF.get(trigger) if isinstance(trigger, str) else None
    if tile is not None:
        return _to(merged_search(search, kpi_params(tile, search)), values, sort_by)
    if trigger == WorkList.RESET:
        kept = {k: v for k, v in filter_params(search).items() if k == "sort"}
        return _to(merged_search(search, kept), values, sort_by)
    if trigger in CONTROL_INPUTS or trigger == WorkList.TABLE:
        url_sort = shown.sort
        sort = url_sort if (sort_by or []) == sort_by_of(url_sort) else sort_of(sort_by, url_sort)
        q, status, category, priority, assignee, window, since, until = values
        wanted = Controls.of(q, status, category, priority, assignee, window, since, until, sort=sort)
        # the header shows the order applied: a cleared sort (a third click) is the default order again
        want_sort = sort_by_of(wanted.sort)
        header = no_update if (sort_by or []) == want_sort or not want_sort else want_sort
        if wanted == shown:
            return no_update, [no_update] * len(values), header
        return merged_search(search, wanted.params()), [no_update] * len(values), header
    return no_update, *_shown(shown, values, sort_by)


def _to(search: str, values: list[Any], sort_by: Any) -> tuple[Any, list[Any], Any]:
    return search, *_shown(controls_of(search), values, sort_by)


def _shown(c: Controls, values: list[Any], sort_by: Any) -> tuple[list[Any], Any]:
    new = control_values(c)
    out = [no_update if _same(v, n) else n for v, n in zip(values, new, strict=True)]
    want_sort = sort_by_of(c.sort)
    return out, (no_update if (sort_by or []) == want_sort else want_sort)


def _same(a: Any, b: Any) -> bool:
    def norm(v: Any) -> Any:
        if v in (None, "", []):
            return None
        return list(v) if isinstance(v, list | tuple) else v

    return bool(norm(a) == norm(b))


def page_lang(runtime: Runtime, rendered: Any) -> str:
    """The language the page on screen was rendered in (``PAGE_RENDERED``'s ``lang``): the table speaks the
    page's language, which a language switch re-renders."""
    lang = rendered.get("lang") if isinstance(rendered, dict) else None
    return i18n.norm_lang(lang if isinstance(lang, str) else runtime.settings.lang)


def _page_req(runtime: Runtime, search: str | None, lang: str | None) -> PageRequest:
    return page_callbacks.request_of(runtime, "/", search, lang)


def assignee_options(runtime: Runtime, rows: pd.DataFrame, chosen: list[str], lang: str, *, hidden: bool) -> Any:
    """Options of the assignee filter: 未指派, then the members holding work in ``rows`` (the page's area as the
    actor sees it), names masked when ``hidden``; ``chosen`` values stay listed."""
    held = {str(a) for a in rows["assignee"].fillna("").astype(str) if a} if len(rows) else set()
    return member_options(runtime, [UNASSIGNED, *sorted(held | set(chosen))], lang, hidden=hidden)


def member_options(runtime: Runtime, ids: list[str], lang: str, *, hidden: bool) -> list[dict[str, str]]:
    """Dropdown options for assignee ids: 未指派 for ``none`` (always first), members as "name · role" (masked
    when ``hidden``), sorted; an id no member has (a unit, an outside system's) as given."""
    directory = runtime.directory
    out = [{"label": i18n.t("work.unassigned", lang), "value": UNASSIGNED}] if UNASSIGNED in ids else []
    named = []
    for member in ids:
        if member == UNASSIGNED:
            continue
        name = directory.member_names.get(member)
        if name is None:
            named.append((member, member))
            continue
        role = i18n.role_label(directory.member_roles.get(member, ""), lang)
        shown = (i18n.mask_name(name) if hidden else name) + (f" · {role}" if role else "")
        named.append((shown, member))
    out.extend({"label": label, "value": value} for label, value in sorted(named))
    return out


def table_answer(
    runtime: Runtime,
    search: str | None,
    page: int,
    selected: str | None,
    lang: str,
    *,
    jump: bool,
    now: float | None = None,
) -> dict[str, Any]:
    """Everything the table and its toolbar show for the page URL's query ``search`` as the current actor may
    see it: ``data`` (``dashboard.worklist.records`` of one page), ``page``/``pages``, ``total``, ``ids`` (every
    row's id, in order), ``problems`` (the URL's bad parameters), ``filter`` (the applied ``WorkFilter``),
    ``highlight`` (the selected row's index on the page, or None) and ``assignees`` (filter options). ``jump``:
    show the page holding ``selected`` when it is in the list. A page of a past moment (``at=``) lists the
    situation as it was then (the replay's rebuild, warm from the page's own render), its windows ending then."""
    req = _page_req(runtime, search, lang)
    tree = runtime.geo.areas
    if req.at is not None:
        view, _ = runtime.replay.view_at(req.at)
        now = req.at
    else:
        now = time.time() if now is None else now
        view = runtime.situation.view(now)
    categories = set(CATEGORIES) | set(view.incidents["category"].astype(str)) if len(view.incidents) else None
    flt, problems = filter_of(search, area=req.area, tree=tree, categories=categories, now=now)
    directory = runtime.directory
    scope = req.scope
    rows = work_list(view.incidents, flt, now=now, tree=tree, directory=directory, scope=scope, masked=req.masked)
    pages = page_count(len(rows), PAGE_SIZE)
    if jump and selected:
        found = page_with(rows, selected, PAGE_SIZE)
        page = page if found is None else found
    page = min(max(0, int(page or 0)), pages - 1)
    shown = rows.iloc[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ids = shown["id"].astype(str).tolist() if len(shown) else []
    in_area = work_list(view.incidents, WorkFilter(area=req.area), now=now, tree=tree, directory=directory,
                        scope=scope)  # fmt: skip
    return {
        "data": records(shown, directory, lang=lang, masked=req.masked),
        "page": page,
        "pages": pages,
        "total": len(rows),
        "ids": rows["id"].astype(str).tolist() if len(rows) else [],
        "problems": problems,
        "filter": flt,
        "highlight": ids.index(selected) if selected in ids else None,
        "assignees": assignee_options(runtime, in_area, list(flt.assignees), lang, hidden=req.masked),
        "at": req.at,
    }


def export_href(kind: str, flt: WorkFilter, lang: str = "zh", at: float | None = None) -> str:
    """``/api/incidents.<kind>`` (``dashboard.export_api``) with the filter's query parameters, the page's
    moment (``at``, a past page) and its language when not Chinese (the list on the screen, as it reads)."""
    params = {
        **flt.to_params(),
        **({"at": at_param(at)} if at is not None else {}),
        **({"lang": lang} if lang != "zh" else {}),
    }
    return f"/api/incidents.{kind}" + ("?" + urlencode(params, safe=":,") if params else "")


def fly_target(runtime: Runtime, incident_id: str) -> dict[str, Any] | None:
    """Where the map flies for a picked row: ``{"id", "lon", "lat", "zoom"}`` in the map's display CRS; None
    for an incident the actor may not see or this process does not hold."""
    incident = runtime.situation.get(incident_id)
    if incident is None or not may_see_incident(current_actor(), runtime, incident):
        return None
    lon, lat = incident.lon, incident.lat
    if runtime.map_base.display_crs == "gcj02":
        x, y = wgs84_to_gcj02(lon, lat)
        lon, lat = float(x), float(y)
    return {"id": incident_id, "lon": round(float(lon), 7), "lat": round(float(lat), 7), "zoom": FLY_ZOOM}


def list_open(trigger: Any, root: str, filtered: bool, *, tiles: list[str]) -> Any:
    """The work list root's className after ``trigger``: the toggle flips the table open or shut; a KPI tile
    opens it, and so does a URL with a filter (``filtered``: a shared link, a page load, a filter just chosen —
    the list it selects is shown); anything else leaves it (``no_update``). The toolbar is always shown."""
    now_open = "os-work--open" in root.split()
    if trigger == WorkList.TOGGLE:
        now_open = not now_open
    elif trigger in tiles or (trigger in (None, WorkList.QUERY) and filtered):
        now_open = True
    else:
        return no_update
    return "os-work os-work--open" if now_open else "os-work"


def register(app: Dash, runtime: Runtime) -> None:
    """Register the work list's callbacks on ``app``: reads only, so the gate asks what the officials' page needs
    (``console``); none is a wall's."""
    tiles = list(TILE_OF)

    # The URL's query as the work list's own input: on a page without the list (a wall, whose tour moves the URL)
    # this has no output and never runs, and neither does anything below.
    app.clientside_callback(
        "function (search) { return search || ''; }",
        Output(WorkList.QUERY, "data"),
        Input(URL, "search"),
    )

    # One callback both ways (Dash allows a cycle inside one callback only): a control, the sort, a KPI tile or
    # reset writes the URL; the URL (a load, back/forward, a shared link) sets the controls.
    @app.callback(
        Output(URL, "search", allow_duplicate=True),
        *(Output(c, "value") for c in CONTROL_INPUTS),
        Output(WorkList.TABLE, "sort_by"),
        Output(WorkList.RANGE, "hidden"),
        Output(Console.KPIS, "className"),
        Output(WorkList.ASSIGNEE, "options", allow_duplicate=True),
        Output(WorkList.ROOT, "className"),
        Input(WorkList.QUERY, "data"),
        *(Input(c, "value") for c in CONTROL_INPUTS),
        Input(WorkList.TABLE, "sort_by"),
        Input(WorkList.RESET, "n_clicks"),
        *(Input(t, "n_clicks") for t in tiles),
        Input(WorkList.TOGGLE, "n_clicks"),
        State(WorkList.ASSIGNEE, "options"),
        State(PAGE_RENDERED, "data"),
        State(WorkList.ROOT, "className"),
        prevent_initial_call="initial_duplicate",
    )
    def sync_filters(search: str | None, *args: Any) -> Any:
        options, lang, root = args[-3], page_lang(runtime, args[-2]), str(args[-1] or "")
        values = list(args[: len(CONTROL_INPUTS)])
        sort_by = args[len(CONTROL_INPUTS)]
        trigger = ctx.triggered_id
        clicked = bool(ctx.triggered and ctx.triggered[0].get("value"))
        if trigger in (*tiles, WorkList.TOGGLE) and not clicked:
            trigger = None  # a re-rendered tile or button (n_clicks 0), not a click
        is_open = list_open(trigger, root, bool(filter_params(search)), tiles=tiles)
        if trigger == WorkList.TOGGLE:
            return (no_update,) * (len(CONTROL_INPUTS) + 4) + (no_update, is_open)
        new_search, new_values, new_sort = sync(trigger, search, values, sort_by)
        now = new_search if isinstance(new_search, str) else search
        shown = controls_of(now)
        window = new_values[CONTROL_INPUTS.index(WorkList.WINDOW)]
        window = values[CONTROL_INPUTS.index(WorkList.WINDOW)] if window is no_update else window
        tile = active_tile(now)
        kpis = "os-kpis" + (f" os-kpis--filter-{tile}" if tile else "")
        hidden = window != WINDOW_RANGE and not (shown.since or shown.until)
        # a member the URL names is offered before it is chosen: a dropdown drops a value it has no option for
        listed = {o.get("value") for o in options or () if isinstance(o, dict)}
        missing = [a for a in shown.assignee if a not in listed]
        more: Any = no_update
        if missing:
            more = [*(options or ()), *member_options(runtime, missing, lang, hidden=masked(current_actor()))]
        return new_search, *new_values, new_sort, hidden, kpis, more, is_open

    @app.callback(
        Output(WorkList.TABLE, "data"),
        Output(WorkList.TABLE, "page_current"),
        Output(WorkList.TABLE, "page_count"),
        Output(WorkList.TABLE, "style_data_conditional"),
        Output(WorkList.COUNT, "children"),
        Output(WorkList.NOTICE, "children"),
        Output(WorkList.NOTICE, "hidden"),
        Output(WorkList.EXPORT_CSV, "href"),
        Output(WorkList.EXPORT_XLSX, "href"),
        Output(WorkList.ASSIGNEE, "options"),
        Output(WorkList.BUILT, "data"),
        Input(WorkList.QUERY, "data"),
        Input(WorkList.TABLE, "page_current"),
        Input(Console.STORE_SELECTED, "data"),
        Input(WorkList.TICK, "n_intervals"),
        State(PAGE_RENDERED, "data"),
        State(WorkList.BUILT, "data"),
    )
    def show_table(
        search: str | None, page: int | None, selected: Any, _tick: int | None, rendered: Any, built: Any
    ) -> Any:
        lang = page_lang(runtime, rendered)
        trigger = ctx.triggered_id
        selected = selected if isinstance(selected, str) else None
        before = built if isinstance(built, dict) else {}
        filter_key = json.dumps(filter_params(search), sort_keys=True, ensure_ascii=False)
        version = runtime.situation.version
        shown = {"version": version, "filter": filter_key, "search": search or "", "page": page, "selected": selected}
        if (
            trigger == WorkList.TICK
            and {k: before.get(k) for k in shown} == shown
            and time.time() - float(before.get("at") or 0) < REBUILD_S
        ):
            # nothing changed since the table on screen was built (a tick can replace a pending call made for a
            # new URL, page or selection — Dash keeps the newest call of a callback — so those are compared too)
            return (no_update,) * 11
        if trigger == WorkList.QUERY and before.get("filter") != filter_key:
            page = 0  # another list: from its first page
        answer = table_answer(runtime, search, page or 0, selected, lang, jump=trigger == Console.STORE_SELECTED)
        flt: WorkFilter = answer["filter"]
        problems = answer["problems"]
        style: list[dict[str, Any]] = [{"if": {"column_id": "overdue"}, "color": "#c92a2a", "fontWeight": "600"}]
        if answer["highlight"] is not None:
            style.append({"if": {"row_index": answer["highlight"]}, **SELECTED_STYLE})
        count = i18n.t("work.count", lang, n=f"{answer['total']:,}")
        if not answer["total"]:
            count += " · " + i18n.t("work.empty", lang)
        return (
            answer["data"],
            answer["page"],
            answer["pages"],
            style,
            count,
            i18n.t("work.bad_params", lang, problems="；".join(problems)) if problems else "",
            not problems,
            export_href("csv", flt, lang, answer["at"]),
            export_href("xlsx", flt, lang, answer["at"]),
            answer["assignees"],
            {**shown, "page": answer["page"], "at": time.time()},
        )

    @app.callback(
        Output(Console.STORE_SELECTED, "data", allow_duplicate=True),
        Output(WorkList.FLY, "data"),
        Input(WorkList.TABLE, "active_cell"),
        State(WorkList.TABLE, "data"),
        prevent_initial_call=True,
    )
    def pick_row(cell: Any, data: Any) -> Any:
        if not isinstance(cell, dict):
            return no_update, no_update
        row_id = cell.get("row_id")
        if not isinstance(row_id, str):
            row = cell.get("row")
            rows = data if isinstance(data, list) else []
            row_id = rows[row]["id"] if isinstance(row, int) and 0 <= row < len(rows) else None
        target = fly_target(runtime, row_id) if isinstance(row_id, str) else None
        if target is None:
            return no_update, no_update
        return row_id, {**target, "t": time.time()}

    # The flight and the ring around the picked incident happen in the browser (assets/onescreen.js): a
    # MapLibre camera move recorded as the user's own, so live updates and uirevision keep it.
    app.clientside_callback(
        ClientsideFunction(namespace="onescreen", function_name="flyTo"),
        Output(WorkList.FLOWN, "data"),
        Input(WorkList.FLY, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction(namespace="onescreen", function_name="markSelected"),
        Output(WorkList.FLOWN, "data", allow_duplicate=True),
        Input(Console.STORE_SELECTED, "data"),
        prevent_initial_call=True,
    )
