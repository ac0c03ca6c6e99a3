"""Dispatching from the officials' page in a real headless Chromium, against a real server and Redis.

An incident is published with a raw redis-py client; the official clicks its marker, picks the first suggested
member (派单), then 接单; the change must be in Redis' state (written through the durable path) and the marker
must move to the dispatched trace through the normal live push. A stale panel's action is rejected with the
lifecycle's reason.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from dashboard.figures.incident_map import TRACE_DISPATCHED, TRACE_REPORTED
from dashboard.layouts.ids import Console
from dashboard.settings import DEFAULT_DATA
from geo.layers import read_layers
from incidents.model import Incident
from incidents.store import get_incident
from tests.support.browser import MAP_IDLE_JS
from tests.support.server import LiveServer
from tests.support.wait import wait_for

pytestmark = pytest.mark.browser

MAP_JS = f"document.querySelector('#{Console.MAP} .js-plotly-plot')"
WAIT_MS = 10_000


@cache
def grid_point(i: int) -> tuple[str, float, float]:
    grids = read_layers(DEFAULT_DATA).grids
    p = grids.geometry.representative_point().iloc[i]
    return str(grids["grid_id"].iloc[i]), round(float(p.x), 6), round(float(p.y), 6)


def publish_raw(server: LiveServer, grid: int, **fields: Any) -> dict[str, Any]:
    """A new incident inside demo grid number ``grid`` (one grid per test: markers must not overlap)."""
    _, lon, lat = grid_point(grid)
    msg: dict[str, Any] = {
        "id": f"D-{uuid.uuid4().hex[:10]}",
        "status": "reported",
        "ts": datetime.now(UTC).isoformat(),
        "lon": lon,
        "lat": lat,
        "category": "dispute",
        "title": f"邻里噪音纠纷{uuid.uuid4().hex[:4]}",
    }
    msg.update(fields)
    assert server.client.publish(server.keys.channel, json.dumps(msg, ensure_ascii=False)) >= 1
    return msg


@pytest.fixture
def page(console_page: Any) -> Any:
    return console_page


def wait_in_trace(page: Any, trace: int, incident_id: str) -> None:
    page.wait_for_function(
        f"(a) => {{ const gd = {MAP_JS}; return !!gd && (gd.data[a[0]].customdata || []).includes(a[1]); }}",
        arg=[trace, incident_id],
        timeout=WAIT_MS,
    )


def open_detail(page: Any, msg: dict[str, Any]) -> None:
    wait_in_trace(page, TRACE_REPORTED, msg["id"])
    page.wait_for_function(MAP_IDLE_JS, arg="#" + Console.MAP, timeout=15_000)  # drawn, then aim at the marker
    xy = page.evaluate(
        f"""(a) => {{
            const map = {MAP_JS}._fullLayout.map._subplot.map;
            const p = map.project([a[0], a[1]]);
            const r = map.getCanvas().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }}""",
        [msg["lon"], msg["lat"]],
    )
    page.mouse.click(xy[0], xy[1])
    page.wait_for_function(
        "(t) => (document.getElementById('console-detail-title') || {innerText: ''}).innerText.includes(t)",
        arg=msg["title"],
        timeout=WAIT_MS,
    )


def stored(server: LiveServer, incident_id: str) -> Incident | None:
    return get_incident(server.client, server.keys, incident_id)


def wait_stored(server: LiveServer, incident_id: str, status: str, timeout: float = 10.0) -> Incident:
    def reached() -> Incident | None:
        inc = stored(server, incident_id)
        return inc if inc is not None and inc.status == status else None

    def seen() -> str:
        inc = stored(server, incident_id)
        return f"{incident_id} stored as {status} (it is {inc.status if inc else 'not stored'})"

    return wait_for(reached, timeout, message=seen)


def test_dispatch_then_accept_from_the_detail_panel(live_server: LiveServer, page: Any) -> None:
    msg = publish_raw(live_server, 3)
    open_detail(page, msg)
    items = page.locator(".os-suggest__item")
    items.first.wait_for(timeout=WAIT_MS)
    assert items.count() == 5
    names = page.locator(".os-suggest__name").all_inner_texts()
    assert all(re.fullmatch(r".\*{1,2}.?", n) for n in names), names  # 张*明
    skills = page.locator(".os-suggest__skills").all_inner_texts()
    assert all(("调解" in s) or ("法律咨询" in s) for s in skills), skills  # dispute → 调解/法律咨询
    # only the legal next steps: reported → 接单 / 办结 / 取消 (and 派单 on each suggestion)
    assert page.locator(".os-actions .os-btn").all_inner_texts() == ["接单", "办结", "取消"]
    member = items.first.get_attribute("title")
    assert member
    items.first.locator(".os-btn--dispatch").click()

    inc = wait_stored(live_server, msg["id"], "dispatched")
    assert inc.assignee == member
    assert [s for s, _ in inc.history] == ["reported", "dispatched"]
    wait_in_trace(page, TRACE_DISPATCHED, msg["id"])  # moved by the normal live push
    page.wait_for_function(
        "() => (document.getElementById('console-detail-result') || {innerText: ''}).innerText.includes('已派单给')",
        timeout=WAIT_MS,
    )
    assert "已派单" in page.inner_text("#" + Console.DETAIL)  # the badge/timeline shows the new status
    page.locator(".os-actions .os-btn--accepted").click()
    inc = wait_stored(live_server, msg["id"], "accepted")
    assert inc.assignee == member


def test_a_stale_panel_action_is_rejected_with_the_reason(live_server: LiveServer, page: Any) -> None:
    msg = publish_raw(live_server, 9, category="fire", title=f"电动车起火冒烟{uuid.uuid4().hex[:4]}")
    open_detail(page, msg)
    page.locator(".os-actions .os-btn--accepted").wait_for(timeout=WAIT_MS)
    # cancelled elsewhere while the panel is open
    cancel = {"id": msg["id"], "status": "cancelled", "ts": datetime.now(UTC).isoformat()}
    live_server.client.publish(live_server.keys.channel, json.dumps(cancel))
    wait_stored(live_server, msg["id"], "cancelled")
    page.locator(".os-actions .os-btn--accepted").click()
    page.wait_for_function(
        "() => (document.getElementById('console-detail-result') || {innerText: ''}).innerText.includes('拒绝')",
        timeout=WAIT_MS,
    )
    text = page.inner_text("#" + Console.DETAIL_RESULT)
    assert f"illegal transition for id {msg['id']}: cancelled -> accepted (cancelled is final)" in text
    inc = stored(live_server, msg["id"])
    assert inc is not None and inc.status == "cancelled"
    assert page.locator(".os-actions .os-btn").count() == 0  # a cancelled incident offers nothing
    assert page.locator(".os-suggest__item").count() == 0
