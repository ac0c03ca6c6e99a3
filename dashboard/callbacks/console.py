"""The officials' page: layer toggles, filters, language switch, incident detail. Thin: logic lives elsewhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from dash import ALL, Dash, Input, Output, Patch, State, ctx, no_update

from dashboard import i18n
from dashboard.access.actor import Actor, current_actor, current_client
from dashboard.access.policy import can
from dashboard.access.scope import masked, may_see_incident
from dashboard.callbacks import pages as page_callbacks
from dashboard.duty import on_duty_members
from dashboard.figures.incident_map import CONSOLE_MAP_VIEWPORT, INCIDENT_TRACES, TRACE_GRIDS, fit_view
from dashboard.figures.layer_stack import PLACE_NAMES, Stack, layer_trace_dicts
from dashboard.figures.layers import LAYER_KEYS
from dashboard.frames import ScreenContext, incident_near
from dashboard.layouts import components
from dashboard.layouts import ids as layer_ids
from dashboard.layouts.ids import Console, Replay, WorkList
from dashboard.layouts.root import LIVE_FILTERS, PAGE_RENDERED, ROOT_LANG, URL
from dashboard.runtime import Runtime
from dashboard.work_table import carry_filters
from geo.areas import AreaTree, place_ref
from geo.gcj02 import gcj02_to_wgs84
from geo.privacy import scrub_text
from incidents.actions import apply_action, can_dispatch, can_escalate, can_rate, can_rework, offered_actions
from incidents.assign import Assigner, workload
from incidents.model import Incident, Status
from incidents.situation import Situation
from incidents.store import Outcome
from incidents.wire import WireError

SNAP_M = 15.0  # a click on a layer's point selects an incident this close to it (metres)
NEAREST_MEMBERS = 5
SUGGESTIONS = 5
ACTION_WAIT_S = 3.0  # how long an action waits for the feed to bring the change into this process
# Zooming the district overview to within this many zoom levels of a street's own framing shows that street (its
# grids and their states): the overview draws communities only, the detail comes with the area. A pan at the
# district's own zoom never does (a street of a small district may be framed barely closer than the district).
ZOOM_INTO_STREET = 0.25


def layer_patch(
    layers: list[str], stack: Stack, load: Callable[[str], list[dict[str, Any]]]
) -> tuple[Patch | None, Stack]:
    """A figure patch showing exactly the map layers in ``layers`` (``layouts.ids.CONSOLE_LAYERS`` values), and
    the page's stack after it; None when the map shows exactly those already. A 一张图 layer the map does not
    carry yet is appended (``load(key)`` gives its traces); one it carries is shown or hidden by index."""
    visible = set(layers or ())
    patch = Patch()
    if visible == set(stack.shown):
        return None, stack  # what the page shows already: no re-plot (it would drop a click under way)
    patch["data"][TRACE_GRIDS]["visible"] = layer_ids.LAYER_GRIDS in visible
    for idx in INCIDENT_TRACES:
        patch["data"][idx]["visible"] = layer_ids.LAYER_INCIDENTS in visible
    out = Stack(dict(stack.traces), list(stack.names), stack.next, sorted(visible))
    for key in LAYER_KEYS:
        on = key in visible
        if key not in out.traces:
            if not on:
                continue
            traces = load(key)
            for trace in traces:
                patch["data"].append(trace)
            out.traces[key] = list(range(out.next, out.next + len(traces)))
            out.next += len(traces)
            continue
        for idx in out.traces[key]:
            patch["data"][idx]["visible"] = on
    for idx in out.names:
        patch["layout"]["map"]["layers"][idx]["visible"] = PLACE_NAMES in visible
    patch["layout"]["showlegend"] = any(key in visible for key in LAYER_KEYS)
    return patch, out


def incident_detail_children(
    runtime: Runtime,
    incident_id: str | None,
    lang: str,
    *,
    assigner: Assigner | None = None,
    result: tuple[bool, str] | None = None,
    at: float | None = None,
) -> list[Any]:
    """The detail panel's children for ``incident_id`` as the Situation holds it now: status, nearest on-duty
    members and, if it can be dispatched, assignment suggestions; ``result`` is an action's (ok, message). An
    empty panel for ``None`` or an unknown id. ``at``: the page shows that past moment (``?at=``): the incident
    as it was then (``Runtime.replay``), and no action is offered.
    """
    if not incident_id:
        return components.incident_detail(None, lang=lang)
    if at is not None:
        now = at
        view, rebuild = runtime.replay.view_at(at)
        incident = next((i for i in rebuild.incidents if i.id == incident_id), None)
        assigner, result = None, (False, i18n.t("replay.no_actions", lang))
    else:
        now = time.time()
        view = runtime.situation.view(now)
        incident = runtime.situation.get(incident_id)
    rows = view.incidents[view.incidents["id"] == incident_id]
    actor = current_actor()
    history = at is not None
    if incident is None or len(rows) == 0 or not may_see_incident(actor, runtime, incident):
        return components.incident_detail(None, lang=lang)  # outside the actor's areas: as if there were none
    row = rows.iloc[0].to_dict()
    hidden = masked(actor)
    row = {**row, "description": incident.description}  # the table has no descriptions: the record has
    if hidden:
        row = {**row, **{k: scrub_text(str(row.get(k) or "")) for k in ("title", "description")}}
    nearest = runtime.index.nearest_members([incident.lon], [incident.lat], n=NEAREST_MEMBERS, on_duty_only=True)
    if hidden and len(nearest):  # a viewer learns who is near, not how many metres from the door
        nearest = nearest.assign(distance_m=(nearest["distance_m"].astype(float) / 100).round().clip(lower=1) * 100)
    grids = runtime.layers.grids.set_index("grid_id")["name"]
    communities = runtime.layers.communities.set_index("community_id")["name"]
    suggestions = None
    if assigner is not None and can_dispatch(incident.status) and can(actor, "dispatch"):
        suggestions = assigner.suggest(
            incident.lon,
            incident.lat,
            incident.category,
            str(row.get("grid_id") or ""),
            n=SUGGESTIONS,
            exclude=[incident.assignee] if incident.assignee else (),
            workload=workload(view.incidents),
        )
    sla = runtime.situation.sla
    due_at = sla.overdue_at(incident) if incident.is_open else sla.resolve_due(incident)
    acts = can(actor, "act") and not history
    return components.incident_detail(
        {**row, "history": incident.history, "due": incident.due, "escalated": incident.escalated},
        lang=lang,
        history=[(s, t, incident.actor_at(i)) for i, (s, t) in enumerate(incident.history)],  # who did each step
        nearest=nearest,
        grid_name=str(grids.get(row.get("grid_id"), row.get("grid_id") or "")),
        community_name=str(communities.get(row.get("community_id"), row.get("community_id") or "")),
        now=now,
        suggestions=suggestions,
        actions=[str(a) for a in offered_actions(incident.status)] if acts else [],
        result=result,
        place=place_names(runtime, row),
        assignee=assignee_of(runtime, incident.assignee, lang, masked=hidden),
        deadline=due_at,
        overdue_multiple=sla.overdue_multiple(incident, now) if sla.is_overdue(incident, now) else 0.0,
        ratings=acts and can_rate(incident.status),
        rework=acts and can_rework(incident.status),
        escalate=can(actor, "dispatch") and can_escalate(incident) and not history,
    )


async def detail_at(runtime: Runtime, assigner: Assigner, incident_id: str | None, lang: str, at: object) -> list[Any]:
    """``incident_detail_children`` for a page showing the moment ``at`` (``Replay.AT``: epoch seconds, None when
    live). A past moment's rebuild (after an idle spell, a read of the whole log) runs off the event loop."""
    if not isinstance(at, int | float) or isinstance(at, bool):
        return incident_detail_children(runtime, incident_id, lang, assigner=assigner)
    return await asyncio.to_thread(incident_detail_children, runtime, incident_id, lang, at=float(at))


def place_names(runtime: Runtime, row: Mapping[Any, Any]) -> dict[str, str]:
    """``{"micro_grid": name, "address": "街道 社区 微网格"}`` of an incidents-table row, from the area tree's names
    ("" for what the row does not name)."""
    tree = runtime.geo.areas
    micro = str(row.get("micro_grid_id") or "")
    ref = place_ref(micro, str(row.get("grid_id") or ""), str(row.get("community_id") or ""))
    if not ref or ref not in tree.areas:
        return {"micro_grid": "", "address": ""}
    chain = [a for a in tree.path(ref) if a.kind != "district" and a.kind != "grid"]  # micro-grid names hold the grid
    mg = tree.areas.get(f"micro_grid:{micro}")
    return {"micro_grid": mg.name if mg is not None else "", "address": " ".join(a.name for a in chain)}


def assignee_of(runtime: Runtime, member_id: str, lang: str, *, masked: bool) -> tuple[str, str] | None:
    """(name, role label) of the member ``member_id`` — the name masked when ``masked`` —; None when no member
    has that id (none assigned, a unit or an outside system's id: shown as given)."""
    if not member_id:
        return None
    m = runtime.layers.members
    row = m.loc[m["member_id"].astype(str) == member_id]
    if not len(row):
        return None
    name = str(row["name"].iloc[0])
    return (i18n.mask_name(name) if masked else name), i18n.role_label(row["role"].iloc[0], lang)


def on_duty_children(runtime: Runtime, area: object, lang: str) -> tuple[list[Any], str]:
    """The on-duty panel's children for the area a page shows (``area``: the page store's word, confined here to
    what the current actor may see), names and phones masked unless the actor's role shows them; and a key of
    what they show (members and their open tasks: the panel is redrawn only when it changes)."""
    search = "?area=" + area if isinstance(area, str) and area else ""
    req = page_callbacks.request_of(runtime, "/", search)
    load = workload(runtime.situation.view(time.time()).incidents)
    rows = on_duty_members(runtime.layers.members, runtime.geo.areas, req.area, req.scope, load)
    grids = dict(
        zip(runtime.layers.grids["grid_id"].astype(str), runtime.layers.grids["name"].astype(str), strict=True)
    )
    hidden = masked(current_actor())
    key = f"{lang}:{int(hidden)}:" + ",".join(
        f"{m}={n}" for m, n in zip(rows["member_id"], rows["open_tasks"], strict=True)
    )
    return components.on_duty_panel(rows, lang, masked=hidden, grid_names=grids), key


def wait_for_ts(situation: Situation, incident_id: str, ts: float, timeout: float = ACTION_WAIT_S) -> bool:
    """Block until this process's situation holds ``incident_id`` at ``ts`` or newer (the feed applied it)."""
    deadline = time.monotonic() + timeout
    while True:
        version = situation.version
        inc = situation.get(incident_id)
        if inc is not None and inc.ts >= ts:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        situation.wait_for_change(version, min(left, 0.25))


def run_action(runtime: Runtime, assigner: Assigner, incident_id: str, trigger: dict[str, Any], lang: str) -> list[Any]:
    """Publish the action a detail-panel button stands for; the panel again, with the outcome on top."""
    incident = runtime.situation.get(incident_id)
    if incident is None:
        return components.incident_detail(None, lang=lang)
    actor = current_actor()
    if not may_see_incident(actor, runtime, incident):  # nothing changes, and nothing about the incident is shown
        said = components.action_result((False, i18n.t("action.outside", lang)))
        return [said, *components.incident_detail(None, lang=lang)]
    member = str(trigger.get("member") or "")
    kind = trigger.get("type")
    rating: int | None = None
    escalated: bool | None = None
    if kind == layer_ids.DISPATCH_BTN:
        status = Status.DISPATCHED
    elif kind == layer_ids.RATE_BTN:
        status, rating = Status.CLOSED, _rating_of(trigger.get("rating"))
    elif kind == layer_ids.ESCALATE_BTN:
        status, escalated = incident.status, True
    else:
        try:
            status = Status(str(trigger.get("status")))
        except ValueError:
            return incident_detail_children(runtime, incident_id, lang, assigner=assigner)
    refused = action_refused(runtime, actor, status, member, incident=incident, kind=str(kind), rating=rating)
    if refused:
        result = (False, i18n.t(refused, lang))
        return incident_detail_children(runtime, incident_id, lang, assigner=assigner, result=result)
    try:
        msg, res = apply_action(
            runtime.redis,
            runtime.keys,
            incident,
            status,
            assignee=member or None,
            actor=actor.label(),
            client=current_client(),
            rating=rating,
            escalated=escalated,
        )
    except WireError as exc:
        result = (False, i18n.t("action.rejected", lang, reason=exc.reason))
    except Exception as exc:  # Redis down, timeouts: say so in the panel
        result = (False, i18n.t("action.failed", lang, reason=str(exc) or type(exc).__name__))
    else:
        if res.outcome is not Outcome.APPLIED:
            result = (False, i18n.t("action.not_applied", lang))
        else:
            wait_for_ts(runtime.situation, incident_id, float(msg["ts"]))
            result = (
                True,
                done_message(runtime, incident_id, status, member, lang, rating=rating, escalated=escalated),
            )
    return incident_detail_children(runtime, incident_id, lang, assigner=assigner, result=result)


def _rating_of(value: object) -> int | None:
    """A rate button's rating (1-5), None for anything else (a forged id)."""
    try:
        k = int(str(value))
    except ValueError:
        return None
    return k if 1 <= k <= 5 else None


def done_message(
    runtime: Runtime, incident_id: str, status: Status, member: str, lang: str, *, rating: int | None,
    escalated: bool | None,
) -> str:  # fmt: skip
    """What the panel says after an applied action."""
    if escalated:
        return i18n.t("action.done_escalated", lang)
    if rating is not None:
        return i18n.t("action.done_rated", lang, n=rating)
    if member:
        m = runtime.layers.members
        row = m.loc[m["member_id"] == member]
        name = i18n.mask_name(row["name"].iloc[0]) if len(row) else member
        role = i18n.role_label(row["role"].iloc[0], lang) if len(row) else ""
        return i18n.t("action.done_dispatched", lang, name=name, role=role)
    after = runtime.situation.get(incident_id)
    if status == Status.DISPATCHED and after is not None and after.reopened:
        return i18n.t("action.done_rework", lang, n=after.reopened)
    return i18n.t("action.done_status", lang, status=i18n.status_label(status, lang))


def action_refused(
    runtime: Runtime,
    actor: Actor,
    status: Status,
    member: str,
    *,
    incident: Incident | None = None,
    kind: str = "",
    rating: int | None = None,
) -> str | None:
    """Why ``actor`` may not take this action (an i18n key), or None when it may: changing an incident needs
    ``act``; dispatching (派单/改派) ``dispatch``, and a member to dispatch to must lie inside the actor's areas
    (the incident's own place is checked by the caller: ``may_see_incident``); 返工 (dispatched again from
    resolved/closed, no member) ``act``; 评单 (a rate button) ``act``, a resolved incident and a rating 1-5 — a
    close without a rating is refused;
    催办 (the escalate button) ``dispatch`` and dispatched or accepted work not escalated yet."""
    if not can(actor, "act"):
        return "action.not_allowed"
    if kind == layer_ids.ESCALATE_BTN:
        if not can(actor, "dispatch"):
            return "action.not_allowed"
        return None if incident is None or can_escalate(incident) else "action.not_now"
    if kind == layer_ids.RATE_BTN:
        return None if rating is not None and (incident is None or can_rate(incident.status)) else "action.not_now"
    if status == Status.CLOSED:
        return "action.not_now"  # 评单 closes, with a rating: never a bare close
    rework = kind == layer_ids.ACTION_BTN and incident is not None and can_rework(incident.status)
    if status == Status.DISPATCHED and not (rework and not member):
        if not can(actor, "dispatch"):
            return "action.not_allowed"
        if member and actor.areas:
            m = runtime.layers.members
            row = m.loc[m["member_id"].astype(str) == member]
            ref = place_ref(*(str(row[c].iloc[0]) if len(row) and c in row else "" for c in PLACE_COLUMNS))
            if not runtime.geo.areas.inside(ref, actor.areas):
                return "action.outside"
    return None


PLACE_COLUMNS = ("micro_grid_id", "grid_id", "community_id")


def incident_clicked(click: dict[str, Any] | None, nearby: Callable[[float, float], str | None]) -> str | None:
    """The incident a map click selects: a marker of an incident trace, or — when a layer's point lay over it
    (a grid branch sits at its grid's label point, where incidents are often placed) — the incident ``nearby``
    finds at the clicked point's position."""
    points = (click or {}).get("points") or []
    for p in points:
        if p.get("curveNumber") in INCIDENT_TRACES and isinstance(p.get("customdata"), str):
            return str(p["customdata"])
    for p in points:
        lon, lat = p.get("lon"), p.get("lat")
        if isinstance(lon, int | float) and isinstance(lat, int | float) and p.get("curveNumber") != TRACE_GRIDS:
            return nearby(float(lon), float(lat))
    return None


def zoomed_view(view: dict[str, Any] | None) -> tuple[float, float, float] | None:
    """(lon, lat, zoom) of ``Console.MAP_VIEW``'s data (``{"center": {"lon", "lat"}, "zoom"}``, the map's view
    after a pan or zoom); None for anything else."""
    data = view or {}
    center, zoom = data.get("center"), data.get("zoom")
    if not isinstance(center, dict) or not isinstance(zoom, int | float):
        return None
    lon, lat = center.get("lon"), center.get("lat")
    if not isinstance(lon, int | float) or not isinstance(lat, int | float):
        return None
    return float(lon), float(lat), float(zoom)


def street_at_zoom(tree: AreaTree, grid_id: str, zoom: float) -> str | None:
    """The street (ref) of ``grid_id`` when a district map at ``zoom`` is within ``ZOOM_INTO_STREET`` levels of
    that street's own framing on the officials' map (``fit_view`` of its bbox) and more than that above the
    district's framing, else None."""
    street = tree.step_toward(tree.root, f"grid:{grid_id}")
    street_zoom = fit_view(tree.get(street).bbox, CONSOLE_MAP_VIEWPORT)[1]
    district_zoom = fit_view(tree.get(tree.root).bbox, CONSOLE_MAP_VIEWPORT)[1]
    return street if zoom >= max(street_zoom, district_zoom + 2 * ZOOM_INTO_STREET) - ZOOM_INTO_STREET else None


def area_clicked(click: dict[str, Any] | None, level: str, locate: Callable[[float, float], str | None]) -> str | None:
    """The area (``KIND:ID``) a map click is in: the choropleth's ``location`` as an area of ``level`` (``grid``,
    or a district overview's ``community``/``street``: ``MapBase.level``), or for a click on a layer's point (a grid
    branch, a grid's label point) the grid ``locate`` finds at the point's position; None elsewhere."""
    for point in (click or {}).get("points") or []:
        if point.get("curveNumber") == TRACE_GRIDS and isinstance(point.get("location"), str):
            return f"{level}:{point['location']}"
    for point in (click or {}).get("points") or []:
        lon, lat = point.get("lon"), point.get("lat")
        if isinstance(lon, int | float) and isinstance(lat, int | float):
            grid = locate(float(lon), float(lat))
            return None if grid is None else f"grid:{grid}"
    return None


class MapPicks:
    """What a position clicked on the map is in the runtime's data (incidents, grids). Positions come as drawn:
    over a GCJ-02 basemap they are turned back into WGS-84 first."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def wgs84_of(self, lon: float, lat: float) -> tuple[float, float]:
        if self.runtime.map_base.display_crs != "gcj02":
            return lon, lat
        x, y = gcj02_to_wgs84(lon, lat)
        return float(x), float(y)

    def incident_near(self, lon: float, lat: float) -> str | None:
        """The incident within ``SNAP_M`` of the position, if any."""
        x, y = self.wgs84_of(lon, lat)
        incidents = self.runtime.situation.view(time.time()).incidents
        areas = current_actor().areas
        if areas:  # only what the actor may see can be picked
            incidents = incidents[self.runtime.geo.areas.mask_any(incidents, areas)]
        return incident_near(incidents, x, y, SNAP_M)

    def street_zoomed_into(self, view: tuple[float, float, float] | None) -> str | None:
        """The street a district map's ``view`` (``zoomed_view``) has zoomed into: the one under its centre, once
        the zoom is within ``ZOOM_INTO_STREET`` levels of that street's own framing on the officials' map."""
        grid = None if view is None else self.grid_at(view[0], view[1])
        return None if view is None or grid is None else street_at_zoom(self.runtime.geo.areas, grid, view[2])

    def grid_at(self, lon: float, lat: float) -> str | None:
        """The grid containing the position, if any."""
        x, y = self.wgs84_of(lon, lat)
        found = str(self.runtime.index.locate(x, y)["grid_id"].iloc[0])
        return found or None


def register(app: Dash, runtime: Runtime) -> set[str]:
    """Register the console's callbacks on ``app``: layers, filters, language, selection, detail, actions.
    Returns the output keys (``app.callback_map``) of those that change incidents (the gate asks ``act``)."""
    assigner = Assigner(runtime.layers, runtime.index)
    picks = MapPicks(runtime)

    # Runs on every render too, so a persisted layer choice is re-applied to a freshly rendered map.
    @app.callback(
        Output(Console.MAP, "figure", allow_duplicate=True),
        Output(Console.LAYER_STACK, "data"),
        Input(Console.LAYERS, "value"),
        State(Console.LAYER_STACK, "data"),
        State(PAGE_RENDERED, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def toggle_layers(layers: list[str], stack: Any, rendered: Any) -> Any:
        page = rendered if isinstance(rendered, dict) else {}
        lang = page.get("lang") or runtime.settings.lang
        scope = page_callbacks.client_area_scope(runtime, page.get("area"))  # the store is the browser's word

        def load(key: str) -> list[dict[str, Any]]:
            return layer_trace_dicts(runtime.shown_layers, key, lang, theme="console", area=scope, wall=False)

        patch, after = layer_patch(layers, Stack.of(stack), load)
        return (no_update, no_update) if patch is None else (patch, after.as_json())

    # The filters reach the live push as part of the tab's context (no round trip of their own): the push
    # loop then switches to the filtered frame and sends the marker edit.
    # The work list's status filter (超期, 紧急, …: incidents.worklist views) shows on the map too, unless the map's
    # own status filter is set: then that one.
    app.clientside_callback(
        """function (statuses, communities, work) {
            var s = statuses && statuses.length ? statuses : (work || []);
            return {statuses: s, communities: communities || []}; }""",
        Output(LIVE_FILTERS, "data"),
        Input(Console.STATUS_FILTER, "value"),
        Input(Console.COMMUNITY_FILTER, "value"),
        Input(WorkList.STATUS, "value"),
    )

    @app.callback(
        Output(ROOT_LANG, "data"),
        Input(Console.LANG, "value"),
        State(ROOT_LANG, "data"),
        prevent_initial_call=True,
    )
    def switch_language(lang: str, current: str | None) -> Any:
        return lang if lang != current else no_update

    @app.callback(
        Output(Console.STORE_SELECTED, "data"),
        Input(Console.MAP, "clickData"),
        Input(Console.DETAIL_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    def select_incident(click: dict[str, Any] | None, _closed: int) -> Any:
        if ctx.triggered_id == Console.DETAIL_CLOSE:
            return None
        found = incident_clicked(click, picks.incident_near)
        return found if found is not None else no_update

    @app.callback(
        Output(URL, "search", allow_duplicate=True),
        Input(Console.MAP, "clickData"),
        State(URL, "pathname"),
        State(URL, "search"),
        prevent_initial_call=True,
    )
    def drill_down(click: dict[str, Any] | None, pathname: str | None, search: str | None) -> Any:
        if incident_clicked(click, picks.incident_near) is not None:
            return no_update  # a click on an incident opens its detail; it does not move the page
        req = page_callbacks.request_of(runtime, pathname, search)
        level = runtime.hub.base_for(ScreenContext(area=req.area)).level  # a district overview's areas, or grids
        target = area_clicked(click, level, picks.grid_at)
        if target is None:
            return no_update
        tree = runtime.geo.areas
        return carry_filters(search, req.search_for(tree.step_toward(req.area or tree.root, target)))

    # Only a pan or zoom reaches the server (not the work list's flight to a picked row: onescreen.js isFlight):
    # Plotly emits other relayouts right after one (``autosize``), and Dash
    # would drop the answer to the first when the second re-triggers the same callback.
    app.clientside_callback(
        """function (r) { var os = window.dash_clientside.onescreen;
            if (os && os.isFlight && os.isFlight(r)) return window.dash_clientside.no_update;
            return r && r['map.center'] && r['map.zoom'] !== undefined ?
            {center: r['map.center'], zoom: r['map.zoom']} : window.dash_clientside.no_update; }""",
        Output(Console.MAP_VIEW, "data"),
        Input(Console.MAP, "relayoutData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(URL, "search", allow_duplicate=True),
        Input(Console.MAP_VIEW, "data"),
        State(URL, "pathname"),
        State(URL, "search"),
        prevent_initial_call=True,
    )
    def zoom_into_street(view: dict[str, Any] | None, pathname: str | None, search: str | None) -> Any:
        req = page_callbacks.request_of(runtime, pathname, search)
        if req.area or runtime.hub.overview is None:
            return no_update  # only the district overview has detail to zoom into
        street = picks.street_zoomed_into(zoomed_view(view))
        return no_update if street is None else carry_filters(search, req.search_for(street))

    @app.callback(
        Output(Console.DETAIL, "children"),
        Input(Console.STORE_SELECTED, "data"),
        State(ROOT_LANG, "data"),
        State(Replay.AT, "data"),
    )
    async def show_detail(incident_id: str | None, lang: str | None, at: Any) -> list[Any]:
        return await detail_at(runtime, assigner, incident_id, lang or runtime.settings.lang, at)

    # 在岗值守 of the page's area (the store is the browser's word: ``request_of`` confines it to the actor's).
    # Fired as the panel appears (a rendered officials' page; a new area re-renders the page), never on a wall,
    # then on the work list's tick: redrawn when someone goes on or off duty or a member's open tasks change.
    @app.callback(
        Output(Console.ON_DUTY, "children"),
        Output(Console.ON_DUTY_SHOWN, "data"),
        Input(Console.ON_DUTY, "id"),
        Input(WorkList.TICK, "n_intervals"),
        State(PAGE_RENDERED, "data"),
        State(Console.ON_DUTY_SHOWN, "data"),
    )
    def show_on_duty(_panel: str, _tick: Any, rendered: Any, shown: Any) -> Any:
        page = rendered if isinstance(rendered, dict) else {}
        children, key = on_duty_children(runtime, page.get("area"), page.get("lang") or runtime.settings.lang)
        return (no_update, no_update) if key == shown else (children, key)

    before = set(app.callback_map)

    @app.callback(
        Output(Console.DETAIL, "children", allow_duplicate=True),
        Input({"type": layer_ids.DISPATCH_BTN, "member": ALL}, "n_clicks"),
        Input({"type": layer_ids.ACTION_BTN, "status": ALL}, "n_clicks"),
        Input({"type": layer_ids.RATE_BTN, "rating": ALL}, "n_clicks"),
        Input({"type": layer_ids.ESCALATE_BTN, "flag": ALL}, "n_clicks"),
        State(Console.STORE_SELECTED, "data"),
        State(ROOT_LANG, "data"),
        prevent_initial_call=True,
    )
    def act(
        _dispatch: list[int | None],
        _actions: list[int | None],
        _rates: list[int | None],
        _escalate: list[int | None],
        incident_id: str | None,
        lang: str | None,
    ) -> Any:
        trigger = ctx.triggered_id
        clicked = bool(ctx.triggered and ctx.triggered[0].get("value"))
        if not incident_id or not clicked or not isinstance(trigger, dict):
            return no_update  # a re-rendered panel's fresh buttons (n_clicks 0), not a click
        return run_action(runtime, assigner, incident_id, dict(trigger), lang or runtime.settings.lang)

    return set(app.callback_map) - before
