"""Display geometry for Plotly: simplified, rounded GeoJSON built once per layer, and label points."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.model import GeoLayers
from geo.validate import LAYER_SPECS

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


@lru_cache(maxsize=32)
def layer_geojson(layers: GeoLayers, layer: str, tolerance_m: float = 2.0, decimals: int = 6) -> dict[str, Any]:
    """Cached :func:`to_geojson` of a named layer (ids from the layer's id column). Shared: do not mutate."""
    return to_geojson(layers.layer(layer), LAYER_SPECS[layer].id_column, tolerance_m=tolerance_m, decimals=decimals)


# Web-Mercator ground resolution at the equator, zoom 0 (m/px); times cos(lat) / 2**zoom elsewhere.
_M_PER_PX_Z0 = 156_543.03392
MIN_ZOOM, MAX_ZOOM = 8, 18


def zoom_tolerance_m(zoom: float, lat: float = 30.0, pixels: float = 0.5) -> float:
    """Simplification tolerance for a zoom level: ``pixels`` screen pixels on the ground (half a pixel at 30° N:
    ~58 m at zoom 10, ~1.8 m at zoom 15, ~0.06 m at 20)."""
    return float(pixels * _M_PER_PX_Z0 * np.cos(np.radians(lat)) / 2.0 ** float(zoom))


def zoom_decimals(zoom: int) -> int:
    """Coordinate decimals that stay below a pixel: 4 up to zoom 11 (~10 m), 5 up to 14 (~1 m), else 6."""
    return 4 if zoom <= 11 else 5 if zoom <= 14 else 6


@lru_cache(maxsize=128)
def display_geojson(layers: GeoLayers, layer: str, zoom: float) -> dict[str, Any]:
    """GeoJSON of ``layer`` for a map at ``zoom``, coverage-simplified (neighbours keep shared edges, so no gaps
    open) with half a pixel of tolerance and pixel-sized rounding. Computed once per (layers, layer, integer zoom)
    and cached; zooms are clamped to 8…18. Shared: do not mutate."""
    z = int(min(max(round(zoom), MIN_ZOOM), MAX_ZOOM))
    if z != zoom:
        return display_geojson(layers, layer, z)
    frame = layers.layer(layer)
    lat = float(np.mean(frame.total_bounds[[1, 3]])) if len(frame) else 30.0
    return to_geojson(
        frame, LAYER_SPECS[layer].id_column, tolerance_m=zoom_tolerance_m(z, lat), decimals=zoom_decimals(z)
    )


def representative_points(gdf: gpd.GeoDataFrame, id_column: str) -> pd.DataFrame:
    """A label point guaranteed inside each feature (``point_on_surface``): columns id, lon, lat."""
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(gdf.geometry.values, dtype=object)))
    return pd.DataFrame({id_column: gdf[id_column].astype(str).to_numpy(), "lon": xy[:, 0], "lat": xy[:, 1]})
