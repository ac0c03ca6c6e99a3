from __future__ import annotations

import time

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

import geo.index
from geo.display import representative_points
from geo.index import NEAREST_COLUMNS, SpatialIndex
from geo.layers import GeoLayers


@pytest.fixture(scope="module")
def demo_index(demo_layers: GeoLayers) -> SpatialIndex:
    return SpatialIndex(demo_layers)


def test_locate_representative_points(small_layers: GeoLayers) -> None:
    index = SpatialIndex(small_layers)
    micro = small_layers.micro_grids
    pts = representative_points(micro, "micro_grid_id")
    got = index.locate(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    assert list(got.columns) == ["micro_grid_id", "grid_id", "community_id"]
    assert (got["micro_grid_id"].to_numpy() == micro["micro_grid_id"].to_numpy()).all()
    assert (got["grid_id"].to_numpy() == micro["grid_id"].to_numpy()).all()
    assert (got["community_id"].to_numpy() == micro["community_id"].to_numpy()).all()


def test_locate_members_outside_and_nan(demo_layers: GeoLayers, demo_index: SpatialIndex) -> None:
    m = demo_layers.members
    xy = shapely.get_coordinates(m.geometry.to_numpy())
    got = demo_index.locate(xy[:, 0], xy[:, 1])
    assert (got["micro_grid_id"].to_numpy() == m["micro_grid_id"].to_numpy()).all()
    out = demo_index.locate([121.5, 120.29, np.nan], [30.31, 29.0, 30.31])
    assert (out.to_numpy() == "").all()
    assert demo_index.locate([], []).empty
    one = demo_index.locate(120.29, 30.31)  # scalars work too
    assert len(one) == 1 and one.loc[0, "grid_id"] != ""


def test_locate_shared_boundary_is_deterministic(demo_layers: GeoLayers, demo_index: SpatialIndex) -> None:
    micro = demo_layers.micro_grids.geometry.to_numpy()
    # a vertex shared by several micro-grids: the lowest index wins
    tree = shapely.STRtree(micro)
    vertex = shapely.get_coordinates(micro[10])[0]
    owners = np.sort(tree.query(shapely.Point(vertex), predicate="intersects"))
    assert len(owners) >= 2
    got = demo_index.locate([vertex[0]], [vertex[1]])
    assert got.loc[0, "micro_grid_id"] == demo_layers.micro_grids["micro_grid_id"].iloc[owners[0]]


def test_locate_burst_is_fast(demo_layers: GeoLayers, demo_index: SpatialIndex) -> None:
    rng = np.random.default_rng(0)
    b = demo_layers.street.total_bounds
    lon, lat = rng.uniform(b[0], b[2], 1000), rng.uniform(b[1], b[3], 1000)
    demo_index.locate(lon, lat)
    best = min(_timed(lambda: demo_index.locate(lon, lat)) for _ in range(20))
    assert best < 0.005, f"locate(1000) took {best * 1e3:.2f} ms"


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


def test_nearest_members_sorted_and_metric(demo_layers: GeoLayers, demo_index: SpatialIndex) -> None:
    lon, lat = 120.292, 30.311
    got = demo_index.nearest_members(lon, lat, n=8)
    assert list(got.columns) == NEAREST_COLUMNS
    assert len(got) == 8 and (got["query_index"] == 0).all()
    assert np.all(np.diff(got["distance_m"].to_numpy()) >= 0)
    m = demo_layers.members.set_index("member_id")
    assert m.loc[got["member_id"], "on_duty"].all()
    xy = shapely.get_coordinates(m.geometry.loc[got["member_id"]].to_numpy())
    # the same distance computed directly with pyproj in UTM 51N …
    utm = Transformer.from_crs(4326, 32651, always_xy=True)
    qx, qy = utm.transform(lon, lat)
    mx, my = utm.transform(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(got["distance_m"].to_numpy(), np.hypot(mx - qx, my - qy), rtol=1e-9)
    # … and within 0.1 % of the geodesic distance
    _, _, geodesic = Geod(ellps="WGS84").inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(got["distance_m"].to_numpy(), geodesic, rtol=1e-3)
    # brute force over every on-duty member agrees on the nearest set
    on = demo_layers.members[demo_layers.members.on_duty]
    oxy = shapely.get_coordinates(on.geometry.to_numpy())
    ox, oy = utm.transform(oxy[:, 0], oxy[:, 1])
    expected = np.sort(np.hypot(ox - qx, oy - qy))[:8]
    np.testing.assert_allclose(got["distance_m"].to_numpy(), expected, rtol=1e-9)


def test_nearest_members_filters(demo_layers: GeoLayers, demo_index: SpatialIndex) -> None:
    every = demo_index.nearest_members(120.29, 30.31, n=50, on_duty_only=False)
    on_duty = demo_index.nearest_members(120.29, 30.31, n=50)
    assert every["distance_m"].iloc[0] <= on_duty["distance_m"].iloc[0]
    heads = demo_index.nearest_members(120.29, 30.31, n=3, roles=["网格长", "网格员"])
    assert set(heads["role"]) <= {"网格长", "网格员"} and len(heads) == 3
    near = demo_index.nearest_members(120.29, 30.31, n=50, max_distance_m=150.0)
    assert (near["distance_m"] <= 150.0).all()
    assert len(near) < 50
    none = demo_index.nearest_members(120.29, 30.31, roles=["不存在"])
    assert none.empty and list(none.columns) == NEAREST_COLUMNS


def test_nearest_members_many_queries(demo_index: SpatialIndex) -> None:
    lon = np.array([120.28, 120.29, 120.30])
    lat = np.array([30.30, 30.31, 30.32])
    got = demo_index.nearest_members(lon, lat, n=4)
    assert got["query_index"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    for q in range(3):
        single = demo_index.nearest_members(lon[q], lat[q], n=4)
        assert single["member_id"].tolist() == got.loc[got.query_index == q, "member_id"].tolist()


def test_members_xy_cached(demo_index: SpatialIndex) -> None:
    assert demo_index.members_xy is demo_index.members_xy
    assert demo_index.members_xy.shape == (3000, 2)


@pytest.mark.parametrize("exhaustive", [True, False], ids=["all-pairs", "tree"])
@pytest.mark.parametrize(("roles", "max_d"), [(None, None), (["网格长"], None), (None, 300.0)])
def test_nearest_members_matches_brute_force(
    demo_layers: GeoLayers,
    demo_index: SpatialIndex,
    roles: list[str] | None,
    max_d: float | None,
    exhaustive: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both ways of searching (every pair for a few queries, the member tree for many) give the exact answer."""
    monkeypatch.setattr(geo.index, "EXHAUSTIVE_PAIRS", 10**9 if exhaustive else 0)
    rng = np.random.default_rng(5)
    b = demo_layers.street.total_bounds
    lon = np.r_[rng.uniform(b[0] - 0.05, b[2] + 0.05, 60), np.nan]  # some far outside, one NaN
    lat = np.r_[rng.uniform(b[1] - 0.05, b[3] + 0.05, 60), 30.3]
    got = demo_index.nearest_members(lon, lat, n=6, roles=roles, max_distance_m=max_d)
    m = demo_layers.members
    mask = m["on_duty"].to_numpy() & (m["role"].isin(roles).to_numpy() if roles else True)
    mxy = demo_index.members_xy[mask]
    q = demo_index.to_metric(lon, lat)
    for i in range(len(lon)):
        d = np.sort(np.hypot(mxy[:, 0] - q[i, 0], mxy[:, 1] - q[i, 1]))[:6]
        d = d[np.isfinite(d) & (d <= (max_d if max_d is not None else np.inf))]
        mine = got.loc[got.query_index == i, "distance_m"].to_numpy()
        np.testing.assert_allclose(mine, d, rtol=1e-12)


def test_nearest_members_ties_and_order_same_either_way(
    demo_index: SpatialIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    lon, lat = np.array([120.28, 120.29, 120.30]), np.array([30.30, 30.31, 30.32])
    monkeypatch.setattr(geo.index, "EXHAUSTIVE_PAIRS", 10**9)
    pairs = demo_index.nearest_members(lon, lat, n=7, on_duty_only=False)
    monkeypatch.setattr(geo.index, "EXHAUSTIVE_PAIRS", 0)
    tree = demo_index.nearest_members(lon, lat, n=7, on_duty_only=False)
    assert pairs["member_id"].tolist() == tree["member_id"].tolist()
    assert pairs["query_index"].tolist() == tree["query_index"].tolist()
