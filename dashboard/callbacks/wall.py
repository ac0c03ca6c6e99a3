"""The wall's callbacks: its map edits are applied in the browser (``assets/onescreen.js``), nothing else runs
per page — the KPIs, feed and charts are set by the live push (``callbacks/live.py``)."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input

from dashboard.layouts.ids import Wall


def register(app: Dash) -> None:
    """Apply each live map edit (``push.map_edit``) to the wall's map in place, without a Plotly re-plot."""
    app.clientside_callback(
        ClientsideFunction(namespace="onescreen", function_name="applyMapEdit"),
        Input(Wall.MAP_EDIT, "data"),
        prevent_initial_call=True,
    )
