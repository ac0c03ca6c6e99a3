"""Areas, the audit and privacy by role, end to end in one process: the real app (gate, routes, Dash callbacks over
HTTP) on a started Runtime (feed, frame hub) over the real test Redis, asked as different people.

- an official confined to one community can neither see nor change another community's incidents: the pages
  (their layout responses), the live push, the APIs, Open311, the briefing PNG's figure;
- every change made here through the console callback and the API leaves an audit entry naming its actor;
- phone and ID numbers typed into free text never reach a viewer's, a wall's or an anonymous caller's output;
- titles are escaped wherever Plotly draws them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from dashboard.access.actor import Actor, bind
from dashboard.access.scope import confine
from dashboard.callbacks.live import _context_of
from dashboard.callbacks.pages import request_of
from dashboard.layouts.ids import ACTION_BTN, DISPATCH_BTN, Replay
from dashboard.page_request import at_param
from dashboard.push import step
from dashboard.runtime import Runtime
from dashboard.snapshot_cli import scoped_briefing
from geo.columns import point_lonlat
from incidents import audit
from incidents.publish import publish
from incidents.store import as_text, get_incident
from tests.support.inprocess import Client, InProcess, in_process
from tests.support.wait import wait_for

PHONE = "13812345678"
ID_NUMBER = "330106199001011234"
OTHER_PHONE = "13900001111"
BIG = '<span style="font-size:300px">大字</span><br>'
SECRETS = (PHONE, ID_NUMBER, OTHER_PHONE, "138 1234 5678")


@dataclass
class World:
    runtime: Runtime
    client: Client
    redis: redis.Redis
    cookies: dict[str, str]  # name → Cookie header
    a: str  # community ref the official is confined to
    b: str  # another community
    in_a: str  # an incident in a
    in_b: str  # an incident in b
    member_a: str
    member_b: str
    writes: set[str]  # the output keys of the callbacks that change incidents

    def get(self, who: str | None, path: str, **headers: str) -> Any:
        cookie = {"Cookie": self.cookies[who]} if who else {}
        return self.client.get(path, headers={**cookie, **headers})

    def post(self, who: str | None, path: str, body: Any, **headers: str) -> Any:
        cookie = {"Cookie": self.cookies[who]} if who else {}
        return self.client.post(
            path, content=json.dumps(body), headers={"Content-Type": "application/json", **cookie, **headers}
        )


def _point(runtime: Runtime, community_id: str) -> tuple[float, float]:
    grids = runtime.layers.grids
    pt = grids[grids["community_id"].astype(str) == community_id].geometry.iloc[0].representative_point()
    return float(pt.x), float(pt.y)


def _report(runtime: Runtime, community_id: str, title: str, description: str = "") -> str:
    iid = f"S-{uuid.uuid4().hex[:10]}"
    lon, lat = _point(runtime, community_id)
    now = time.time()
    msg = {"id": iid, "status": "reported", "ts": now, "lon": lon, "lat": lat, "category": "environment",
           "title": title, "description": description, "due": now - 600}  # fmt: skip
    assert publish(runtime.redis, runtime.keys, msg, source="test").applied
    wait_for(lambda: runtime.situation.get(iid), 10, message=f"{iid} in the situation")
    return iid


@pytest.fixture(scope="module")
def world(redis_url: str) -> Iterator[World]:
    with in_process(redis_url, "scope") as served:
        yield from _scope_world(served)


def _scope_world(served: InProcess) -> Iterator[World]:
    runtime, app, client = served.runtime, served.app, served.client
    tree = runtime.geo.areas
    communities = [r for r in tree.areas if r.startswith("community:")]
    a, b = communities[0], communities[1]
    access = runtime.access
    cookies = {}
    for name, role, areas in (("wang", "official", (a,)), ("zhao", "dispatcher", (a,)), ("li", "viewer", ()),
                              ("root", "admin", ()), ("two", "official", (a, b))):  # fmt: skip
        access.accounts.add(name, role, "password-" + name, areas)
        cookies[name] = f"{access.session_cookie}={access.sessions.create(name).sid}"
    access.walls.create("lobby")
    cookies["wall"] = f"{access.wall_cookie}={access.walls.token('lobby')}"
    members = runtime.layers.members
    on_duty = members[members["on_duty"].fillna(False).astype(bool)]
    member_a, member_b = (
        next(
            str(m)
            for m, g in zip(on_duty["member_id"], on_duty["grid_id"], strict=True)
            if tree.contains(c, f"grid:{g}")
        )
        for c in (a, b)
    )
    in_a = _report(runtime, a.split(":")[1], f"王女士电话{PHONE}，身份证{ID_NUMBER}", "住幸福里3幢，手机138 1234 5678")
    in_b = _report(runtime, b.split(":")[1], f"{BIG}B区楼道堆物 电话{OTHER_PHONE}")
    assert app.callback_rules is not None
    writes = set(app.callback_rules.writes)
    yield World(runtime, client, runtime.redis, cookies, a, b, in_a, in_b, member_a, member_b, writes)


def _actor(world: World, name: str) -> Actor:
    account = world.runtime.access.accounts.require(name)
    return Actor("user", name, account.role, account.areas, "session")


def _layout(world: World, who: str, page: str) -> str:
    resp = world.get(who, "/_dash-layout", Referer=world.client.base + page)
    assert resp.status_code == 200, resp.text
    return str(resp.content.decode())


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _figure_text(fig: Any) -> str:
    return "\n".join(_strings(fig.to_plotly_json()))


def _push_text(world: World, actor: Actor, path: str) -> str:
    """What the live push sends a fresh tab of ``actor`` on ``path``: the context as the push loop builds it, and
    the step from nothing to that context's frame."""
    bind(actor, "")
    ctx = _context_of(path, "", "zh", None, "zh", world.runtime.geo.areas)
    frame = world.runtime.hub.frame(ctx)
    return "\n".join(step(None, frame, map_ok=True).payloads)


# ---- areas -----------------------------------------------------------------------------------------------------


def test_an_official_sees_only_its_community_in_the_apis(world: World) -> None:
    assert world.get("wang", f"/api/incidents/{world.in_a}").json()["title"].count(PHONE) == 1  # unmasked: official
    assert world.get("wang", f"/api/incidents/{world.in_b}").status_code == 404
    assert world.get("root", f"/api/incidents/{world.in_b}").status_code == 200
    summary = world.get("wang", "/api/summary").json()
    assert summary["area"]["ref"] == world.a
    assert world.get("wang", f"/api/summary?area={world.b}").status_code == 403
    tree = world.runtime.geo.areas
    areas = world.get("wang", "/api/areas").json()
    assert areas["root"] == world.a and areas["roots"] == [world.a]
    assert areas["areas"] and all(tree.contains(world.a, row["ref"]) for row in areas["areas"])
    both = world.get("two", "/api/summary").json()  # two areas: their union
    assert both["area"] is None and {r["ref"] for r in both["areas"]} == {world.a, world.b}
    ids = [r["service_request_id"] for r in world.get("wang", "/open311/v2/requests.json").json()]
    assert world.in_a in ids and world.in_b not in ids
    assert world.get("wang", f"/open311/v2/requests/{world.in_b}.json").status_code == 404
    assert world.get("wang", f"/api/briefing.png?area={world.b}").status_code == 403


def test_an_official_sees_only_its_community_on_the_screens_the_push_and_the_png(world: World) -> None:
    for page in ("/", f"/?area={world.b}", f"/?area={world.a}"):  # another community's page falls back to its own
        body = _layout(world, "wang", page)
        assert world.in_a in body and world.in_b not in body, page
    body = _layout(world, "two", "/")  # two areas: both, as a union
    assert world.in_a in body and world.in_b in body
    pushed = _push_text(world, _actor(world, "wang"), "/")
    assert world.in_a in pushed and world.in_b not in pushed
    req = request_of(world.runtime, "/", f"?area={world.b}", actor=_actor(world, "wang"))
    assert req.area == world.a and req.scope == (world.a,) and not req.masked
    fig = scoped_briefing(world.runtime, "zh", req.area, world.runtime.hub.frame, scope=req.scope, masked=req.masked)
    text = _figure_text(fig)
    assert PHONE in text and "B区楼道堆物" not in text  # its own overdue incident (unmasked), not the other's
    # nor the other community's members: the confined page draws its own only
    if world.member_b in _layout(world, "root", "/"):
        assert world.member_b not in _layout(world, "wang", "/")


def _act(world: World, who: str, incident_id: str, *, status: str = "", member: str = "") -> Any:
    (key,) = world.writes  # the write callback's key, from the app's own map
    dispatch = [{"id": {"type": DISPATCH_BTN, "member": member}, "property": "n_clicks", "value": 1}] if member else []
    actions = [{"id": {"type": ACTION_BTN, "status": status}, "property": "n_clicks", "value": 1}] if status else []
    changed = (
        json.dumps({"member": member, "type": DISPATCH_BTN}, separators=(",", ":"))
        if member
        else json.dumps({"status": status, "type": ACTION_BTN}, separators=(",", ":"))
    )
    body = {
        "output": key,
        "outputs": {"id": "console-detail", "property": "children"},
        "inputs": [dispatch, actions, [], []],  # the act callback's inputs: dispatch, action, rate, 催办 buttons
        "state": [
            {"id": "console-selected", "property": "data", "value": incident_id},
            {"id": "root-lang", "property": "data", "value": "zh"},
        ],
        "changedPropIds": [changed + ".n_clicks"],
    }
    return world.post(who, "/_dash-update-component", body, Origin=world.client.base)


def _text(resp: Any) -> str:
    """A JSON response as text, non-ASCII as itself (Dash may escape it)."""
    return json.dumps(resp.json(), ensure_ascii=False)


def _status(world: World, incident_id: str) -> str:
    found = get_incident(world.redis, world.runtime.keys, incident_id)
    assert found is not None
    return str(found.status)


def _audited(world: World, incident_id: str) -> list[audit.AuditEntry]:
    return list(audit.scan(world.redis, world.runtime.keys, incident=incident_id, scan_max=None))


def test_acting_outside_the_areas_is_refused_and_changes_nothing(world: World) -> None:
    before = len(_audited(world, world.in_b))
    resp = _act(world, "wang", world.in_b, status="accepted")
    assert resp.status_code == 200 and "管辖区域" in _text(resp)  # said so, and nothing of the incident shown
    assert "B区" not in _text(resp) and _status(world, world.in_b) == "reported"
    resp = _act(world, "zhao", world.in_b, member=world.member_b)  # a dispatcher of community a, on b's incident
    assert _status(world, world.in_b) == "reported"
    assert len(_audited(world, world.in_b)) == before
    # inside: an official may not dispatch (a dispatcher's work) nor send a member of another community
    resp = _act(world, "wang", world.in_a, member=world.member_a)
    assert "不能执行" in _text(resp) and _status(world, world.in_a) == "reported"
    resp = _act(world, "zhao", world.in_a, member=world.member_b)
    assert "管辖区域" in _text(resp) and _status(world, world.in_a) == "reported"


def _ingest_credential(world: World) -> tuple[str, dict[str, str]]:
    """(actor label, headers) of whoever may post to the ingest routes here: an ``ingest`` API key where the
    deployment has them (``Access.apikeys``), else the admin's session."""
    apikeys = getattr(world.runtime.access, "apikeys", None)
    if apikeys is None:
        return "user:root", {"Cookie": world.cookies["root"], "Origin": world.client.base}
    if apikeys.get("erp") is None:
        world.cookies["erp"] = apikeys.create("erp", "ingest")[1]
    return "key:erp", {"Authorization": "Bearer " + world.cookies["erp"]}


def test_every_change_through_the_console_and_the_api_is_audited_with_its_actor(world: World) -> None:
    iid = _report(world.runtime, world.a.split(":")[1], "测试工单")
    resp = _act(world, "zhao", iid, member=world.member_a)
    assert resp.status_code == 200, resp.text
    wait_for(lambda: _status(world, iid) == "dispatched", 10, message="dispatched by the console")
    _act(world, "wang", iid, status="accepted")
    wait_for(lambda: _status(world, iid) == "accepted", 10, message="accepted by the console")
    poster, credential = _ingest_credential(world)
    resp = world.client.post(
        "/api/incidents", json={"id": iid, "status": "resolved", "ts": time.time()}, headers=credential
    )
    assert resp.status_code == 202, resp.text
    got = [(e.actor, e.via, e.what, e.to_status) for e in _audited(world, iid)]
    assert got == [
        ("publisher", "test", "created", "reported"),
        ("user:zhao", "console", "status", "dispatched"),
        ("user:wang", "console", "status", "accepted"),
        (poster, "http", "status", "resolved"),
    ]
    assert all(e.client == "127.0.0.1" for e in _audited(world, iid)[1:])
    history = world.get("root", f"/api/incidents/{iid}").json()["history"]
    assert [h[2] if len(h) > 2 else "" for h in history] == ["publisher", "user:zhao", "user:wang", poster]
    lon, lat = _point(world.runtime, world.a.split(":")[1])
    form = {"service_code": "environment", "lat": str(lat), "long": str(lon), "description": "路灯不亮"}
    if "Authorization" in credential:  # Open311 carries the key as its spec says
        form["api_key"] = credential["Authorization"].removeprefix("Bearer ")
    resp = world.client.post("/open311/v2/requests.json", json=form, headers=credential)
    assert resp.status_code == 200, resp.text
    new = resp.json()[0]["service_request_id"]
    assert [(e.actor, e.via) for e in _audited(world, new)] == [(poster, "open311")]
    # the admin reads and exports it; nobody else does
    page = world.get("root", f"/api/audit?incident={iid}").json()
    assert [e["actor"] for e in page["entries"]] == ["publisher", "user:zhao", "user:wang", poster]
    assert world.get("wang", "/api/audit").status_code == 403
    assert world.get("li", "/api/audit.csv").status_code == 403
    assert world.get(None, "/api/audit").status_code == 401
    csv_text = world.get("root", "/api/audit.csv?actor=user:zhao").text
    assert iid in csv_text and "user:wang" not in csv_text


# ---- privacy -----------------------------------------------------------------------------------------------------


def _no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} reached {where}"


def test_phone_and_id_numbers_never_reach_a_viewer_a_wall_or_an_anonymous_caller(world: World) -> None:
    body = world.get("li", f"/api/incidents/{world.in_a}").json()
    _no_secret(json.dumps(body, ensure_ascii=False), "a viewer's /api/incidents")
    assert "138****5678" in body["title"] and "王女士" in body["title"]
    _no_secret(world.get("li", "/open311/v2/requests.json").text, "a viewer's Open311 list")
    _no_secret(world.get("li", f"/open311/v2/requests/{world.in_a}.xml").text, "a viewer's Open311 request")
    _no_secret(_layout(world, "li", "/"), "a viewer's console page")
    _no_secret(_layout(world, "wall", "/wall"), "the wall page")
    _no_secret(_layout(world, "root", "/wall"), "the wall page an admin opens")
    _no_secret(_push_text(world, _actor(world, "li"), "/"), "a viewer's live push")
    _no_secret(_push_text(world, Actor("wall", "lobby", "viewer", (), "wall-link"), "/wall"), "a wall's live push")
    viewer = confine(request_of(world.runtime, "/", "", actor=_actor(world, "li")), _actor(world, "li"),
                     world.runtime.geo.areas)  # fmt: skip
    fig = scoped_briefing(world.runtime, "zh", None, world.runtime.hub.frame, scope=viewer.scope, masked=viewer.masked)
    _no_secret(_figure_text(fig), "a viewer's briefing PNG")
    assert "138****5678" in _figure_text(fig)
    for who in (None, "wall"):
        assert world.get(who, f"/api/incidents/{world.in_a}").status_code in (401, 403)
    # the officials themselves see them (their role may)
    assert PHONE in _layout(world, "root", "/")
    # a rejected message quoting a phone number: /healthz shows counts only without a login
    world.client.post(
        "/api/incidents", json={"id": "bad", "title": f"电话{PHONE}"}, headers=_ingest_credential(world)[1]
    )
    health = world.get(None, "/healthz").json()
    _no_secret(json.dumps(health, ensure_ascii=False), "/healthz")
    assert "last_error" not in health["feed"] and isinstance(health["redis"].get("dead_letters"), int)
    assert "last_error" in world.get("li", "/healthz").json()["feed"]


def test_the_wall_draws_on_duty_members_snapped_and_without_ids(world: World) -> None:
    body = json.loads(_layout(world, "wall", "/wall"))
    lon, lat = point_lonlat(world.runtime.layers.members)  # as the server keeps them: coordinate columns
    exact = set(zip(lon.round(6), lat.round(6), strict=True))
    exact |= set(zip(lon.round(5), lat.round(5), strict=True))
    dots = 0
    for trace in body_traces(body):
        if "党员" in str(trace.get("name", "")) or (
            isinstance(trace.get("meta"), dict) and trace["meta"].get("layer") == "members"
        ):
            pts = set(zip(trace.get("lon") or [], trace.get("lat") or [], strict=True))
            assert not pts & exact, "a member's exact position on the wall"
            assert not trace.get("customdata") and not trace.get("hovertext")
            dots = max(dots, len(pts))
    assert 0 < dots < len(lon)  # drawn, on duty and one dot per cell (per trace)


def body_traces(layout: Any) -> Iterator[dict[str, Any]]:
    if isinstance(layout, dict):
        data = layout.get("data")
        if isinstance(data, list) and "layout" in layout:
            yield from (t for t in data if isinstance(t, dict))
        for v in layout.values():
            yield from body_traces(v)
    elif isinstance(layout, list):
        for v in layout:
            yield from body_traces(v)


def test_titles_are_escaped_wherever_plotly_draws_them(world: World) -> None:
    page = json.loads(_layout(world, "root", f"/?area={world.b}"))
    hovers = [s for t in body_traces(page) for s in (t.get("hovertext") or []) if isinstance(s, str)]
    mine = [h for h in hovers if "font-size:300px" in h]
    assert mine and all("<span" not in h and '&lt;span style="font-size:300px"&gt;大字' in h for h in mine)
    fig = scoped_briefing(world.runtime, "zh", world.b, world.runtime.hub.frame, masked=False)
    texts = list(_strings(fig.to_plotly_json()))
    assert any('&lt;span style="fon' in s for s in texts)  # its overdue line: the title's first 16 characters
    assert not any('<span style="fon' in s for s in texts)


def test_every_change_made_in_these_tests_has_its_audit_entry_and_actor(world: World) -> None:
    keys = world.runtime.keys
    log: Any = world.redis.xrange(keys.log)
    trail: Any = world.redis.xrange(keys.audit)
    logged = {as_text(entry_id) for entry_id, _ in log}
    audited = {as_text(f[b"log"]): as_text(f[b"actor"]) for _, f in trail}
    assert logged and set(audited) == logged  # one audit entry per change, written with it
    assert all(audited.values())  # each names who made it


def test_a_past_moment_is_confined_and_masked_like_the_live_page(world: World) -> None:
    """``?at=`` and the scrubber's step show an official only its areas, and a viewer masked text."""
    at = time.time() + 30  # "now": the server takes a moment from now on as now (both reports are in it)
    page = "/?at=" + urllib.parse.quote(at_param(at))
    body = json.dumps(json.loads(_layout(world, "wang", page)), ensure_ascii=False)
    assert world.in_a in body and world.in_b not in body and "历史回放" in body
    assert PHONE not in _layout(world, "li", page)
    step_body = {
        "output": f"{Replay.SHOWN}.data",
        "outputs": {"id": Replay.SHOWN, "property": "data"},
        "inputs": [
            {"id": Replay.AT, "property": "data", "value": at},
            {"id": "live-filters", "property": "data", "value": None},
        ],
        "state": [
            {"id": "url", "property": "pathname", "value": "/"},
            {"id": "url", "property": "search", "value": f"?area={world.b}"},  # another area: its own instead
            {"id": "root-lang", "property": "data", "value": "zh"},
        ],
        "changedPropIds": [f"{Replay.AT}.data"],
    }
    resp = world.post("wang", "/_dash-update-component", step_body)
    assert resp.status_code == 200, resp.text
    text = json.dumps(resp.json(), ensure_ascii=False)
    assert world.in_a in text and world.in_b not in text and "历史回放" in text
    assert PHONE not in world.post("li", "/_dash-update-component", step_body).text
    assert world.post(None, "/_dash-update-component", step_body).status_code == 401
    assert world.post("wall", "/_dash-update-component", step_body).status_code == 403
