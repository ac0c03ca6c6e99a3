"""404 for unknown paths. Dash answers every GET its routes do not know with the app's HTML (its catch-all route,
``{path:path}``): ``/api/incidents.csv`` or a typo would get 200 and a page. This ASGI middleware answers ``404``
instead, for any method, when no route but the catch-all matches the path and the path is not one of the app's
pages (``PAGES``: the officials' page ``/`` and the wall ``/wall``; ``/login`` & co. are routes of their own),
and ``405`` when a route has the path but another method (e.g. a GET of a POST-only route).

It sits inside the access gate: an anonymous browser is still sent to the login page whatever the path (the gate
tells nobody which paths exist), and a signed-in caller gets the 404.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

PAGES: Final = frozenset({"/", "/wall", "/wall/"})
CATCH_ALL: Final = "{path:path}"


def _is_catch_all(route: BaseRoute) -> bool:
    return str(getattr(route, "path", "")).lstrip("/") == CATCH_ALL


def status_for(routes: Iterable[BaseRoute], scope: Scope, pages: frozenset[str] = PAGES) -> int | None:
    """``None`` when ``scope``'s path is a page or a route other than the catch-all answers it; ``405`` when such a
    route has the path but not the method (the catch-all would have answered a GET with the app's HTML); else
    ``404``."""
    if scope.get("path", "/") in pages:
        return None
    partial = False
    for route in routes:
        if _is_catch_all(route):
            continue
        match = route.matches(scope)[0]
        if match == Match.FULL:
            return None
        partial = partial or match == Match.PARTIAL
    return 405 if partial else 404


class NotFound:
    """ASGI middleware: ``404 not found`` / ``405`` (text) for an HTTP request no route but Dash's catch-all would
    answer (``status_for``).
    ``routes``: called per request (the catch-all and the assets are added after this middleware is)."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable[BaseRoute]], pages: frozenset[str] = PAGES) -> None:
        self.app = app
        self.routes = routes
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = status_for(self.routes(), scope, self.pages) if scope["type"] == "http" else None
        if status is not None:
            text = "not found" if status == 404 else "method not allowed"
            await PlainTextResponse(text, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)
