"""The officials' page ``/`` in a real headless Chromium: status and community filters, layer toggles, and the
live push honouring the filters — against a real server process and a real Redis.

The filters and toggles are operated through the real widgets (clicks and typing, as an official would); incidents
are published with a raw redis-py client. What the map shows is read from the Plotly graph div; what *should* be
shown is worked out independently: statuses from Redis' state hash, communities by point-in-polygon on the data's
community layer.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point

from dashboard.figures.incident_map import (
    INCIDENT_TRACES,
    TRACE_DISPATCHED,
    TRACE_REPORTED,
    TRACE_STATUS,
)
from dashboard.layouts.ids import Console
from dashboard.settings import DEFAULT_DATA
from geo.layers import GeoLayers, read_layers
from incidents.store import load_state
from tests.support.browser import wait_until_live
from tests.support.server import LiveServer

pytestmark = pytest.mark.browser

PUSH_WAIT_MS = 15_000  # published → on screen: a wait, not a speed assertion (`make bench` measures speed)
UI_WAIT_MS = 10_000  # a filter/toggle round trip (callback + MapLibre redraw); a wait, not an assertion

MAP_JS = f"document.querySelector('#{Console.MAP} .js-plotly-plot')"
# Every incident id on the map, per incident trace: {trace index: [ids]}.
MAP_IDS_JS = f"""() => {{
    const gd = {MAP_JS};
    const out = {{}};
    for (const i of {list(INCIDENT_TRACES)}) out[i] = (gd && gd.data[i] && gd.data[i].customdata) || [];
    return out;
}}"""


# ---- data ---------------------------------------------------------------------------------------------


@cache
def layers() -> GeoLayers:
    return read_layers(DEFAULT_DATA)


@cache
def grid_point_by_community() -> dict[str, tuple[float, float]]:
    """One point strictly inside a grid of each community (community_id → lon, lat)."""
    grids = layers().grids
    out: dict[str, tuple[float, float]] = {}
    for cid, pt in zip(grids["community_id"], grids.geometry.representative_point(), strict=True):
        out.setdefault(str(cid), (round(float(pt.x), 6), round(float(pt.y), 6)))
    return out


def community_of(lon: float, lat: float) -> str:
    """The community whose polygon contains the point (independent of the server's spatial index)."""
    comms: gpd.GeoDataFrame = layers().communities
    hit = comms[comms.contains(Point(lon, lat))]
    return str(hit["community_id"].iloc[0]) if len(hit) else ""


def community_name(community_id: str) -> str:
    comms = layers().communities
    return str(comms.loc[comms["community_id"] == community_id, "name"].iloc[0])


def incident(status: str, where: tuple[float, float] | None = None, **fields: Any) -> dict[str, Any]:
    lon, lat = where or next(iter(grid_point_by_community().values()))
    return {
        "id": f"C-{uuid.uuid4().hex[:10]}",
        "status": status,
        "ts": datetime.now(UTC).isoformat(),
        "lon": lon,
        "lat": lat,
        "category": "environment",
        "title": f"控制台测试{uuid.uuid4().hex[:4]}",
        **fields,
    }


def publish_raw(server: LiveServer, msg: dict[str, Any]) -> None:
    receivers = server.client.publish(server.keys.channel, json.dumps(msg, ensure_ascii=False))
    assert receivers >= 1, "the server's feed is not subscribed"


def stored(server: LiveServer) -> dict[str, Any]:
    """Every incident in Redis under the server's prefix, by id (the oracle for what a filter should show)."""
    return {inc.id: inc for inc in load_state(server.client, server.keys)}


# ---- page ---------------------------------------------------------------------------------------------


@pytest.fixture
def console(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh officials' page, live and with MapLibre's first draw done."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.goto(live_server.url + "/")
    wait_until_live(page)
    yield page
    context.close()


def map_ids(page: Any) -> dict[int, list[str]]:
    return {int(k): list(v) for k, v in page.evaluate(MAP_IDS_JS).items()}


def all_map_ids(page: Any) -> set[str]:
    return {i for ids in map_ids(page).values() for i in ids}


def wait_map(page: Any, *, present: dict[str, int] | None = None, absent: tuple[str, ...] = (), timeout: int) -> None:
    """Until every ``present`` id is in its trace and no ``absent`` id is in any incident trace."""
    try:
        page.wait_for_function(
            f"""(a) => {{
                const ids = ({MAP_IDS_JS})();
                const on = (t, id) => (ids[t] || []).includes(id);
                const anywhere = (id) => Object.values(ids).some((l) => l.includes(id));
                return Object.entries(a.present).every(([id, t]) => on(t, id)) && !a.absent.some(anywhere);
            }}""",
            arg={"present": present or {}, "absent": list(absent)},
            timeout=timeout,
        )
    except Exception as exc:
        raise AssertionError(
            f"map never showed {present or {}} without {list(absent)} within {timeout} ms; map: {map_ids(page)}"
        ) from exc


def choose(page: Any, dropdown_id: str, typed: str, option: str) -> None:
    """Open a dropdown, type into its search box, click the option, close it — as an official does."""
    page.locator(f"#{dropdown_id}").click()
    menu = page.locator(".dash-dropdown-content")
    menu.locator("input[type=search]").fill(typed)
    menu.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    assert option in page.inner_text(f"#{dropdown_id}-value")


def clear(page: Any, dropdown_id: str) -> None:
    page.locator(f"#{dropdown_id} .dash-dropdown-clear").click()
    page.locator(f"#{dropdown_id}-value.dash-dropdown-placeholder").wait_for(state="attached")


# ---- tests --------------------------------------------------------------------------------------------


def test_status_filter_shows_only_that_status_and_clearing_brings_the_rest_back(
    live_server: LiveServer, console: Any
) -> None:
    reported = incident("reported")
    dispatched = incident("dispatched", assignee="M000001")
    publish_raw(live_server, reported)
    publish_raw(live_server, dispatched)
    wait_map(console, present={reported["id"]: TRACE_REPORTED, dispatched["id"]: TRACE_DISPATCHED}, timeout=UI_WAIT_MS)

    choose(console, Console.STATUS_FILTER, "已派", "已派单")
    wait_map(console, present={dispatched["id"]: TRACE_DISPATCHED}, absent=(reported["id"],), timeout=UI_WAIT_MS)

    shown = map_ids(console)
    states = stored(live_server)
    not_dispatched = {i: str(states[i].status) for i in all_map_ids(console) if states[i].status != "dispatched"}
    assert not_dispatched == {}, f"the 已派单 filter still shows {not_dispatched}"
    for status, trace in TRACE_STATUS.items():
        if status != "dispatched":
            assert shown[trace] == [], f"trace {trace} ({status}) not empty under the 已派单 filter"

    clear(console, Console.STATUS_FILTER)
    wait_map(console, present={reported["id"]: TRACE_REPORTED, dispatched["id"]: TRACE_DISPATCHED}, timeout=UI_WAIT_MS)


def test_community_filter_shows_only_incidents_inside_that_community(live_server: LiveServer, console: Any) -> None:
    (comm_a, where_a), (comm_b, where_b) = list(grid_point_by_community().items())[:2]
    assert community_of(*where_a) == comm_a and community_of(*where_b) == comm_b  # the test's own premise
    in_a, in_b = incident("reported", where_a), incident("reported", where_b)
    publish_raw(live_server, in_a)
    publish_raw(live_server, in_b)
    wait_map(console, present={in_a["id"]: TRACE_REPORTED, in_b["id"]: TRACE_REPORTED}, timeout=UI_WAIT_MS)

    name_a = community_name(comm_a)
    choose(console, Console.COMMUNITY_FILTER, name_a[:2], name_a)
    wait_map(console, present={in_a["id"]: TRACE_REPORTED}, absent=(in_b["id"],), timeout=UI_WAIT_MS)

    states = stored(live_server)
    elsewhere = {
        i: community_of(states[i].lon, states[i].lat)
        for i in all_map_ids(console)
        if community_of(states[i].lon, states[i].lat) != comm_a
    }
    assert elsewhere == {}, f"the {name_a} filter still shows incidents of other communities: {elsewhere}"

    # A second community widens the filter: both are back.
    name_b = community_name(comm_b)
    choose(console, Console.COMMUNITY_FILTER, name_b[:2], name_b)
    wait_map(console, present={in_a["id"]: TRACE_REPORTED, in_b["id"]: TRACE_REPORTED}, timeout=UI_WAIT_MS)

    clear(console, Console.COMMUNITY_FILTER)
    wait_map(console, present={in_a["id"]: TRACE_REPORTED, in_b["id"]: TRACE_REPORTED}, timeout=UI_WAIT_MS)


def test_live_push_respects_the_status_filter(live_server: LiveServer, console: Any) -> None:
    before = incident("reported")
    publish_raw(live_server, before)
    wait_map(console, present={before["id"]: TRACE_REPORTED}, timeout=UI_WAIT_MS)
    choose(console, Console.STATUS_FILTER, "已派", "已派单")
    wait_map(console, absent=(before["id"],), timeout=UI_WAIT_MS)  # the filter is in force

    other = incident("reported")
    wanted = incident("dispatched", assignee="M000002")
    publish_raw(live_server, other)
    publish_raw(live_server, wanted)  # after `other`: once it is drawn, `other` has been through the push too
    wait_map(console, present={wanted["id"]: TRACE_DISPATCHED}, timeout=PUSH_WAIT_MS)
    assert other["id"] not in all_map_ids(console), "a reported incident was pushed past the 已派单 filter"

    # The filtered-out one is dispatched later: now it matches, and the push brings it.
    publish_raw(live_server, {**other, "status": "dispatched", "ts": datetime.now(UTC).isoformat()})
    wait_map(console, present={other["id"]: TRACE_DISPATCHED}, timeout=PUSH_WAIT_MS)
    states = stored(live_server)
    assert {str(states[i].status) for i in all_map_ids(console)} == {"dispatched"}


def layer_hidden_js(key: str) -> str:
    """JS: every trace of the 一张图 layer ``key`` is on the map and hidden."""
    return (
        f"() => {{ const gd = {MAP_JS}; if (!gd) return false; "
        f"const t = gd.data.filter((d) => d.meta && d.meta.layer === '{key}'); "
        "return t.length > 0 && t.every((d) => d.visible === false); }"
    )


def layer_option(page: Any, name: str) -> Any:
    """The layer checklist's option named ``name`` (its label is the name, then the count in the area)."""
    return page.locator(f"#{Console.LAYERS}").get_by_role("option", name=re.compile(rf"^{re.escape(name)}( ·|$)"))


def test_language_switch_keeps_filters_and_layers(console: Any) -> None:
    """Switching zh → EN re-renders the page; the official's layer and filter choices must survive it."""
    layer_option(console, "党员").click()
    console.wait_for_function(layer_hidden_js("members"), timeout=UI_WAIT_MS)
    choose(console, Console.STATUS_FILTER, "已派", "已派单")

    console.get_by_text("EN", exact=True).click()
    console.wait_for_function(
        "() => !document.getElementById('console-title').innerText.includes('治理')", timeout=UI_WAIT_MS
    )
    assert layer_option(console, "Party members").get_attribute("aria-selected") == "false"
    console.wait_for_function(layer_hidden_js("members"), timeout=UI_WAIT_MS)
    assert "Dispatched" in console.inner_text(f"#{Console.STATUS_FILTER}-value")
