"""The static map layers (dashboard/figures/layers.py) on the committed demo data: counts, masking, legend, size;
and one real Chromium drawing the place names offline."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly
import plotly.graph_objects as go
import pytest
from shapely.geometry import Point, box

from dashboard import runtime
from dashboard.figures import incident_map as im
from dashboard.figures.briefing import build_briefing
from dashboard.figures.layer_stack import stack_layers
from dashboard.figures.layers import (
    LAYER_KEYS,
    AreaScope,
    layer_traces,
    outline_coords,
    place_name_layers,
    served_layers,
)
from dashboard.settings import Settings
from geo.areas import build_area_tree
from geo.columns import point_columns, shared_strings
from geo.display import display_layers
from geo.index import SpatialIndex
from geo.layers import LAYER_NAMES, GeoLayers, read_layers
from geo.privacy import mask_name, mask_phone
from tests.support.paths import DEMO_GPKG

AREA = "community:C003"
# JSON bytes per layer on the demo (15 communities, 150 grids, 600 micro-grids, 3,000 members, 15,000 households)
BUDGET = {
    "grid_types": 80_000,
    "micro_grids": 220_000,
    "party_orgs": 110_000,
    "zones": 240_000,
    "members": 320_000,
    "households": 380_000,
    "forces": 20_000,
    "basic_units": 50_000,
    "place_names": 5_000,
}


class _With:
    """``layers`` with some frames replaced or added (e.g. a ``basic_units`` layer, or columns dropped)."""

    def __init__(self, layers: Any, **frames: Any) -> None:
        self._layers, self._frames = layers, frames

    def __getattr__(self, name: str) -> Any:
        if name in self._frames:
            return self._frames[name]
        return getattr(self._layers, name)


@pytest.fixture(scope="module")
def demo() -> GeoLayers:
    return read_layers(DEMO_GPKG)


@pytest.fixture(scope="module")
def full(demo: GeoLayers) -> Any:
    """The demo with every layer filled (basic_units is optional in the model; the demo has it)."""
    assert len(demo.basic_units) > 0
    return demo


def _all(layers: Any, lang: str = "zh", **kw: Any) -> dict[str, list[dict[str, Any]]]:
    return {k: layer_traces(layers, k, lang, **kw) for k in LAYER_KEYS}


def _ids(traces: list[dict[str, Any]], cls: str | None = None) -> list[str]:
    return [i for t in traces if cls is None or t["meta"]["class"] == cls for i in t.get("customdata", [])]


def _features(traces: list[dict[str, Any]], classes: tuple[str, ...] | None = None) -> int:
    return sum(t["meta"]["features"] for t in traces if classes is None or t["meta"]["class"] in classes)


def _expected(layers: Any, area: str | None) -> dict[str, int]:
    """Features per layer, counted straight from the frames (the community's own ids, no area machinery)."""
    grids, mg = layers.grids, layers.micro_grids
    if area is None:
        g_in = grids
        m_in = mg
        mem = layers.members
        hh = layers.households
        orgs = layers.party_orgs
        zones = layers.responsibility_zones
        teams, units, bu, comms = layers.volunteer_teams, layers.units, layers.basic_units, layers.communities
    else:
        cid = area.split(":")[1]
        g_in = grids[grids["community_id"] == cid]
        gids = set(g_in["grid_id"])
        m_in = mg[mg["grid_id"].isin(gids)]
        mem = layers.members[layers.members["grid_id"].isin(gids)]
        hh = layers.households[layers.households["grid_id"].isin(gids)]
        orgs = layers.party_orgs[layers.party_orgs["community_id"] == cid]
        zones = layers.responsibility_zones[layers.responsibility_zones["grid_id"].isin(gids)]
        teams = layers.volunteer_teams[layers.volunteer_teams["community_id"] == cid]
        units = layers.units[layers.units["community_id"] == cid]
        bu = layers.basic_units[layers.basic_units["community_id"] == cid]
        comms = layers.communities[layers.communities["community_id"] == cid]
    return {
        "grid_types": len(g_in),
        "micro_grids": len(m_in),
        "party_orgs": len(orgs),
        "zones": len(zones),
        "members": len(mem),
        "members_on_duty": int(mem["on_duty"].astype(bool).sum()),
        "households": len(hh),
        "forces": len(teams) + len(units),
        "basic_units": len(bu),
        "place_names": len(comms),
        "place_names_grids": len(g_in),
        "place_names_micro_grids": len(m_in),
    }


def _check_counts(layers: Any, traces: dict[str, list[dict[str, Any]]], want: dict[str, int]) -> None:
    gt = traces["grid_types"]
    lines = [t for t in gt if t["mode"] == "lines"]
    assert sum(t["meta"]["features"] for t in lines) == want["grid_types"]
    assert len(set(_ids(gt))) == len(_ids(gt)) == want["grid_types"]  # one hover point per grid
    mg = traces["micro_grids"]
    assert len(_ids(mg, "label")) == _features(mg, ("outline",)) == want["micro_grids"]
    assert len(set(_ids(traces["party_orgs"]))) == want["party_orgs"]
    zones = traces["zones"]
    assert sum(len(t["locations"]) for t in zones) == want["zones"]
    assert sum(len(t["geojson"]["features"]) for t in zones) == want["zones"]
    assert len(set(_ids(traces["members"]))) == want["members"]
    hh = traces["households"]
    assert sum(len(t["lon"]) for t in hh) == _features(hh) == want["households"]
    assert len(set(_ids(traces["forces"]))) == want["forces"]
    assert len(set(_ids(traces["basic_units"]))) == want["basic_units"]
    assert len(_ids(traces["place_names"])) == want["place_names"]


def test_every_layer_draws_every_feature(full: Any) -> None:
    _check_counts(full, _all(full), _expected(full, None))


def test_a_community_area_draws_exactly_its_features(full: Any) -> None:
    tree = build_area_tree(full)
    want = _expected(full, AREA)
    assert want["members"] > 0 and want["basic_units"] > 0
    _check_counts(full, _all(full, area=(tree, AREA)), want)
    scope = AreaScope.from_tree(tree, AREA, full)
    _check_counts(full, _all(full, area=scope), want)
    names = place_name_layers(full, "zh", "wall", area=(tree, AREA))
    assert [len(layer["source"]["features"]) for layer in names] == [
        1,
        want["place_names_grids"],
        want["place_names_micro_grids"],  # a community's micro-grids: few enough to name
    ]
    street = place_name_layers(full, "zh", "wall")  # 600 micro-grids: their names stay off, grid names stay on
    assert [layer["name"] for layer in street] == ["place_names:communities", "place_names:grids"]
    assert street[1]["maxzoom"] == 24


def test_the_root_area_is_everything(full: Any) -> None:
    tree = build_area_tree(full)
    assert layer_traces(full, "members", "zh", area=(tree, tree.root)) == layer_traces(full, "members", "zh")


def test_wall_leaves_off_duty_members_out(full: Any) -> None:
    console = layer_traces(full, "members", "zh")
    wall = layer_traces(full, "members", "zh", theme="wall", wall=True)
    off = set(full.members.loc[~full.members["on_duty"].astype(bool), "member_id"])
    assert off and set(_ids(console, "off_duty")) == off
    assert not off & set(_ids(wall)) and "off_duty" not in {t["meta"]["class"] for t in wall}
    # on the wall no ids at all: positions snapped to ~100 m cells, one dot per occupied cell, no hover
    assert not _ids(wall) and all("hovertext" not in t for t in wall)
    on = full.members[full.members["on_duty"].astype(bool)]
    exact = set(zip(on.geometry.x.round(6), on.geometry.y.round(6), strict=True))
    dots = {(x, y) for t in wall for x, y in zip(t["lon"], t["lat"], strict=True)}
    assert 0 < len(dots) <= _expected(full, None)["members_on_duty"] and not dots & exact
    roles = {t["meta"]["class"] for t in wall}
    assert roles == {f"role:{r}" for r in ("网格长", "网格员", "党小组长", "党员", "志愿者")}


_SPLIT = re.compile(r"<[^>]+>|[\s:：·,、()（）/⚠]+")


def _tokens(traces: dict[str, list[dict[str, Any]]]) -> set[str]:
    out: set[str] = set()
    for trs in traces.values():
        for t in trs:
            for text in t.get("hovertext") or []:
                out.update(_SPLIT.split(text))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_raw_name_or_phone_in_any_hover(full: Any, lang: str) -> None:
    tokens = _tokens(_all(full, lang))
    raw = set()
    for frame, cols in (
        (full.members, ("name", "phone")),
        (full.households, ("head_name", "phone")),
        (full.basic_units, ("keeper_name", "phone")),
    ):
        for c in cols:
            raw |= {v for v in frame[c].astype(str) if len(v) >= 2}
    assert not tokens & raw
    bu = full.basic_units.iloc[0]
    assert mask_name(bu["keeper_name"]) in tokens and mask_phone(bu["phone"]) in tokens  # masked, present
    assert any(re.fullmatch(r"\d{3}\*{4}\d{4}", tok) for tok in tokens)


def test_legend_groups_titles_meta_and_stable_uids(full: Any) -> None:
    zh, en = _all(full, "zh"), _all(full, "en")
    uids: list[str] = []
    for key, traces in zh.items():
        assert traces, key
        for t in traces:
            assert t["legendgroup"] == key and t["meta"]["layer"] == key
            assert t["legendgrouptitle"]["text"] and t["name"]
            uids.append(t["uid"])
        assert [t["legendgrouptitle"]["text"] for t in traces] != [t["legendgrouptitle"]["text"] for t in en[key]]
        assert any(t["showlegend"] for t in traces)
    assert len(uids) == len(set(uids))
    assert all(re.fullmatch(r"[\w-]+", u) for u in uids), "uids become CSS selectors in plotly.js"
    assert uids == [t["uid"] for trs in _all(full, "en", theme="wall").values() for t in trs]
    go.Figure([t for trs in zh.values() for t in trs])  # every trace is valid Plotly


def test_a_wall_stack_registers_its_marker_sizes_for_scaling(demo: GeoLayers) -> None:
    # assets/onescreen.js scales the markers named in layout.meta.marker_sizes with a 4K wall's stage
    base = im.MapBase.from_layers(demo)
    fig = im.build_incident_map(base, [], {}, theme="wall")
    own = dict(fig.layout.meta["marker_sizes"])
    stack = stack_layers(fig, demo, ["party_orgs", "members"], "zh", theme="wall", wall=True)
    sizes = fig.layout.meta["marker_sizes"]
    layer_idx = [i for key in ("party_orgs", "members") for i in stack.traces[key]]
    assert layer_idx and all(sizes[str(i)] == fig.data[i].marker.size > 0 for i in layer_idx)
    assert {k: sizes[k] for k in own} == own  # the incident traces' sizes stay
    console = im.build_incident_map(base, [], {}, theme="console")
    stack_layers(console, demo, ["party_orgs"], "zh", theme="console")
    assert set(console.layout.meta["marker_sizes"]) == set(own)  # the console is not a stage: nothing scales


def test_a_district_overview_writes_each_communitys_open_count(demo: GeoLayers) -> None:
    grid_base = im.MapBase.from_layers(demo)
    assert list(im.build_incident_map(grid_base, [], {}).data[im.TRACE_AREA_COUNTS].text) == []  # grids: none
    base = grid_base.overview(demo.communities)
    counts = list(range(len(base.grid_ids)))  # the first community has none open: no label
    for theme in ("wall", "console"):
        tr = im.build_incident_map(base, [0] * len(counts), {}, theme=theme, area_counts=counts).data[
            im.TRACE_AREA_COUNTS
        ]
        assert list(tr.text) == ["", *map(str, counts[1:])]
        inside = demo.communities.geometry.contains(
            gpd.GeoSeries(gpd.points_from_xy(tr.lon, tr.lat), crs=demo.communities.crs), align=False
        )
        assert inside.all(), "each count sits inside its community"
    png = build_briefing(base, [0] * len(counts), None, None, street_name="全区", area_counts=counts)
    texts = [list(t.text) for t in png.data if t.type == "scatter" and t.mode == "text"]
    assert texts == [["", *map(str, counts[1:])]]  # the PNG writes the same numbers


def test_the_overview_counts_read_on_a_wall_under_the_names(demo: GeoLayers) -> None:
    """The count labels: ≥ ``WALL_MIN_FONT_PX`` on the wall (scaled with the stage), bold, with a halo in the
    background colour (painted by assets/onescreen.js from ``layout.meta.text_halo``), below the label point where
    the area's name is centred (an invisible marker of the text's size pushes the text down past the name)."""
    base = im.MapBase.from_layers(demo).overview(demo.communities)
    counts = [3] * len(base.grid_ids)
    console = im.build_incident_map(base, [0] * len(counts), {}, theme="console", area_counts=counts)
    assert console.data[im.TRACE_AREA_COUNTS].textfont.size >= im.WALL_MIN_FONT_PX  # the officials' page on a wall
    assert console.layout.meta["text_halo"]["text-halo-color"] == im.THEMES["console"].background
    fig = im.build_incident_map(base, [0] * len(counts), {}, theme="wall", area_counts=counts)
    tr = fig.data[im.TRACE_AREA_COUNTS]
    assert tr.textfont.size >= im.WALL_MIN_FONT_PX and tr.textfont.weight == "bold"
    assert tr.textposition == "bottom center" and tr.mode == "markers+text"
    assert tr.marker.opacity == 0 and tr.marker.size >= tr.textfont.size  # the offset: clear of a centred name
    assert tr.meta == {"counts": True} and tr.hoverinfo == "skip" and tr.showlegend is False
    assert fig.layout.meta["text_sizes"] == {str(im.TRACE_AREA_COUNTS): tr.textfont.size}  # 4K: scaled up
    halo = fig.layout.meta["text_halo"]
    assert halo["text-halo-width"] > 0 and halo["text-halo-color"] == im.THEMES["wall"].background
    names = place_name_layers(demo, "zh", "wall")
    communities = next(layer for layer in names if layer["name"] == "place_names:communities")
    assert communities["symbol"]["textposition"] == "middle center"  # the name on the point, the count below it
    named = {f["id"]: f["geometry"]["coordinates"] for f in communities["source"]["features"]}
    at = dict(zip(base.grid_ids, zip(tr.lon, tr.lat, strict=True), strict=True))
    assert all(tuple(named[c]) == at[c] for c in base.grid_ids), "count and name share the label point"


def test_new_fields_are_used_when_present_and_missing_ones_degrade(demo: GeoLayers) -> None:
    micro = layer_traces(demo, "micro_grids", "zh")[1]["hovertext"]
    assert "微网格长" in micro[0] and "*" in micro[0]
    forces = layer_traces(demo, "forces", "en")
    assert {t["meta"]["class"] for t in forces} <= {"guidance", "self_run", "vanguard", "enforcement", "co_building",
                                                     "social", "unknown"}  # fmt: skip
    bare = _With(
        demo,
        micro_grids=demo.micro_grids.drop(columns=["leader_id"], errors="ignore"),
        volunteer_teams=demo.volunteer_teams.drop(columns=["force_kind"], errors="ignore"),
        units=demo.units.drop(columns=["force_kind"], errors="ignore"),
    )
    assert "微网格长" not in layer_traces(bare, "micro_grids", "zh")[1]["hovertext"][0]
    forces = layer_traces(bare, "forces", "zh")
    assert [t["meta"]["class"] for t in forces] == ["unknown"] and len(_ids(forces)) == 60
    assert len(_ids(layer_traces(demo, "basic_units", "zh"))) == len(demo.basic_units)
    assert layer_traces(_With(demo, basic_units=demo.basic_units.iloc[:0]), "basic_units", "zh") == []
    assert layer_traces(_With(demo, basic_units=None), "basic_units", "zh") == []  # a model without the layer


def test_uncovered_households_are_highlighted_and_coverage_is_shown(demo: GeoLayers) -> None:
    hh = demo.households.copy()
    hh.loc[hh.index[:3], "member_id"] = ""
    hh.loc[hh.index[3], "member_id"] = "P-gone"  # dangling
    layers = _With(demo, households=hh)
    traces = layer_traces(layers, "households", "zh")
    assert set(_ids(traces, "uncovered")) == set(hh["household_id"].iloc[:4])
    hover = " ".join(t for tr in traces for t in tr.get("hovertext", []))
    for name, phone in zip(hh["head_name"].iloc[:4], hh["phone"].iloc[:4], strict=True):
        assert name not in hover and phone not in hover and phone[-4:] in hover
    assert sum(t["meta"]["features"] for t in traces) == len(hh)
    first_micro = str(hh["micro_grid_id"].iloc[0])
    label = layer_traces(layers, "micro_grids", "zh")[1]
    text = label["hovertext"][label["customdata"].index(first_micro)]
    n = int((hh["micro_grid_id"] == first_micro).sum())
    lost = int((hh["micro_grid_id"].iloc[:4] == first_micro).sum())
    assert f"{n - lost}/{n}" in text


def test_a_server_keeps_what_its_screens_show(demo: GeoLayers) -> None:
    """``served_layers``: a covered household's id, name and phone (never shown: a dot) are dropped, an uncovered
    one keeps them; every other value is the same, equal strings are one object; the households layer draws the
    same traces from either, and as a GCJ-02 map shows it."""
    hh = demo.households.copy()
    hh.loc[hh.index[:3], "member_id"] = ""
    layers = served_layers(dataclasses.replace(demo, households=hh))
    got = layers.households
    assert got["head_name"].iloc[:3].tolist() == hh["head_name"].iloc[:3].tolist()
    assert set(got["head_name"].iloc[3:]) == {""} and set(got["phone"].iloc[3:]) == {""}
    for col in ("member_id", "micro_grid_id", "grid_id", "size"):
        assert got[col].tolist() == hh[col].tolist()
    assert "geometry" not in got.columns and got.index.equals(hh.index)  # points as columns, no shapely Points
    assert got["lon"].tolist() == hh.geometry.x.tolist() and got["lat"].tolist() == hh.geometry.y.tolist()
    with pytest.raises(ValueError, match="other than points"):
        point_columns(demo.grids)
    assert layer_traces(layers, "households", "zh") == layer_traces(_With(demo, households=hh), "households", "zh")
    whole = dataclasses.replace(demo, households=hh)
    shown = layer_traces(display_layers(layers, "gcj02"), "households", "zh")
    assert shown == layer_traces(display_layers(whole, "gcj02"), "households", "zh")
    assert shown != layer_traces(layers, "households", "zh")
    members = layers.members
    assert members.drop(columns=["lon", "lat"]).equals(demo.members.drop(columns="geometry"))
    for key in ("members", "party_orgs", "grid_types", "zones"):
        assert layer_traces(layers, key, "zh") == layer_traces(whole, key, "zh"), key
    assert "geometry" not in layers.party_orgs.columns
    served, read = SpatialIndex(layers), SpatialIndex(demo)
    assert np.array_equal(served.members_xy, read.members_xy)
    lon, lat = members["lon"].iloc[:5], members["lat"].iloc[:5]
    assert served.nearest_members(lon, lat).equals(read.nearest_members(lon, lat))
    ids = members["grid_id"].array
    same = [i for i in range(len(ids)) if ids[i] == ids[0]]
    assert len(same) > 1 and len({id(ids[i]) for i in same}) == 1  # one object per distinct value
    plain = shared_strings(pd.DataFrame({"a": ["x", None, "x"], "n": [1, 2, 3]}))
    assert plain["a"].isna().tolist() == [False, True, False] and plain["n"].tolist() == [1, 2, 3]


def test_payload_per_layer_is_bounded(full: Any) -> None:
    for key, traces in _all(full).items():
        size = len(json.dumps(traces, ensure_ascii=False).encode())
        assert size <= BUDGET[key], (key, size)
    names = len(json.dumps(place_name_layers(full, "zh", "wall"), ensure_ascii=False).encode())
    assert names <= 40_000


def test_outlines_are_one_path_with_breaks_between_rings() -> None:
    squares = [box(0, 0, 1, 1), box(2, 0, 3, 1).difference(box(2.4, 0.4, 2.6, 0.6))]  # 3 rings
    lon, lat = outline_coords(squares, tolerance_m=0)
    assert lon.count(None) == lat.count(None) == 2
    assert len(lon) == 5 + 5 + 5 + 2
    assert outline_coords([], 3.0) == ([], [])
    assert outline_coords([Point(0, 0).buffer(1e-3)], 0)[0][0] is not None


def test_unknown_key_raises(demo: GeoLayers) -> None:
    with pytest.raises(KeyError):
        layer_traces(demo, "roads", "zh")


def test_figures_module_imports_neither_dash_nor_redis() -> None:
    src = (Path(__file__).resolve().parents[2] / "dashboard/figures/layers.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+(dash|redis)\b", src, re.M)


# ---- one real browser: place names drawn offline ------------------------------------------------------


@pytest.fixture
def static_site(tmp_path: Path, demo: GeoLayers) -> Iterator[str]:
    """A page on 127.0.0.1 with the packaged plotly.js and the wall map + place-name layers."""
    base = im.MapBase.from_layers(demo)
    fig = im.build_incident_map(base, [0] * len(base.grid_ids), {}, theme="wall")
    for t in layer_traces(demo, "place_names", "zh", theme="wall"):
        fig.add_trace(t)
    # the street's names, and one community's micro-grid names (an area few enough to name them)
    micro = place_name_layers(demo, "zh", "wall", area=(build_area_tree(demo), AREA))[-1]
    names = [*place_name_layers(demo, "zh", "wall"), micro]
    fig.update_layout(map_layers=[*fig.layout.map.layers, *names])
    (tmp_path / "plotly.min.js").write_bytes((Path(plotly.__file__).parent / "package_data/plotly.min.js").read_bytes())
    (tmp_path / "fig.json").write_text(fig.to_json(), encoding="utf-8")
    (tmp_path / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><div id="g" style="width:1200px;height:800px"></div>'
        '<script src="plotly.min.js"></script><script>fetch("fig.json").then(r => r.json())'
        '.then(f => Plotly.newPlot("g", f.data, f.layout)).then(() => { window.drawn = true; });</script>',
        encoding="utf-8",
    )
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


_MAP = "document.getElementById('g')._fullLayout.map._subplot.map"
_IDLE = f"() => {{ const m = {_MAP}; return m.loaded() && !m.isMoving(); }}"
_LABELS = f"""() => {{ const m = {_MAP};
  return m.getStyle().layers.filter((l) => l.type === 'symbol' && l.id.startsWith('plotly-layout-layer'))
    .map((l) => m.queryRenderedFeatures({{layers: [l.id]}}).map((f) => f.properties.name)); }}"""


@pytest.mark.browser
def test_place_names_render_offline_in_chromium(browser: Any, static_site: str, demo: GeoLayers) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    try:
        page.goto(static_site)
        page.wait_for_function("() => window.drawn === true", timeout=60_000)
        page.wait_for_function(_IDLE, timeout=60_000)
        assert page.evaluate(f"() => {_MAP}.getStyle().glyphs") is None
        communities, grids, micro = page.evaluate(_LABELS)
        assert grids == micro == [] and len(communities) >= len(demo.communities) - 2  # collisions may hide 1 or 2
        assert set(communities) <= set(demo.communities["name"])
        page.evaluate(f"() => {_MAP}.jumpTo({{zoom: 15.5}})")
        page.wait_for_function(_IDLE, timeout=60_000)
        page.wait_for_function(f"() => ({_LABELS})()[1].length > 0", timeout=30_000)
        communities, grids, micro = page.evaluate(_LABELS)
        assert communities == micro == [] and set(grids) <= set(demo.grids["name"])
        first = place_name_layers(demo, "zh", "wall", area=(build_area_tree(demo), AREA))[-1]["source"]["features"][0]
        centre = first["geometry"]["coordinates"]  # closer still, in that community: the micro-grids' names
        page.evaluate(f"(c) => {_MAP}.jumpTo({{zoom: 17.5, center: c}})", centre)
        page.wait_for_function(_IDLE, timeout=60_000)
        page.wait_for_function(f"() => ({_LABELS})()[2].length > 0", timeout=30_000)
        communities, grids, micro = page.evaluate(_LABELS)
        # (the street's grid names go on this close: a street's page names no micro-grids)
        assert communities == [] and micro and set(micro) <= set(demo.micro_grids["name"])
        halo = page.evaluate(
            f"""(paint) => {{ const m = {_MAP}; const ids = m.getStyle().layers
              .filter((l) => l.type === 'symbol' && l.id.startsWith('plotly-layout-layer')).map((l) => l.id);
              ids.forEach((id) => Object.entries(paint).forEach(([k, v]) => m.setPaintProperty(id, k, v)));
              return ids.map((id) => m.getPaintProperty(id, 'text-halo-width')); }}""",
            im.text_halo("wall"),
        )
        assert halo == [im.text_halo("wall")["text-halo-width"]] * 3
        page.wait_for_function(_IDLE, timeout=60_000)
        assert page.evaluate(_LABELS)[2]
    finally:
        context.close()
    foreign = [u for u in requests if not u.startswith((static_site, "data:", "blob:"))]
    assert foreign == []
    assert any(u.startswith(static_site) for u in requests)
    assert pd.Series(requests).str.startswith("http://127.0.0.1").any()


def test_a_big_data_set_is_read_apart(demo: GeoLayers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_served_apart``: the served layers read in a child process come back the same as read here; a data
    set the child cannot read gives None (``load_geo`` then reads it here and raises its own error); ``load_geo``
    reads apart from ``READ_APART_BYTES`` on."""
    apart = runtime.read_served_apart(DEMO_GPKG, None)
    here = runtime.read_served(DEMO_GPKG, None)
    assert apart is not None and apart.metric_crs == here.metric_crs
    for name in LAYER_NAMES:
        pd.testing.assert_frame_equal(apart.layer(name), here.layer(name))
    assert runtime.read_served_apart(tmp_path / "missing.gpkg", None) is None
    assert runtime.data_bytes(Settings.from_env(data_path=DEMO_GPKG)) == DEMO_GPKG.stat().st_size
    layers, records = runtime._read_served_logged(DEMO_GPKG, None)
    assert len(layers.members) == len(here.members) and isinstance(records, list)
    monkeypatch.setattr(runtime, "READ_APART_BYTES", 0)
    geo = runtime.load_geo(Settings.from_env(data_path=DEMO_GPKG))
    assert "geometry" not in geo.layers.households.columns and len(geo.index.members_xy) == len(here.members)
    with pytest.raises(FileNotFoundError):
        runtime.load_geo(Settings.from_env(data_path=tmp_path / "missing.gpkg"))
