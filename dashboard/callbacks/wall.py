"""The wall's callbacks: its map edits are applied in the browser (``assets/onescreen.js``), and a touring wall
moves to its next area there too; nothing else runs per page — the KPIs, feed and charts are set by the live
push (``callbacks/live.py``)."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State

from dashboard.layouts.ids import Tour, Wall
from dashboard.layouts.root import PAGE_RENDERED, URL

# Each tick of a touring wall: the URL of the area after the one on screen (the router renders it).
_NEXT_AREA_JS = """
function (n, tour, rendered) {
    if (!n || !tour) { return window.dash_clientside.no_update; }
    const here = (rendered && rendered.area) || "";
    return tour.next[here] || tour.first;
}
"""


def register(app: Dash) -> None:
    """Apply each live map edit (``push.map_edit``) to the wall's map in place, without a Plotly re-plot."""
    app.clientside_callback(
        ClientsideFunction(namespace="onescreen", function_name="applyMapEdit"),
        Input(Wall.MAP_EDIT, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _NEXT_AREA_JS,
        Output(URL, "search", allow_duplicate=True),
        Input(Tour.TICK, "n_intervals"),
        State(Tour.STORE, "data"),
        State(PAGE_RENDERED, "data"),
        prevent_initial_call=True,
    )
