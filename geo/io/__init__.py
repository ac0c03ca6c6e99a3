"""The I/O boundary of ``geo``: every file and database read happens here, nowhere else.

Capability functions (the osmnx pattern: capability → private I/O → pure builder):

* ``read_source(src) -> LoadedLayer`` — one configured layer from a GeoPackage, GeoJSON, Shapefile (zipped too),
  FlatGeobuf or PostGIS, decoded (``geo.io.encoding``) and in EPSG:4326 (CRS on read: ``geo.crs.to_wgs84`` with
  the source's ``assume_crs``/``crs_hint``), with *its* columns; what is ours is decided later by
  ``geo.normalise``.
* ``discover(path)`` — which of our layers a GeoPackage or folder holds (layers/files named after ours).
* ``list_layers(path)``, ``read_toml(path)``.

Nothing here raises for a data problem: a layer that cannot be read is a ``LoadedLayer`` without a frame and with
an ``unreadable`` (or ``missing_crs`` …) error naming the source.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.columns import shared_strings
from geo.config import FILE_SUFFIXES, LayerSource
from geo.crs import COORD_COLUMNS, HINT_NAMES, datum_fingerprint, to_wgs84
from geo.io._files import list_layers, read_file, recover_nested
from geo.io._postgis import read_postgis
from geo.io.encoding import TextEncodingError, decode_text
from geo.problems import ConfigError, Problem
from geo.validate import LAYER_NAMES

__all__ = ["LoadedLayer", "discover", "list_layers", "read_source", "read_toml"]


@dataclass
class LoadedLayer:
    """One layer as read: ``frame`` (EPSG:4326, the source's own columns) is ``None`` when it could not be read
    or placed (the problems say why)."""

    source: LayerSource
    frame: gpd.GeoDataFrame | None
    problems: list[Problem] = field(default_factory=list)
    recovered: dict[int, Any] = field(default_factory=dict)  # row → EPSG:4326 geometry --fix can restore
    fingerprint: tuple[str, str] | None = None  # (crs hint, why) when the source looks GCJ-02/BD-09 (geo.crs)

    @property
    def file(self) -> str:
        """Where the layer came from, for messages (a database password is never shown)."""
        return self.source.label


def read_source(src: LayerSource) -> LoadedLayer:
    """Read one layer (file or PostGIS), recover what GDAL read as EMPTY where possible, and put it in EPSG:4326.

    Every reader's failure (missing file, broken file, database error …) becomes one ``unreadable`` error naming
    the source; a missing or implausible CRS is an error from ``geo.crs.to_wgs84``. Never raises for bad data.
    """
    problems: list[Problem] = []
    try:
        if src.is_postgis:
            raw = read_postgis(src.source, src.table, src.query, src.geometry_column)
        else:
            raw, problems = read_file(Path(src.source), src.source_layer, src.encoding, src.layer, src.label)
    except Exception as exc:  # every reader's failure becomes one error naming the source
        msg = f"cannot read {src.label}: {type(exc).__name__}: {str(exc).strip()[:300]}"
        return LoadedLayer(src, None, [Problem(src.layer, "", msg, "unreadable", "error", src.label)])
    raw = shared_strings(raw)  # before the next layer is read: its freed strings make room for that one's
    recovered: dict[int, Any] = {}
    if not src.is_postgis:
        empty = np.flatnonzero(shapely.is_empty(np.asarray(raw.geometry.values, dtype=object)))
        if len(empty):
            more, recovered = recover_nested(Path(src.source), empty, src.layer, src.label, src.encoding)
            problems += more
    fingerprint = _fingerprint(src, raw)
    if fingerprint is not None and not src.crs_hint:
        hint, why = fingerprint
        problems.append(
            Problem(src.layer, "", f"{why}: its coordinates are probably {HINT_NAMES[hint]}, read here as WGS-84 "
                    f"(~{'1.1 km' if hint == 'bd09' else '0.5 km'} off); set crs_hint = '{hint}' for {src.layer} "
                    "(or crs_hint = 'wgs84' if they are not)", "datum_fingerprint", "warning", src.label)
        )  # fmt: skip
    wgs, crs_problems = to_wgs84(raw, src.layer, src.label, src.assume_crs, src.crs_hint, src.towgs84)
    problems += crs_problems
    if wgs is not None and recovered:
        rec = gpd.GeoDataFrame(geometry=gpd.GeoSeries(list(recovered.values()), crs=raw.crs))
        moved, _ = to_wgs84(rec, src.layer, src.label, src.assume_crs, src.crs_hint, src.towgs84)
        recovered = dict(zip(recovered, moved.geometry if moved is not None else rec.geometry, strict=True))
    return LoadedLayer(src, wgs, problems, recovered, fingerprint)


def _fingerprint(src: LayerSource, raw: gpd.GeoDataFrame) -> tuple[str, str] | None:
    """``geo.crs.datum_fingerprint`` of a layer as read (only for geographic or unknown CRSs: a projected one
    is no web map's)."""
    if raw.crs is not None and not raw.crs.is_geographic:
        return None
    columns = [str(c) for c in raw.columns if c != raw.geometry.name]
    values = {c: raw[c].dropna().head(3).tolist() for c in columns if c.lower() in COORD_COLUMNS}
    return datum_fingerprint(src.source if not src.is_postgis else "", columns, values)


def discover(path: Path) -> dict[str, dict[str, str]]:
    """Our layers in a folder (files ``grids.geojson``, ``members.shp`` …, the first suffix of
    ``geo.config.FILE_SUFFIXES`` wins) or a GeoPackage (layers named ``grids`` …), as config tables
    ``{layer: {"source": file, "layer": gpkg layer}}``; ``{}`` for anything else or when none is named after ours.
    Raises pyogrio's ``DataSourceError`` for a file GDAL cannot open."""
    found: dict[str, dict[str, str]] = {}
    if path.is_dir():
        for name in LAYER_NAMES:
            file = next((path / f"{name}{s}" for s in FILE_SUFFIXES if (path / f"{name}{s}").exists()), None)
            if file is not None:
                found[name] = {"source": str(file)}
    elif path.suffix.lower() == ".gpkg":
        found = {n: {"source": str(path), "layer": n} for n in list_layers(path) if n in LAYER_NAMES}
    return found


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict. TOML is UTF-8, but Notepad on a Chinese Windows saves "ANSI" (GBK) or "UTF-8 with
    BOM": those are read too (``geo.io.encoding.decode_text``). ``FileNotFoundError`` if absent; ``ConfigError``
    naming the file and the parser's line/column when it is not valid TOML, or the byte no encoding decodes."""
    try:
        return tomllib.loads(decode_text(path.read_bytes()).text)
    except (tomllib.TOMLDecodeError, TextEncodingError) as exc:
        raise ConfigError(str(path), [f"not a valid TOML file: {exc}"]) from exc
