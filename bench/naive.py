"""The baseline the design measures against: a naive Dash app (Flask backend, no WebSocket).

A ``dcc.Interval(1 s)`` callback rebuilds the WHOLE map figure (geometry included) plus the KPI values and the
feed list from the same Situation a onescreen server keeps (the same ``Feed``: SUBSCRIBE → apply → log →
Situation), and returns it all. Same figure builder, same trace order, so the same browser probes apply.

``python -m bench.naive --port P`` with ``REDIS_URL``, ``ONESCREEN_PREFIX``, ``ONESCREEN_DATA``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from dash import Dash, Input, Output, dcc, html

from dashboard.figures.incident_map import build_incident_map
from dashboard.frames import ScreenContext, screen_frame
from dashboard.layouts import components
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings

MAP_ID = "naive-map"
FEED_ID = "naive-feed"
KPIS_ID = "naive-kpis"
TICK_ID = "naive-tick"
INTERVAL_MS = 1000


def _content(runtime: Runtime) -> tuple[Any, list[Any], list[Any]]:
    view = runtime.situation.view(time.time())
    frame = screen_frame(view, runtime.map_base, ScreenContext.of("wall", "zh"))
    figure = build_incident_map(runtime.map_base, frame.grid_z, frame.traces, theme="wall", lang="zh")
    kpis = [html.Span(f"{t.label}: {t.value}", className="naive-kpi") for t in frame.kpis]
    return figure, components.feed_items(frame.feed, "zh"), kpis


def create_naive_app(runtime: Runtime) -> Dash:
    app = Dash(__name__, title="naive baseline", update_title="", serve_locally=True)

    def layout() -> html.Div:
        figure, feed, kpis = _content(runtime)
        return html.Div(
            [
                html.Div(kpis, id=KPIS_ID),
                dcc.Graph(
                    id=MAP_ID,
                    figure=figure,
                    config={"displayModeBar": False},
                    style={"width": "1356px", "height": "806px"},
                ),
                html.Ul(feed, id=FEED_ID),
                dcc.Interval(id=TICK_ID, interval=INTERVAL_MS),
            ]
        )

    app.layout = layout

    @app.callback(
        Output(MAP_ID, "figure"),
        Output(FEED_ID, "children"),
        Output(KPIS_ID, "children"),
        Input(TICK_ID, "n_intervals"),
    )
    def tick(_n: int | None) -> tuple[Any, list[Any], list[Any]]:
        figure, feed, kpis = _content(runtime)
        return figure, feed, kpis

    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.naive")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    settings = Settings.from_env()
    if not settings.redis_url:
        print("REDIS_URL is required", file=sys.stderr)
        return 2
    runtime = build_runtime(settings, settings.redis_url)
    runtime.start()
    try:
        app = create_naive_app(runtime)
        app.run(host="127.0.0.1", port=args.port, debug=False, threaded=True)
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
