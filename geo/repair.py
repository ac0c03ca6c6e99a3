"""``onescreen validate --fix OUT``: a repaired copy of the user's layers, and every change made.

In order, per layer the user gave: geometries GDAL read as EMPTY but the reader could recover (coordinates nested
too deep) are restored; in polygon layers lines are closed into polygons where they form rings
(``shapely.polygonize``); invalid geometries are made valid (``make_valid(method="structure")``, polygonal parts
kept); then slivers are snapped: when every overlap between siblings is a sliver (mean width ≤
``sliver_width_m``), ``shapely.coverage_clean`` snaps shared edges, gives each overlap to one neighbour and fills
gaps narrower than that width. An overlap wider than a sliver is a decision for people: the layer is left as it
is and the change list says so. The copy keeps every column (ours named ours) in EPSG:4326.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from geo.dataset import POLYGON_LAYERS, DataSet
from geo.model import utm_crs_for
from geo.validate import LAYER_SPECS


@dataclass(frozen=True)
class Change:
    """One change ``repair`` made (or could not make: ``not_fixed``); ``area_change_m2`` in the data's UTM zone."""

    layer: str
    feature_id: str
    action: str  # recovered, polygonized, made_valid, snapped, not_fixed
    detail: str
    file: str = ""
    area_change_m2: float | None = None

    def __str__(self) -> str:
        where = f"{self.layer}[{self.feature_id}]" if self.feature_id else self.layer
        delta = f" (area {self.area_change_m2:+,.1f} m²)" if self.area_change_m2 is not None else ""
        return f"{where}: {self.action}: {self.detail}{delta}"

    def to_dict(self) -> dict[str, Any]:
        """Every field, for JSON."""
        return asdict(self)


def _polygonal_part(geom: Any) -> Any:
    """The polygons of a geometry (a collection's polygon members), as a MultiPolygon when there are several."""
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if not len(polys):
        return shapely.MultiPolygon()
    return polys[0] if len(polys) == 1 else shapely.union_all(polys)


def _rings_to_polygons(geom: Any) -> Any:
    lines = shapely.get_parts(geom)
    polys = shapely.get_parts(shapely.polygonize(lines))
    if not len(polys):
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(list(shapely.get_parts(shapely.union_all(polys))))


def _sliver_width(geoms: np.ndarray) -> np.ndarray:
    """Mean width (2·area/perimeter) of each polygon, in the geometries' units."""
    return np.asarray(2 * shapely.area(geoms) / np.maximum(shapely.length(geoms), 1e-12))


def _snap(frame: gpd.GeoDataFrame, layer: str, file: str, width_m: float, changes: list[Change]) -> gpd.GeoDataFrame:
    ids = frame[LAYER_SPECS[layer].id_column].astype(str).to_numpy()
    metric = utm_crs_for(frame)
    g = np.asarray(frame.to_crs(metric).geometry.values, dtype=object)
    ok = np.isin(shapely.get_type_id(g), (3, 6)) & ~shapely.is_empty(g) & shapely.is_valid(g)
    if ok.sum() < 2 or not ok.all():
        return frame
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="overlaps")
    keep = a < b
    inter = shapely.intersection(g[a[keep]], g[b[keep]])
    area = shapely.area(inter)
    wide = (area > 0) & (_sliver_width(inter) > width_m)
    if wide.any():
        i, j = a[keep][wide][0], b[keep][wide][0]
        changes.append(
            Change(layer, "", "not_fixed", f"overlap of {area[wide][0]:,.0f} m² between {ids[i]} and {ids[j]} is no "
                   f"sliver (wider than {width_m} m): decide which item owns it; slivers not snapped", file)
        )  # fmt: skip
        return frame
    if shapely.coverage_is_valid(g, gap_width=width_m):
        return frame
    cleaned = np.asarray(shapely.coverage_clean(g, gap_width=width_m, snapping_distance=width_m / 2), dtype=object)
    moved = ~shapely.equals_exact(cleaned, g, tolerance=0.0)
    delta = shapely.area(cleaned) - shapely.area(g)
    for k in np.flatnonzero(moved):
        changes.append(Change(layer, ids[k], "snapped", "sliver overlaps/gaps snapped to neighbours", file,
                              float(delta[k])))  # fmt: skip
    out = frame.copy()
    out.geometry = gpd.GeoSeries(cleaned, crs=metric).to_crs(frame.crs).values
    return out


def repair(ds: DataSet) -> tuple[dict[str, gpd.GeoDataFrame], list[Change]]:
    """Repaired copies of the layers the user gave, and the changes (see the module doc)."""
    changes: list[Change] = []
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in sorted(ds.provided, key=list(LAYER_SPECS).index):
        frame = ds.frames[layer].copy()
        file = ds.files[layer]
        ids = frame[LAYER_SPECS[layer].id_column].astype(str).to_numpy()
        geoms = np.asarray(frame.geometry.values, dtype=object).copy()
        loaded = ds.loaded.get(layer)
        for row, geom in (loaded.recovered if loaded else {}).items():
            geoms[row] = geom
            changes.append(Change(layer, ids[row], "recovered", f"{shapely.get_num_coordinates(geom)} vertices "
                                  "restored from coordinates nested one level too deep", file))  # fmt: skip
        polygonal = "Polygon" in LAYER_SPECS[layer].geometry
        types = shapely.get_type_id(geoms)
        if polygonal:
            for k in np.flatnonzero(np.isin(types, (1, 2, 5))):
                poly = _rings_to_polygons(geoms[k])
                if poly is None:
                    changes.append(Change(layer, ids[k], "not_fixed", "lines form no closed ring", file))
                    continue
                geoms[k] = poly
                n = shapely.get_num_geometries(poly)
                changes.append(Change(layer, ids[k], "polygonized", f"closed lines into {n} polygon(s)", file))
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        bad = np.flatnonzero(present & ~shapely.is_valid(geoms))
        if len(bad):
            metric = utm_crs_for(frame)
            before = gpd.GeoSeries(geoms[bad], crs=frame.crs).to_crs(metric).area.to_numpy()
            fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
            if polygonal:
                fixed = np.asarray([_polygonal_part(f) for f in fixed], dtype=object)
            after = gpd.GeoSeries(fixed, crs=frame.crs).to_crs(metric).area.to_numpy()
            for k, reason, b, a in zip(bad, shapely.is_valid_reason(geoms[bad]), before, after, strict=True):
                changes.append(Change(layer, ids[k], "made_valid", f"was {reason}", file, float(a - b)))
            geoms[bad] = fixed
        frame = frame.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs))
        if layer in POLYGON_LAYERS and layer != "street":
            frame = _snap(frame, layer, file, ds.config.tolerances.sliver_width_m, changes)
        out[layer] = frame
    return out, changes


def write_repaired(frames: dict[str, gpd.GeoDataFrame], out: str | Path) -> list[Path]:
    """A GeoPackage with one layer per name, or — for one layer — any file type pyogrio writes (by suffix)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() != ".gpkg" and len(frames) != 1:
        raise ValueError(f"{path}: several layers ({', '.join(frames)}) need a .gpkg output")
    if path.exists():
        path.unlink()
    for layer, frame in frames.items():
        kwargs: dict[str, Any] = {"layer": layer} if path.suffix.lower() == ".gpkg" else {}
        if path.suffix.lower() == ".shp":
            kwargs["encoding"] = "UTF-8"
        pyogrio.write_dataframe(frame, path, **kwargs)
    return [path]
