"""Routing: render /wall or / with the current situation baked in (so the first paint is already complete)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update

from dashboard.figures.incident_map import build_incident_map
from dashboard.frames import ScreenContext, screen_frame
from dashboard.layouts.console import console_layout
from dashboard.layouts.root import PAGE, ROOT_LANG, URL
from dashboard.layouts.wall import wall_layout
from dashboard.runtime import Runtime


def render_page(runtime: Runtime, pathname: str | None, lang: str) -> Any:
    wall = (pathname or "").rstrip("/").endswith("/wall")
    now = time.time()
    view = runtime.situation.view(now)
    sc = ScreenContext.of("wall" if wall else "console", lang)
    frame = screen_frame(view, runtime.map_base, sc)
    figure = build_incident_map(
        runtime.map_base,
        frame.grid_z,
        frame.traces,
        theme="wall" if wall else "console",
        lang=sc.lang,
        show_members=runtime.settings.show_members_on_wall if wall else True,
    )
    token = f"{view.version_token}@render{now:.3f}"
    runtime.rendered.put(token, frame)
    if wall:
        return wall_layout(
            street_name=runtime.street_name,
            lang=sc.lang,
            figure=figure,
            kpis=view.kpis,
            feed=frame.feed,
            now=now,
            version=token,
            pulse=runtime.settings.wall_pulse,
        )
    communities = dict(zip(runtime.layers.communities["community_id"], runtime.layers.communities["name"], strict=True))
    return console_layout(
        street_name=runtime.street_name,
        lang=sc.lang,
        figure=figure,
        kpis=view.kpis,
        communities=communities,
        version=token,
    )


def lang_from_query(search: str | None) -> str | None:
    """``?lang=en`` / ``?lang=zh`` on any page URL (a wall has no buttons to press)."""
    values = parse_qs((search or "").lstrip("?")).get("lang") or []
    return values[-1] if values and values[-1] in ("zh", "en") else None


def register(app: Dash, runtime: Runtime) -> None:
    @app.callback(Output(PAGE, "children"), Input(URL, "pathname"), Input(ROOT_LANG, "data"))
    def route(pathname: str | None, lang: str | None) -> Any:
        return render_page(runtime, pathname, lang or runtime.settings.lang)

    @app.callback(
        Output(ROOT_LANG, "data", allow_duplicate=True),
        Input(URL, "search"),
        State(ROOT_LANG, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def language_from_url(search: str | None, current: str | None) -> Any:
        wanted = lang_from_query(search)
        return wanted if wanted and wanted != current else no_update
