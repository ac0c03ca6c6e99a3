"""Routing: /wall or / rendered from the frame hub's current frame (so the first paint is already complete).

Page loads never compute a frame of their own: the page is built from ``FrameHub.frame(ctx)`` — the frame every
live connection of that context is diffed against — and the layout response for one frame is built once and
served to every browser loading it (``dashboard.page_cache``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, State, no_update

from dashboard.figures.incident_map import build_incident_map
from dashboard.frames import Frame, ScreenContext
from dashboard.layouts.console import console_layout
from dashboard.layouts.root import LIVE_TOKEN, PAGE, PAGE_RENDERED, ROOT_LANG, URL, screen_of_path
from dashboard.layouts.wall import wall_layout
from dashboard.runtime import Runtime


def page_from_frame(runtime: Runtime, frame: Frame) -> Any:
    """The wall or console page showing ``frame``."""
    wall = frame.ctx.screen == "wall"
    figure = build_incident_map(
        runtime.map_base,
        frame.grid_z,
        frame.traces,
        theme="wall" if wall else "console",
        lang=frame.ctx.lang,
        show_members=runtime.settings.show_members_on_wall if wall else True,
        frame_token=frame.token,
    )
    if wall:
        return wall_layout(
            street_name=runtime.street_name,
            lang=frame.ctx.lang,
            figure=figure,
            kpis=frame.kpi_values,
            feed=frame.feed,
            now=frame.now,
            pulse=runtime.settings.wall_pulse,
        )
    communities = dict(zip(runtime.layers.communities["community_id"], runtime.layers.communities["name"], strict=True))
    return console_layout(
        street_name=runtime.street_name,
        lang=frame.ctx.lang,
        figure=figure,
        kpis=frame.kpi_values,
        communities=communities,
    )


def current_frame(runtime: Runtime, pathname: str | None, lang: str) -> Frame:
    """The hub's frame for a page load of ``pathname`` in ``lang`` (no filters: a fresh page has none)."""
    return runtime.hub.frame(ScreenContext.of(screen_of_path(pathname), lang))


def lang_from_query(search: str | None) -> str | None:
    """``?lang=en`` / ``?lang=zh`` on any page URL (a wall has no buttons to press)."""
    values = parse_qs((search or "").lstrip("?")).get("lang") or []
    return values[-1] if values and values[-1] in ("zh", "en") else None


def register(app: Dash, runtime: Runtime) -> None:
    """Register the router callbacks: render the page for the URL and language, and ``?lang=`` from the URL."""

    @app.callback(
        Output(PAGE, "children"),
        Output(PAGE_RENDERED, "data"),
        Output(LIVE_TOKEN, "data"),
        Input(URL, "pathname"),
        Input(ROOT_LANG, "data"),
        State(PAGE_RENDERED, "data"),
    )
    def route(pathname: str | None, lang: str | None, rendered_for: dict[str, str] | None) -> Any:
        wanted = {"path": pathname or "/", "lang": lang or runtime.settings.lang}
        if rendered_for == wanted:
            return no_update, no_update, no_update  # the page on screen is this one (the layout brought it)
        frame = current_frame(runtime, wanted["path"], wanted["lang"])
        return page_from_frame(runtime, frame), wanted, frame.token

    @app.callback(
        Output(ROOT_LANG, "data", allow_duplicate=True),
        Input(URL, "search"),
        State(ROOT_LANG, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def language_from_url(search: str | None, current: str | None) -> Any:
        wanted = lang_from_query(search)
        return wanted if wanted and wanted != current else no_update
