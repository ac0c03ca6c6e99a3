"""Three-level command in a real headless Chromium: a district data set (several streets) runs with the same
screens — the district wall shows the whole district with communities coloured by their worst open state, the
officials' page drills from the district into a street and its grids (issue 8, "Three-level command")."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from dashboard.layouts.ids import Areas, Console, Wall
from geo.synthetic import build, write_gpkg
from tests.support.browser import wait_until_live
from tests.support.geodata import SMALL, SMALL_SEED
from tests.support.server import LiveServer, spawn_server

pytestmark = pytest.mark.browser

DISTRICT = replace(SMALL, name="district", streets=3, communities=6, comprehensive_grids=24, dedicated_grids=6)
UI_WAIT_MS = 10_000
CURRENT_AREA_JS = f"() => (document.querySelector('#{Areas.CRUMBS} [aria-current=page]') || {{}}).dataset?.area"


def graph(map_id: str) -> str:
    return f"document.querySelector('#{map_id} .js-plotly-plot')"


@pytest.fixture(scope="module")
def district(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("district")
    data = work / "district.gpkg"
    write_gpkg(build(seed=SMALL_SEED, scale=DISTRICT), data)
    with spawn_server(redis_url, work, env={"ONESCREEN_DATA": str(data)}) as server:
        yield server


def areas(server: LiveServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/api/areas", timeout=30) as resp:
        out: dict[str, Any] = json.load(resp)
    return out


def test_the_district_wall_colours_communities_and_a_street_wall_its_grids(district: LiveServer, page: Any) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})  # a wall
    tree = areas(district)
    assert tree["root"] == "district:all"
    by_kind: dict[str, list[str]] = {}
    for a in tree["areas"]:
        by_kind.setdefault(a["kind"], []).append(a["id"])
    assert len(by_kind["street"]) == 3

    page.goto(district.url + "/wall")
    wait_until_live(page)
    shown = page.evaluate(f"() => {graph(Wall.MAP)}.data[0].locations")
    assert sorted(shown) == sorted(by_kind["community"]), "the district wall's areas are the communities"

    street = by_kind["street"][1]
    page.goto(f"{district.url}/wall?scope=street:{street}")
    wait_until_live(page)
    street_name = next(a["name"] for a in tree["areas"] if a["ref"] == f"street:{street}")
    assert street_name in page.inner_text(f"#{Wall.TITLE}")
    assert sorted(page.evaluate(f"() => {graph(Wall.MAP)}.data[0].locations")) == sorted(by_kind["grid"])


def test_the_officials_page_drills_from_the_district_into_a_street(district: LiveServer, page: Any) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})  # a wall
    page.goto(district.url + "/")
    wait_until_live(page)
    assert page.evaluate(CURRENT_AREA_JS) == "district:all"
    streets = page.locator(f"#{Areas.CHILDREN} [data-area^='street:']")
    assert streets.count() == 3
    ref = streets.nth(2).get_attribute("data-area")
    streets.nth(2).locator("a").click()
    page.wait_for_function(f"(want) => ({CURRENT_AREA_JS})() === want", arg=ref, timeout=UI_WAIT_MS)
    tree = areas(district)["areas"]
    grids = sorted(a["id"] for a in tree if a["kind"] == "grid")
    page.wait_for_function(
        f"(want) => JSON.stringify([...{graph(Console.MAP)}.data[0].locations].sort()) === JSON.stringify(want)",
        arg=grids,
        timeout=UI_WAIT_MS,
    )  # in a street: the grids, no longer the communities
    below = page.locator(f"#{Areas.CHILDREN} [data-area]").evaluate_all("els => els.map(e => e.dataset.area)")
    assert sorted(below) == sorted(a["ref"] for a in tree if a["parent"] == ref)
