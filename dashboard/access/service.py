"""``Access``: the account, session and wall-link stores of one deployment, and who a request is.

``actor_for(scope)`` (an ASGI scope; blocking Redis calls — run it off the event loop) tries, in order: an
``Authorization: Bearer`` API key (when the header is there it alone decides: a wrong key is anonymous, never a
fall-back to a cookie), the session cookie, the SSO header (only from a trusted proxy, only for an enabled
account), the wall cookie. A resolved actor
is cached for ``CACHE_S`` seconds per credential, so a disabled account or revoked wall link loses access on every
process within that time (plus a WebSocket's next re-check, ``gate.RECHECK_S``). While Redis is unreachable a
credential this process has seen keeps its last answer (a wall PC restarting its browser in an outage still gets its
screen); a new one is refused (503).
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable
from functools import cached_property
from typing import Final

import redis
from starlette.requests import HTTPConnection
from starlette.types import Scope

from dashboard.access.accounts import Account, AccountStore
from dashboard.access.actor import ANONYMOUS, Actor
from dashboard.access.apikeys import ApiKey, ApiKeys, digest_of
from dashboard.access.sessions import LoginLimiter, SessionStore
from dashboard.access.walls import WallLink, WallLinks, deployment_secret
from dashboard.settings import Settings
from incidents.keys import Keys

CACHE_S: Final = 2.0


def cookie_names(prefix: str) -> tuple[str, str]:
    """(session cookie, wall cookie) of a deployment: named after its key prefix, so two deployments on one host
    (cookies ignore the port) never overwrite each other's."""
    word = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)
    return f"{word}_session", f"{word}_wall"


def user_actor(account: Account, via: str) -> Actor:
    """The actor of an (enabled) account."""
    return Actor("user", account.name, account.role, account.areas, via)


def key_actor(key: ApiKey) -> Actor:
    """The actor of an API key: its scope's routes only, confined to its areas, always masked."""
    return Actor("key", key.name, None, key.areas, "api-key", key.scope)


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header ("" for another scheme or an empty one); None
    when there is no such header."""
    header = HTTPConnection(scope).headers.get("authorization")
    if header is None:
        return None
    kind, _, token = header.strip().partition(" ")
    return token.strip() if kind.lower() == "bearer" else ""


def wall_actor(link: WallLink) -> Actor:
    """The actor of a wall link: a masked viewer of the walls, confined to the link's scope."""
    return Actor("wall", link.name, "viewer", (link.scope,) if link.scope else (), "wall-link")


class Access:
    """The access stores of a deployment (``settings``, Redis ``client``, ``keys``)."""

    def __init__(self, settings: Settings, client: redis.Redis, keys: Keys) -> None:
        self.settings = settings
        self._r = client
        self.keys = keys
        self.accounts = AccountStore(client, keys)
        self.sessions = SessionStore(client, keys, idle_s=settings.session_idle_s, max_s=settings.session_max_s)
        self.limiter = LoginLimiter(client, keys, attempts=settings.login_attempts, window_s=settings.login_window_s)
        self.apikeys = ApiKeys(client, keys, limit=settings.key_rate, window_s=settings.key_rate_window_s)
        self.session_cookie, self.wall_cookie = cookie_names(keys.prefix)
        self._proxies = [ipaddress.ip_network(n) for n in settings.trusted_proxies]
        self._cache: dict[tuple[str, str], tuple[Actor, float]] = {}
        self._lock = threading.Lock()

    @cached_property
    def walls(self) -> WallLinks:
        """The wall links (the secret is read from Redis, or made, on first use)."""
        configured = self.settings.secret.get_secret_value() if self.settings.secret else None
        return WallLinks(self._r, self.keys, deployment_secret(self._r, self.keys, configured))

    # --- where a request comes from -------------------------------------------------------------------------
    def is_trusted_proxy(self, host: str | None) -> bool:
        """Whether ``host`` (an IP address) is one of ``ONESCREEN_TRUSTED_PROXIES``."""
        try:
            ip = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    def _peer(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else ""

    def client_address(self, scope: Scope) -> str:
        """The client's address: the peer's, or — when the peer is a trusted proxy — the nearest untrusted hop of
        its ``X-Forwarded-For``."""
        peer = self._peer(scope)
        if not self.is_trusted_proxy(peer):
            return peer
        hops = [h.strip() for h in HTTPConnection(scope).headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted_proxy(hop):
                return hop
        return hops[0] if hops else peer

    def is_https(self, scope: Scope) -> bool:
        """Whether the browser talks HTTPS to us (directly, or to a trusted proxy that says so)."""
        if scope.get("scheme") in ("https", "wss"):
            return True
        proto = HTTPConnection(scope).headers.get("x-forwarded-proto", "")
        return self.is_trusted_proxy(self._peer(scope)) and proto.split(",")[0].strip().lower() == "https"

    # --- who it is ------------------------------------------------------------------------------------------
    def actor_for(self, scope: Scope, *, fresh: bool = False, touch: bool = True) -> Actor:
        """The actor of an HTTP or WebSocket scope (``ANONYMOUS`` when no credential holds). ``fresh``: skip the
        cache; ``touch=False``: a re-check that is no use of the session (its idle timer keeps running). Raises
        ``redis.RedisError`` when Redis cannot be asked."""
        token = bearer_token(scope)
        if token is not None:
            return self.api_key_actor(token, fresh)
        conn = HTTPConnection(scope)
        sid = conn.cookies.get(self.session_cookie)
        if sid:
            actor = self._cached(("session", sid), lambda: self._session_actor(sid, touch), fresh)
            if not actor.is_anonymous:
                return actor
        header = self.settings.sso_header
        sso_name = conn.headers.get(header) if header else None
        if sso_name and self.is_trusted_proxy(self._peer(scope)):
            actor = self._cached(("sso", sso_name), lambda: self._account_actor(sso_name, "sso"), fresh)
            if not actor.is_anonymous:
                return actor
        wall = conn.cookies.get(self.wall_cookie)
        if wall:
            return self._cached(("wall", wall), lambda: self.wall_token_actor(wall), fresh)
        return ANONYMOUS

    def api_key_actor(self, token: str, fresh: bool = False) -> Actor:
        """The actor of an API key (``ANONYMOUS`` when unknown or revoked); cached like every credential, by the
        key's digest (the secret itself is not kept). Raises ``redis.RedisError``."""
        if not token:
            return ANONYMOUS
        key = self.apikeys.resolve  # bound now: the lambda runs inside _cached
        return self._cached(("key", digest_of(token)), lambda: _key_or_anonymous(key(token)), fresh)

    def wall_token_actor(self, token: str) -> Actor:
        """The actor of a wall-link token (``ANONYMOUS`` when forged or revoked)."""
        link = self.walls.resolve(token)
        return wall_actor(link) if link else ANONYMOUS

    def _session_actor(self, sid: str, touch: bool) -> Actor:
        session = self.sessions.resolve(sid, touch=touch)
        return self._account_actor(session.user, "session") if session else ANONYMOUS

    def _account_actor(self, name: str, via: str) -> Actor:
        account = self.accounts.get(name) if len(name) <= 64 else None
        return user_actor(account, via) if account and not account.disabled else ANONYMOUS

    def _cached(self, key: tuple[str, str], resolve: Callable[[], Actor], fresh: bool) -> Actor:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[1] > now and not fresh:
            return hit[0]
        try:
            actor: Actor = resolve()
        except redis.RedisError:
            if hit is not None:  # Redis away: what this credential was a moment ago (nobody can revoke meanwhile)
                return hit[0]
            raise
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            self._cache[key] = (actor, now + CACHE_S)
        return actor

    def forget(self, sid: str) -> None:
        """Drop a session from this process's cache (logout)."""
        with self._lock:
            self._cache.pop(("session", sid), None)


def _key_or_anonymous(key: ApiKey | None) -> Actor:
    return key_actor(key) if key else ANONYMOUS
