from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

from geo.display import representative_points, to_geojson
from geo.index import SpatialIndex
from geo.layers import GeoLayers


def test_geojson_ids(demo_layers: GeoLayers) -> None:
    fc = to_geojson(demo_layers.grids, "grid_id")
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == demo_layers.grids["grid_id"].tolist()


def test_display_geometry_is_rounded_simplified_coverage(demo_layers: GeoLayers) -> None:
    fc = to_geojson(demo_layers.micro_grids, "micro_grid_id", tolerance_m=3.0, decimals=6)
    coords = np.concatenate([np.asarray(ring) for f in fc["features"] for ring in f["geometry"]["coordinates"]])
    np.testing.assert_array_equal(coords, np.round(coords, 6))
    shown = gpd.GeoDataFrame.from_features(fc["features"], crs=4326)
    geoms = shown.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)  # simplified neighbours still share edges
    original = demo_layers.micro_grids.geometry.to_numpy()
    assert shapely.get_num_coordinates(geoms).sum() <= shapely.get_num_coordinates(original).sum()
    assert shapely.hausdorff_distance(geoms, original).max() < 1e-4  # ~10 m
    raw = to_geojson(demo_layers.micro_grids, "micro_grid_id", tolerance_m=0, decimals=15)
    assert len(json.dumps(fc)) < len(json.dumps(raw))


def test_points_layer_and_properties(demo_layers: GeoLayers) -> None:
    fc = to_geojson(demo_layers.units, "unit_id", properties=["name", "kind"])
    first = fc["features"][0]
    assert first["geometry"]["type"] == "Point"
    assert first["properties"]["name"] == demo_layers.units["name"].iloc[0]


def test_representative_points_inside(demo_layers: GeoLayers) -> None:
    pts = representative_points(demo_layers.grids, "grid_id")
    assert list(pts.columns) == ["grid_id", "lon", "lat"]
    got = SpatialIndex(demo_layers).locate(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    assert (got["grid_id"].to_numpy() == pts["grid_id"].to_numpy()).all()
