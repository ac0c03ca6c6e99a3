"""The detail panel in a real headless Chromium against a real server and Redis: the SLA countdown ticks on its
own (onescreen.js, no server round trip), and 办结 then 评单 with four stars closes the incident in Redis with
the rating and the signed-in admin as the actor of that step."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dashboard.layouts.ids import Console
from tests.dashboard.test_dispatch import WAIT_MS, open_detail, publish_raw, wait_stored
from tests.support.auth import ADMIN
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

COUNTDOWN = "#" + Console.DETAIL_COUNTDOWN


@pytest.fixture
def page(console_page: Any) -> Any:
    return console_page


def test_the_countdown_moves_and_rating_closes_with_the_actor(live_server: LiveServer, page: Any) -> None:
    msg = publish_raw(live_server, 23, category="environment", title=f"楼道堆物{uuid.uuid4().hex[:4]}")
    open_detail(page, msg)
    page.locator(COUNTDOWN).wait_for(timeout=WAIT_MS)
    first = page.inner_text(COUNTDOWN)
    assert first.startswith("剩余 "), first
    page.wait_for_function(  # the next second's text, drawn by the page itself
        "(a) => { const el = document.querySelector(a[0]); return !!el && el.innerText !== a[1]; }",
        arg=[COUNTDOWN, first],
        timeout=WAIT_MS,
    )
    assert page.inner_text(COUNTDOWN).startswith("剩余 ")
    assert page.locator(".os-rate .os-btn").count() == 0  # reported: nothing to rate yet
    page.locator(".os-actions .os-btn--resolved").click()
    wait_stored(live_server, msg["id"], "resolved")
    page.locator(".os-btn--rate-4").wait_for(timeout=WAIT_MS)
    assert page.locator(COUNTDOWN).count() == 0  # resolved: a deadline, no countdown
    page.locator(".os-btn--rate-4").click()
    inc = wait_stored(live_server, msg["id"], "closed")
    assert inc.rating == 4 and inc.actors[-1] == f"user:{ADMIN}", (inc.rating, inc.actors)
    page.wait_for_function(
        "() => (document.getElementById('console-detail-result') || {innerText: ''}).innerText.includes('已评单')",
        timeout=WAIT_MS,
    )
    assert page.locator(".os-rate .os-btn").count() == 0  # closed: no second rating offered
