"""HTTP hardening and API keys on a real server: security headers on every answer, no OpenAPI, the Host allow-list
(HTTP and WebSocket), Origin checks for cookie writes, JSON-only ingest, per-key rate limits, area-scoped ingest
keys, revocation; in Chromium, a page on another origin cannot change anything, and the screens run under the CSP
without one violation."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from dash import Dash
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from dashboard.app import create_app
from dashboard.layouts import ids as layer_ids
from dashboard.runtime import Geo, build_runtime, load_geo
from dashboard.settings import Settings
from incidents.publish import publish
from incidents.redis_server import free_port
from tests.support.auth import anonymous_opener, api_key
from tests.support.browser import wait_until_live
from tests.support.dash_ws import ws_url
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture(scope="module")
def geo() -> Geo:
    return load_geo(Settings.from_env())


@pytest.fixture(scope="module")
def app(live_server: LiveServer) -> Dash:
    settings = Settings.from_env(redis_url=live_server.redis_url, redis_prefix=live_server.keys.prefix)
    return create_app(settings, build_runtime(settings, live_server.redis_url))


def _point(geo: Geo, community: str, inside: bool) -> tuple[float, float]:
    grids = geo.layers.grids
    rows = grids[(grids["community_id"] == community) == inside]
    p = rows.geometry.iloc[0].representative_point()
    return round(p.x, 6), round(p.y, 6)


def _wire(iid: str, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    return {"id": iid, "status": "reported", "ts": time.time(), "lon": lon, "lat": lat, "category": "environment"}


def _call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers lower-cased, body) with no credential but ``headers``."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with anonymous_opener().open(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _bearer(token: str, ctype: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": ctype}


def _post_json(url: str, token: str, doc: Any) -> tuple[int, Any, dict[str, str]]:
    code, headers, body = _call(url, "POST", json.dumps(doc).encode(), _bearer(token))
    return code, json.loads(body or b"null"), headers


# ---- headers, OpenAPI, Host --------------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(live_server: LiveServer) -> None:
    admin = {"Cookie": live_server.creds.cookie_header()}
    for path, headers, expected in (
        ("/", admin, 200),
        ("/login", {}, 200),
        ("/healthz", {}, 200),
        ("/api/areas", {}, 401),
        ("/wall", admin, 200),
        ("/open311/v2/nothing.json", admin, 404),
        ("/assets/onescreen.css", {}, 200),
    ):
        code, got, _ = _call(live_server.url + path, headers=headers)
        assert code == expected, path
        for name, value in HEADERS.items():
            assert got.get(name) == value, (path, name, got)
        csp = got["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp, csp
        assert "script-src 'self' 'sha256-" in csp and "script-src 'self' 'unsafe-inline'" not in csp, csp


def test_there_is_no_openapi_listing(live_server: LiveServer) -> None:
    admin = {"Cookie": live_server.creds.cookie_header()}
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert _call(live_server.url + path)[0] == 401, path  # the anonymous: nothing at all
        body = _call(live_server.url + path, headers=admin)[2]  # Dash's page, if anything: no API listing
        assert b'"openapi"' not in body and b"swagger" not in body.lower(), path


def _raw_status(port: int, request: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(request.encode())
        line = s.makefile("rb").readline().decode()
    return int(line.split()[1])


def test_a_foreign_host_header_is_refused_for_http_and_the_websocket(live_server: LiveServer) -> None:
    port = int(live_server.url.rsplit(":", 1)[1])
    cookie = live_server.creds.cookie_header()
    for host in ("evil.example", f"rebind.attacker.test:{port}"):
        assert _raw_status(port, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n") == 400
        upgrade = (
            f"GET /_dash-ws-callback HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        assert _raw_status(port, upgrade) == 400, host  # the handshake too, before the gate
    for host in ("127.0.0.1", "localhost"):
        assert _raw_status(port, f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n") == 200


# ---- cookie writes from another origin ------------------------------------------------------------------------


def _act_key(app: Dash) -> str:
    return str(next(k for k, cb in app.callback_map.items() if layer_ids.ACTION_BTN in json.dumps(cb.get("inputs"))))


def _act_payload(app: Dash, incident_id: str, status: str) -> dict[str, Any]:
    """The console's action button ``status`` clicked for ``incident_id``, as the Dash renderer posts it."""
    trigger = {"status": status, "type": layer_ids.ACTION_BTN}
    return {
        "output": _act_key(app),
        "outputs": {"id": "console-detail", "property": "children"},
        "inputs": [[], [{"id": trigger, "property": "n_clicks", "value": 1}], [], []],  # dispatch, action, rate, 催办
        "changedPropIds": [json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
        "state": [
            {"id": "console-selected", "property": "data", "value": incident_id},
            {"id": "root-lang", "property": "data", "value": "en"},
        ],
    }


def _status_of(server: LiveServer, incident_id: str) -> str | None:
    raw = server.client.hget(server.keys.state, incident_id)
    return json.loads(raw)["status"] if raw else None


def test_a_cookie_write_from_another_origin_is_refused(app: Dash, live_server: LiveServer, geo: Geo) -> None:
    lon, lat = _point(geo, "C003", True)
    publish(live_server.client, live_server.keys, _wire("XO-HTTP", lon, lat))
    body = json.dumps(_act_payload(app, "XO-HTTP", "accepted")).encode()
    admin = {"Cookie": live_server.creds.cookie_header(), "Content-Type": "application/json"}
    url = live_server.url + "/_dash-update-component"
    for origin in ("http://evil.example", "http://127.0.0.1:1", "null"):
        assert _call(url, "POST", body, {**admin, "Origin": origin})[0] == 403, origin
    assert _call(url, "POST", body, {**admin, "Referer": "http://evil.example/x"})[0] == 403
    assert _status_of(live_server, "XO-HTTP") == "reported"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(live_server.url), origin=Origin("http://evil.example"), additional_headers=admin)
    assert refused.value.response.status_code == 403

    def accepted() -> bool:  # our own page's request does it (the situation may need a moment to hold the incident)
        _call(url, "POST", body, {**admin, "Origin": live_server.url})
        return _status_of(live_server, "XO-HTTP") == "accepted"

    wait_for(accepted, 30, 0.5, message="the same request from our own origin accepted the incident")


# ---- API keys ------------------------------------------------------------------------------------------------


def test_an_area_key_posts_inside_its_area_only(live_server: LiveServer, geo: Geo) -> None:
    token = api_key(live_server.client, live_server.keys, "c3-sensors", "ingest", ("community:C003",))
    inside, outside = _point(geo, "C003", True), _point(geo, "C003", False)
    url = live_server.url + "/api/incidents"
    assert _post_json(url, token, _wire("AK-IN", *inside))[0] == 202
    code, body, _ = _post_json(url, token, _wire("AK-OUT", *outside))
    assert code == 403 and "community:C003" in body["detail"] and "AK-OUT" in body["detail"], body
    publish(live_server.client, live_server.keys, _wire("AK-ELSEWHERE", *outside))
    change = {"id": "AK-ELSEWHERE", "status": "cancelled", "ts": time.time()}  # no point: the stored one counts
    assert _post_json(url, token, change)[0] == 403
    moved = {**_wire("AK-IN", *outside), "status": "reported"}  # moving its own incident out: refused too
    assert _post_json(url, token, moved)[0] == 403
    code, body, _ = _post_json(url + "/batch", token, [_wire("AK-B1", *inside), _wire("AK-B2", *outside)])
    assert code == 403 and body["refused"] == [1], body
    assert live_server.client.hget(live_server.keys.state, "AK-B1") is None  # a refused batch is refused whole
    assert _status_of(live_server, "AK-ELSEWHERE") == "reported"

    form = {"service_code": "environment", "description": "垃圾满溢", "long": str(inside[0]), "lat": str(inside[1])}
    o311 = live_server.url + "/open311/v2/requests.json"
    form_ct = {"Content-Type": "application/x-www-form-urlencoded"}
    in_form = urllib.parse.urlencode({**form, "api_key": token}).encode()
    assert _call(o311, "POST", in_form, form_ct)[0] == 200  # the spec's way: api_key in the form
    assert _call(f"{o311}?api_key={token}", "POST", urllib.parse.urlencode(form).encode(), form_ct)[0] == 200
    far = urllib.parse.urlencode({**form, "long": str(outside[0]), "lat": str(outside[1]), "api_key": token})
    code, _, body_bytes = _call(o311, "POST", far.encode(), form_ct)
    assert code == 403 and "community:C003" in json.loads(body_bytes)[0]["description"]
    reader = api_key(live_server.client, live_server.keys, "o311-reader", "read")
    assert _call(o311, "POST", urllib.parse.urlencode({**form, "api_key": reader}).encode(), form_ct)[0] == 403
    assert _call(o311, "POST", urllib.parse.urlencode({**form, "api_key": "osk_forged"}).encode(), form_ct)[0] == 401


def test_json_ingest_takes_json_only_and_a_read_key_reads_masked_only(live_server: LiveServer, geo: Geo) -> None:
    token = live_server.creds.ingest_key
    doc = json.dumps(_wire("CT-1", *_point(geo, "C003", True))).encode()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        code = _call(live_server.url + "/api/incidents", "POST", doc, _bearer(token, ctype))[0]
        assert code == 415, ctype
    assert _call(live_server.url + "/api/incidents", "POST", doc, _bearer(token))[0] == 202
    reader = api_key(live_server.client, live_server.keys, "datav", "read")
    for path in ("/api/summary", "/api/areas", "/api/incidents/CT-1", "/open311/v2/requests.json"):
        assert _call(live_server.url + path, headers=_bearer(reader))[0] == 200, path
    assert _call(live_server.url + "/api/incidents", "POST", doc, _bearer(reader))[0] == 403
    for path in ("/", "/wall", "/_dash-layout", "/_dash-dependencies"):
        assert _call(live_server.url + path, headers=_bearer(reader))[0] == 403, path


def test_a_revoked_key_is_refused_within_seconds(live_server: LiveServer) -> None:
    token = api_key(live_server.client, live_server.keys, "to-revoke", "read")
    assert _call(live_server.url + "/api/areas", headers=_bearer(token))[0] == 200
    api_key(live_server.client, live_server.keys, "to-revoke", "read")  # re-created: the old secret is dead
    wait_for(lambda: _call(live_server.url + "/api/areas", headers=_bearer(token))[0] == 401, 10, message="refused")


def test_each_key_is_rate_limited_and_a_batch_counts_its_items(redis_url: str, tmp_path: Path, geo: Geo) -> None:
    env = {"ONESCREEN_KEY_RATE": "6", "ONESCREEN_KEY_RATE_WINDOW_S": "3600"}
    with spawn_server(redis_url, tmp_path, env=env) as server:
        token = server.creds.ingest_key
        lon, lat = _point(geo, "C003", True)
        url = server.url + "/api/incidents"
        assert [_post_json(url, token, _wire(f"RL-{i}", lon, lat))[0] for i in range(4)] == [202] * 4
        code, body, headers = _post_json(url + "/batch", token, [_wire(f"RL-B{i}", lon, lat) for i in range(3)])
        assert code == 429 and int(headers["retry-after"]) > 0 and "3 items" in body["detail"], body
        assert _post_json(url + "/batch", token, [_wire(f"RL-B{i}", lon, lat) for i in range(2)])[0] == 200
        code, _, headers = _post_json(url, token, _wire("RL-9", lon, lat))
        assert code == 429 and 0 < int(headers["retry-after"]) <= 3600
        other = api_key(server.client, server.keys, "other-system", "ingest")  # per key
        assert _post_json(url, other, _wire("RL-10", lon, lat))[0] == 202
        assert server.client.hget(server.keys.state, "RL-9") is None


# ---- in a browser --------------------------------------------------------------------------------------------

ATTACK_JS = """async (a) => {
  const out = {};
  const tries = [
    ["callback-text", a.target + "/_dash-update-component", "text/plain", a.act, "no-cors"],
    ["callback-json", a.target + "/_dash-update-component", "application/json", a.act, "cors"],
    ["ingest-text", a.target + "/api/incidents", "text/plain", a.wire, "no-cors"],
    ["batch-text", a.target + "/api/incidents/batch", "text/plain", a.batch, "no-cors"],
    ["open311-form", a.target + "/open311/v2/requests.json", "application/x-www-form-urlencoded", a.form, "no-cors"],
  ];
  for (const [name, url, type, body, mode] of tries) {
    try {
      const r = await fetch(url, {method: "POST", mode, credentials: "include", headers: {"Content-Type": type}, body});
      out[name] = r.type + ":" + r.status;
    } catch (e) { out[name] = "error"; }
  }
  out.ws = await new Promise((resolve) => {
    const ws = new WebSocket(a.ws);
    ws.onopen = () => { ws.send(a.wsMessage); setTimeout(() => resolve("open"), 1500); };
    ws.onerror = () => resolve("error");
    ws.onclose = (e) => resolve("closed:" + e.code);
  });
  return out;
}"""


@pytest.mark.browser
def test_a_page_on_another_origin_cannot_change_anything(
    app: Dash, live_server: LiveServer, browser: Any, geo: Geo
) -> None:
    lon, lat = _point(geo, "C003", True)
    publish(live_server.client, live_server.keys, _wire("XO-1", lon, lat))
    before = live_server.client.hlen(live_server.keys.state)
    evil = f"http://127.0.0.1:{free_port()}"  # same site (cookies ignore ports: SameSite=Lax sends them), other origin
    context = browser.new_context()  # tracked: the admin's session cookie is in the jar
    try:
        context.route(f"{evil}/**", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>hi"))
        page = context.new_page()
        page.goto(evil + "/innocent")
        act = json.dumps(_act_payload(app, "XO-1", "cancelled"))
        args = {
            "target": live_server.url,
            "act": act,
            "wire": json.dumps({"id": "XO-1", "status": "cancelled", "ts": time.time()}),
            "batch": json.dumps([_wire("XO-FAKE", lon, lat)]),
            "form": urllib.parse.urlencode({"service_code": "fire", "long": lon, "lat": lat, "description": "假"}),
            "ws": ws_url(live_server.url),
            "wsMessage": json.dumps(
                {"type": "callback_request", "requestId": "1", "rendererId": "x", "payload": json.loads(act)}
            ),
        }
        outcome = page.evaluate(ATTACK_JS, args)
        assert outcome["ws"] != "open", outcome
        assert outcome["callback-json"] == "error", outcome  # no CORS: the browser never sends it
        assert _status_of(live_server, "XO-1") == "reported", outcome
        assert live_server.client.hlen(live_server.keys.state) == before, outcome
        assert live_server.client.hget(live_server.keys.state, "XO-FAKE") is None

        # the same payload from our own origin does cancel it: the attempts were real ones
        own = context.new_page()
        own.goto(live_server.url + "/login")

        def cancelled() -> bool:
            own.evaluate(
                "(b) => fetch('/_dash-update-component', {method: 'POST', headers: {'Content-Type': "
                "'application/json'}, body: b})",
                act,
            )
            return _status_of(live_server, "XO-1") == "cancelled"

        wait_for(cancelled, 30, 0.5, message="our own page's callback cancelled the incident")
    finally:
        context.close()


INJECT_JS = """() => {
  const s = document.createElement("script");
  s.textContent = "window.__inline = 1";
  document.body.appendChild(s);
  setTimeout("window.__evaluated = 1", 0);
}"""
CSP_WATCH = """() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
}"""


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/wall", "/?lang=en"])
def test_the_screens_run_under_the_csp_without_a_violation(live_server: LiveServer, browser: Any, path: str) -> None:
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.add_init_script(f"({CSP_WATCH})()")
        page.goto(live_server.url + path)
        wait_until_live(page)  # scripts ran, the live push connected, the map (MapLibre, its worker) drew
        assert page.evaluate("() => window.__csp") == [], errors
        assert not [e for e in errors if "Content Security Policy" in e or "unsafe-eval" in e], errors
        # the watcher works: an injected inline script and a string timer (eval) are refused and reported
        page.evaluate(INJECT_JS)
        page.wait_for_function("() => window.__csp.length >= 2")
        assert page.evaluate("() => [window.__inline, window.__evaluated]") == [None, None]
        assert sorted(v.split()[0] for v in page.evaluate("() => window.__csp")) == ["script-src", "script-src-elem"]
    finally:
        context.close()


# ---- Open311 reads public on request ---------------------------------------------------------------------------


def test_open311_reads_are_closed_by_default_and_public_masked_when_asked(
    live_server: LiveServer, redis_url: str, tmp_path: Path, geo: Geo
) -> None:
    assert _call(live_server.url + "/open311/v2/services.json")[0] == 401  # secure by default
    with spawn_server(redis_url, tmp_path, env={"ONESCREEN_OPEN311_PUBLIC": "1"}) as server:
        lon, lat = _point(geo, "C003", True)
        doc = {**_wire("PUB-1", lon, lat), "title": "楼道漏水 请联系13812345678 身份证330102199001011234"}
        assert _post_json(server.url + "/api/incidents", server.creds.ingest_key, doc)[0] == 202
        assert _call(server.url + "/open311/v2/services.json")[0] == 200  # as GeoReport v2 intends

        def listed() -> list[Any] | None:
            code, _, body = _call(server.url + "/open311/v2/requests.json")
            rows = json.loads(body) if code == 200 else []
            return [r for r in rows if r["service_request_id"] == "PUB-1"] or None

        (row,) = wait_for(listed, 30, message="PUB-1 in the public list")
        text = json.dumps(row, ensure_ascii=False)
        assert "13812345678" not in text and "330102199001011234" not in text and "楼道漏水" in text, text
        assert _call(server.url + "/open311/v2/requests/PUB-1.json")[0] == 200
        # only the reads: everything else still needs a credential
        assert _call(server.url + "/api/areas")[0] == 401
        form = urllib.parse.urlencode({"service_code": "environment", "lat": lat, "long": lon}).encode()
        ctype = {"Content-Type": "application/x-www-form-urlencoded"}
        assert _call(server.url + "/open311/v2/requests.json", "POST", form, ctype)[0] in (401, 403)


def test_unknown_paths_answer_404_and_the_pages_stay(live_server: LiveServer) -> None:
    """Dash's catch-all no longer answers every unknown path with the app's HTML (``dashboard.not_found``); the
    gate still comes first, so an anonymous browser is sent to the login page whatever the path."""
    admin = {"Cookie": live_server.creds.cookie_header()}
    for path in ("/api/incidents.json", "/no-such-page", "/wall/extra", "/api/summary/x"):
        code, _, body = _call(live_server.url + path, headers=admin)
        assert code == 404 and b"<html" not in body.lower(), (path, code)
    assert _call(live_server.url + "/api/incidents", headers=admin)[0] == 405  # POST-only: not a page either
    for path in ("/", "/wall", "/?area=community:C003", "/login"):
        code, headers, _ = _call(live_server.url + path, headers=admin)
        assert code == 200 and headers["content-type"].startswith("text/html"), (path, code)
    code, headers, _ = _call(live_server.url + "/no-such-page", headers={"Accept": "text/html"})
    assert code == 302 and headers["location"].startswith("/login?"), code  # the anonymous: login, as before
