"""Validation of the geo layers: collect every problem, then raise once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


@dataclass(frozen=True)
class LayerSpec:
    geometry: tuple[str, ...]  # accepted geometry types
    id_column: str
    columns: tuple[str, ...]  # required attribute columns (id included)


_POLY = ("Polygon", "MultiPolygon")  # contract says Polygon; real boundary files often carry MultiPolygons
_POINT = ("Point",)

LAYER_SPECS: dict[str, LayerSpec] = {
    "street": LayerSpec(_POLY, "street_id", ("street_id", "name")),
    "communities": LayerSpec(_POLY, "community_id", ("community_id", "name", "kind", "street_id")),
    "grids": LayerSpec(
        _POLY, "grid_id", ("grid_id", "name", "grid_type", "dedicated_kind", "community_id", "branch_id")
    ),
    "micro_grids": LayerSpec(_POLY, "micro_grid_id", ("micro_grid_id", "name", "grid_id", "community_id")),
    "members": LayerSpec(
        _POINT,
        "member_id",
        (
            "member_id",
            "name",
            "phone",
            "role",
            "branch_id",
            "party_group_id",
            "grid_id",
            "micro_grid_id",
            "skills",
            "on_duty",
            "team_id",
        ),
    ),
    "households": LayerSpec(
        _POINT, "household_id", ("household_id", "head_name", "phone", "size", "member_id", "micro_grid_id", "grid_id")
    ),
    "volunteer_teams": LayerSpec(_POINT, "team_id", ("team_id", "name", "community_id", "focus", "size")),
    "units": LayerSpec(_POINT, "unit_id", ("unit_id", "name", "kind", "community_id", "resources")),
    "party_orgs": LayerSpec(_POINT, "org_id", ("org_id", "name", "level", "parent_id", "community_id", "grid_id")),
    "responsibility_zones": LayerSpec(_POLY, "zone_id", ("zone_id", "name", "party_group_id", "grid_id")),
}

# (layer, column, referenced layer, referenced id column); "" means "no reference".
FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("communities", "street_id", "street", "street_id"),
    ("grids", "community_id", "communities", "community_id"),
    ("micro_grids", "grid_id", "grids", "grid_id"),
    ("members", "grid_id", "grids", "grid_id"),
    ("members", "micro_grid_id", "micro_grids", "micro_grid_id"),
    ("households", "member_id", "members", "member_id"),
    ("households", "micro_grid_id", "micro_grids", "micro_grid_id"),
    ("party_orgs", "parent_id", "party_orgs", "org_id"),
    ("responsibility_zones", "grid_id", "grids", "grid_id"),
)


@dataclass(frozen=True)
class Problem:
    layer: str
    feature_id: str  # the feature's id, "row N" when it has none, "" for layer-wide problems
    reason: str

    def __str__(self) -> str:
        where = f"{self.layer}[{self.feature_id}]" if self.feature_id else self.layer
        return f"{where}: {self.reason}"


_MAX_LINES = 100


class GeoValidationError(ValueError):
    """Every problem found in a data set, raised once."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = [f"  - {p}" for p in self.problems[:_MAX_LINES]]
        if len(self.problems) > _MAX_LINES:  # the full list stays in .problems
            shown.append(f"  … and {len(self.problems) - _MAX_LINES} more")
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n" + "\n".join(shown))


def _feature_ids(gdf: pd.DataFrame, id_column: str) -> list[str]:
    if id_column not in gdf.columns:
        return [f"row {i}" for i in range(len(gdf))]
    ids = gdf[id_column]
    return [f"row {i}" if pd.isna(v) or str(v) == "" else str(v) for i, v in enumerate(ids)]


def validate_layer(name: str, gdf: gpd.GeoDataFrame) -> list[Problem]:
    """Columns, ids and geometry of one layer."""
    spec = LAYER_SPECS[name]
    problems = [Problem(name, "", f"missing required column {c!r}") for c in spec.columns if c not in gdf.columns]
    fids = _feature_ids(gdf, spec.id_column)

    if spec.id_column in gdf.columns:
        ids = gdf[spec.id_column]
        missing = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
        problems += [Problem(name, fids[i], "missing id") for i in np.flatnonzero(missing)]
        dup = ids.duplicated(keep="first").to_numpy() & ~missing
        problems += [Problem(name, fids[i], "duplicate id") for i in np.flatnonzero(dup)]

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    null = pd.isna(geoms)
    problems += [Problem(name, fids[i], "missing geometry") for i in np.flatnonzero(null)]
    present = np.flatnonzero(~null)
    g = geoms[present]
    empty = shapely.is_empty(g)
    problems += [Problem(name, fids[present[i]], "empty geometry") for i in np.flatnonzero(empty)]
    types = shapely.get_type_id(g)
    type_names = np.asarray(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                             "MultiPolygon", "GeometryCollection"])[np.clip(types, 0, 7)]  # fmt: skip
    wrong = ~np.isin(type_names, spec.geometry) & ~empty
    problems += [
        Problem(name, fids[present[i]], f"wrong geometry type {type_names[i]} (expected {'/'.join(spec.geometry)})")
        for i in np.flatnonzero(wrong)
    ]
    invalid = ~shapely.is_valid(g) & ~empty
    problems += [
        Problem(name, fids[present[i]], f"invalid geometry: {shapely.is_valid_reason(g[i])}")
        for i in np.flatnonzero(invalid)
    ]
    return problems


def validate_links(frames: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Every foreign key points at an existing feature (or is "" where that means "none")."""
    problems: list[Problem] = []
    for layer, col, ref, ref_col in FOREIGN_KEYS:
        if layer not in frames or ref not in frames:
            continue
        src, dst = frames[layer], frames[ref]
        if col not in src.columns or ref_col not in dst.columns:
            continue
        values = src[col].fillna("").astype(str)
        bad = ~values.isin(set(dst[ref_col].astype(str))) & (values != "")
        fids = _feature_ids(src, LAYER_SPECS[layer].id_column)
        problems += [
            Problem(layer, fids[i], f"{col}={values.iloc[i]!r} not found in {ref}.{ref_col}")
            for i in np.flatnonzero(bad)
        ]
    return problems
