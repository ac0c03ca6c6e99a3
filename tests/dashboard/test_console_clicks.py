"""Clicks on the officials' map, in a real headless Chromium against a real server and Redis (issue 8, "Levels").

A click on the map drills one level down (street → community → grid), the breadcrumb goes back, and the page's
numbers after a drill by click are the community's: the open tile equals ``/api/summary`` and a count over Redis'
state. Every click here is made once, as an official makes it: a click that lands while the map redraws (a live
patch, a new figure) or on a stale hover (the pointer moved on faster than Plotly's hover) is replayed by the page
(assets/onescreen.js), not clicked again by the test. And the page asks nothing of any server but its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.layouts.ids import Areas, Console, kpi_value_id
from tests.dashboard.test_area_screens import CURRENT_AREA_JS, open_in_community, summary
from tests.dashboard.test_console import MAP_JS, UI_WAIT_MS, grid_point_by_community, incident, layers, publish_raw
from tests.support.browser import MAP_IDLE_JS, wait_text, wait_until_live
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

HOVER_JS = f"() => ({MAP_JS})._hoverdata && ({MAP_JS})._hoverdata.length > 0"
AT_JS = f"(want) => ({CURRENT_AREA_JS})() === want"


@pytest.fixture
def officials(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """The officials' page at the root area, 1600×900, every request it and its workers make logged in
    ``page.requests``."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.requests = []
    context.on("request", lambda req: page.requests.append(req.url))
    page.goto(live_server.url + "/")
    wait_until_live(page)
    yield page
    context.close()


def quiet_grids(community: str) -> list[tuple[str, float, float]]:
    """(grid_id, lon, lat) of a point inside each grid of ``community`` but its first one (the tests publish their
    incidents into first grids: nothing of theirs lies under these points)."""
    grids = layers().grids
    rows = grids[grids["community_id"] == community].iloc[1:]
    pts = rows.geometry.representative_point()
    return [(str(g), float(p.x), float(p.y)) for g, p in zip(rows["grid_id"], pts, strict=True)]


def screen_xy(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where (lon, lat) is on the screen now (CSS px), once the map has settled."""
    page.wait_for_function(MAP_IDLE_JS, arg="#" + Console.MAP, timeout=UI_WAIT_MS)
    xy = page.evaluate(
        f"""(ll) => {{ const map = {MAP_JS}._fullLayout.map._subplot.map; const p = map.project(ll);
            const r = map.getCanvas().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }}""",
        [lon, lat],
    )
    return float(xy[0]), float(xy[1])


def click_once(page: Any, lon: float, lat: float, want: str) -> None:
    """Point at (lon, lat), wait for Plotly's hover there (as a hand pauses), click once; wait until the page is
    at ``want``."""
    x, y = screen_xy(page, lon, lat)
    page.mouse.move(x, y)
    page.wait_for_function(HOVER_JS, timeout=UI_WAIT_MS)
    page.mouse.click(x, y)
    page.wait_for_function(AT_JS, arg=want, timeout=UI_WAIT_MS)


def test_a_click_drills_into_a_community_then_a_grid_and_the_breadcrumb_goes_back(
    live_server: LiveServer, officials: Any
) -> None:
    page = officials
    (comm, where), (_other, elsewhere) = list(grid_point_by_community().items())[:2]
    for msg in (
        incident("reported", where),
        incident("dispatched", where, assignee="M000001"),
        incident("reported", elsewhere),
    ):
        publish_raw(live_server, msg)
    root = page.evaluate(CURRENT_AREA_JS)
    assert root and root.startswith(("street:", "district:"))
    grid, lon, lat = quiet_grids(comm)[0]

    click_once(page, lon, lat, f"community:{comm}")
    assert f"area=community:{comm}" in page.url
    # The numbers are the community's: the open tile = /api/summary = a count over Redis' state (all three are
    # in Redis: the oracle counts them whether or not the page has them yet, so the tile is waited on).
    expected = open_in_community(live_server, comm)
    assert expected >= 2
    assert summary(live_server, f"community:{comm}")["kpis"]["open"] == expected
    wait_text(page, kpi_value_id("open", "console"), str(expected), UI_WAIT_MS)

    click_once(page, lon, lat, f"grid:{grid}")  # the same spot, now a grid of the community
    crumbs = page.locator(f"#{Areas.CRUMBS} [data-area]").evaluate_all("els => els.map(e => e.dataset.area)")
    assert crumbs == [root, f"community:{comm}", f"grid:{grid}"]

    page.locator(f"#{Areas.CRUMBS} [data-area='{root}'] a").click()
    page.wait_for_function(AT_JS, arg=root, timeout=UI_WAIT_MS)
    foreign = [u for u in page.requests if not u.startswith((live_server.url, "data:", "blob:"))]
    assert foreign == [], f"requests that left the server: {foreign[:10]}"


def test_a_click_while_the_map_redraws_is_replayed_after_the_redraw(live_server: LiveServer, officials: Any) -> None:
    page = officials
    comm = list(grid_point_by_community())[2]
    _grid, lon, lat = quiet_grids(comm)[0]
    x, y = screen_xy(page, lon, lat)
    page.mouse.move(x, y)
    page.wait_for_function(HOVER_JS, timeout=UI_WAIT_MS)
    # A live patch arrives (an incident elsewhere) and the map is given a new figure (started, not awaited): the
    # click comes while it redraws.
    publish_raw(live_server, incident("reported", grid_point_by_community()[list(grid_point_by_community())[3]]))
    page.evaluate(  # what dcc.Graph does with a new figure: Plotly.react
        f"""() => {{ const gd = {MAP_JS};
            Plotly.react(gd, gd.data.map((d) => Object.assign({{}}, d)),
                         Object.assign({{}}, gd.layout, {{ datarevision: Date.now() }})); }}"""
    )
    page.mouse.click(x, y)
    page.wait_for_function(AT_JS, arg=f"community:{comm}", timeout=UI_WAIT_MS)


def test_a_click_on_a_stale_hover_goes_where_it_was_made(officials: Any) -> None:
    """The pointer rests on one community, moves to a second and clicks on a third at once: Plotly's hover of the
    click's position is still pending (50 ms throttle) and its last hover is of the second. The click drills into
    the community it was made on."""
    page = officials
    box = page.locator(f"#{Console.MAP}").bounding_box()

    def on_map(xy: tuple[float, float], margin: float = 30) -> bool:  # well inside the map's box on this page
        x, y = xy
        left, top, width, height = (float(box[k]) for k in ("x", "y", "width", "height"))
        return left + margin < x < left + width - margin and top + margin < y < top + height - margin

    comms = [c for c in list(grid_point_by_community())[4:] if on_map(screen_xy(page, *quiet_grids(c)[0][1:]))][:3]
    assert len(comms) == 3
    spots = [screen_xy(page, *quiet_grids(c)[0][1:]) for c in comms]
    page.mouse.move(*spots[0])
    page.wait_for_function(HOVER_JS, timeout=UI_WAIT_MS)
    page.mouse.move(*spots[1])
    page.mouse.click(*spots[2])
    page.wait_for_function(AT_JS, arg=f"community:{comms[2]}", timeout=UI_WAIT_MS)
