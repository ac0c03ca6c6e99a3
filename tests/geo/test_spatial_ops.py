"""Boundary rule of locate on shared edges."""

from __future__ import annotations

import numpy as np
import shapely

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
