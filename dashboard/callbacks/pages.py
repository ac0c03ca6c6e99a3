"""Routing: render /wall or / with the current situation baked in (so the first paint is already complete)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from dash import Dash, Input, Output, State, no_update

from dashboard.figures.incident_map import build_incident_map
from dashboard.frames import ScreenContext, screen_frame
from dashboard.layouts.console import console_layout
from dashboard.layouts.root import PAGE, PAGE_RENDERED, ROOT_LANG, URL
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


def page_for_this_request(runtime: Runtime) -> tuple[Any, dict[str, str] | None]:
    """The page for the browser asking for the layout, so it arrives with the layout (one round trip less).

    The layout request's Referer is the page URL. Outside a request, or without a Referer, the shell goes out
    empty and the routing callback renders the page as usual.
    """
    try:
        from dash.backends._fastapi import get_current_request  # the FastAPI backend's request context

        referer = get_current_request().headers.get("referer")
    except (ImportError, RuntimeError):
        return None, None
    if not referer:
        return None, None
    url = urlsplit(referer)
    lang = lang_from_query(url.query) or runtime.settings.lang
    return render_page(runtime, url.path, lang), {"path": url.path, "lang": lang}


def register(app: Dash, runtime: Runtime) -> None:
    @app.callback(
        Output(PAGE, "children"),
        Output(PAGE_RENDERED, "data"),
        Input(URL, "pathname"),
        Input(ROOT_LANG, "data"),
        State(PAGE_RENDERED, "data"),
    )
    def route(pathname: str | None, lang: str | None, rendered_for: dict[str, str] | None) -> Any:
        wanted = {"path": pathname or "/", "lang": lang or runtime.settings.lang}
        if rendered_for == wanted:
            return no_update, no_update  # the page on screen is this one (e.g. the layout brought it)
        return render_page(runtime, wanted["path"], wanted["lang"]), wanted

    @app.callback(
        Output(ROOT_LANG, "data", allow_duplicate=True),
        Input(URL, "search"),
        State(ROOT_LANG, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def language_from_url(search: str | None, current: str | None) -> Any:
        wanted = lang_from_query(search)
        return wanted if wanted and wanted != current else no_update
