from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.layers import GeoLayers
from geo.synthetic import (
    DEMO_LIMITS,
    LAYER_ORDER,
    REQUIRED_BOX,
    ROLES,
    SKILLS,
    Scale,
    build,
    generate,
    resolve_scale,
)
from tests.support.geodata import SMALL, SMALL_SEED

UTM = "EPSG:32651"


def test_same_seed_same_data(small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    again = build(SMALL_SEED, SMALL)
    assert list(again) == list(LAYER_ORDER)
    for name in LAYER_ORDER:
        assert_geodataframe_equal(small_frames[name], again[name], check_less_precise=False)


def test_same_seed_same_bytes(tmp_path: Path, small_gpkg: Path) -> None:
    other = generate(tmp_path, seed=SMALL_SEED, scale=SMALL, progress=False)
    assert other.read_bytes() == small_gpkg.read_bytes()


def test_different_seed_different_data(small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    other = build(SMALL_SEED + 1, SMALL)
    assert not small_frames["grids"].geometry.geom_equals(other["grids"].geometry).all()
    assert (small_frames["members"]["name"] != other["members"]["name"]).mean() > 0.5


def test_committed_demo_counts(demo_layers: GeoLayers) -> None:
    L = demo_layers
    assert len(L.street) == 1
    assert len(L.communities) == 15
    assert set(L.communities["kind"]) == {"community", "village"}
    assert (L.grids["grid_type"] == "comprehensive").sum() == 120
    assert (L.grids["grid_type"] == "dedicated").sum() == 30
    assert set(L.grids.loc[L.grids.grid_type == "dedicated", "dedicated_kind"]) == {
        "industrial_park",
        "office_building",
        "market",
        "rental_housing",
    }
    assert (L.grids.loc[L.grids.grid_type == "comprehensive", "dedicated_kind"] == "").all()
    assert len(L.micro_grids) == 600
    assert len(L.members) == 3000
    assert len(L.households) == 15000
    assert len(L.volunteer_teams) == 20
    assert len(L.units) == 40
    assert L.metric_crs.to_epsg() == 32651


def test_committed_demo_file_is_small() -> None:
    from tests.support.paths import DEMO_GPKG

    assert DEMO_GPKG.stat().st_size <= 10 * 1024 * 1024


def test_demo_outline_contains_required_box(demo_layers: GeoLayers) -> None:
    outline = demo_layers.street.geometry.iloc[0]
    assert outline.contains(shapely.box(*REQUIRED_BOX))
    assert shapely.box(*DEMO_LIMITS).contains(outline)
    # irregular: clearly not its own bounding box or convex hull
    assert outline.area < 0.9 * outline.envelope.area
    assert len(shapely.get_coordinates(outline)) > 50


@pytest.mark.parametrize("fixture", ["small_layers", "demo_layers"])
def test_all_geometries_valid(fixture: str, request: pytest.FixtureRequest) -> None:
    layers: GeoLayers = request.getfixturevalue(fixture)
    for name in LAYER_ORDER:
        gdf = layers.layer(name)
        assert gdf.crs.to_epsg() == 4326
        assert shapely.is_valid(gdf.geometry.values).all(), name
        assert not gdf.geometry.is_empty.any(), name


def _assert_tiles(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame, key: str, parent_key: str) -> None:
    """Children tile each parent: same area, union equals parent, no overlaps (metres²)."""
    c, p = children.to_crs(UTM), parents.to_crs(UTM).set_index(parent_key)
    assert set(c[key]) == set(p.index)
    sums = c.area.groupby(c[key].to_numpy()).sum()
    np.testing.assert_allclose(sums.loc[p.index].to_numpy(), p.area.to_numpy(), rtol=1e-9)
    for pid, group in c.groupby(key):
        union = shapely.union_all(group.geometry.values)
        assert union.symmetric_difference(p.geometry.loc[pid]).area < 1e-3, pid
    geoms = c.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert overlap.max(initial=0.0) < 1e-3
    assert shapely.coverage_is_valid(children.geometry.values)


@pytest.mark.parametrize("fixture", ["small_layers", "demo_layers"])
def test_polygons_nest_exactly(fixture: str, request: pytest.FixtureRequest) -> None:
    L: GeoLayers = request.getfixturevalue(fixture)
    _assert_tiles(L.communities, L.street, "street_id", "street_id")
    _assert_tiles(L.grids, L.communities, "community_id", "community_id")
    _assert_tiles(L.micro_grids, L.grids, "grid_id", "grid_id")
    _assert_tiles(L.responsibility_zones, L.grids, "grid_id", "grid_id")
    # micro-grid community_id agrees with its grid
    grid_comm = L.grids.set_index("grid_id")["community_id"]
    assert (grid_comm.loc[L.micro_grids["grid_id"]].to_numpy() == L.micro_grids["community_id"].to_numpy()).all()


def test_all_polygons_are_single_polygons(demo_layers: GeoLayers) -> None:
    for name in ("street", "communities", "grids", "micro_grids", "responsibility_zones"):
        assert set(demo_layers.layer(name).geom_type) == {"Polygon"}, name


def test_dedicated_grids_are_small(demo_layers: GeoLayers) -> None:
    g = demo_layers.grids.to_crs(UTM)
    area = g.area.groupby(g["grid_type"].to_numpy()).median()
    assert area["dedicated"] < 0.6 * area["comprehensive"]


@pytest.mark.parametrize("fixture", ["small_layers", "demo_layers"])
def test_points_inside_their_micro_grid(fixture: str, request: pytest.FixtureRequest) -> None:
    L: GeoLayers = request.getfixturevalue(fixture)
    micro = L.micro_grids.set_index("micro_grid_id")
    for layer in (L.members, L.households):
        polys = micro.geometry.loc[layer["micro_grid_id"]].to_numpy()
        assert shapely.contains(polys, layer.geometry.to_numpy()).all()
        assert (micro["grid_id"].loc[layer["micro_grid_id"]].to_numpy() == layer["grid_id"].to_numpy()).all()


@pytest.mark.parametrize("fixture", ["small_layers", "demo_layers"])
def test_households_link_to_member_in_same_grid(fixture: str, request: pytest.FixtureRequest) -> None:
    L: GeoLayers = request.getfixturevalue(fixture)
    member_grid = L.members.set_index("member_id")["grid_id"]
    assert L.households["member_id"].isin(member_grid.index).all()
    assert (member_grid.loc[L.households["member_id"]].to_numpy() == L.households["grid_id"].to_numpy()).all()
    assert L.households["size"].between(1, 6).all()


def test_member_roles_and_attributes(demo_layers: GeoLayers) -> None:
    m, grids = demo_layers.members, demo_layers.grids
    assert set(m["role"]) == set(ROLES)
    heads = m[m.role == "网格长"]
    assert sorted(heads["grid_id"]) == sorted(grids["grid_id"])  # exactly one per grid
    groups = demo_layers.party_orgs[demo_layers.party_orgs.level == "party_group"]
    leaders = m[m.role == "党小组长"]
    assert sorted(leaders["party_group_id"]) == sorted(groups["org_id"])  # one per party group
    share = m["role"].value_counts(normalize=True)
    assert share["党员"] > 0.5 and share.idxmax() == "党员"
    assert 0.03 < share["志愿者"] < 0.2
    assert 0.65 < m["on_duty"].mean() < 0.75
    branch = grids.set_index("grid_id")["branch_id"]
    assert (branch.loc[m["grid_id"]].to_numpy() == m["branch_id"].to_numpy()).all()
    skills = {s for row in m["skills"] for s in row.split(",") if s}
    assert skills <= set(SKILLS) and len(skills) == len(SKILLS)
    assert m["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert m["name"].str.len().between(2, 3).all()
    assert m.loc[m.team_id != "", "team_id"].isin(demo_layers.volunteer_teams["team_id"]).all()
    party = m[m.role != "志愿者"]
    assert all(g.startswith(b + "-") for g, b in zip(party["party_group_id"], party["branch_id"], strict=True))


def test_party_members_live_in_their_group_zone(demo_layers: GeoLayers) -> None:
    m = demo_layers.members[demo_layers.members.role != "志愿者"]
    zones = demo_layers.responsibility_zones.set_index("party_group_id").geometry
    assert shapely.covers(zones.loc[m["party_group_id"]].to_numpy(), m.geometry.to_numpy()).all()


def test_party_organisation_levels(demo_layers: GeoLayers) -> None:
    orgs = demo_layers.party_orgs
    counts = orgs["level"].value_counts()
    assert counts["street_committee"] == 1
    assert counts["community_org"] == 15
    assert counts["grid_branch"] == 150
    per_branch = orgs[orgs.level == "party_group"].groupby("parent_id").size()
    assert per_branch.between(2, 4).all() and len(per_branch) == 150
    assert set(orgs.loc[orgs.level == "grid_branch", "org_id"]) == set(demo_layers.grids["branch_id"])
    assert len(demo_layers.responsibility_zones) == counts["party_group"]


def test_resolve_scale_presets_and_overrides() -> None:
    city = resolve_scale("city")
    assert city.grids == 10_000 and city.members == 100_000
    custom = resolve_scale("demo", grids=500, members=9000)
    assert custom.grids == 500 and custom.members == 9000 and custom.dedicated_grids == 100
    assert custom.communities == 50 and custom.households == 45_000
    assert custom.rental_houses == 1000 and custom.shop_streets == 50
    assert city.rental_houses == 20_000 and city.shop_streets == 1000


def test_multi_street_scale_nests() -> None:
    scale = Scale(
        name="t", streets=2, communities=6, comprehensive_grids=24, dedicated_grids=6,
        micro_grids_per_grid=2.0, members=600, households=600, volunteer_teams=3, units=3,
    )  # fmt: skip
    frames = build(3, scale)
    L = GeoLayers.from_frames(frames)
    assert len(L.street) == 2 and len(L.grids) == 30 and len(L.micro_grids) == 60
    _assert_tiles(L.communities, L.street, "street_id", "street_id")
    _assert_tiles(L.grids, L.communities, "community_id", "community_id")


def test_too_few_members_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot staff"):
        build(1, Scale(communities=2, comprehensive_grids=8, dedicated_grids=2, members=20, households=10))
