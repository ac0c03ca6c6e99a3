"""Three-level command in a real headless Chromium: a district data set (several streets) runs with the same
screens — the district wall shows the whole district with communities coloured by their worst open state, the
officials' page drills from the district into a street and its grids (issue 8, "Three-level command")."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from dashboard.callbacks.console import ZOOM_INTO_STREET, street_at_zoom, zoomed_view
from dashboard.figures import incident_map
from dashboard.figures.incident_map import (
    CONSOLE_MAP_VIEWPORT,
    TRACE_AREA_COUNTS,
    WALL_MIN_FONT_PX,
    MapBase,
    fit_view,
)
from dashboard.frames import ScreenContext, overview_values, screen_frame
from dashboard.layouts.ids import Areas, Console, Wall, WorkList
from geo.areas import build_area_tree
from geo.model import GeoLayers
from geo.synthetic import build, write_gpkg
from incidents.model import GRID_STATE_RANK, GridState
from incidents.situation import Situation
from tests.dashboard.test_screens import publish_raw
from tests.incidents.test_situation import NOW, mk
from tests.support.browser import click_map_until, wait_until_live
from tests.support.geodata import SMALL, SMALL_SEED
from tests.support.server import LiveServer, spawn_server

pytestmark = pytest.mark.browser

DISTRICT = replace(SMALL, name="district", streets=3, communities=6, comprehensive_grids=24, dedicated_grids=6)
UI_WAIT_MS = 10_000
CURRENT_AREA_JS = f"() => (document.querySelector('#{Areas.CRUMBS} [aria-current=page]') || {{}}).dataset?.area"


def graph(map_id: str) -> str:
    return f"document.querySelector('#{map_id} .js-plotly-plot')"


@pytest.fixture(scope="module")
def district_layers() -> dict[str, Any]:
    return build(seed=SMALL_SEED, scale=DISTRICT)


@pytest.fixture(scope="module")
def district(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, district_layers: dict[str, Any]
) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("district")
    data = work / "district.gpkg"
    write_gpkg(district_layers, data)
    with spawn_server(redis_url, work, env={"ONESCREEN_DATA": str(data)}) as server:
        yield server


def get_json(server: LiveServer, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + path, timeout=30) as resp:
        out: dict[str, Any] = json.load(resp)
    return out


def areas(server: LiveServer) -> dict[str, Any]:
    return get_json(server, "/api/areas")


def open_counts(server: LiveServer) -> dict[str, int]:
    """Open incidents per community, as ``/api/summary`` says for the district."""
    by: dict[str, int] = get_json(server, "/api/summary")["kpis"]["by_community"]
    return by


def area_open(server: LiveServer, ref: str) -> int:
    """Open incidents in area ``ref`` (``KIND:ID``), as ``/api/summary?area=`` says."""
    return int(get_json(server, f"/api/summary?area={ref}")["kpis"]["open"])


# The overview's count labels as held by Plotly (gd.data), as MapLibre's source holds them, and as MapLibre drew
# them: {ids, plotly, source, drawn (the non-empty texts on screen, sorted), size (px), halo (px)}. No eval: the
# page's Content-Security-Policy has no 'unsafe-eval'.
LABELS_JS = f"""(mapId) => {{
  const gd = document.getElementById(mapId).querySelector('.js-plotly-plot');
  const tr = gd.data[{TRACE_AREA_COUNTS}], full = gd._fullData[{TRACE_AREA_COUNTS}];
  const map = gd._fullLayout.map._subplot.map, layer = 'plotly-trace-layer-' + full.uid + '-symbol';
  const src = map.getSource('source-' + full.uid + '-symbol').serialize().data.features;
  const seen = new Set(), drawn = [];
  for (const f of map.queryRenderedFeatures({{layers: [layer]}})) {{
    const key = f.properties.text + '@' + JSON.stringify(f.geometry.coordinates);
    if (f.properties.text && !seen.has(key)) {{ seen.add(key); drawn.push(f.properties.text); }}
  }}
  return {{ids: [...gd.data[0].locations], plotly: [...tr.text].map((t) => t || ''),
    source: src.map((f) => f.properties.text || ''), drawn: drawn.sort(),
    size: map.getLayoutProperty(layer, 'text-size'), halo: map.getPaintProperty(layer, 'text-halo-width') || 0}};
}}"""


def wait_counts(page: Any, map_id: str, want: dict[str, int]) -> dict[str, Any]:
    """Until every area's count label reads ``want[area]`` (nothing for zero) in Plotly's data and in MapLibre's
    source, and MapLibre has drawn exactly those texts; returns the labels (``LABELS_JS``)."""
    texts = {a: str(n) if n else "" for a, n in want.items()}
    try:
        page.wait_for_function(
            f"""([mapId, want]) => {{ const l = ({LABELS_JS})(mapId);
              const exp = l.ids.map((a) => want[a] ?? ''), same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
              return same(l.plotly, exp) && same(l.source, exp) && same(l.drawn, exp.filter((t) => t).sort()); }}""",
            arg=[map_id, texts],
            timeout=UI_WAIT_MS,
        )
    except PlaywrightTimeoutError:
        held = page.evaluate(f"(mapId) => ({LABELS_JS})(mapId)", map_id)
        raise AssertionError(f"{map_id}: the counts should read {texts}; the map holds {held}") from None
    labels: dict[str, Any] = page.evaluate(f"(mapId) => ({LABELS_JS})(mapId)", map_id)
    return labels


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


def test_the_district_map_writes_each_communitys_open_count_and_keeps_it_live(
    district: LiveServer, district_layers: dict[str, Any], page_factory: Any
) -> None:
    communities = [str(c) for c in district_layers["communities"]["community_id"]]
    grids = district_layers["grids"]
    community = str(grids["community_id"].iloc[0])
    point = grids[grids["community_id"] == community].geometry.iloc[0].representative_point()
    wall = page_factory(district.url + "/wall")  # 1920×1080: a wall
    console = page_factory(district.url + "/")
    for p in (wall, console):
        wait_until_live(p)

    def summary_counts() -> dict[str, int]:
        return {c: area_open(district, f"community:{c}") for c in communities}

    want = summary_counts()
    for p, map_id in ((wall, Wall.MAP), (console, Console.MAP)):
        labels = wait_counts(p, map_id, want)  # every community: the number /api/summary?area= gives
        assert sorted(labels["ids"]) == sorted(communities)
    labels = wait_counts(wall, Wall.MAP, want)
    assert labels["size"] >= WALL_MIN_FONT_PX and labels["halo"] > 0, "readable on a wall, over any fill"

    def message(incident_id: str, status: str) -> dict[str, Any]:
        return {
            "id": incident_id, "status": status, "ts": datetime.now(UTC).isoformat(), "lon": point.x, "lat": point.y,
            "category": "environment", "title": "测试计数", "priority": "normal", "source": "居民随手拍",
        }  # fmt: skip

    ids = [f"T-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    for incident_id in ids:  # three reported: the label goes up by three, on the wall (map edit) and the console
        publish_raw(district, message(incident_id, "reported"))
    up = {**want, community: want[community] + 3}
    for p, map_id in ((wall, Wall.MAP), (console, Console.MAP)):
        wait_counts(p, map_id, up)
    publish_raw(district, message(ids[0], "resolved"))  # one done: down by one
    down = {**want, community: want[community] + 2}
    for p, map_id in ((wall, Wall.MAP), (console, Console.MAP)):
        wait_counts(p, map_id, down)
    assert summary_counts() == down  # the same numbers /api/summary gives, area by area
    assert open_counts(district)[community] == down[community]


def test_zooming_the_district_map_into_a_street_shows_it_once_the_street_fills_the_view(
    district_layers: dict[str, Any],
) -> None:
    tree = build_area_tree(GeoLayers.from_frames(district_layers))
    grid = district_layers["grids"].iloc[0]
    street = tree.step_toward(tree.root, f"grid:{grid['grid_id']}")
    assert street.startswith("street:")
    street_zoom = fit_view(tree.get(street).bbox, CONSOLE_MAP_VIEWPORT)[1]
    district_zoom = fit_view(tree.get(tree.root).bbox, CONSOLE_MAP_VIEWPORT)[1]
    assert district_zoom < street_zoom
    # a pan of the overview at its own zoom (or a little closer) stays on the district
    assert street_at_zoom(tree, grid["grid_id"], district_zoom) is None
    assert street_at_zoom(tree, grid["grid_id"], district_zoom + ZOOM_INTO_STREET - 0.01) is None
    threshold = max(street_zoom, district_zoom + 2 * ZOOM_INTO_STREET) - ZOOM_INTO_STREET
    assert street_at_zoom(tree, grid["grid_id"], threshold - 0.01) is None
    assert street_at_zoom(tree, grid["grid_id"], threshold) == street
    assert street_at_zoom(tree, grid["grid_id"], street_zoom) == street
    assert street_at_zoom(tree, grid["grid_id"], 18) == street
    # the view a pan/zoom leaves (Console.MAP_VIEW), and what is not one
    assert zoomed_view({"center": {"lon": 120.1, "lat": 30.2}, "zoom": 14}) == (120.1, 30.2, 14.0)
    for other in (None, {"autosize": True}, {"zoom": 14}, {"center": {"lon": "x", "lat": 1}, "zoom": 3}):
        assert zoomed_view(other) is None


def test_the_officials_page_zooms_from_the_district_into_a_street(
    district: LiveServer, district_layers: dict[str, Any], page: Any
) -> None:
    page.goto(district.url + "/")
    wait_until_live(page)
    assert page.evaluate(CURRENT_AREA_JS) == "district:all"
    tree = build_area_tree(GeoLayers.from_frames(district_layers))
    grid = district_layers["grids"].iloc[-1]
    street = tree.step_toward(tree.root, f"grid:{grid['grid_id']}")
    inside = grid.geometry.representative_point()
    # the street's own framing, and at least a real zoom in from the district's
    zoom = max(fit_view(tree.get(s).bbox, CONSOLE_MAP_VIEWPORT)[1] for s in (street, tree.root)) + ZOOM_INTO_STREET
    page.evaluate(  # what a wheel zoom towards that point ends in
        f"([lon, lat, z]) => Plotly.relayout({graph(Console.MAP)}, {{'map.center': {{lon, lat}}, 'map.zoom': z}})",
        [inside.x, inside.y, zoom],
    )
    page.wait_for_function(f"(want) => ({CURRENT_AREA_JS})() === want", arg=street, timeout=UI_WAIT_MS)
    assert f"area={street}" in page.url
    grids = sorted(a["id"] for a in areas(district)["areas"] if a["kind"] == "grid")
    page.wait_for_function(
        f"(want) => JSON.stringify([...{graph(Console.MAP)}.data[0].locations].sort()) === JSON.stringify(want)",
        arg=grids,
        timeout=UI_WAIT_MS,
    )  # the street's detail: its grids and their states


def test_a_click_on_a_community_of_the_district_map_drills_into_its_street(
    district: LiveServer, district_layers: dict[str, Any], page: Any
) -> None:
    page.goto(district.url + "/")
    wait_until_live(page)
    community = district_layers["communities"].iloc[-1]
    street = f"street:{community['street_id']}"
    pt = community.geometry.representative_point()
    done = f"(want) => ({CURRENT_AREA_JS})() === want"
    click_map_until(page, Console.MAP, pt.x, pt.y, done, street, UI_WAIT_MS)


def test_a_district_of_many_communities_shows_its_streets_with_their_worst_state_and_counts(
    district_layers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    layers = GeoLayers.from_frames(district_layers)
    base = MapBase.from_layers(layers)
    assert base.overview(layers.communities, layers.street).level == "community"  # 6 communities: each drawn
    monkeypatch.setattr(incident_map, "OVERVIEW_MAX_AREAS", 4)
    over = base.overview(layers.communities, layers.street)
    streets = sorted(layers.street["street_id"].astype(str))
    assert over.level == "street" and sorted(over.grid_ids) == streets and len(over.label_points[0]) == len(streets)
    comms = layers.communities
    first, second = (comms[comms["street_id"] == s]["community_id"].astype(str).tolist() for s in streets[:2])
    view = SimpleNamespace(
        community_states={
            first[0]: GridState.IN_PROGRESS,
            first[-1]: GridState.OVERDUE,
            second[0]: GridState.UNASSIGNED,
        }
    )
    kpis = SimpleNamespace(by_community={first[0]: 2, first[-1]: 3, second[0]: 1})
    z, counts = overview_values(view, kpis, over)  # type: ignore[arg-type]
    by_street = dict(zip(over.grid_ids, zip(z, counts, strict=True), strict=True))
    rank = GRID_STATE_RANK
    assert by_street[streets[0]] == (rank[GridState.OVERDUE], 5)  # the worst of its communities, their sum
    assert by_street[streets[1]] == (rank[GridState.UNASSIGNED], 1)
    assert by_street[streets[2]] == (0, 0)


@pytest.mark.parametrize("by_street", [False, True])
def test_a_confined_actors_overview_counts_only_its_areas(
    district_layers: dict[str, Any], monkeypatch: pytest.MonkeyPatch, by_street: bool
) -> None:
    """The overview's counts (and colours) of an official confined to one community: that community's, nothing
    of the others — the numbers ``/api/summary?area=`` gives (``SituationView.kpis_for`` of the area's rows)."""
    if by_street:
        monkeypatch.setattr(incident_map, "OVERVIEW_MAX_AREAS", 4)  # the district's streets, not its communities
    layers = GeoLayers.from_frames(district_layers)
    tree = build_area_tree(layers)
    base = MapBase.from_layers(layers).overview(layers.communities, layers.street)
    assert base.level == ("street" if by_street else "community")
    comms = layers.communities
    mine, other = (
        str(comms[comms["street_id"] == s]["community_id"].iloc[0]) for s in sorted(set(comms["street_id"]))[:2]
    )
    street_of = dict(zip(comms["community_id"].astype(str), comms["street_id"].astype(str), strict=True))
    grid_of = {
        c: str(district_layers["grids"][district_layers["grids"]["community_id"] == c]["grid_id"].iloc[0])
        for c in (mine, other)
    }
    lons = {120.001: mine, 120.002: other}

    def locator(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        del lat
        at = [lons[round(float(x), 3)] for x in lon]
        return pd.DataFrame(
            {"micro_grid_id": [grid_of[c] + "-m" for c in at], "grid_id": [grid_of[c] for c in at],
             "community_id": at}
        )  # fmt: skip

    situation = Situation(locator, boot_id="t")
    for i, (lon, status) in enumerate([(120.001, "reported"), (120.001, "dispatched"), (120.002, "reported")]):
        situation.apply(mk(f"I{i}", ("reported", -600), (status, -60), lon=lon))
    situation.apply(mk("I9", ("reported", -600), ("resolved", -60), lon=120.001))  # done: not counted
    view = situation.view(NOW)

    def counts(scope: tuple[str, ...]) -> dict[str, int]:
        ctx = ScreenContext.of("console", "zh", scope=scope)
        frame = screen_frame(view, base, ctx, areas=tree)
        return {a: n for a, n in zip(base.grid_ids, frame.area_counts, strict=True) if n}

    def key(community: str) -> str:
        return street_of[community] if by_street else community

    def summary(ref: str, scope: tuple[str, ...] = ()) -> int:  # what /api/summary?area=ref answers
        rows = tree.mask(view.incidents, ref) & tree.mask_any(view.incidents, scope)
        return view.kpis_for(rows).open

    assert counts(()) == {key(mine): 2, key(other): 1}
    assert counts((f"community:{mine}",)) == {key(mine): 2}  # the other community's incident is not theirs
    assert summary(f"community:{mine}") == 2 and summary(f"community:{other}") == 1
    assert summary(f"community:{other}", (f"community:{mine}",)) == 0


def test_a_row_picked_on_the_district_map_flies_there_without_drilling_into_its_street(
    district: LiveServer, district_layers: dict[str, Any], page: Any
) -> None:
    """The work list's flight to a picked row zooms the district overview far in: it is the page's own move, not
    the user's, so it never drills the page into the street (which would re-render it and drop the selection)."""
    grid = district_layers["grids"].iloc[-1]
    pt = grid.geometry.representative_point()
    iid = f"DW-{uuid.uuid4().hex[:8]}"
    msg = {"id": iid, "status": "reported", "ts": datetime.now(UTC).isoformat(), "lon": pt.x, "lat": pt.y,
           "category": "environment", "title": f"飞行测试{iid[-4:]}"}  # fmt: skip
    publish_raw(district, msg)
    page.goto(district.url + f"/?q={iid}")
    wait_until_live(page)
    cell = page.locator(f'#{WorkList.TABLE} td[data-dash-column="title"]')
    cell.first.wait_for(timeout=UI_WAIT_MS)  # a URL with a filter opens the list
    cell.first.click()
    page.wait_for_function(
        "(t) => (document.getElementById('console-detail-title') || {innerText: ''}).innerText.includes(t)",
        arg=msg["title"],
        timeout=UI_WAIT_MS,
    )
    page.wait_for_function(
        f"""(a) => {{ const m = {graph(Console.MAP)}._fullLayout.map._subplot.map; const c = m.getCenter();
            return !m.isMoving() && Math.abs(c.lng - a[0]) < 1e-4 && Math.abs(c.lat - a[1]) < 1e-4; }}""",
        arg=[pt.x, pt.y],
        timeout=UI_WAIT_MS,
    )
    # a later answer of the server to this page (the list refreshed with a second incident): a drill-down the flight
    # had set off would have come before it
    publish_raw(district, {**msg, "id": iid + "-2", "title": "第二件"})
    page.wait_for_function(
        f"() => document.getElementById('{WorkList.COUNT}').innerText.startsWith('共 2 条')", timeout=UI_WAIT_MS
    )
    assert page.evaluate(CURRENT_AREA_JS) == "district:all" and "area=" not in page.url
    assert msg["title"] in page.inner_text("#console-detail-title")  # still selected
