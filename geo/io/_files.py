"""Private file readers behind ``geo.io``: GeoPackage, GeoJSON, Shapefile (zipped too, via ``/vsizip/``) and
FlatGeobuf through pyogrio/GDAL, with the quirks of real exports handled on the way."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.io.encoding import decode_text, shapefile_encoding
from geo.problems import Problem

SHAPEFILE_SUFFIXES = (".zip", ".shp")
GEOJSON_SUFFIXES = (".geojson", ".json")
_MAX_RECOVER_BYTES = 50_000_000  # a GeoJSON parsed a second time (to explain EMPTY features) stays below this


def _ogr() -> ModuleType:
    """pyogrio, imported on the first read: loading GDAL costs a process ~50 MB of RSS, and a server that reads a
    city's layers in a child (``dashboard.runtime.read_served_apart``) never reads a file itself."""
    import pyogrio

    module: ModuleType = pyogrio
    return module


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
    if path.suffix.lower() in GEOJSON_SUFFIXES:
        return _read_geojson(path, encoding, ours, label)
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
            gdf = _ogr().read_dataframe(ogr_path, layer=ogr_layer, encoding=chosen, on_invalid="warn")
        except UnicodeDecodeError:
            if not shapefile:
                raise
            gdf = _read_cut_names(ogr_path, chosen or shapefile_encoding(ogr_path, None).encoding or "UTF-8")
    problems += [Problem(ours, "", f"GDAL: {str(w.message)[:90]}…", "gdal_warning", "warning", label) for w in caught]
    return gdf, problems


def _read_geojson(path: Path, encoding: str | None, ours: str, label: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """A GeoJSON file in whatever encoding its tool wrote (``geo.io.encoding.decode_text``: BOMs, UTF-16, GBK …;
    ``encoding`` overrides detection), read by GDAL from UTF-8, and what was found: the encoding when it was not
    plain UTF-8 (note ``encoding_detected``), GDAL's warnings, and features GDAL dropped (``dropped_features``,
    with the reason per feature). A geometry GDAL cannot build (an unclosed ring …) is read as missing (GDAL's
    warning says why) instead of failing the whole layer. Raises ``TextEncodingError`` and what pyogrio raises."""
    data = path.read_bytes()
    decoded = decode_text(data, encoding)
    problems: list[Problem] = []
    if decoded.how:
        note = f"text decoded as {decoded.how}; GeoJSON should be UTF-8 without a BOM (RFC 7946 §11)"
        problems.append(Problem(ours, "", note, "encoding_detected", "info", label))
    source: Any = str(path) if not decoded.how else io.BytesIO(decoded.text.encode("utf-8"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdf = _ogr().read_dataframe(source, on_invalid="warn")
    problems += [Problem(ours, "", f"GDAL: {str(w.message)[:200]}", "gdal_warning", "warning", label) for w in caught]
    if len(data) <= _MAX_RECOVER_BYTES:
        problems += _dropped(decoded.text, len(gdf), ours, label)
    return gdf, problems


def _feature_list(text: str) -> list[Any] | None:
    """The ``features`` array of a FeatureCollection, or ``None`` for anything else (or text that is not JSON)."""
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("features"), list):
        return list(obj["features"])
    return None


def _why_dropped(feature: Any) -> str | None:
    """Why GDAL's GeoJSON reader skips this member of ``features`` (``None``: it reads it)."""
    if not isinstance(feature, dict):
        return f"{json.dumps(feature)[:20]} is not a Feature object"
    kind = feature.get("type")
    if kind == "Feature":
        return None
    if kind is None:
        return 'no "type": "Feature"'
    return f'"type" is {json.dumps(kind)[:30]}, not "Feature"'


def _dropped(text: str, read: int, ours: str, label: str) -> list[Problem]:
    """One ``dropped_features`` warning when GDAL read fewer features than the file's ``features`` array holds:
    how many, and per feature (index in the array, first 10) why."""
    features = _feature_list(text)
    if features is None or len(features) <= read:
        return []
    why = [(i, r) for i, f in enumerate(features) if (r := _why_dropped(f)) is not None]
    shown = "; ".join(f"feature {i}: {r}" for i, r in why[:10]) + (" …" if len(why) > 10 else "")
    explained = f": {shown}" if len(why) == len(features) - read else ""
    msg = f"GDAL read {read} of the {len(features)} features in the file, {len(features) - read} dropped{explained}"
    return [Problem(ours, "", msg, "dropped_features", "warning", label)]


def _read_cut_names(ogr_path: str, encoding: str) -> gpd.GeoDataFrame:
    """A Shapefile whose field names were cut mid-character (10-byte limit): read bytes-as-Latin-1, then decode
    names and texts in ``encoding`` with U+FFFD for the cut character (reported by ``geo.text.text_problems``)."""
    raw = _ogr().read_dataframe(ogr_path, encoding="ISO-8859-1")

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


def recover_nested(
    path: Path, rows: np.ndarray, ours: str, label: str, encoding: str | None = None
) -> tuple[list[Problem], dict[int, Any]]:
    """Explain (and recover for ``--fix``) GeoJSON features GDAL read as EMPTY because their coordinates are nested
    deeper than RFC 7946 says for their type. ``rows``: the EMPTY rows. Returns the problems (one
    ``nested_coordinates`` error per such row, ``feature_id`` "row N") and row → recovered geometry, in the file's
    CRS. Files that are not GeoJSON, or larger than 50 MB, are not parsed again: ``([], {})``. The file is decoded
    as ``read_file`` does (``encoding`` overrides); rows count the features GDAL kept (``_why_dropped``)."""
    if path.suffix.lower() not in GEOJSON_SUFFIXES or path.stat().st_size > _MAX_RECOVER_BYTES:
        return [], {}
    listed = _feature_list(decode_text(path.read_bytes(), encoding).text) or []
    features = [f for f in listed if _why_dropped(f) is None]
    problems: list[Problem] = []
    recovered: dict[int, Any] = {}
    for row in rows:
        geom = features[row].get("geometry") if row < len(features) else None
        if not isinstance(geom, dict) or geom.get("type") not in _DEPTH:
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
    return [str(row[0]) for row in _ogr().list_layers(path)]
