"""The officials' page: layer toggles, filters, language switch, incident detail. Thin: logic lives elsewhere."""

from __future__ import annotations

import time
from typing import Any

from dash import Dash, Input, Output, Patch, State, ctx, no_update

from dashboard.figures.incident_map import (
    INCIDENT_TRACES,
    LAYER_MICRO_GRIDS,
    TRACE_GRIDS,
    TRACE_MEMBERS,
    incident_trace_updates,
)
from dashboard.frames import ScreenContext, map_incidents
from dashboard.layouts import components
from dashboard.layouts import ids as layer_ids
from dashboard.layouts.ids import Console
from dashboard.layouts.root import ROOT_LANG
from dashboard.runtime import Runtime

NEAREST_MEMBERS = 5


def layer_patch(layers: list[str], has_micro_grids: bool) -> Patch:
    visible = set(layers or ())
    patch = Patch()
    patch["data"][TRACE_GRIDS]["visible"] = layer_ids.LAYER_GRIDS in visible
    patch["data"][TRACE_MEMBERS]["visible"] = layer_ids.LAYER_MEMBERS in visible
    for idx in INCIDENT_TRACES:
        patch["data"][idx]["visible"] = layer_ids.LAYER_INCIDENTS in visible
    if has_micro_grids:
        patch["layout"]["map"]["layers"][LAYER_MICRO_GRIDS]["visible"] = layer_ids.LAYER_MICRO_GRIDS in visible
    return patch


def incident_detail_children(runtime: Runtime, incident_id: str | None, lang: str) -> list[Any]:
    if not incident_id:
        return components.incident_detail(None, lang=lang)
    now = time.time()
    view = runtime.situation.view(now)
    rows = view.incidents[view.incidents["id"] == incident_id]
    incident = runtime.situation.get(incident_id)
    if incident is None or len(rows) == 0:
        return components.incident_detail(None, lang=lang)
    row = rows.iloc[0].to_dict()
    nearest = runtime.index.nearest_members([incident.lon], [incident.lat], n=NEAREST_MEMBERS, on_duty_only=True)
    grids = runtime.layers.grids.set_index("grid_id")["name"]
    communities = runtime.layers.communities.set_index("community_id")["name"]
    return components.incident_detail(
        {**row, "history": incident.history, "due": incident.due},
        lang=lang,
        history=incident.history,
        nearest=nearest,
        grid_name=str(grids.get(row.get("grid_id"), row.get("grid_id") or "")),
        community_name=str(communities.get(row.get("community_id"), row.get("community_id") or "")),
        now=now,
    )


def register(app: Dash, runtime: Runtime) -> None:
    has_micro = runtime.map_base.micro_geojson is not None

    # Runs on every render too, so a persisted layer choice is re-applied to a freshly rendered map.
    @app.callback(
        Output(Console.MAP, "figure", allow_duplicate=True),
        Input(Console.LAYERS, "value"),
        prevent_initial_call="initial_duplicate",
    )
    def toggle_layers(layers: list[str]) -> Patch:
        return layer_patch(layers, has_micro)

    @app.callback(
        Output(Console.MAP, "figure", allow_duplicate=True),
        Input(Console.STATUS_FILTER, "value"),
        Input(Console.COMMUNITY_FILTER, "value"),
        State(ROOT_LANG, "data"),
        prevent_initial_call=True,
    )
    def filter_markers(statuses: list[str], communities: list[str], lang: str | None) -> Patch:
        sc = ScreenContext.of("console", lang, statuses, communities)
        view = runtime.situation.view(time.time())
        patch = Patch()
        for idx, values in incident_trace_updates(map_incidents(view, sc), sc.lang).items():
            for key, value in values.items():
                patch["data"][idx][key] = value
        return patch

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
        points = (click or {}).get("points") or []
        ids_clicked = [p.get("customdata") for p in points if isinstance(p.get("customdata"), str)]
        return ids_clicked[0] if ids_clicked else no_update

    @app.callback(
        Output(Console.DETAIL, "children"),
        Input(Console.STORE_SELECTED, "data"),
        State(ROOT_LANG, "data"),
    )
    def show_detail(incident_id: str | None, lang: str | None) -> list[Any]:
        return incident_detail_children(runtime, incident_id, lang or runtime.settings.lang)
