"""The one normaliser: a layer's columns, ids and values in our shape, the same rules for every path (the demo
GeoPackage, a user's ``onescreen.toml``, in-memory frames).

Rules, in order:

1. the geometry column is called ``geometry``;
2. columns are mapped to ours (``geo.columns.column_mapping``: the config's explicit mapping, then usual Chinese
   field names); a column that appears twice after mapping keeps its first occurrence;
3. coded columns get our codes (``geo.columns.coded``: 是/否, 综合网格, 村 …);
4. ids, references and text (every column of ``geo.validate.LAYER_SPECS`` but ``size``/``on_duty``, and any other
   text column) become ``str`` (``geo.columns.as_text``: ``1`` not ``1.0``, missing → ``""``, so a missing id
   stays detectable as ``""``);
5. ``on_duty`` becomes ``bool`` (missing → ``False``), ``size``/``tenants``/``shops`` ``int64``
   (missing/unparseable → 0);
6. the spec's *optional* columns (``LayerSpec.optional_columns``: a micro-grid's ``leader_id``, a team's or
   unit's ``force_kind``) that the frame lacks are added as "" — the one place they are filled, for every path.

The CRS is not decided here: layers are put in EPSG:4326 on read (``geo.io``) or by ``geo.crs.to_wgs84``.
Other columns and values that are not there are not invented here: that is ``geo.dataset`` (defaults) or an
error (``geo.validate``). ``empty_layer`` is the shape of an absent layer (an optional one, or a default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.columns import VALUES, as_text, coded, column_mapping
from geo.crs import WGS84
from geo.problems import Problem
from geo.text import text_problems
from geo.validate import LAYER_SPECS

INT_COLUMNS = ("size", "tenants", "shops")
BOOL_COLUMNS = ("on_duty",)
TEXT_COLUMNS = frozenset(c for spec in LAYER_SPECS.values() for c in spec.columns) - {*INT_COLUMNS, *BOOL_COLUMNS}


def normalise_layer(
    name: str, frame: gpd.GeoDataFrame, file: str = "", columns: Mapping[str, str] | None = None
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """``frame`` (layer ``name`` of ``geo.validate.LAYER_SPECS``) with our column names and value types (the rules
    of the module doc), and what was found: columns mapped (info), explicitly mapped columns absent from the
    source (error ``missing_column``), garbled text and cut field names (warnings, ``geo.text.text_problems``).

    ``columns`` is the config's ``{theirs: ours}``; ``file`` names the source in problems. Idempotent: a frame
    already in our shape comes back equal. The input is not modified; the index is reset to 0…n-1.
    """
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    explicit = dict(columns or {})
    mapping, missing = column_mapping(name, [str(c) for c in frame.columns], explicit)
    problems = text_problems(frame, name, file, mapping)
    problems += [
        Problem(name, "", f"mapped column {c!r} is not in the file (has {[str(x) for x in frame.columns]})",
                "missing_column", "error", file)
        for c in missing
    ]  # fmt: skip
    renamed = {k: v for k, v in mapping.items() if k != v}
    if renamed:
        shown = ", ".join(f"{k} → {v}" for k, v in renamed.items())
        problems.append(Problem(name, "", f"columns read as ours: {shown}", "columns_mapped", "info", file))
    out = frame.rename(columns=renamed)
    out = out.loc[:, ~out.columns.duplicated()].reset_index(drop=True)
    out = _coerce(out)
    for col in LAYER_SPECS[name].optional_columns:  # rule 6
        if col not in out.columns:
            out[col] = ""
    return out, problems


def empty_layer(name: str) -> gpd.GeoDataFrame:
    """Layer ``name`` with no rows: our columns (``bool``/``int64`` for the columns of rule 5, else object),
    EPSG:4326."""
    cols: dict[str, Any] = {}
    for col in LAYER_SPECS[name].columns:
        dtype = bool if col in BOOL_COLUMNS else "int64" if col in INT_COLUMNS else object
        cols[col] = pd.Series(dtype=dtype)
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _coerce(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rules 3–5 of the module doc, on a copy."""
    frame = frame.copy()
    for col in frame.columns:
        if col == "geometry":
            continue
        if col in VALUES:
            frame[col] = coded(col, frame[col])
        if col in BOOL_COLUMNS:
            frame[col] = frame[col].fillna(False).astype(bool)
        elif col in INT_COLUMNS:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").fillna(0).astype("int64")
        elif col in TEXT_COLUMNS or _is_text(frame[col]):
            frame[col] = as_text(frame[col])
    return frame
