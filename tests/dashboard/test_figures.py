from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.figures import incident_map as im
from dashboard.figures.sample import sample_base, sample_grid_states, sample_incidents, sample_members
from incidents.model import GridState

NOW = 1_750_000_000.0


@pytest.fixture(scope="module")
def base() -> im.MapBase:
    return sample_base()


@pytest.fixture(scope="module")
def incidents() -> pd.DataFrame:
    return sample_incidents(now=NOW)


def _fig(base: im.MapBase, incidents: pd.DataFrame, **kw: object) -> go.Figure:
    z = im.grid_fill_z(base.grid_ids, sample_grid_states(incidents, base.grid_ids))
    return im.build_incident_map(base, z, im.incident_trace_updates(incidents), **kw)  # type: ignore[arg-type]


def test_trace_constants_are_explicit_and_dense() -> None:
    assert (im.TRACE_GRIDS, im.TRACE_MEMBERS) == (0, 1)
    assert [im.TRACE_STATUS[s] for s in ("reported", "dispatched", "accepted", "resolved", "closed")] == [
        2,
        3,
        4,
        5,
        6,
    ]
    assert (im.TRACE_OVERDUE_HALO, im.TRACE_URGENT, im.TRACE_AREA_COUNTS, im.N_TRACES) == (7, 8, 9, 10)
    assert sorted(im.INCIDENT_TRACES) == list(range(2, 9))


@pytest.mark.parametrize("theme", ["wall", "console"])
def test_trace_order_matches_constants(base: im.MapBase, incidents: pd.DataFrame, theme: str) -> None:
    fig = _fig(base, incidents, theme=theme)
    assert len(fig.data) == im.N_TRACES
    assert fig.data[im.TRACE_GRIDS].type == "choroplethmap"
    assert all(fig.data[i].type == "scattermap" for i in range(1, im.N_TRACES))
    legend = [fig.data[im.TRACE_STATUS[s]].name for s in im.TRACE_STATUS]
    assert legend == ["待派单", "已派单", "已接单", "已办结", "已评价"]
    grids = fig.data[im.TRACE_GRIDS]
    assert list(grids.locations) == base.grid_ids
    assert (grids.zmin, grids.zmax, grids.showscale) == (0, 3, False)
    assert fig.data[im.TRACE_URGENT].meta == {"pulse": True}


def test_grid_fill_z_per_state() -> None:
    states = {
        "a": GridState.CLEAR,
        "b": GridState.IN_PROGRESS,
        "c": GridState.UNASSIGNED,
        "d": GridState.OVERDUE,
        "e": "overdue",
        "f": "bogus",
    }
    assert im.grid_fill_z(["a", "b", "c", "d", "e", "f", "missing"], states) == [0, 1, 2, 3, 3, 0, 0]


def test_colorscale_is_discrete_4_steps() -> None:
    cs = im.grid_colorscale()
    assert cs[0][1] == cs[1][1] == im.GRID_STATE_COLORS["clear"]
    assert cs[-1][1] == im.GRID_STATE_COLORS["overdue"]
    assert cs[0][0] == 0 and cs[-1][0] == 1


def test_trace_updates_from_dataframe() -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "status": ["reported", "accepted", "accepted", "closed", "cancelled"],
            "lon": [120.1234567, 120.2, 120.3, 120.4, 120.5],
            "lat": [30.1, 30.2, 30.3, 30.4, 30.5],
            "category": ["fire", "dispute", "other", "fire", "fire"],
            "category_label": ["消防", "矛盾纠纷", "其他", "消防", "消防"],
            "priority": ["urgent", "normal", "normal", "urgent", "normal"],
            "grid_id": ["G1"] * 5,
            "ts": [NOW] * 5,
            "overdue": [True, False, True, True, False],
            "urgent": [True, False, False, True, False],
            "title": ["消防通道被占用", "", "x", "y", "z"],
        }
    )
    u = im.incident_trace_updates(df, "zh")
    assert set(u) == set(im.INCIDENT_TRACES)
    assert u[im.TRACE_REPORTED]["customdata"] == ["a"]
    assert u[im.TRACE_REPORTED]["lon"] == [120.12346]  # rounded to 5 decimals
    assert u[im.TRACE_ACCEPTED]["customdata"] == ["b", "c"]
    assert u[im.TRACE_CLOSED]["customdata"] == ["d"]
    assert u[im.TRACE_DISPATCHED]["customdata"] == []
    # halo and urgent: open incidents only (closed "d" excluded), cancelled never drawn
    assert u[im.TRACE_OVERDUE_HALO]["customdata"] == ["a", "c"]
    assert u[im.TRACE_URGENT]["customdata"] == ["a"]
    assert all("e" not in v["customdata"] for v in u.values())
    assert "消防通道被占用" in u[im.TRACE_REPORTED]["hovertext"][0]
    assert "矛盾纠纷" in u[im.TRACE_ACCEPTED]["hovertext"][0]  # empty title → category
    lean = im.incident_trace_updates(df, "zh", hover=False)
    assert set(lean[im.TRACE_REPORTED]) == {"lon", "lat", "customdata"}
    assert lean[im.TRACE_ACCEPTED]["customdata"] == ["b", "c"]
    en = im.incident_trace_updates(df, "en")
    assert "Accepted" in en[im.TRACE_ACCEPTED]["hovertext"][0]
    assert im.incident_trace_updates(df.iloc[0:0], "zh")[im.TRACE_REPORTED] == {
        "lon": [],
        "lat": [],
        "customdata": [],
        "hovertext": [],
    }


def test_full_build_uses_the_same_values_as_patches(base: im.MapBase, incidents: pd.DataFrame) -> None:
    updates = im.incident_trace_updates(incidents)
    z = im.grid_fill_z(base.grid_ids, sample_grid_states(incidents, base.grid_ids))
    fig = im.build_incident_map(base, z, updates, theme="console")
    assert list(fig.data[im.TRACE_GRIDS].z) == z
    for idx, u in updates.items():
        assert list(fig.data[idx].customdata) == u["customdata"]
        assert list(fig.data[idx].lon) == u["lon"]


@pytest.mark.parametrize("theme", ["wall", "console"])
def test_map_style_offline_and_uirevision(base: im.MapBase, incidents: pd.DataFrame, theme: str) -> None:
    fig = _fig(base, incidents, theme=theme)
    style = fig.layout.map.style
    assert isinstance(style, dict)
    # Only inline data: an empty GeoJSON source (an empty ``sources`` object would be pruned → "Map error.").
    assert all(src["type"] == "geojson" and not src["data"]["features"] for src in style["sources"].values())
    assert style["sources"]
    assert [layer["type"] for layer in style["layers"]] == ["background"]
    assert "glyphs" not in style and "sprite" not in style
    payload = fig.to_json()
    assert "http://" not in payload and "https://" not in payload
    assert fig.layout.uirevision == base.uirevision == fig.layout.map.uirevision
    assert tuple(fig.layout.margin[k] for k in "lrtb") == (0, 0, 0, 0)
    # no sprite icons; text only in the counts trace (glyphs drawn locally: no ``glyphs`` URL above)
    for i, tr in enumerate(fig.data):
        if tr.type == "scattermap":
            assert tr.mode == ("markers+text" if i == im.TRACE_AREA_COUNTS else "markers")
            assert tr.marker.symbol in (None, "circle")


def test_wall_vs_console_theme(base: im.MapBase, incidents: pd.DataFrame) -> None:
    wall = _fig(base, incidents, theme="wall")
    console = _fig(base, incidents, theme="console")

    def bg(f: go.Figure) -> Any:
        return f.layout.map.style["layers"][0]["paint"]["background-color"]

    assert bg(wall) != bg(console)
    assert wall.layout.showlegend is False and console.layout.showlegend is False
    assert wall.data[im.TRACE_REPORTED].hoverinfo == "skip"
    assert console.data[im.TRACE_REPORTED].hovertemplate


def test_members_are_masked(base: im.MapBase, incidents: pd.DataFrame) -> None:
    fig = _fig(base, incidents, theme="console")
    members = fig.data[im.TRACE_MEMBERS]
    assert members.hoverinfo == "skip"
    assert members.text is None and members.hovertext is None
    payload = fig.to_json()
    assert "张" not in payload and "13812341234" not in payload
    assert len(members.lon) == len(sample_members())
    hidden = _fig(base, incidents, theme="console", show_members=False)
    assert hidden.data[im.TRACE_MEMBERS].visible is False


def test_micro_grid_layer(base: im.MapBase, incidents: pd.DataFrame) -> None:
    fig = _fig(base, incidents, theme="console", show_micro_grids=True)
    layer = fig.layout.map.layers[im.LAYER_MICRO_GRIDS]
    assert layer.type == "line" and layer.below == "traces" and layer.visible is True
    # Unless asked for, neither screen's figure carries their GeoJSON (the console's micro-grids are a layer of
    # figures.layers, loaded when toggled on).
    assert _fig(base, incidents, theme="console").layout.map.layers == ()
    assert _fig(base, incidents, theme="wall").layout.map.layers == ()


def test_payload_is_compact(base: im.MapBase, incidents: pd.DataFrame) -> None:
    fig = _fig(base, incidents, theme="wall")
    for idx in im.INCIDENT_TRACES:
        tr = fig.data[idx]
        assert isinstance(tr.marker.color, str) and not isinstance(tr.marker.size, (list, tuple))
    # rings packed as arrays (incident_map.packed_geojson), written as lists
    coords = json.dumps(base.geojson["features"][0]["geometry"]["coordinates"], default=lambda a: a.tolist())
    assert all(len(x.split(".")[-1]) <= 5 for x in coords.replace("[", "").replace("]", "").split(","))


def test_from_geodataframes_and_fit() -> None:
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Point, box

    grids = gpd.GeoDataFrame(
        {"grid_id": ["g1", "g2"], "name": ["一网格", "二网格"]},
        geometry=[box(120.1, 30.2, 120.1051234567, 30.205), box(120.105, 30.2, 120.11, 30.205)],
        crs="EPSG:4326",
    )
    members = gpd.GeoDataFrame(
        {"member_id": ["m1"], "name": ["王小红"], "phone": ["13900000000"], "role": ["党员"]},
        geometry=[Point(120.102, 30.203)],
        crs="EPSG:4326",
    )
    base = im.MapBase.from_geodataframes(grids, members=members)
    assert base.grid_ids == ["g1", "g2"]
    assert [f["id"] for f in base.geojson["features"]] == ["g1", "g2"]
    assert base.geojson["features"][0]["geometry"]["coordinates"][0][0][0] in (120.10512, 120.1)
    assert base.members is not None and "name" not in base.members.columns
    assert 14 < base.zoom < 18
    assert base.center["lon"] == pytest.approx(120.105)


def test_a_city_of_members_is_clustered_a_street_is_not(base: im.MapBase, incidents: pd.DataFrame) -> None:
    street = _fig(base, incidents)
    assert not street.data[im.TRACE_MEMBERS].cluster.enabled
    many = sample_members(im.MEMBERS_CLUSTER_ABOVE + 1)
    city = im.MapBase.from_geojson(base.geojson, members=many)
    fig = im.build_incident_map(
        city, [0] * len(city.grid_ids), im.incident_trace_updates(incidents), theme="console"
    )  # the console draws each member (the wall: one dot per occupied ~100 m cell, test below)
    assert fig.data[im.TRACE_MEMBERS].cluster.enabled
    assert len(fig.data[im.TRACE_MEMBERS].lon) == im.MEMBERS_CLUSTER_ABOVE + 1  # all members, clustered by MapLibre


def test_the_wall_draws_members_on_duty_snapped_to_cells(base: im.MapBase, incidents: pd.DataFrame) -> None:
    many = sample_members(500)
    many["on_duty"] = [i % 2 == 0 for i in range(len(many))]
    city = im.MapBase.from_geojson(base.geojson, members=many)
    wall = im.build_incident_map(city, [0] * len(city.grid_ids), im.incident_trace_updates(incidents), theme="wall")
    console = im.build_incident_map(
        city, [0] * len(city.grid_ids), im.incident_trace_updates(incidents), theme="console"
    )
    assert len(console.data[im.TRACE_MEMBERS].lon) == 500
    shown = set(zip(wall.data[im.TRACE_MEMBERS].lon, wall.data[im.TRACE_MEMBERS].lat, strict=True))
    exact = set(zip(many["lon"].round(5), many["lat"].round(5), strict=True))
    assert 0 < len(shown) <= 250 and not shown & exact  # on duty only, moved, one dot per cell
    assert wall.data[im.TRACE_MEMBERS].customdata is None and wall.data[im.TRACE_MEMBERS].hoverinfo == "skip"


def test_a_basemap_is_the_only_thing_fetched_and_sits_under_every_layer(base: im.MapBase) -> None:
    from dataclasses import replace

    url = "http://tiles.intra/{z}/{x}/{y}.png"
    fig = im.build_incident_map(replace(base, tiles=url), [], {}, theme="wall")
    style = fig.layout.map.style
    assert style["sources"]["onescreen-tiles"] == {"type": "raster", "tiles": [url], "tileSize": 256, "maxzoom": 18}
    assert [layer["id"] for layer in style["layers"]] == ["onescreen-background", "onescreen-tiles"]
    assert "glyphs" not in style


def test_a_drilled_in_map_carries_only_the_grids_near_its_area() -> None:
    """Level of detail: framed on one area, the choropleth's GeoJSON holds the grids within the area's box (grown
    by ``FOCUS_PAD``), not the whole district's; the locations (and so the live colour edits) stay all grids."""
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    ids = [f"g{i:02d}" for i in range(20)]
    grids = gpd.GeoDataFrame(
        {"grid_id": ids, "name": ids},
        geometry=[box(120.0 + 0.01 * i, 30.0, 120.0 + 0.01 * i + 0.009, 30.009) for i in range(20)],
        crs="EPSG:4326",
    )
    base = im.MapBase.from_geodataframes(grids)
    z = [0] * len(ids)
    whole = im.build_incident_map(base, z, {}, theme="console")
    assert [f["id"] for f in whole.data[im.TRACE_GRIDS].geojson["features"]] == ids
    focus = (120.05, 30.0, 120.059, 30.009)  # g05's box
    fig = im.build_incident_map(base, z, {}, theme="console", focus=focus, focus_key="grid:g05")
    near = [f["id"] for f in fig.data[im.TRACE_GRIDS].geojson["features"]]
    assert "g05" in near and {"g04", "g06"} <= set(near) and len(near) <= 3
    assert list(fig.data[im.TRACE_GRIDS].locations) == ids
    assert fig.layout.map.center.lon == pytest.approx(120.0545, abs=1e-3)
