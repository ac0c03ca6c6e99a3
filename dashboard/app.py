"""create_app: the one wiring file. Settings and the Runtime come in; nothing here builds its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import Dash
from fastapi import FastAPI

from dashboard import i18n
from dashboard.api import build_router
from dashboard.callbacks import console as console_callbacks
from dashboard.callbacks import live as live_callbacks
from dashboard.callbacks import pages as page_callbacks
from dashboard.change_bridge import ChangeBridge
from dashboard.layouts.root import root_layout
from dashboard.runtime import Runtime
from dashboard.settings import Settings

ASSETS = Path(__file__).resolve().parent / "assets"


def create_app(settings: Settings, runtime: Runtime) -> Dash:
    # Our routes go on the FastAPI app first, so Dash's catch-all page route cannot shadow them.
    server = FastAPI(title="onescreen", docs_url=None, redoc_url=None)
    server.include_router(build_router(runtime))
    app = Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash's hint predates backends; a FastAPI app is accepted
        backend="fastapi",
        title=i18n.t("app.title", settings.lang),
        update_title="",  # no "Updating..." flicker in the tab title on a wall
        assets_folder=str(ASSETS),
        serve_locally=True,  # offline: plotly.js and React come from the wheel, never a CDN
        compress=True,  # callback responses are large JSON; gzip them
        suppress_callback_exceptions=True,  # pages are rendered into the shell on demand
    )

    def layout() -> Any:  # per page load: the shell with the requested page already in it
        page, rendered_for = page_callbacks.page_for_this_request(runtime)
        return root_layout(rendered_for["lang"] if rendered_for else settings.lang, page, rendered_for)

    app.layout = layout
    bridge = ChangeBridge(runtime.situation)
    page_callbacks.register(app, runtime)
    console_callbacks.register(app, runtime)
    live_callbacks.register(app, runtime, bridge)
    # Walk assets and build the script/CSS tags now. Dash does this lazily "before the first request", but the
    # FastAPI backend renders the very first page before that hook has run: the first screen after a (re)start
    # would come up without onescreen.css — an unstyled wall.
    app._setup_server()
    return app
