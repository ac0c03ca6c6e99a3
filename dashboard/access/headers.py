"""HTTP hardening around the gate: the Host allow-list (DNS rebinding) and the security headers of every answer.

- ``host_allow_list(settings)``: the loopback names, the served host (for ``0.0.0.0``/``::`` this machine's name and
  addresses) and ``ONESCREEN_ALLOWED_HOSTS``; Starlette's ``TrustedHostMiddleware`` refuses any other ``Host`` with
  400, for HTTP and WebSocket handshakes alike — a rebinding DNS name pointing at this server reaches nothing.
- ``SecurityHeaders``: on every HTTP answer (pages, API, refusals, the WebSocket's refusal): a Content-Security-Policy
  (``content_security_policy``), ``X-Frame-Options: DENY`` with ``frame-ancestors 'none'`` (no clickjacking of the
  console's buttons), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (the gate reads the
  Referer of ``/_dash-layout`` on our own origin; nothing leaves for others) and
  ``Cross-Origin-Opener-Policy``/``-Resource-Policy: same-origin``.

The CSP allows scripts from this origin plus the hashes of Dash's own inline scripts (``Dash.csp_hashes``: the
renderer's start line and the clientside callbacks) — no ``'unsafe-inline'`` and no ``'unsafe-eval'`` for scripts:
Dash 4.4's renderer and plotly.js 3 (Plotly 7) run without ``eval``/``new Function`` (their two ``Function(...)``
uses are fallbacks inside ``try``/feature tests, never taken in Chromium; tests/dashboard/test_hardening.py
watches a wall and the console for CSP violations). Styles need ``'unsafe-inline'``: Plotly and MapLibre set
``style`` attributes and insert ``<style>`` elements. MapLibre (Plotly's ``scattermap``) runs its worker from a
``blob:`` URL; the basemap's tile server (``ONESCREEN_TILES``) is allowed for images and fetches.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.access.startup import shown_addresses
from dashboard.settings import Settings

LOOPBACK_HOSTS: Final = ("localhost", "127.0.0.1", "::1")
FIXED_HEADERS: Final = (
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
)


def host_allow_list(settings: Settings) -> list[str]:
    """The ``Host`` names this server answers to (module doc), lower case, without ports."""
    hosts = [*LOOPBACK_HOSTS]
    if settings.host in ("0.0.0.0", "::", ""):
        hosts += shown_addresses(settings.host)
        name = socket.gethostname()
        hosts += [name, socket.getfqdn(name)]
    else:
        hosts.append(settings.host)
    hosts += settings.allowed_hosts
    out: list[str] = []
    for h in (h.strip().lower().strip("[]") for h in hosts):
        if h and h not in out:
            out.append(h)
    return out


def content_security_policy(script_hashes: Iterable[str], tiles: str | None = None) -> str:
    """The CSP of every answer; ``script_hashes``: ``'sha256-…'`` sources of the inline scripts allowed;
    ``tiles``: the basemap URL template (its origin may be fetched and drawn)."""
    tile_origin = ""
    if tiles:
        parts = urlsplit(tiles)
        tile_origin = f" {parts.scheme}://{parts.netloc}"
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:" + tile_origin,
        "font-src": "'self' data:",
        "connect-src": "'self'" + tile_origin,
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


class SecurityHeaders:
    """ASGI middleware: the module doc's headers on every HTTP answer (a header the app set itself is kept)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [("content-security-policy", csp), *FIXED_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
