"""Reading users' layers: GeoPackage, GeoJSON, Shapefile (zipped too, via /vsizip/), FlatGeobuf and PostGIS.

``read_source`` returns one layer as read (columns mapped to ours, EPSG:4326) with what was found on the way;
``load_layers`` is the one entry point servers use: a config file, or a bare data path, → ``GeoLayers``.
"""

from __future__ import annotations

import json
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.columns import column_mapping
from geo.config import Config, ConfigError, LayerSource, config_for_path, load_config, missing_required
from geo.crs import to_wgs84
from geo.encoding import shapefile_encoding, text_problems
from geo.layers import LAYER_NAMES, GeoLayers, read_layers
from geo.problems import GeoValidationError, Problem

log = logging.getLogger(__name__)

__all__ = ["ConfigError", "LoadedLayer", "load_layers", "read_source", "resolve_config"]


@dataclass
class LoadedLayer:
    """One layer as read: ``frame`` is ``None`` when it could not be read (the problems say why)."""

    source: LayerSource
    frame: gpd.GeoDataFrame | None
    problems: list[Problem] = field(default_factory=list)
    recovered: dict[int, Any] = field(default_factory=dict)  # row → geometry --fix can restore
    renamed: dict[str, str] = field(default_factory=dict)  # their column → ours

    @property
    def file(self) -> str:
        return self.source.label


def _zip_member(path: Path, member: str | None) -> str:
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


def _read_file(src: LayerSource) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    path = Path(src.source)
    suffix = path.suffix.lower()
    problems: list[Problem] = []
    layer: str | None = src.source_layer
    if suffix == ".zip":
        ogr_path, layer = f"/vsizip/{path}/{_zip_member(path, src.source_layer)}", None
    else:
        ogr_path = str(path)
    encoding = None
    if suffix in (".zip", ".shp"):
        guess = shapefile_encoding(ogr_path, src.encoding)
        encoding = guess.encoding
        if guess.how == "detected":
            note = f"no .cpg: text decoded as {guess.encoding} (detected from the .dbf bytes; --encoding overrides)"
            problems.append(Problem(src.layer, "", note, "encoding_detected", "info", src.label))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = pyogrio.read_dataframe(ogr_path, layer=layer, encoding=encoding)
        except UnicodeDecodeError:
            if suffix not in (".zip", ".shp"):
                raise
            gdf = _read_cut_names(ogr_path, encoding or shapefile_encoding(ogr_path, None).encoding or "UTF-8")
    for w in caught:
        problems.append(Problem(src.layer, "", f"GDAL: {str(w.message)[:90]}…", "gdal_warning", "warning", src.label))
    return gdf, problems


def _read_cut_names(ogr_path: str, encoding: str) -> gpd.GeoDataFrame:
    """A Shapefile whose field names were cut mid-character (10-byte limit): read bytes-as-Latin-1, then decode
    names and texts in ``encoding`` with U+FFFD for the cut character (reported by ``text_problems``)."""
    raw = pyogrio.read_dataframe(ogr_path, encoding="ISO-8859-1")

    def fix(text: str) -> str:
        return text.encode("latin-1").decode(encoding, errors="replace")

    raw = raw.rename(columns={c: fix(c) for c in raw.columns if c != "geometry"})
    for col in raw.columns:
        if col != "geometry" and (raw[col].dtype == object or pd.api.types.is_string_dtype(raw[col])):
            raw[col] = raw[col].map(lambda v: fix(v) if isinstance(v, str) else v)
    return raw


def _quote(conn: Any, name: str) -> str:
    prep = conn.dialect.identifier_preparer
    return ".".join(prep.quote(part) for part in name.split("."))


def _read_postgis(src: LayerSource) -> gpd.GeoDataFrame:
    """``geopandas.read_postgis`` through SQLAlchemy + psycopg 3; the SRID gives the CRS (0 → none)."""
    from sqlalchemy import create_engine, text

    url = src.source
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url.removeprefix(scheme)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if src.table:
                schema, _, table = src.table.rpartition(".")
                geom_col = (
                    src.geometry_column
                    or conn.execute(
                        text(
                            "SELECT f_geometry_column FROM geometry_columns WHERE f_table_name = :t "
                            "AND f_table_schema = COALESCE(NULLIF(:s, ''), current_schema()) LIMIT 1"
                        ),
                        {"t": table, "s": schema},
                    ).scalar()
                )
                sql = f"SELECT * FROM {_quote(conn, src.table)}"
            else:
                sql = str(src.query)
                geom_col = src.geometry_column or _geometry_column_of_query(conn, sql)
            if not geom_col:
                raise ValueError("no geometry column found: set geometry_column = …")
            gdf = gpd.read_postgis(text(sql), conn, geom_col=str(geom_col))
    finally:
        engine.dispose()
    return gdf.rename_geometry("geometry") if gdf.geometry.name != "geometry" else gdf


def _geometry_column_of_query(conn: Any, sql: str) -> str | None:
    from sqlalchemy import text

    oid = conn.execute(text("SELECT oid FROM pg_type WHERE typname = 'geometry'")).scalar()
    result = conn.execute(text(f"SELECT * FROM ({sql}) AS q LIMIT 0"))
    for col in result.cursor.description:
        if col.type_code == oid:
            return str(col.name)
    return None


_DEPTH = {"Point": 1, "LineString": 2, "MultiPoint": 2, "Polygon": 3, "MultiLineString": 3, "MultiPolygon": 4}


def _depth(coords: Any) -> int:
    n = 0
    while isinstance(coords, list) and coords:
        coords, n = coords[0], n + 1
    return n


def _recover_geojson(path: Path, rows: np.ndarray, layer: str, file: str) -> tuple[list[Problem], dict[int, Any]]:
    """Explain (and recover for --fix) features GDAL read as EMPTY because their coordinates are nested too deep."""
    if path.suffix.lower() not in (".geojson", ".json") or path.stat().st_size > 50_000_000:
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
        while _depth(coords) > want:  # drop the extra level(s) of nesting
            coords = [inner for outer in coords for inner in outer]
        shape = shapely.geometry.shape({"type": geom["type"], "coordinates": coords})
        recovered[int(row)] = shape
        problems.append(
            Problem(
                layer,
                f"row {row}",
                f"reads as EMPTY (NaN bounds): its {geom['type']} coordinates are nested {have} levels deep, "
                f"{want} expected; --fix recovers {shapely.get_num_coordinates(shape)} vertices",
                "nested_coordinates",
                "error",
                file,
            )
        )
    return problems, recovered


def read_source(src: LayerSource) -> LoadedLayer:
    """Read one layer: map its columns, put it in EPSG:4326, and note encodings, CRS and quirks found."""
    problems: list[Problem] = []
    try:
        if src.is_postgis:
            raw = _read_postgis(src)
        else:
            raw, problems = _read_file(src)
    except Exception as exc:  # every reader's failure becomes one error naming the source
        msg = f"cannot read {src.label}: {type(exc).__name__}: {str(exc).strip()[:300]}"
        return LoadedLayer(src, None, [Problem(src.layer, "", msg, "unreadable", "error", src.label)])
    mapping, missing = column_mapping(src.layer, [str(c) for c in raw.columns], src.columns)
    problems += text_problems(raw, src.layer, src.label, mapping)
    problems += [
        Problem(src.layer, "", f"mapped column {c!r} is not in the file (has {[str(x) for x in raw.columns]})",
                "missing_column", "error", src.label)
        for c in missing
    ]  # fmt: skip
    renamed = {k: v for k, v in mapping.items() if k != v}
    if renamed:
        shown = ", ".join(f"{k} → {v}" for k, v in renamed.items())
        problems.append(Problem(src.layer, "", f"columns read as ours: {shown}", "columns_mapped", "info", src.label))
    frame = raw.rename(columns=renamed)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    recovered: dict[int, Any] = {}
    if not src.is_postgis:
        empty = np.flatnonzero(shapely.is_empty(np.asarray(frame.geometry.values, dtype=object)))
        if len(empty):
            more, recovered = _recover_geojson(Path(src.source), empty, src.layer, src.label)
            problems += more
    wgs, crs_problems = to_wgs84(frame, src.layer, src.label, src.assume_crs, src.crs_hint)
    problems += crs_problems
    if wgs is not None and recovered:
        rec = gpd.GeoDataFrame(geometry=gpd.GeoSeries(list(recovered.values()), crs=frame.crs))
        moved, _ = to_wgs84(rec, src.layer, src.label, src.assume_crs, src.crs_hint)
        recovered = dict(zip(recovered, moved.geometry if moved is not None else rec.geometry, strict=True))
    return LoadedLayer(src, wgs, problems, recovered, renamed)


def resolve_config(
    data_path: str | Path | None = None,
    config_path: str | Path | None = None,
    *,
    encoding: str | None = None,
    assume_crs: str | None = None,
    crs_hint: str | None = None,
    layer: str | None = None,
) -> Config:
    """The config for a config file (``*.toml``), or for a bare data path (GeoPackage, folder, one file)."""
    target = config_path or data_path
    if target is None:
        raise ValueError("give a data path or a config file")
    if Path(target).suffix.lower() == ".toml":
        return load_config(target, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint)
    return config_for_path(target, layer=layer, encoding=encoding, assume_crs=assume_crs, crs_hint=crs_hint)


def load_layers(
    data_path: str | Path | None = None,
    config_path: str | Path | None = None,
    *,
    encoding: str | None = None,
    assume_crs: str | None = None,
) -> GeoLayers:
    """The one way servers get their layers: ``config_path`` (onescreen.toml) if given, else ``data_path``.

    A complete GeoPackage or folder (every layer, every column, like the demo data) is read as by
    ``geo.layers.read_layers``; anything else goes through the config machinery, where only ``grids`` is
    required and missing layers/columns get defaults (``geo.dataset``). Raises ``GeoValidationError`` with every
    error (warnings are logged), ``ConfigError`` for a bad config, ``FileNotFoundError``.
    """
    from geo.dataset import build_dataset

    if config_path is None and data_path is not None:
        path = Path(data_path)
        if not path.exists():
            raise FileNotFoundError(path)
        if path.suffix.lower() == ".gpkg":
            available = {str(row[0]) for row in pyogrio.list_layers(path)}
            if available >= set(LAYER_NAMES):
                return read_layers(path)
    config = resolve_config(data_path, config_path, encoding=encoding, assume_crs=assume_crs)
    if message := missing_required(config.layers):
        raise ConfigError(config.label, [message])
    dataset = build_dataset(config)
    errors = [p for p in dataset.problems if p.is_error]
    if errors:
        raise GeoValidationError(config.label, dataset.problems)
    for p in dataset.problems:
        if p.severity == "warning":
            log.warning("%s [%s]", p, p.file)
    return GeoLayers.from_frames(dataset.frames, config.label, dataset.files)
