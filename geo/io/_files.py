"""Private file readers behind ``geo.io``: GeoPackage, GeoJSON, Shapefile (zipped too, via ``/vsizip/``) and
FlatGeobuf through pyogrio/GDAL, with the quirks of real exports handled on the way."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.io.encoding import shapefile_encoding
from geo.problems import Problem

SHAPEFILE_SUFFIXES = (".zip", ".shp")
_MAX_RECOVER_BYTES = 50_000_000  # a GeoJSON parsed a second time (to explain EMPTY features) stays below this


def _zip_member(path: Path, member: str | None) -> str:
    """The ``.shp`` inside a zip: ``member`` (by path, stem or name) or the only one; ``ValueError`` otherwise."""
    with zipfile.ZipFile(path) as zf:
        shps = [n for n in zf.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    if member:
        wanted = [n for n in shps if n == member or Path(n).stem == member or Path(n).name == member]
        if not wanted:
            raise ValueError(f"{path}: no shapefile {member!r} inside (has {shps})")
        return wanted[0]
    if len(shps) != 1:
        raise ValueError(f"{path}: {len(shps)} shapefiles inside ({shps}); say which with layer = …")
    return shps[0]


def _ogr_target(path: Path, layer: str | None) -> tuple[str, str | None]:
    """What GDAL opens: a zipped Shapefile becomes ``/vsizip/archive.zip/inner.shp`` (its layer is the member)."""
    if path.suffix.lower() == ".zip":
        return f"/vsizip/{path}/{_zip_member(path, layer)}", None
    return str(path), layer


def read_file(path: Path, layer: str | None, encoding: str | None, ours: str, label: str) -> tuple[
    gpd.GeoDataFrame, list[Problem]
]:  # fmt: skip
    """One layer of a file, as GDAL reads it (the file's CRS and columns), and what was found on the way.

    ``layer``: the layer of a GeoPackage or the member of a zip (``None``: the first/only one). ``encoding``
    overrides a Shapefile's text encoding (else ``.cpg``, else detected). ``ours``/``label`` name the layer and
    source in problems. GDAL's warnings become ``gdal_warning`` problems. Raises what pyogrio raises
    (``DataSourceError`` …) and ``ValueError`` for a zip without a unique ``.shp``.
    """
    ogr_path, ogr_layer = _ogr_target(path, layer)
    problems: list[Problem] = []
    chosen = None
    shapefile = path.suffix.lower() in SHAPEFILE_SUFFIXES
    if shapefile:
        guess = shapefile_encoding(ogr_path, encoding)
        chosen = guess.encoding
        if guess.how == "detected":
            note = f"no .cpg: text decoded as {guess.encoding} (detected from the .dbf bytes; --encoding overrides)"
            problems.append(Problem(ours, "", note, "encoding_detected", "info", label))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = pyogrio.read_dataframe(ogr_path, layer=ogr_layer, encoding=chosen)
        except UnicodeDecodeError:
            if not shapefile:
                raise
            gdf = _read_cut_names(ogr_path, chosen or shapefile_encoding(ogr_path, None).encoding or "UTF-8")
    problems += [Problem(ours, "", f"GDAL: {str(w.message)[:90]}…", "gdal_warning", "warning", label) for w in caught]
    return gdf, problems


def _read_cut_names(ogr_path: str, encoding: str) -> gpd.GeoDataFrame:
    """A Shapefile whose field names were cut mid-character (10-byte limit): read bytes-as-Latin-1, then decode
    names and texts in ``encoding`` with U+FFFD for the cut character (reported by ``geo.text.text_problems``)."""
    raw = pyogrio.read_dataframe(ogr_path, encoding="ISO-8859-1")

    def fix(text: str) -> str:
        return text.encode("latin-1").decode(encoding, errors="replace")

    raw = raw.rename(columns={c: fix(c) for c in raw.columns if c != "geometry"})
    for col in raw.columns:
        if col != "geometry" and (raw[col].dtype == object or pd.api.types.is_string_dtype(raw[col])):
            raw[col] = raw[col].map(lambda v: fix(v) if isinstance(v, str) else v)
    return raw


# RFC 7946 §3.1: coordinate nesting depth of each geometry type.
_DEPTH = {"Point": 1, "LineString": 2, "MultiPoint": 2, "Polygon": 3, "MultiLineString": 3, "MultiPolygon": 4}


def _depth(coords: Any) -> int:
    n = 0
    while isinstance(coords, list) and coords:
        coords, n = coords[0], n + 1
    return n


def _flatten_to(coords: Any, want: int) -> Any:
    while _depth(coords) > want:  # drop the extra level(s) of nesting
        coords = [inner for outer in coords for inner in outer]
    return coords


def recover_nested(path: Path, rows: np.ndarray, ours: str, label: str) -> tuple[list[Problem], dict[int, Any]]:
    """Explain (and recover for ``--fix``) GeoJSON features GDAL read as EMPTY because their coordinates are nested
    deeper than RFC 7946 says for their type. ``rows``: the EMPTY rows. Returns the problems (one
    ``nested_coordinates`` error per such row, ``feature_id`` "row N") and row → recovered geometry, in the file's
    CRS. Files that are not GeoJSON, or larger than 50 MB, are not parsed again: ``([], {})``."""
    if path.suffix.lower() not in (".geojson", ".json") or path.stat().st_size > _MAX_RECOVER_BYTES:
        return [], {}
    features = json.loads(path.read_text(encoding="utf-8")).get("features", [])
    problems: list[Problem] = []
    recovered: dict[int, Any] = {}
    for row in rows:
        geom = features[row].get("geometry") if row < len(features) else None
        if not geom or geom.get("type") not in _DEPTH:
            continue
        coords, want = geom.get("coordinates"), _DEPTH[geom["type"]]
        have = _depth(coords)
        if have <= want:
            continue
        shape = shapely.geometry.shape({"type": geom["type"], "coordinates": _flatten_to(coords, want)})
        recovered[int(row)] = shape
        problems.append(
            Problem(
                ours,
                f"row {row}",
                f"reads as EMPTY (NaN bounds): its {geom['type']} coordinates are nested {have} levels deep, "
                f"{want} expected; --fix recovers {shapely.get_num_coordinates(shape)} vertices",
                "nested_coordinates",
                "error",
                label,
            )
        )
    return problems, recovered


def list_layers(path: Path) -> list[str]:
    """Layer names of a multi-layer file (GeoPackage), in file order. Raises pyogrio's ``DataSourceError``."""
    return [str(row[0]) for row in pyogrio.list_layers(path)]
