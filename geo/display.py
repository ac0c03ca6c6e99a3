"""Display geometry for Plotly: simplified, rounded GeoJSON built once per layer, and label points."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

_M_PER_DEG = 111_320.0


def simplify_coverage(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Coverage-preserving simplification (neighbours keep shared edges, no gaps/slivers appear).

    Falls back to the input geometry wherever the result is invalid or empty (e.g. a layer that is not a
    clean coverage), so the display never loses a feature.
    """
    if tolerance_m <= 0 or not len(geoms):
        return geoms
    simplified = np.asarray(shapely.coverage_simplify(geoms, tolerance_m / _M_PER_DEG), dtype=object)
    bad = ~shapely.is_valid(simplified) | shapely.is_empty(simplified)
    simplified[bad] = geoms[bad]
    return simplified


def to_geojson(
    gdf: gpd.GeoDataFrame,
    id_column: str,
    *,
    tolerance_m: float = 2.0,
    decimals: int = 6,
    properties: Sequence[str] = (),
) -> dict[str, Any]:
    """A GeoJSON ``FeatureCollection`` dict (feature ``id`` = ``gdf[id_column]``) for ``go.Choroplethmap``.

    Polygons are coverage-simplified (``tolerance_m`` metres) and coordinates rounded to ``decimals``
    (6 ≈ 0.1 m), which keeps the payload small; points are only rounded.
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if polygonal.all():
        geoms = simplify_coverage(geoms, tolerance_m)
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    # One C-level serialisation + one json.loads is far faster than a per-feature __geo_interface__.
    geometries = json.loads("[" + ",".join(shapely.to_geojson(rounded)) + "]")
    ids = gdf[id_column].astype(str).tolist()
    props = pd.DataFrame(gdf[list(properties)]).to_dict("records") if properties else [{} for _ in ids]
    features = [
        {"type": "Feature", "id": fid, "properties": {"id": fid, **p}, "geometry": g}
        for fid, p, g in zip(ids, props, geometries, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def representative_points(gdf: gpd.GeoDataFrame, id_column: str) -> pd.DataFrame:
    """A label point guaranteed inside each feature (``point_on_surface``): columns id, lon, lat."""
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object)))
    return pd.DataFrame({id_column: gdf[id_column].astype(str).to_numpy(), "lon": xy[:, 0], "lat": xy[:, 1]})


def shifted_to_gcj02(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` (EPSG:4326, WGS-84) with every coordinate moved to GCJ-02 (``geo.gcj02``), for drawing
    over tiles made for Chinese web maps (Amap, Tencent): they are offset by the GCJ-02 shift, ~300–600 m in
    Zhejiang. Vectorised (``shapely.transform``); the CRS label stays EPSG:4326 (GCJ-02 has no EPSG code). A
    point layer kept as ``lon``/``lat`` columns (``geo.columns.point_columns``) has those columns moved."""
    from geo.gcj02 import wgs84_to_gcj02

    def shift(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    if "geometry" not in gdf.columns and {"lon", "lat"} <= set(gdf.columns):  # geo.columns.point_columns
        lon, lat = wgs84_to_gcj02(gdf["lon"].to_numpy(dtype=float), gdf["lat"].to_numpy(dtype=float))
        return gdf.assign(lon=lon, lat=lat)
    out = gdf.copy()
    out.geometry = shapely.transform(gdf.geometry.to_numpy(), shift)
    return out


def display_layers(layers: Any, crs: str) -> Any:
    """``layers`` (a ``geo.model.GeoLayers``) as drawn over a basemap in ``crs``: the same object for ``wgs84``,
    every layer ``shifted_to_gcj02`` for ``gcj02``. Only for drawing: locating, distances and areas stay on the
    WGS-84 layers. ``ValueError`` for another ``crs``."""
    if crs == "wgs84":
        return layers
    if crs != "gcj02":
        raise ValueError(f"display CRS {crs!r}: expected wgs84 or gcj02")
    from dataclasses import fields, replace

    shifted = {f.name: shifted_to_gcj02(getattr(layers, f.name)) for f in fields(layers) if f.name != "metric_crs"}
    return replace(layers, **shifted)
