"""The gate: one ASGI middleware in front of everything. It resolves the request's ``Actor`` (``Access.actor_for``),
puts it in the scope (``actor.actor_of``) and refuses what that actor may not reach:

- anonymous: only ``PUBLIC_PATHS`` and ``PUBLIC_PREFIXES`` (the login page, its static files, ``/healthz``),
  the Open311 reads when ``Settings.open311_public`` is on, and ``/metrics`` from the networks of
  ``Settings.metrics_public`` (a Prometheus on the monitoring network; empty by default);
  a browser asking for a page is sent to ``/login?next=…`` (302), anything else gets 401 JSON;
- a wall link: the wall pages inside its scope, their layout, and exactly the wall's Dash callbacks
  (``CallbackRules.wall``) over HTTP and over the WebSocket — anything else 403;
- a user: everything its role may do (``policy.can``): reading needs ``view``, the officials' page ``console``,
  every other write (a write callback in ``CallbackRules.writes``, a POST to the API) ``act`` — but never the
  ingest routes, which need an API key (``ingest``);
- an API key (``Authorization: Bearer KEY``; Open311 POST also ``api_key`` in the form or query, as the spec
  has it): only its scope's routes (``machine.machine_action``), counted against its rate limit (429 with
  ``Retry-After``; a batch counts its items, in ``dashboard.ingest``); JSON ingest takes ``application/json``
  only (415 otherwise: no simple cross-site request).

``/metrics`` (counts and timings of the whole process, never a message's text) otherwise needs a ``read`` API key
(Prometheus: ``authorization: {credentials_file: …}``) or a user who may open the officials' page; an actor
confined to areas is refused (403): the series cover every area.

A write that rides on a cookie (a session or wall link: Dash callbacks, any non-GET) is refused (403) when its
``Origin`` (else ``Referer``) names another origin, or is ``null``; the WebSocket handshake likewise. A request with
neither header is no browser's cross-site request (browsers send ``Origin`` with every cross-origin POST and
WebSocket) and is judged by its credential alone.

``/wall?key=TOKEN`` turns a wall link into the wall cookie (302 to the same URL without the key). A WebSocket is
re-checked every ``RECHECK_S`` seconds and closed (4401) when its credential no longer holds (logout, disabled
account, revoked link, or a session that reached its idle or absolute end: the live push is no use of a session).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import redis
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.access.actor import SCOPE_KEY, Actor, bind
from dashboard.access.machine import (
    BATCH_PATH,
    JSON_TYPES,
    OPEN311_POST,
    is_json_ingest,
    machine_action,
    media_type,
)
from dashboard.access.policy import Action, can
from dashboard.access.service import Access, bearer_token
from dashboard.http_body import parse_open311_body
from dashboard.page_request import page_request, screen_of_path
from geo.areas import AreaTree
from incidents.open311 import Open311Error

log = logging.getLogger(__name__)

PUBLIC_PATHS: Final = frozenset({"/login", "/logout", "/healthz", "/_favicon.ico"})
PUBLIC_PREFIXES: Final = ("/assets/", "/_dash-component-suites/")
DASH_CALLBACK: Final = "/_dash-update-component"
DASH_LAYOUT: Final = "/_dash-layout"
DASH_DEPENDENCIES: Final = "/_dash-dependencies"
METRICS_PATH: Final = "/metrics"
RECHECK_S: Final = 2.0
MAX_CALLBACK_BODY: Final = 32 * 1024 * 1024
WALL_COOKIE_MAX_AGE: Final = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days; revocation is server-side


@dataclass
class CallbackRules:
    """Output keys (``app.callback_map``) of the wall's callbacks (pages, wall, live push: all a wall link may
    call) and of the callbacks that write (``act`` needed). Filled by ``create_app`` as it registers them."""

    wall: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)

    def action_for(self, output: str) -> Action:
        """What a user needs to call the callback ``output``."""
        if output in self.writes:
            return "act"
        return "view" if output in self.wall else "console"


def is_public(path: str) -> bool:
    """Whether anonymous requests may reach ``path``."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_open311_read(method: str, path: str) -> bool:
    """Whether ``method path`` is an Open311 read (``GET``/``HEAD`` under ``/open311/``): public when
    ``Settings.open311_public`` is on."""
    return method in ("GET", "HEAD") and path.startswith("/open311/")


def within(tree: AreaTree, scope_ref: str, ref: str) -> bool:
    """Whether area ``ref`` ("" = the whole data set) lies inside ``scope_ref`` ("" = everything):
    ``AreaTree.contains``, the one containment rule (``dashboard.access.scope`` asks it too)."""
    return tree.contains(scope_ref, ref)


def wall_page_allowed(actor: Actor, tree: AreaTree, path: str, query: str) -> bool:
    """Whether a wall-link ``actor`` may see the page ``path?query``: a wall, every area it shows (its area, its
    tour) inside the link's scope."""
    if screen_of_path(path) != "wall":
        return False
    if not actor.areas:
        return True
    req = page_request(path, query, default_lang="zh", areas=tree)
    if req.bad_area:
        return False
    shown = [req.area, *req.tour]
    return all(tree.inside(ref, actor.areas) for ref in shown)


def _url_inputs(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(pathname, search) a Dash callback request carries as inputs or state of the ``url`` component."""
    found: dict[str, Any] = {}
    for item in _flat(payload.get("inputs", [])) + _flat(payload.get("state", [])):
        if isinstance(item, dict) and item.get("id") == "url":
            found[str(item.get("property"))] = item.get("value")
    pathname, search = found.get("pathname"), found.get("search")
    return (pathname if isinstance(pathname, str) else None), (search if isinstance(search, str) else None)


def _flat(items: Any) -> list[Any]:
    out: list[Any] = []
    for item in items if isinstance(items, list) else []:
        out.extend(item if isinstance(item, list) else [item])
    return out


def callback_allowed(actor: Actor, rules: CallbackRules, tree: AreaTree, payload: Any) -> bool:
    """Whether ``actor`` may run the Dash callback request ``payload`` (HTTP body or WebSocket ``payload``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("output"), str):
        return False
    output = payload["output"]
    if actor.kind == "wall":
        if output not in rules.wall:
            return False
        pathname, search = _url_inputs(payload)
        return wall_page_allowed(actor, tree, pathname or "/wall", (search or "").lstrip("?"))
    return can(actor, rules.action_for(output))


class AccessGate:
    """ASGI middleware: the gate of the module docstring, for ``access`` (stores) and ``rules`` (callbacks)."""

    def __init__(
        self,
        app: ASGIApp,
        access: Access,
        rules: CallbackRules,
        tree: AreaTree,
        open311_public: bool = False,
        metrics_public: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.access = access
        self.rules = rules
        self.tree = tree
        self.open311_public = open311_public  # Settings.open311_public: anonymous Open311 reads, masked
        # Settings.metrics_public: networks (CIDR) that may scrape /metrics without a credential
        self.metrics_public = tuple(ipaddress.ip_network(n, strict=False) for n in metrics_public)
        self._rechecks = Rechecks(access)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if is_public(path):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        if scope["type"] == "http" and "key" in dict(parse_qsl(query)) and screen_of_path(path) == "wall":
            await self._wall_key(scope, receive, send, query)
            return
        try:
            actor, receive = await self._resolve(scope, receive, path, query)
        except _TooLarge:
            await PlainTextResponse("request too large", 413)(scope, receive, send)
            return
        except redis.RedisError as exc:
            log.warning("access: Redis unavailable: %s", exc)
            await self._refuse(scope, receive, send, 503, "access check unavailable (Redis)")
            return
        scope[SCOPE_KEY] = actor
        bind(actor, self.access.client_address(scope))  # callbacks and routes read it (actor.current_actor)
        if scope["type"] == "websocket":
            await self._websocket(actor, scope, receive, send)
            return
        await self._http(actor, scope, receive, send, path, query)

    async def _resolve(self, scope: Scope, receive: Receive, path: str, query: str) -> tuple[Actor, Receive]:
        """The request's actor; an Open311 POST without an ``Authorization`` header is read for its ``api_key``
        (query or body; the body is then replayed to the route)."""
        open311_post = scope["type"] == "http" and scope["method"] == "POST" and OPEN311_POST.match(path)
        if open311_post and bearer_token(scope) is None:
            body = await _read_body(receive)
            if body is None:
                raise _TooLarge
            receive = _replay(body, receive)
            token = _open311_api_key(scope, query, body)
            if token:
                return await anyio.to_thread.run_sync(self.access.api_key_actor, token), receive
        return await anyio.to_thread.run_sync(self.access.actor_for, scope), receive

    # --- HTTP ---------------------------------------------------------------------------------------------
    async def _http(self, actor: Actor, scope: Scope, receive: Receive, send: Send, path: str, query: str) -> None:
        method = scope["method"]
        if path == METRICS_PATH and method in ("GET", "HEAD"):
            if actor.is_anonymous and self._metrics_open(scope):
                await self.app(scope, receive, send)
                return
            if actor.areas:
                await self._refuse(scope, receive, send, 403, "metrics cover every area: not for " + actor.label())
                return
        if actor.kind == "key":
            await self._machine(actor, scope, receive, send, method, path)
            return
        if method not in ("GET", "HEAD", "OPTIONS") and not actor.is_anonymous and not same_origin(scope):
            await self._refuse(scope, receive, send, 403, "cross-origin request refused")
            return
        if path == DASH_CALLBACK and method == "POST" and not actor.is_anonymous:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("request too large", 413)(scope, receive, send)
                return
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if not callback_allowed(actor, self.rules, self.tree, payload):
                await self._refuse(scope, receive, send, 403, "not allowed for " + actor.label())
                return
            await self.app(scope, _replay(body, receive), send)
            return
        ingest = machine_action(method, path) == "ingest"
        if actor.is_anonymous and self.open311_public and is_open311_read(method, path):
            await self.app(scope, receive, send)  # the route masks and scrubs for the anonymous actor
            return
        if actor.is_anonymous:
            reason = "API key required (Authorization: Bearer KEY)" if ingest else "login required"
            await self._refuse(scope, receive, send, 401, reason)
            return
        if not self._http_allowed(actor, scope, method, path, query):
            reason = "ingest needs an API key (Authorization: Bearer KEY), " if ingest else ""
            await self._refuse(scope, receive, send, 403, reason + "not allowed for " + actor.label())
            return
        await self.app(scope, receive, send)

    async def _machine(self, actor: Actor, scope: Scope, receive: Receive, send: Send, method: str, path: str) -> None:
        """An API key's request: its scope's routes only, JSON ingest as JSON, within its rate limit."""
        action = machine_action(method, path)
        if action is None or not can(actor, action):
            reason = f"API key {actor.name!r} (scope {actor.scope}) may not {method} {path}"
            await self._refuse(scope, receive, send, 403, reason)
            return
        if is_json_ingest(path) and media_type(Headers(scope=scope).get("content-type", "")) not in JSON_TYPES:
            await JSONResponse({"error": "send the body as application/json"}, 415)(scope, receive, send)
            return
        if path != BATCH_PATH:  # a batch is charged its item count once read (dashboard.ingest)
            try:
                retry = await anyio.to_thread.run_sync(self.access.apikeys.charge, actor.name, 1)
            except redis.RedisError:  # nothing to protect while Redis is away: the route answers its own 503
                retry = 0
            if retry:
                body = {"error": f"rate limit of API key {actor.name!r}: retry after {retry} s"}
                await JSONResponse(body, 429, headers={"Retry-After": str(retry)})(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _metrics_open(self, scope: Scope) -> bool:
        """Whether the client's address (``Access.client_address``) lies in ``metrics_public``."""
        if not self.metrics_public:
            return False
        return address_in(self.access.client_address(scope), self.metrics_public)

    def _http_allowed(self, actor: Actor, scope: Scope, method: str, path: str, query: str) -> bool:
        if actor.kind == "wall":
            if method not in ("GET", "HEAD"):
                return False
            if path == DASH_DEPENDENCIES:
                return True
            if path == DASH_LAYOUT:
                referer = Headers(scope=scope).get("referer")
                if not referer:
                    return True  # the empty shell
                url = urlsplit(referer)
                return wall_page_allowed(actor, self.tree, url.path or "/", url.query)
            return wall_page_allowed(actor, self.tree, path, query)
        if machine_action(method, path) == "ingest":
            return can(actor, "ingest")
        if method not in ("GET", "HEAD"):
            return can(actor, "act")
        return can(actor, "view" if screen_of_path(path) == "wall" else "console")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4000 + status, "reason": reason})
            return
        response: Response
        if status == 401 and _wants_page(scope):
            target = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
            response = RedirectResponse("/login?" + urlencode({"next": target}), 302)
        else:
            response = JSONResponse({"error": reason}, status)
        await response(scope, receive, send)

    async def _wall_key(self, scope: Scope, receive: Receive, send: Send, query: str) -> None:
        params = parse_qsl(query, keep_blank_values=True)
        token = dict(params).get("key", "")
        try:
            actor = await anyio.to_thread.run_sync(self.access.wall_token_actor, token)
        except redis.RedisError:
            await self._refuse(scope, receive, send, 503, "access check unavailable (Redis)")
            return
        if actor.is_anonymous:
            await PlainTextResponse("这个大屏链接无效或已被撤销 / this wall link is not valid (revoked?)", 403)(
                scope, receive, send
            )
            return
        rest = [(k, v) for k, v in params if k != "key"]
        if actor.areas and not any(k in ("scope", "area") for k, _ in rest):
            rest.insert(0, ("scope", actor.areas[0]))
        response = RedirectResponse(scope["path"] + ("?" + urlencode(rest) if rest else ""), 302)
        response.set_cookie(
            self.access.wall_cookie,
            token,
            max_age=WALL_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=self.access.is_https(scope),
        )
        await response(scope, receive, send)

    # --- WebSocket ----------------------------------------------------------------------------------------
    async def _websocket(self, actor: Actor, scope: Scope, receive: Receive, send: Send) -> None:
        if actor.is_anonymous:
            await self._refuse(scope, receive, send, 401, "login required")
            return
        if not can(actor, "view"):
            await self._refuse(scope, receive, send, 403, "not allowed")
            return
        if not same_origin(scope):
            await self._refuse(scope, receive, send, 403, "cross-origin WebSocket refused")
            return
        closed = asyncio.Event()

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and not self._ws_message_allowed(actor, message):
                log.warning("access: refused a WebSocket callback of %s", actor.label())
                await _close(send, closed, 4403, "callback not allowed")
                return {"type": "websocket.disconnect", "code": 4403}
            return message

        remove = self._rechecks.add(_Watched(scope, actor, send, closed))
        try:
            await self.app(scope, guarded_receive, send)
        finally:
            remove()

    def _ws_message_allowed(self, actor: Actor, message: Message) -> bool:
        text = message.get("text")
        if text is None:
            return True
        try:
            parsed = json.loads(text)
        except ValueError:
            return True  # Dash answers malformed messages itself
        if not isinstance(parsed, dict) or parsed.get("type") != "callback_request":
            return True
        return callback_allowed(actor, self.rules, self.tree, parsed.get("payload"))


@dataclass(eq=False)
class _Watched:
    """An open WebSocket: the scope and actor it was let in with, and how to close it."""

    scope: Scope
    actor: Actor
    send: Send
    closed: asyncio.Event


def credential_key(scope: Scope, sso_header: str | None) -> tuple[Any, ...]:
    """What ``Access.actor_for`` reads of a scope: sockets with the same key have the same actor."""
    headers = Headers(scope=scope)
    names = ("authorization", "cookie", "x-forwarded-for", *((sso_header.lower(),) if sso_header else ()))
    client = scope.get("client")
    return (*(headers.get(n) for n in names), str(client[0]) if client else "")


class Rechecks:
    """Every open WebSocket's credential re-checked every ``RECHECK_S`` by one task of the process: each distinct
    credential is resolved once per round, in one worker thread, and the sockets it no longer gives their actor
    are closed (4401). One re-check task and thread hop per socket every ``RECHECK_S`` was, with 200 live pages,
    100 thread hops and 200 Redis calls a second, queued in the same thread pool as ``/healthz`` (bench
    manyscreens)."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self._open: set[_Watched] = set()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # completed rounds (tests)

    def add(self, watched: _Watched) -> Callable[[], None]:
        """Watch ``watched`` from the next round on; returns the function that stops watching it."""
        self._open.add(watched)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return lambda: self._open.discard(watched)

    async def _run(self) -> None:
        while self._open:
            await asyncio.sleep(RECHECK_S)
            sockets = [w for w in self._open if not w.closed.is_set()]
            if not sockets:
                continue
            sso = self.access.settings.sso_header
            by_key: dict[tuple[Any, ...], list[_Watched]] = {}
            for w in sockets:
                by_key.setdefault(credential_key(w.scope, sso), []).append(w)
            scopes = {key: group[0].scope for key, group in by_key.items()}
            now = await anyio.to_thread.run_sync(self._resolve_all, scopes)
            for key, group in by_key.items():
                actor = now.get(key)
                if actor is None:
                    continue  # Redis away: the feed shows it; keep the screens
                for w in group:
                    if actor != w.actor:
                        log.info("access: closing the WebSocket of %s (credential gone)", w.actor.label())
                        await _close(w.send, w.closed, 4401, "credential revoked")
            self.rounds += 1

    def _resolve_all(self, scopes: dict[tuple[Any, ...], Scope]) -> dict[tuple[Any, ...], Actor]:
        out: dict[tuple[Any, ...], Actor] = {}
        for key, scope in scopes.items():
            try:
                # not a use: an open page's live push alone does not keep a session from its idle end
                out[key] = self.access.actor_for(scope, fresh=True, touch=False)
            except redis.RedisError:
                continue
        return out


async def _close(send: Send, closed: asyncio.Event, code: int, reason: str) -> None:
    if closed.is_set():
        return
    closed.set()
    try:
        await send({"type": "websocket.close", "code": code, "reason": reason})
    except Exception:  # already closed by the other side or the app
        log.debug("access: close after close", exc_info=True)


class _TooLarge(Exception):
    """A body over ``MAX_CALLBACK_BODY``."""


def same_origin(scope: Scope) -> bool:
    """Whether a request comes from this server's own pages: its ``Origin`` (else ``Referer``) names the host it
    was sent to; True when it carries neither (no browser's cross-site request), False for ``Origin: null``."""
    headers = Headers(scope=scope)
    source = headers.get("origin") or headers.get("referer")
    if source is None:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == headers.get("host", "").lower()


def address_in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    """Whether ``address`` (an IP, as ``Access.client_address`` gives it) lies in one of ``networks``; False for
    anything that is not an IP address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def _open311_api_key(scope: Scope, query: str, body: bytes) -> str:
    """The ``api_key`` of an Open311 POST: the query's, else the body's (form, multipart or JSON); "" if none."""
    found = dict(parse_qsl(query)).get("api_key")
    if found:
        return found
    try:
        fields = parse_open311_body(body, Headers(scope=scope).get("content-type", ""))
    except Open311Error:
        return ""
    return next((v for k, v in fields if k == "api_key"), "")


def _wants_page(scope: Scope) -> bool:
    """A browser navigating to a page (gets the login redirect), not an XHR/API client (gets 401 JSON)."""
    path: str = scope["path"]
    if scope.get("method") != "GET" or path.startswith(("/api/", "/open311/", "/_dash-", "/_reload")):
        return False
    accept = Headers(scope=scope).get("accept", "")
    return "text/html" in accept


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it exceeds ``MAX_CALLBACK_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_CALLBACK_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
