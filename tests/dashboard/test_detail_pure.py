"""The detail panel's pieces without a server: names not ids, the countdown's text, which buttons whom, refusals,
and the on-duty list (dashboard.duty)."""

from __future__ import annotations

from functools import cache
from typing import Any

from dash import html

from dashboard.access.actor import Actor
from dashboard.callbacks.console import action_refused
from dashboard.duty import COLUMNS, on_duty_members
from dashboard.layouts import components, ids
from dashboard.settings import DEFAULT_DATA
from geo.areas import AreaTree, build_area_tree
from geo.layers import GeoLayers, read_layers
from incidents.actions import can_escalate, can_rate, can_rework
from incidents.model import Incident, Status

VIEWER = Actor("user", "vic", "viewer")
OFFICIAL = Actor("user", "olga", "official")
DISPATCHER = Actor("user", "dan", "dispatcher")


@cache
def demo() -> tuple[GeoLayers, AreaTree]:
    layers = read_layers(DEFAULT_DATA)
    return layers, build_area_tree(layers)


def walk(node: Any) -> list[Any]:
    out = [node]
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        out.extend(walk(child))
    return out


def by_id(tree: list[Any]) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    for node in tree:
        for n in walk(node):
            if getattr(n, "id", None) is not None:
                found[str(n.id)] = n
    return found


def incident(status: Status, **kw: Any) -> Incident:
    return Incident("X1", status, 1000.0, 120.0, 30.0, "fire", 900.0, history=[("reported", 900.0)], **kw)


def test_the_detail_names_the_assignee_and_counts_down() -> None:
    row = {"id": "X1", "status": "accepted", "category": "fire", "description": "楼道堆物", "source": "12345"}
    tree = components.incident_detail(
        row,
        lang="zh",
        now=1000.0,
        place={"micro_grid": "霞庭村第1网格3号微网格", "address": "澜湾街道 霞庭村 霞庭村第1网格3号微网格"},
        assignee=("张*明", "网格员"),
        deadline=1000.0 + 3723,
        overdue_multiple=0.0,
    )
    found = by_id(tree)
    assert found[ids.Console.DETAIL_ASSIGNEE].children == "张*明（网格员）"
    countdown = found[ids.Console.DETAIL_COUNTDOWN]
    assert countdown.children == "剩余 1:02:03"
    assert getattr(countdown, "data-deadline") == "4723.000"
    words = [n for node in tree for n in walk(node) if isinstance(n, str)]
    assert "楼道堆物" in words and "12345" in words and "澜湾街道 霞庭村 霞庭村第1网格3号微网格" in words
    assert not [n for node in tree for n in walk(node) if isinstance(n, html.Button)]  # nothing offered: no buttons


def test_overdue_shows_the_multiple_and_the_time_over() -> None:
    row = {"id": "X1", "status": "dispatched", "category": "fire"}
    tree = components.incident_detail(row, now=10_000.0, deadline=9_000.0, overdue_multiple=1.5)
    found = by_id(tree)
    assert found[ids.Console.DETAIL_COUNTDOWN].children == "已超时 0:16:40"
    words = [n for node in tree for n in walk(node) if isinstance(n, str)]
    assert "超时倍数" in words and "1.5×" in words
    assert components.fmt_countdown(2 * 86400 + 5, "en") == "2d 0:00:05 left"


def test_buttons_follow_the_flags() -> None:
    row = {"id": "X1", "status": "resolved", "category": "fire"}
    tree = components.incident_detail(row, ratings=True, rework=True)
    buttons = [getattr(n, "id", None) for node in tree for n in walk(node) if isinstance(n, html.Button)]
    assert buttons == [ids.action_button_id("dispatched"), *(ids.rate_button_id(k) for k in range(1, 6))]


def test_lifecycle_gates() -> None:
    assert can_rate(Status.RESOLVED) and not can_rate(Status.CLOSED) and not can_rate(Status.ACCEPTED)
    assert can_rework(Status.RESOLVED) and can_rework(Status.CLOSED) and not can_rework(Status.ACCEPTED)
    assert can_escalate(incident(Status.ACCEPTED)) and not can_escalate(incident(Status.ACCEPTED, escalated=True))
    assert not can_escalate(incident(Status.RESOLVED)) and not can_escalate(incident(Status.REPORTED))


def test_refusals_by_role_and_lifecycle() -> None:
    rt: Any = None  # only a member-to-dispatch-to needs the runtime
    resolved, accepted = incident(Status.RESOLVED), incident(Status.ACCEPTED)
    rate, esc, act = ids.RATE_BTN, ids.ESCALATE_BTN, ids.ACTION_BTN
    for actor in (VIEWER, Actor("wall", "lobby", "viewer"), Actor("key", "erp", scope="read")):
        assert action_refused(rt, actor, Status.CLOSED, "", incident=resolved, kind=rate, rating=5)
        assert action_refused(rt, actor, Status.ACCEPTED, "", incident=accepted, kind=esc)
    assert action_refused(rt, OFFICIAL, Status.CLOSED, "", incident=resolved, kind=rate, rating=4) is None
    assert action_refused(rt, OFFICIAL, Status.CLOSED, "", incident=accepted, kind=rate, rating=4) == "action.not_now"
    assert action_refused(rt, OFFICIAL, Status.CLOSED, "", incident=resolved, kind=rate, rating=None)
    assert action_refused(rt, OFFICIAL, Status.CLOSED, "", incident=resolved, kind=act) == "action.not_now"  # bare
    assert action_refused(rt, OFFICIAL, Status.ACCEPTED, "", incident=accepted, kind=esc) == "action.not_allowed"
    assert action_refused(rt, DISPATCHER, Status.ACCEPTED, "", incident=accepted, kind=esc) is None
    assert action_refused(rt, DISPATCHER, Status.RESOLVED, "", incident=resolved, kind=esc) == "action.not_now"
    # 返工: an official may send finished work back; dispatching from an open status stays the dispatcher's
    assert action_refused(rt, OFFICIAL, Status.DISPATCHED, "", incident=resolved, kind=act) is None
    assert action_refused(rt, OFFICIAL, Status.DISPATCHED, "", incident=accepted, kind=act) == "action.not_allowed"


def test_on_duty_members_of_an_area_with_their_workload() -> None:
    layers, tree = demo()
    grid = str(layers.grids["grid_id"].iloc[0])
    m = layers.members
    here = m[(m["grid_id"] == grid) & m["on_duty"]]
    busy = str(here["member_id"].iloc[-1])
    rows = on_duty_members(m, tree, f"grid:{grid}", load={busy: 5, "NOBODY": 2})
    assert tuple(rows.columns) == COLUMNS
    assert set(rows["member_id"]) == set(here["member_id"].astype(str))
    assert rows["member_id"].iloc[0] == busy and rows["open_tasks"].iloc[0] == 5  # busiest first
    assert (rows["open_tasks"].iloc[1:] == 0).all()
    other = str(layers.grids["grid_id"].iloc[1])
    confined = on_duty_members(m, tree, "", scope=[f"grid:{other}"])
    assert set(confined["grid_id"]) == {other}
    panel = components.on_duty_panel(rows, "zh", masked=True)
    words = [n for node in panel for n in walk(node) if isinstance(n, str)]
    assert "在办 5" in words
    assert not set(here["name"].astype(str)) & set(words)  # masked names only
    assert not set(here["phone"].astype(str)) & set(words)


def test_the_feed_marks_escalated_incidents() -> None:
    item = components.feed_item({"id": "X1", "status": "accepted", "category": "fire", "escalated": True})
    assert "催办" in [n for n in walk(item) if isinstance(n, str)]
    assert "is-overdue" not in str(getattr(item, "className", ""))
