"""The officials' detail panel and its 评单 / 返工 / 催办 actions end to end in one process: the real app (gate,
Dash callbacks over HTTP) on a started Runtime over the real test Redis, asked as an official, a dispatcher and a
viewer (the in-process pattern of test_scope).

- the panel names the assignee (masked for a viewer), the grid and the micro-grid — not their ids;
- 评单 with a rating lands in Redis as closed with that rating, the history and the audit naming the official;
- 返工 sends a resolved incident back (reopened + 1); 催办 sets ``escalated`` (a dispatcher's, not an official's);
- a viewer gets no buttons, and a viewer's forged callback is refused (the gate: 403) and changes nothing;
  the role check inside ``run_action`` refuses it as well, gate or not;
- the on-duty panel lists the area's on-duty members with their open tasks.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from dashboard.access.actor import Actor, bind
from dashboard.callbacks.console import run_action
from dashboard.layouts.ids import ACTION_BTN, DISPATCH_BTN, ESCALATE_BTN, RATE_BTN, Console, Replay, WorkList
from dashboard.runtime import Runtime
from geo.columns import point_lonlat
from incidents import audit
from incidents.assign import Assigner
from incidents.model import Incident
from incidents.publish import publish
from incidents.store import get_incident
from tests.support.inprocess import Client, in_process
from tests.support.wait import wait_for


@dataclass
class World:
    runtime: Runtime
    client: Client
    cookies: dict[str, str]
    write_key: str
    member: str  # an on-duty member (the assignee of the test incidents)
    member_name: str
    grid_name: str
    micro_name: str

    def post(self, who: str, body: Any) -> Any:
        headers = {"Content-Type": "application/json", "Cookie": self.cookies[who], "Origin": self.client.base}
        return self.client.post("/_dash-update-component", content=json.dumps(body), headers=headers)


@pytest.fixture(scope="module")
def world(redis_url: str) -> Iterator[World]:
    with in_process(redis_url, "detail") as served:
        runtime, app = served.runtime, served.app
        access = runtime.access
        cookies = {}
        for name, role in (("wang", "official"), ("zhao", "dispatcher"), ("li", "viewer")):
            access.accounts.add(name, role, "password-" + name, ())
            cookies[name] = f"{access.session_cookie}={access.sessions.create(name).sid}"
        m = runtime.layers.members
        on = m[m["on_duty"].fillna(False).astype(bool)].iloc[0]
        tree = runtime.geo.areas
        assert app.callback_rules is not None
        (key,) = set(app.callback_rules.writes)
        yield World(
            runtime,
            served.client,
            cookies,
            key,
            str(on["member_id"]),
            str(on["name"]),
            tree.get(f"grid:{on['grid_id']}").name,
            tree.get(f"micro_grid:{on['micro_grid_id']}").name,
        )


def _report(world: World, status: str, **fields: Any) -> str:
    """An incident at the member's own position, assigned to them, first seen in ``status``."""
    iid = f"DT-{uuid.uuid4().hex[:10]}"
    m = world.runtime.layers.members
    lon, lat = point_lonlat(m[m["member_id"].astype(str) == world.member])  # the server keeps coordinate columns
    msg = {"id": iid, "status": status, "ts": time.time(), "lon": float(lon[0]), "lat": float(lat[0]),
           "category": "environment", "title": "楼道堆物", "description": "3单元楼道堆满纸箱", "source": "12345",
           "assignee": world.member, **fields}  # fmt: skip
    assert publish(world.runtime.redis, world.runtime.keys, msg, source="test").applied
    wait_for(lambda: world.runtime.situation.get(iid), 10, message=f"{iid} in the situation")
    return iid


def _detail(world: World, who: str, incident_id: str) -> Any:
    """The show_detail callback's answer (``Console.DETAIL``'s children) as ``who``."""
    body = {
        "output": f"{Console.DETAIL}.children",
        "outputs": {"id": Console.DETAIL, "property": "children"},
        "inputs": [{"id": Console.STORE_SELECTED, "property": "data", "value": incident_id}],
        "state": [
            {"id": "root-lang", "property": "data", "value": "zh"},
            {"id": Replay.AT, "property": "data", "value": None},  # the live page (a past one offers no actions)
        ],
        "changedPropIds": [f"{Console.STORE_SELECTED}.data"],
    }
    resp = world.post(who, body)
    assert resp.status_code == 200, resp.text
    return resp.json()["response"][Console.DETAIL]["children"]


def _click(world: World, who: str, incident_id: str, trigger: dict[str, str]) -> Any:
    """A detail-panel button clicked, as the Dash renderer posts it (the act callback's four input lists)."""
    kinds = [DISPATCH_BTN, ACTION_BTN, RATE_BTN, ESCALATE_BTN]
    inputs: list[list[dict[str, Any]]] = [[] for _ in kinds]
    inputs[kinds.index(trigger["type"])] = [{"id": trigger, "property": "n_clicks", "value": 1}]
    body = {
        "output": world.write_key,
        "outputs": {"id": Console.DETAIL, "property": "children"},
        "inputs": inputs,
        "state": [
            {"id": Console.STORE_SELECTED, "property": "data", "value": incident_id},
            {"id": "root-lang", "property": "data", "value": "zh"},
        ],
        "changedPropIds": [json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
    }
    return world.post(who, body)


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        if "props" in tree:
            yield tree
            yield from _nodes(tree["props"].get("children"))
    elif isinstance(tree, list):
        for child in tree:
            yield from _nodes(child)


def _by_id(tree: Any, component_id: Any) -> dict[str, Any]:
    return next(n for n in _nodes(tree) if n["props"].get("id") == component_id)


def _buttons(tree: Any) -> list[Any]:
    return [n["props"].get("id") for n in _nodes(tree) if n.get("type") == "Button"]


def _words(tree: Any) -> list[str]:
    out: list[str] = []
    for n in _nodes(tree):
        kids = n["props"].get("children")
        out.extend(k for k in (kids if isinstance(kids, list) else [kids]) if isinstance(k, str))
    return out


def _stored(world: World, incident_id: str) -> Incident:
    found = get_incident(world.runtime.redis, world.runtime.keys, incident_id)
    assert found is not None
    return found


def _wait_status(world: World, incident_id: str, status: str) -> Incident:
    def reached() -> Incident | None:
        found = _stored(world, incident_id)
        return found if found.status == status else None

    return wait_for(reached, 10, message=f"{incident_id} stored as {status}")


def test_the_detail_shows_names_not_ids(world: World) -> None:
    iid = _report(world, "accepted")
    tree = _detail(world, "wang", iid)
    assignee = _by_id(tree, Console.DETAIL_ASSIGNEE)["props"]["children"]
    assert assignee.startswith(world.member_name) and world.member not in assignee  # official: unmasked name, role
    words = _words(tree)
    assert world.grid_name in words and world.micro_name in words
    assert "3单元楼道堆满纸箱" in words and "12345" in words
    countdown = _by_id(tree, Console.DETAIL_COUNTDOWN)["props"]
    assert countdown["data-deadline"] and countdown["children"].startswith("剩余 ")
    viewer = _by_id(_detail(world, "li", iid), Console.DETAIL_ASSIGNEE)["props"]["children"]
    assert world.member_name not in viewer and "*" in viewer and world.member not in viewer  # masked for a viewer


def test_rating_closes_with_the_rating_in_redis_and_the_actor_in_history_and_audit(world: World) -> None:
    iid = _report(world, "resolved")
    buttons = _buttons(_detail(world, "wang", iid))
    assert {"type": RATE_BTN, "rating": "4"} in buttons and {"type": ACTION_BTN, "status": "dispatched"} in buttons
    assert {"type": ESCALATE_BTN, "flag": "on"} not in buttons  # resolved: nothing to press; and not an official's
    resp = _click(world, "wang", iid, {"type": RATE_BTN, "rating": "4"})
    assert resp.status_code == 200, resp.text
    stored = _wait_status(world, iid, "closed")
    assert stored.rating == 4 and stored.history[-1][0] == "closed" and stored.actors[-1] == "user:wang"
    entries = list(audit.scan(world.runtime.redis, world.runtime.keys, incident=iid, scan_max=None))
    assert any(e.actor == "user:wang" for e in entries), entries
    assert "已评单" in json.dumps(resp.json(), ensure_ascii=False)
    # closed: a rating is no longer offered, and a replayed one is refused before it reaches Redis
    assert not [b for b in _buttons(_detail(world, "wang", iid)) if b.get("type") == RATE_BTN]
    again = _click(world, "wang", iid, {"type": RATE_BTN, "rating": "1"})
    assert "当前状态" in json.dumps(again.json(), ensure_ascii=False) and _stored(world, iid).rating == 4


def test_rework_and_escalate(world: World) -> None:
    iid = _report(world, "resolved")
    _click(world, "wang", iid, {"type": ACTION_BTN, "status": "dispatched"})
    stored = _wait_status(world, iid, "dispatched")
    assert stored.reopened == 1 and stored.actors[-1] == "user:wang" and stored.assignee == world.member
    wait_for(lambda: (i := world.runtime.situation.get(iid)) is not None and i.status == "dispatched", 10)
    assert {"type": ESCALATE_BTN, "flag": "on"} not in _buttons(_detail(world, "wang", iid))  # an official: no 催办
    refused = _click(world, "wang", iid, {"type": ESCALATE_BTN, "flag": "on"})
    assert "不能执行" in json.dumps(refused.json(), ensure_ascii=False) and not _stored(world, iid).escalated
    assert {"type": ESCALATE_BTN, "flag": "on"} in _buttons(_detail(world, "zhao", iid))
    _click(world, "zhao", iid, {"type": ESCALATE_BTN, "flag": "on"})
    wait_for(lambda: _stored(world, iid).escalated, 10, message="催办 stored")
    entries = list(audit.scan(world.runtime.redis, world.runtime.keys, incident=iid, scan_max=None))
    assert any(e.actor == "user:zhao" for e in entries), entries


def test_a_viewer_gets_no_buttons_and_a_forged_click_is_refused(world: World) -> None:
    iid = _report(world, "resolved")
    assert _buttons(_detail(world, "li", iid)) == []
    resp = _click(world, "li", iid, {"type": RATE_BTN, "rating": "5"})
    assert resp.status_code == 403
    resp = _click(world, "li", iid, {"type": ACTION_BTN, "status": "dispatched"})
    assert resp.status_code == 403
    # the role check inside run_action, should a request get past the gate
    bind(Actor("user", "li", "viewer", (), "session"), "")
    said = run_action(world.runtime, Assigner(world.runtime.layers), iid, {"type": RATE_BTN, "rating": "5"}, "zh")
    assert "不能执行" in json.dumps(said, default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    stored = _stored(world, iid)
    assert stored.status == "resolved" and stored.rating is None


def test_the_on_duty_panel_lists_members_with_their_open_tasks_and_follows_them(world: World) -> None:
    for _ in range(2):
        _report(world, "dispatched")
    grid = str(world.runtime.layers.members.set_index("member_id").loc[world.member, "grid_id"])
    outputs = [{"id": Console.ON_DUTY, "property": "children"}, {"id": Console.ON_DUTY_SHOWN, "property": "data"}]

    def body(shown: object = None) -> dict[str, object]:
        return {
            "output": f"..{Console.ON_DUTY}.children...{Console.ON_DUTY_SHOWN}.data..",
            "outputs": outputs,
            "inputs": [
                {"id": Console.ON_DUTY, "property": "id", "value": Console.ON_DUTY},
                {"id": WorkList.TICK, "property": "n_intervals", "value": 3},
            ],
            "state": [
                {"id": "page-rendered", "property": "data", "value": {"area": f"grid:{grid}", "lang": "zh"}},
                {"id": Console.ON_DUTY_SHOWN, "property": "data", "value": shown},
            ],
            "changedPropIds": [f"{WorkList.TICK}.n_intervals"],
        }

    def load_of(response: dict[str, Any]) -> int | None:
        words = _words(response[Console.ON_DUTY]["children"])
        if world.member_name not in words:
            return None
        return int(words[words.index(world.member_name) + 3].split()[-1])  # name, phone, grid, 在办 n

    def answer(shown: object = None) -> Any:
        resp = world.post("wang", body(shown))
        assert resp.status_code in (200, 204), resp.text
        return (resp.json().get("response") or None) if resp.status_code == 200 else None

    first = wait_for(lambda: (a := answer()) and load_of(a) is not None and a, 10, message="the member listed")
    load = load_of(first)
    assert load is not None and load >= 2
    shown = first[Console.ON_DUTY_SHOWN]["data"]
    assert answer(shown) is None, "a tick with nothing changed redraws nothing"
    _report(world, "dispatched")  # one more open task for the member: the next tick redraws the panel
    after = wait_for(lambda: answer(shown), 10, message="the panel redrawn after the change")
    assert load_of(after) == load + 1
    viewer = world.post("li", body()).json()["response"][Console.ON_DUTY]["children"]
    assert world.member_name not in _words(viewer)  # masked for a viewer
