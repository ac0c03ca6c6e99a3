"""Logged-in test clients: the servers the tests start get an admin account, a session and a wall link (made
straight in their Redis, before they start), and every test client presents them.

``provision(client, keys, origin)`` makes the credentials and registers them for ``origin``
(``http://127.0.0.1:PORT``): from then on ``urllib.request.urlopen`` (the global opener), ``dash_ws.dial`` and the
browser contexts of ``track`` send that server's session cookie. Ingest needs an API key, not a session: the
credentials hold an ``ingest`` key (``Credentials.ingest_key``, ``ingest_headers``), which the global opener sends
as ``Authorization: Bearer`` on a POST to an ingest route (unless the request sets its own ``Authorization``).
Cookies are named after the server's key prefix,
so contexts talking to several servers at once hold them side by side. A test that must be anonymous builds its
own opener (``anonymous_opener``) or browser context without ``track``.
"""

from __future__ import annotations

import secrets
import threading
import urllib.parse
import urllib.request
import weakref
from dataclasses import dataclass
from typing import Any

import redis

from dashboard.access.accounts import AccountStore
from dashboard.access.apikeys import ApiKeys
from dashboard.access.machine import machine_action
from dashboard.access.service import cookie_names
from dashboard.access.sessions import SessionStore
from dashboard.access.walls import WallLinks, deployment_secret
from incidents.keys import Keys

ADMIN = "e2e-admin"
WALL = "e2e-wall"
INGEST_KEY = "e2e-ingest"


@dataclass(frozen=True)
class Credentials:
    """What a test server's clients present: its origin, admin account, session and wall link."""

    origin: str
    admin: str
    password: str
    session_cookie: str  # cookie name
    sid: str
    wall_cookie: str
    wall_token: str
    ingest_key: str = ""  # an unscoped ``ingest`` API key of the server

    def ingest_headers(self) -> dict[str, str]:
        """``Authorization: Bearer`` with the ingest key."""
        return {"Authorization": f"Bearer {self.ingest_key}"}

    def cookie_header(self) -> str:
        return f"{self.session_cookie}={self.sid}"

    def playwright_cookies(self) -> list[dict[str, Any]]:
        return [{"name": self.session_cookie, "value": self.sid, "url": self.origin}]


_active: dict[str, Credentials] = {}
_contexts: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def provision(client: redis.Redis, keys: Keys, origin: str) -> Credentials:
    """An admin account with a session, and a wall link, in the Redis of the server at ``origin``; registered."""
    password = secrets.token_urlsafe(12)
    accounts = AccountStore(client, keys)
    if accounts.get(ADMIN) is None:
        accounts.add(ADMIN, "admin", password)
    session = SessionStore(client, keys, idle_s=3600, max_s=24 * 3600).create(ADMIN, via="test")
    walls = WallLinks(client, keys, deployment_secret(client, keys))
    if walls.get(WALL) is None:
        walls.create(WALL)
    session_cookie, wall_cookie = cookie_names(keys.prefix)
    ingest_key = api_key(client, keys, INGEST_KEY, "ingest")
    creds = Credentials(
        origin, ADMIN, password, session_cookie, session.sid, wall_cookie, walls.token(WALL), ingest_key
    )
    register(creds)
    return creds


def api_key(client: redis.Redis, keys: Keys, name: str, scope: str, areas: tuple[str, ...] = ()) -> str:
    """A new API key ``name`` (revoked first if it exists) in a server's Redis; its secret."""
    store = ApiKeys(client, keys, limit=1, window_s=1)
    if store.get(name) is not None:
        store.revoke(name)
    return store.create(name, scope, areas)[1]


def register(creds: Credentials) -> None:
    """Present ``creds`` to their origin from every client (existing browser contexts too)."""
    _install_opener()
    with _lock:
        _active[creds.origin] = creds
        contexts = list(_contexts)
    for context in contexts:
        try:
            context.add_cookies(creds.playwright_cookies())
        except Exception:  # closed meanwhile
            _contexts.discard(context)


def unregister(origin: str) -> None:
    with _lock:
        _active.pop(origin, None)


def credentials(url: str) -> Credentials | None:
    """The registered credentials of the server ``url`` is on."""
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return _active.get(f"{scheme}://{parts.netloc}")


def cookie_header(url: str) -> dict[str, str]:
    """``{"Cookie": …}`` for a request to ``url`` ({} when its server is not registered)."""
    creds = credentials(url)
    return {"Cookie": creds.cookie_header()} if creds else {}


def track(context: Any) -> Any:
    """A Playwright browser context that presents every registered server's session cookie (now and later)."""
    context.on("close", lambda _ctx: _contexts.discard(context))
    with _lock:
        _contexts.add(context)
        cookies = [c for creds in _active.values() for c in creds.playwright_cookies()]
    if cookies:
        context.add_cookies(cookies)
    return context


class TrackedBrowser:
    """A Playwright ``Browser`` whose ``new_context`` contexts are ``track``-ed; everything else is the browser's
    (``unwrapped``: the browser itself, for anonymous contexts)."""

    def __init__(self, browser: Any) -> None:
        self.unwrapped = browser

    def new_context(self, **options: Any) -> Any:
        return track(self.unwrapped.new_context(**options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.unwrapped, name)


def tracked(browser: Any) -> TrackedBrowser:
    """``browser`` whose new contexts present the test servers' sessions."""
    return TrackedBrowser(browser)


def anonymous_opener() -> urllib.request.OpenerDirector:
    """A urllib opener that presents no credentials (and does not follow redirects)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect())


class _SessionCookies(urllib.request.BaseHandler):
    """Adds the registered session cookie to requests for a registered server (unless one is set)."""

    def http_request(self, req: urllib.request.Request) -> urllib.request.Request:
        if not req.has_header("Cookie"):
            for name, value in cookie_header(req.full_url).items():
                req.add_unredirected_header(name, value)
        creds = credentials(req.full_url)
        path = urllib.parse.urlsplit(req.full_url).path
        ingest = machine_action(req.get_method(), path) == "ingest"
        if ingest and creds and creds.ingest_key and not req.has_header("Authorization"):
            req.add_unredirected_header("Authorization", f"Bearer {creds.ingest_key}")
        return req

    https_request = http_request


_installed = False


def _install_opener() -> None:
    global _installed
    with _lock:
        if not _installed:
            urllib.request.install_opener(urllib.request.build_opener(_SessionCookies()))
            _installed = True
