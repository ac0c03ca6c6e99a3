"""Boundary rule of locate on shared edges, and per-zoom display geometry (no gaps opened, cached)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo.display import display_geojson, zoom_tolerance_m
from geo.index import SpatialIndex
from geo.layers import GeoLayers


def test_point_on_a_shared_edge_goes_to_the_first_micro_grid(demo_layers: GeoLayers) -> None:
    micro = demo_layers.micro_grids.geometry.to_numpy()
    shared = shapely.intersection(micro[0], micro)  # edges micro-grid 0 shares with its neighbours
    lines = np.flatnonzero(np.isin(shapely.get_type_id(shared), (1, 5)) & (shapely.length(shared) > 0))
    lines = lines[lines != 0]
    assert len(lines)
    edge = shared[lines[0]]
    mid = shapely.line_interpolate_point(edge, 0.5, normalized=True)
    near = np.flatnonzero(shapely.dwithin(micro, mid, 1e-12))
    assert len(near) == 2  # on the edge between two micro-grids, up to floating-point noise
    exact = np.flatnonzero(shapely.intersects(micro, mid))  # the side(s) GEOS puts it on
    got = SpatialIndex(demo_layers).locate([mid.x], [mid.y])
    assert got.loc[0, "micro_grid_id"] == demo_layers.micro_grids["micro_grid_id"].iloc[exact.min()]
    assert set(exact) <= set(near)
    # the same answer every time, whatever the query order
    again = SpatialIndex(demo_layers).locate([120.0, mid.x, mid.x], [30.0, mid.y, mid.y])
    assert (again["micro_grid_id"].iloc[1:] == got.loc[0, "micro_grid_id"]).all()


def test_display_per_zoom_keeps_the_coverage_and_is_cached(demo_layers: GeoLayers) -> None:
    counts = []
    for zoom in (9, 12, 15, 18):
        fc = display_geojson(demo_layers, "micro_grids", zoom)
        assert display_geojson(demo_layers, "micro_grids", zoom) is fc
        assert display_geojson(demo_layers, "micro_grids", zoom + 0.2) is fc  # integer zooms share one entry
        geoms = gpd.GeoDataFrame.from_features(fc["features"]).geometry.to_numpy()
        assert len(geoms) == len(demo_layers.micro_grids)
        assert shapely.is_valid(geoms).all() and shapely.coverage_is_valid(geoms)  # no gaps, no overlaps
        counts.append(int(shapely.get_num_coordinates(geoms).sum()))
    assert counts == sorted(counts) and counts[0] < counts[-1]  # coarser at low zoom
    assert display_geojson(demo_layers, "grids", 3) is display_geojson(demo_layers, "grids", 8)  # clamped
    assert 50 < zoom_tolerance_m(10) < 70 and zoom_tolerance_m(18) < 0.3
