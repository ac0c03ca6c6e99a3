"""The gate on a real server: every route and callback of the app refuses anonymous requests (so a new unprotected
one fails here), a wall link reaches exactly the wall's callbacks, login/logout/limit over HTTP, disabling and
revoking take effect on a running server, the SSO header counts only from a trusted proxy, and a browser logs in."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dash import Dash
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from dashboard.access.accounts import AccountStore
from dashboard.access.gate import CallbackRules, is_public
from dashboard.access.machine import machine_action
from dashboard.access.walls import WallLinks, deployment_secret
from dashboard.app import create_app
from dashboard.runtime import build_runtime
from dashboard.settings import Settings
from tests.support.auth import anonymous_opener, api_key
from tests.support.browser import wait_until_live
from tests.support.dash_ws import ws_url
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

# What a wall's own callbacks may write: the routed page, the language, a touring wall's next URL (and the
# WebSocket/clientside callbacks with no outputs at all).
WALL_OUTPUTS = {"page.children", "page-rendered.data", "live-token.data", "root-lang.data", "url.search"}
PUBLIC = {"/login", "/logout", "/healthz", "/_favicon.ico", "/assets/x", "/_dash-component-suites/x/x"}


@pytest.fixture(scope="module")
def app(live_server: LiveServer) -> Dash:
    """The same app the server runs, built here (not started) to read its routes and callbacks."""
    settings = Settings.from_env(redis_url=live_server.redis_url, redis_prefix=live_server.keys.prefix)
    return create_app(settings, build_runtime(settings, live_server.redis_url))


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, set[str]]]:
    """(kind ``http``/``websocket``, concrete path, methods) of every route, included routers and mounts too."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router
            yield from _routes(original.routes, prefix)
        elif isinstance(route, Mount):
            yield "http", re.sub(r"\{[^}]+\}", "x", prefix + route.path) + "/x", {"GET"}
        elif isinstance(route, WebSocketRoute):
            yield "websocket", prefix + route.path, set()
        elif isinstance(route, Route):
            yield "http", re.sub(r"\{[^}]+\}", "x", prefix + route.path), set(route.methods or ()) - {"HEAD"}
        else:
            raise AssertionError(f"a route of a kind this test does not know: {route!r}")


def _status(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with anonymous_opener().open(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _callback_body(output: str, path: str = "/wall") -> bytes:
    inputs = [{"id": "url", "property": "pathname", "value": path}, {"id": "url", "property": "search", "value": ""}]
    return json.dumps({"output": output, "outputs": [], "inputs": inputs, "state": [], "changedPropIds": []}).encode()


def _post_callback(server: LiveServer, output: str, cookie: str | None, path: str = "/wall") -> int:
    headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    return _status(server.url + "/_dash-update-component", "POST", _callback_body(output, path), headers)


def _wall_cookie(server: LiveServer) -> str:
    return f"{server.creds.wall_cookie}={server.creds.wall_token}"


def _login(server: LiveServer, name: str, password: str, **headers: str) -> tuple[int, str]:
    """POST /login as a browser on the server's page would; (status, Set-Cookie)."""
    body = urllib.parse.urlencode({"name": name, "password": password, "next": "/wall"}).encode()
    req = urllib.request.Request(
        server.url + "/login", data=body, method="POST", headers={"Origin": server.url, **headers}
    )
    try:
        with anonymous_opener().open(req, timeout=30) as resp:
            return int(resp.status), resp.headers.get("set-cookie", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("set-cookie", "")


# ---- everything refuses the anonymous ------------------------------------------------------------------------------


def test_every_route_refuses_anonymous_requests(app: Dash, live_server: LiveServer) -> None:
    routes = list(_routes(app.server.routes))
    assert len(routes) > 15, routes
    seen_public = set()
    for kind, path, methods in [*routes, ("http", "/no-such-page", {"GET"})]:  # the last: Dash's catch-all
        if is_public(path):
            seen_public.add(path)
            continue
        if kind == "websocket":
            with pytest.raises(InvalidStatus) as refused:
                connect(live_server.url.replace("http", "ws") + path, origin=Origin(live_server.url), open_timeout=10)
            assert refused.value.response.status_code == 403, path
            continue
        for method in methods:
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            code = _status(live_server.url + path, method, body, {"Content-Type": "application/json"})
            assert code == 401, f"{method} {path} answered {code} to an anonymous request"
            if method == "GET":
                page = _status(live_server.url + path, headers={"Accept": "text/html"})
                assert page in (302, 401), f"a browser's GET {path}: {page}"
    assert seen_public <= PUBLIC, f"routes public beyond the allow-list: {seen_public - PUBLIC}"


def test_an_api_key_reaches_exactly_its_scopes_routes_and_no_callback_page_or_websocket(
    app: Dash, live_server: LiveServer
) -> None:
    for scope in ("ingest", "read"):
        token = api_key(live_server.client, live_server.keys, f"enum-{scope}", scope)
        bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for kind, path, methods in [*_routes(app.server.routes), ("http", "/no-such-page", {"GET"})]:
            if is_public(path):
                continue
            if kind == "websocket":
                with pytest.raises(InvalidStatus) as refused:
                    connect(ws_url(live_server.url), origin=Origin(live_server.url), additional_headers=bearer)
                assert refused.value.response.status_code == 403, path
                continue
            for method in methods:
                body = b"{}" if method in ("POST", "PUT", "PATCH") else None
                code = _status(live_server.url + path, method, body, bearer)
                if machine_action(method, path) == scope:
                    assert code not in (401, 403), f"{scope} key: {method} {path} answered {code}"
                else:
                    assert code == 403, f"a {scope} key reached {method} {path} ({code})"
        for output in app.callback_map:
            code = _status(live_server.url + "/_dash-update-component", "POST", _callback_body(output), bearer)
            assert code == 403, f"a {scope} key ran callback {output}"
        revoke = {"Authorization": f"Bearer {token}x"}  # a wrong key is anonymous, not a fall-back to a cookie
        assert (
            _status(live_server.url + "/api/areas", headers={**revoke, "Cookie": live_server.creds.cookie_header()})
            == 401
        )


def test_a_session_cannot_post_to_the_ingest_routes(live_server: LiveServer) -> None:
    admin = {"Cookie": live_server.creds.cookie_header(), "Content-Type": "application/json"}
    for path in ("/api/incidents", "/api/incidents/batch", "/open311/v2/requests.json"):
        assert _status(live_server.url + path, "POST", b"{}", admin) == 403, path


def test_every_callback_refuses_the_anonymous_and_console_callbacks_refuse_a_wall_link(
    app: Dash, live_server: LiveServer
) -> None:
    rules = app.callback_rules
    assert rules is not None and rules.wall and rules.writes
    wall = _wall_cookie(live_server)
    for output in app.callback_map:
        assert _post_callback(live_server, output, None) == 401, output
        if output in rules.wall:
            written = {f"{o['id']}.{o['property']}" for o in _outputs(output)}
            assert written <= WALL_OUTPUTS, f"a wall callback writes {written - WALL_OUTPUTS}"
            assert _post_callback(live_server, output, wall, path="/") == 403, "a wall link asking for the console"
        else:
            assert _post_callback(live_server, output, wall) == 403, f"a wall link ran console callback {output}"
    route_key = next(k for k in rules.wall if k.startswith("..page.children"))  # the wall's router does run:
    inputs = [
        {"id": "url", "property": "pathname", "value": "/wall"},
        {"id": "url", "property": "search", "value": ""},
        {"id": "root-lang", "property": "data", "value": "zh"},
    ]
    body = {
        "output": route_key,
        "outputs": _outputs(route_key),
        "inputs": inputs,
        "state": [{"id": "page-rendered", "property": "data", "value": None}],
        "changedPropIds": ["url.pathname"],
    }
    headers = {"Content-Type": "application/json", "Cookie": wall}
    code = _status(live_server.url + "/_dash-update-component", "POST", json.dumps(body).encode(), headers)
    assert code == 200


def _outputs(key: str) -> list[dict[str, str]]:
    """The outputs a ``callback_map`` key names (``..a.b...c.d..``, ``a.b@hash``, ``a.b``; a bare hash: none)."""
    if key.startswith(".."):
        parts = key[2:-2].split("...")
    elif "." in key:
        parts = [key]
    else:
        return []
    out = []
    for part in parts:
        ident, prop = part.split("@")[0].rsplit(".", 1)
        out.append({"id": ident, "property": prop})
    return out


def test_a_wall_link_gets_only_wall_pages_in_its_scope_and_no_console_callbacks(live_server: LiveServer) -> None:
    wall = {"Cookie": _wall_cookie(live_server)}
    assert _status(live_server.url + "/wall", headers=wall) == 200
    for path in ("/", "/api/areas", "/api/briefing.png", "/open311/v2/services.json"):
        assert _status(live_server.url + path, headers=wall) == 403, path
    with anonymous_opener().open(urllib.request.Request(live_server.url + "/_dash-dependencies", headers=wall)) as r:
        deps = json.loads(r.read())
    assert deps and not any("console" in d["output"] for d in deps), [d["output"] for d in deps]
    scoped = WallLinks(live_server.client, live_server.keys, deployment_secret(live_server.client, live_server.keys))
    _link, token = scoped.create("c3", "community:C003")
    # The link's first visit: the key becomes the wall cookie, the address bar loses it and gains the scope.
    req = urllib.request.Request(f"{live_server.url}/wall?key={token}&lang=en")
    with pytest.raises(urllib.error.HTTPError) as first:
        anonymous_opener().open(req, timeout=30)
    assert first.value.code == 302
    assert first.value.headers["location"] == "/wall?scope=community%3AC003&lang=en"
    cookie = first.value.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    c3 = {"Cookie": f"{live_server.creds.wall_cookie}={token}"}
    assert _status(live_server.url + "/wall?scope=community:C003", headers=c3) == 200
    assert _status(live_server.url + "/wall?scope=community:C001", headers=c3) == 403
    assert _status(live_server.url + "/wall", headers=c3) == 403
    assert _status(f"{live_server.url}/wall?key={token}x") == 403  # a forged link


def test_the_websocket_refuses_a_wall_links_console_callback_and_closes_when_the_link_is_revoked(
    app: Dash, live_server: LiveServer
) -> None:
    links = WallLinks(live_server.client, live_server.keys, deployment_secret(live_server.client, live_server.keys))
    _link, token = links.create("ws-wall")
    headers = {"Cookie": f"{live_server.creds.wall_cookie}={token}"}
    console = next(k for k in app.callback_map if k not in (app.callback_rules or set()).wall)  # type: ignore[union-attr]
    origin = Origin(live_server.url)
    with connect(ws_url(live_server.url), origin=origin, additional_headers=headers, open_timeout=30) as conn:
        payload = {"output": console, "outputs": [], "inputs": [], "state": [], "changedPropIds": []}
        conn.send(json.dumps({"type": "callback_request", "requestId": "1", "rendererId": "r", "payload": payload}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                conn.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    with connect(ws_url(live_server.url), origin=origin, additional_headers=headers, open_timeout=30) as conn:
        links.revoke("ws-wall")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                conn.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert _status(live_server.url + "/wall", headers=headers) in (302, 401)


# ---- logins -------------------------------------------------------------------------------------------------------


def test_login_logout_and_the_login_limit(live_server: LiveServer) -> None:
    accounts = AccountStore(live_server.client, live_server.keys)
    accounts.add("viewer-li", "viewer", "li-password-1")
    with anonymous_opener().open(live_server.url + "/login?lang=en&next=/wall", timeout=30) as resp:
        page = resp.read().decode()
    assert "Sign in" in page and 'name="next" value="/wall"' in page
    with anonymous_opener().open(live_server.url + "/login", timeout=30) as resp:
        assert "登录" in resp.read().decode()
    body = urllib.parse.urlencode({"name": "viewer-li", "password": "li-password-1"}).encode()
    assert _status(live_server.url + "/login", "POST", body) == 403  # no Origin: not from our page
    assert _status(live_server.url + "/login", "POST", body, {"Origin": "http://evil.example"}) == 403

    code, cookie = _login(live_server, "viewer-li", "li-password-1")
    assert code == 303 and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    session = cookie.split(";", 1)[0]
    assert _status(live_server.url + "/", headers={"Cookie": session}) == 200
    act = next(iter(_write_callbacks(live_server)))
    assert _post_callback(live_server, act, session, path="/") == 403  # a viewer cannot act
    for path in ("/api/incidents", "/api/incidents/batch", "/open311/v2/requests.json"):
        assert _status(live_server.url + path, "POST", b"{}", {"Cookie": session}) == 403, path
    logout = {"Cookie": session, "Origin": live_server.url}
    assert _status(live_server.url + "/logout", "POST", b"", logout) == 303
    wait_for(lambda: _status(live_server.url + "/", headers={"Cookie": session}) == 401, 10, message="logged out")

    for _ in range(5):
        assert _login(live_server, "viewer-li", "wrong-password")[0] == 401
    assert _login(live_server, "viewer-li", "li-password-1")[0] == 429  # limited, even with the right password


def _write_callbacks(server: LiveServer) -> set[str]:
    settings = Settings.from_env(redis_url=server.redis_url, redis_prefix=server.keys.prefix)
    app = create_app(settings, build_runtime(settings, server.redis_url))
    rules: CallbackRules | None = app.callback_rules
    assert rules is not None
    return rules.writes


def test_a_disabled_account_loses_access_at_once(live_server: LiveServer) -> None:
    accounts = AccountStore(live_server.client, live_server.keys)
    accounts.add("official-wang", "official", "wang-password-1")
    code, cookie = _login(live_server, "official-wang", "wang-password-1")
    assert code == 303
    session = {"Cookie": cookie.split(";", 1)[0]}
    assert _status(live_server.url + "/api/areas", headers=session) == 200
    accounts.set_disabled("official-wang", True)
    wait_for(lambda: _status(live_server.url + "/api/areas", headers=session) == 401, 10, message="refused")
    assert _login(live_server, "official-wang", "wang-password-1")[0] == 401


def test_the_sso_header_counts_only_from_a_trusted_proxy(
    live_server: LiveServer, redis_url: str, tmp_path: Path
) -> None:
    sso = {"X-Forwarded-User": live_server.creds.admin}
    assert _status(live_server.url + "/api/areas", headers=sso) == 401  # no SSO configured, no proxy trusted
    env = {"ONESCREEN_SSO_HEADER": "X-Forwarded-User", "ONESCREEN_TRUSTED_PROXIES": "127.0.0.1"}
    with spawn_server(redis_url, tmp_path, env=env) as proxied:
        assert _status(proxied.url + "/api/areas", headers={"X-Forwarded-User": proxied.creds.admin}) == 200
        assert _status(proxied.url + "/api/areas", headers={"X-Forwarded-User": "nobody"}) == 401
        code, cookie = _login(proxied, proxied.creds.admin, proxied.creds.password, **{"X-Forwarded-Proto": "https"})
        assert code == 303 and "Secure" in cookie  # HTTPS as the trusted proxy says
    env = {"ONESCREEN_SSO_HEADER": "X-Forwarded-User", "ONESCREEN_TRUSTED_PROXIES": "10.0.0.1"}
    with spawn_server(redis_url, tmp_path, env=env) as other:
        assert _status(other.url + "/api/areas", headers={"X-Forwarded-User": other.creds.admin}) == 401


# ---- in a browser -------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_browser_logs_in_and_a_wall_opens_from_its_link(live_server: LiveServer, browser: Any) -> None:
    context = browser.unwrapped.new_context(viewport={"width": 1600, "height": 900})  # anonymous
    try:
        page = context.new_page()
        page.goto(live_server.url + "/?lang=en")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.fill("#name", live_server.creds.admin)
        page.fill("#password", live_server.creds.password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r":\d+/\?lang=en$"))
        wait_until_live(page)
        cookie = next(c for c in context.cookies() if c["name"] == live_server.creds.session_cookie)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        page.click(".os-logout__button")  # the console's sign-out: a plain form post
        page.wait_for_url(re.compile(r"/login$"))
        assert not [c for c in context.cookies() if c["name"] == live_server.creds.session_cookie]
        assert page.evaluate("() => fetch('/api/areas').then((r) => r.status)") == 401
    finally:
        context.close()
    context = browser.unwrapped.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/wall?key={live_server.creds.wall_token}")
        wait_until_live(page)
        assert "key=" not in page.url
        deps = page.evaluate("() => fetch('/_dash-dependencies').then((r) => r.json())")
        assert not any("console" in d["output"] for d in deps)
        assert page.evaluate("() => fetch('/').then((r) => r.status)") == 403
    finally:
        context.close()


def test_redis_side_of_a_session_never_holds_a_password(live_server: LiveServer) -> None:
    client: redis.Redis = live_server.client
    dump = b"".join(
        str(client.hgetall(k)).encode() for k in client.scan_iter(match=f"{live_server.keys.prefix}:access:session:*")
    )
    assert live_server.creds.password.encode() not in dump


def test_a_logout_closes_the_live_push_of_that_session(live_server: LiveServer) -> None:
    AccountStore(live_server.client, live_server.keys).add("viewer-zhao", "viewer", "zhao-password-1")
    code, cookie = _login(live_server, "viewer-zhao", "zhao-password-1")
    assert code == 303
    session = cookie.split(";", 1)[0]
    origin = Origin(live_server.url)
    with connect(ws_url(live_server.url), origin=origin, additional_headers={"Cookie": session}) as conn:
        logout = {"Cookie": session, "Origin": live_server.url}
        assert _status(live_server.url + "/logout", "POST", b"", logout) == 303
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                conn.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@pytest.mark.browser
def test_a_wall_whose_link_is_revoked_leaves_for_the_login_page(live_server: LiveServer, browser: Any) -> None:
    links = WallLinks(live_server.client, live_server.keys, deployment_secret(live_server.client, live_server.keys))
    _link, token = links.create("to-revoke")
    context = browser.unwrapped.new_context(viewport={"width": 1920, "height": 1080})  # anonymous but for the link
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/wall?key={token}")
        wait_until_live(page)
        links.revoke("to-revoke")
        page.wait_for_url(re.compile(r"/login\?next=%2Fwall"), timeout=20_000)
    finally:
        context.close()
