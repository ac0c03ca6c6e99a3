"""create_app: the one wiring file. Settings and the Runtime come in; nothing here builds its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import Dash
from dash._utils import to_json
from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from dashboard import i18n
from dashboard.access.actor import actor_of
from dashboard.access.gate import AccessGate, CallbackRules
from dashboard.access.headers import SecurityHeaders, content_security_policy, host_allow_list
from dashboard.access.login import build_login_router
from dashboard.api import build_router
from dashboard.areas_api import build_areas_router
from dashboard.audit_api import build_audit_router
from dashboard.briefing_api import build_briefing_router
from dashboard.callbacks import briefing as briefing_callbacks
from dashboard.callbacks import console as console_callbacks
from dashboard.callbacks import live as live_callbacks
from dashboard.callbacks import pages as page_callbacks
from dashboard.callbacks import replay as replay_callbacks
from dashboard.callbacks import wall as wall_callbacks
from dashboard.callbacks import worklist as worklist_callbacks
from dashboard.export_api import build_export_router
from dashboard.layouts.root import root_layout
from dashboard.not_found import NotFound
from dashboard.page_cache import PageCache
from dashboard.runtime import Runtime
from dashboard.settings import Settings
from dashboard.ws_limits import WebSocketLimit

ASSETS = Path(__file__).resolve().parent / "assets"


class OnescreenDash(Dash):
    """Dash whose layout responses come from the page cache: one rendered, gzipped page per frame."""

    page_cache: PageCache | None = None
    callback_rules: CallbackRules | None = None

    def dependencies(self) -> Any:
        """``/_dash-dependencies``: a wall link gets the wall's callbacks only — its pages carry no others."""
        from dash.backends._fastapi import get_current_request

        rules = self.callback_rules
        if rules is None or actor_of(get_current_request()).kind != "wall":
            return Dash.dependencies(self)
        shown = [cb for cb in self._callback_list if cb.get("output") in rules.wall]
        return self.backend.make_response(to_json(shown), content_type="application/json")

    def serve_layout(self) -> Any:
        """The ``/_dash-layout`` response: the page cache's bytes for the Referer's page."""
        if self.page_cache is None:
            return Dash.serve_layout(self)
        from dash.backends._fastapi import get_current_request  # the FastAPI backend's request context

        return self.page_cache.response(get_current_request())


def create_app(settings: Settings, runtime: Runtime) -> Dash:
    """The Dash app (on FastAPI) serving ``runtime``: routes, pages, callbacks, middleware. Starts nothing."""
    # Our routes go on the FastAPI app first, so Dash's catch-all page route cannot shadow them.
    # No OpenAPI document and no docs pages, for anyone: the routes are documented in the README.
    server = FastAPI(title="onescreen", docs_url=None, redoc_url=None, openapi_url=None)
    server.include_router(build_login_router(runtime.access, settings.lang))
    server.include_router(build_router(runtime))
    server.include_router(build_briefing_router(runtime))
    server.include_router(build_export_router(runtime))
    server.include_router(build_areas_router(runtime))
    server.include_router(build_audit_router(runtime))
    app = OnescreenDash(
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
    app.layout = lambda: root_layout(settings.lang)  # the shell; pages come from the page cache or the router
    app.page_cache = PageCache(
        key_for=lambda path, query: page_callbacks.request_of(runtime, path, query),  # as the caller may see it
        frame_for=lambda req: page_callbacks.frame_for(runtime, req),  # the hub's, or a past moment's (?at=)
        layout_for=lambda req, frame: root_layout(
            req.lang, page_callbacks.page_from_frame(runtime, frame, req), req.as_store(), frame.token
        ),
        shell=lambda: root_layout(settings.lang),
    )
    # What a wall link may call is what these three register; the console's callbacks need a user.
    rules = app.callback_rules = CallbackRules()
    before = set(app.callback_map)
    page_callbacks.register(app, runtime)
    wall_callbacks.register(app)
    runtime.tabs = live_callbacks.register(app, runtime.hub, settings.lang, runtime.metrics)
    rules.wall.update(set(app.callback_map) - before)
    rules.writes.update(console_callbacks.register(app, runtime))
    briefing_callbacks.register(app)  # the 简报 menu's link (a read)
    replay_callbacks.register(app, runtime)  # the officials' scrubber: the gate asks ``console`` of it
    worklist_callbacks.register(app, runtime)  # reads: the table shows what the actor may see
    server.add_middleware(WebSocketLimit, max_per_client=settings.ws_per_client, metrics=runtime.metrics)
    # Inside the gate: unknown paths get 404, not Dash's catch-all page (anonymous browsers still go to login).
    server.add_middleware(NotFound, routes=lambda: server.router.routes)
    # Added after the app's own, so outside them: nothing answers a request the gate refused.
    server.add_middleware(
        AccessGate,
        access=runtime.access,
        rules=rules,
        tree=runtime.geo.areas,
        open311_public=settings.open311_public,
        metrics_public=settings.metrics_public,
    )
    # Walk assets and build the script/CSS tags now. Dash does this lazily "before the first request", but the
    # FastAPI backend renders the very first page before that hook has run: the first screen after a (re)start
    # would come up without onescreen.css — an unstyled wall.
    Dash._setup_server(app)
    # Outermost: a foreign Host is refused before anything else; every answer (refusals too) gets the headers.
    server.add_middleware(TrustedHostMiddleware, allowed_hosts=host_allow_list(settings), www_redirect=False)
    server.add_middleware(SecurityHeaders, csp=content_security_policy(app.csp_hashes(), settings.tiles))
    return app
