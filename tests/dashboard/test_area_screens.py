"""Levels on screen, in a real headless Chromium against a real server and Redis: the officials' page drilled into
an area (URL, click on the map, breadcrumb), its numbers equal to ``/api/summary`` and to a count over Redis'
state, and walls scoped to an area or touring through areas (issue 8, "Levels").

What *should* be shown is worked out independently of the server: an incident's community from its grid via the
data's grid layer, the open count from Redis' state hash.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from dashboard.figures.incident_map import TRACE_DISPATCHED, TRACE_REPORTED
from dashboard.layouts.ids import Areas, Console, Wall, kpi_value_id
from incidents.model import OPEN_STATUS_VALUES
from tests.dashboard.test_console import (
    MAP_JS,
    UI_WAIT_MS,
    community_of,
    grid_point_by_community,
    incident,
    layers,
    publish_raw,
    stored,
    wait_map,
)
from tests.support.browser import click_map_until, wait_text, wait_until_live
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

CURRENT_AREA_JS = f"() => (document.querySelector('#{Areas.CRUMBS} [aria-current=page]') || {{}}).dataset?.area"


def summary(server: LiveServer, ref: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/api/summary?area={ref}", timeout=10) as r:
        out: dict[str, Any] = json.load(r)
    return out


def open_in_community(server: LiveServer, community: str) -> int:
    """Open incidents in Redis whose point lies in ``community``'s polygon (the oracle)."""
    return sum(
        1
        for inc in stored(server).values()
        if str(inc.status) in OPEN_STATUS_VALUES and community_of(inc.lon, inc.lat) == community
    )


def test_console_drilled_into_a_community_shows_that_community_and_its_numbers(
    live_server: LiveServer, page: Any
) -> None:
    (comm_a, where_a), (_comm_b, where_b) = list(grid_point_by_community().items())[:2]
    in_a = [incident("reported", where_a), incident("dispatched", where_a, assignee="M000001")]
    in_b = incident("reported", where_b)
    for msg in (*in_a, in_b):
        publish_raw(live_server, msg)

    page.goto(f"{live_server.url}/?area=community:{comm_a}")
    wait_until_live(page)
    assert page.evaluate(CURRENT_AREA_JS) == f"community:{comm_a}"
    present = {in_a[0]["id"]: TRACE_REPORTED, in_a[1]["id"]: TRACE_DISPATCHED}
    wait_map(page, present=present, absent=(in_b["id"],), timeout=UI_WAIT_MS)

    # The open tile = /api/summary = a count over Redis for that community (the state is settled: all three are
    # in Redis before the page loaded, and nothing else publishes to this server's prefix).
    expected = open_in_community(live_server, comm_a)
    assert expected >= 2
    assert summary(live_server, f"community:{comm_a}")["kpis"]["open"] == expected
    wait_text(page, kpi_value_id("open", "console"), str(expected), UI_WAIT_MS)

    # Today's loop for the community, as /api/summary counts it.
    numbers = summary(live_server, f"community:{comm_a}")
    page.wait_for_function(
        "(a) => document.querySelector(`#${a.id} [data-stage=reported] .os-funnel__count`).innerText === a.want",
        arg={"id": Console.FUNNEL, "want": str(numbers["funnel"]["stages"]["reported"])},
        timeout=UI_WAIT_MS,
    )
    assert numbers["funnel"]["stages"]["reported"] >= 2

    # The map frames the community: its centre lies in the community's bounding box.
    box = numbers["area"]["bbox"]
    center = page.evaluate(f"() => {MAP_JS}.layout.map.center")
    assert box[0] <= center["lon"] <= box[2] and box[1] <= center["lat"] <= box[3]


def test_drill_down_to_a_micro_grid_and_back_by_breadcrumb(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url + "/")
    wait_until_live(page)
    root = page.evaluate(CURRENT_AREA_JS)
    assert root and root.startswith(("street:", "district:"))

    trail = [root]
    for kind in ("community", "grid", "micro_grid"):
        chip = page.locator(f"#{Areas.CHILDREN} [data-area^='{kind}:'] a").first
        ref = chip.evaluate("a => a.parentElement.dataset.area")
        chip.click()
        page.wait_for_function(f"(want) => ({CURRENT_AREA_JS})() === want", arg=ref, timeout=UI_WAIT_MS)
        assert f"area={ref}" in page.url
        trail.append(ref)
        crumbs = page.locator(f"#{Areas.CRUMBS} [data-area]").evaluate_all("els => els.map(e => e.dataset.area)")
        assert crumbs == trail, "the breadcrumb is the path from the root to the area"

    # Back up two levels by the breadcrumb, then to the root.
    page.locator(f"#{Areas.CRUMBS} [data-area='{trail[1]}'] a").click()
    page.wait_for_function(f"(want) => ({CURRENT_AREA_JS})() === want", arg=trail[1], timeout=UI_WAIT_MS)
    page.locator(f"#{Areas.CRUMBS} [data-area='{root}'] a").click()
    page.wait_for_function(f"(want) => ({CURRENT_AREA_JS})() === want", arg=root, timeout=UI_WAIT_MS)


def test_a_click_on_a_grid_drills_one_level_down(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url + "/")
    wait_until_live(page)
    grids = layers().grids
    # a grid no test publishes into (they use the first grid of each community): nothing lies over it
    row = grids[grids["grid_id"].duplicated() | grids["community_id"].duplicated()].iloc[0]
    pt = row.geometry.representative_point()
    want = f"community:{row['community_id']}"
    done = f"(want) => ({CURRENT_AREA_JS})() === want"
    click_map_until(page, Console.MAP, pt.x, pt.y, done, want, UI_WAIT_MS)


def test_an_unknown_area_says_so_and_shows_everything(live_server: LiveServer, page: Any) -> None:
    page.goto(f"{live_server.url}/?area=community:NOPE")
    wait_until_live(page)
    assert "community:NOPE" in page.inner_text(f"#{Areas.NOTICE}")
    root = page.evaluate(CURRENT_AREA_JS)
    assert root and root.startswith(("street:", "district:"))


def test_a_wall_scoped_to_a_community_shows_its_name_and_numbers(live_server: LiveServer, page: Any) -> None:
    comm = next(iter(grid_point_by_community()))
    name = str(layers().communities.set_index("community_id").loc[comm, "name"])
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}/wall?scope=community:{comm}")
    wait_until_live(page)
    assert name in page.inner_text(f"#{Wall.TITLE}")
    want = summary(live_server, f"community:{comm}")["kpis"]["open"]
    wait_text(page, kpi_value_id("open", "wall"), str(want), UI_WAIT_MS)


def test_a_touring_wall_moves_through_the_communities(live_server: LiveServer, page: Any) -> None:
    comms = sorted(layers().communities["community_id"].astype(str))
    page.goto(f"{live_server.url}/wall?tour=communities&dwell=5")
    wait_until_live(page)
    names = dict(zip(layers().communities["community_id"].astype(str), layers().communities["name"], strict=True))
    # First tick: the wall moves to the first community, then on to the second.
    for comm in comms[:2]:
        page.wait_for_function(
            "(a) => document.getElementById(a.id).innerText.includes(a.name)",
            arg={"id": Wall.TITLE, "name": names[comm]},
            timeout=20_000,
        )
        assert f"scope=community:{comm}" in page.url
