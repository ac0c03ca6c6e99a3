"""Validation of the geo layers' contract (columns, ids, geometry types, links): collect every problem, then raise
once. The spatial checks (overlaps, gaps, nesting …) are in ``geo.report``; both speak ``geo.problems.Problem``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.problems import GeoValidationError, Problem, reason_location

__all__ = [
    "BASIC_UNIT_KINDS",
    "FORCE_KINDS",
    "FOREIGN_KEYS",
    "LAYER_NAMES",
    "LAYER_SPECS",
    "REQUIRED_LAYER_NAMES",
    "GeoValidationError",
    "LayerSpec",
    "Problem",
    "validate_layer",
    "validate_links",
]


@dataclass(frozen=True, eq=False)  # eq=False: one spec per layer, compared (and hashed) by identity
class LayerSpec:
    """The contract of one layer: accepted geometry types, its id column, its columns, which of them may be absent,
    whether the layer itself may be absent, and the allowed values of its coded columns.

    * ``columns``: every attribute column of ours (id included), in display order;
    * ``optional_columns``: text columns of ``columns`` that existing data may lack; the normaliser
      (``geo.normalise``) adds them as "" (meaning "none"/"unknown"), so they are never reported missing;
    * ``optional``: the layer may be absent from a data set; it is then an empty layer (our columns, EPSG:4326)
      and at most a note, never an error;
    * ``codes``: column → allowed codes; a non-empty value outside them is a warning naming value and feature.
    """

    geometry: tuple[str, ...]  # accepted geometry types
    id_column: str
    columns: tuple[str, ...]  # every attribute column (id included)
    optional_columns: tuple[str, ...] = ()  # may be absent: filled with ""
    optional: bool = False  # the whole layer may be absent: empty then
    codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The columns a given layer must have (``columns`` less ``optional_columns``)."""
        return tuple(c for c in self.columns if c not in self.optional_columns)


# 九堡 六边形治理组团: the six kinds of responder forces (指导/自转/先锋/执法/共建/社会 力量).
FORCE_KINDS: tuple[str, ...] = ("guidance", "self_run", "vanguard", "enforcement", "co_building", "social")
# 基本单元: rental houses run through their landlords (房东带房客), shop streets (商业街/红街聚红盟).
BASIC_UNIT_KINDS: tuple[str, ...] = ("rental_house", "shop_street")

_POLY = ("Polygon", "MultiPolygon")  # contract says Polygon; real boundary files often carry MultiPolygons
_POINT = ("Point",)

# Volunteer teams and co-building units are both responder forces: the same optional, coded column.
_FORCE_KIND: Final[dict[str, Any]] = {"optional_columns": ("force_kind",), "codes": {"force_kind": FORCE_KINDS}}

LAYER_SPECS: dict[str, LayerSpec] = {
    "street": LayerSpec(_POLY, "street_id", ("street_id", "name")),
    "communities": LayerSpec(_POLY, "community_id", ("community_id", "name", "kind", "street_id")),
    "grids": LayerSpec(
        _POLY, "grid_id", ("grid_id", "name", "grid_type", "dedicated_kind", "community_id", "branch_id")
    ),
    "micro_grids": LayerSpec(
        _POLY,
        "micro_grid_id",
        ("micro_grid_id", "name", "grid_id", "community_id", "leader_id"),
        optional_columns=("leader_id",),  # 微网格长: a member_id, "" for none
    ),
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
    "volunteer_teams": LayerSpec(
        _POINT,
        "team_id",
        ("team_id", "name", "community_id", "focus", "size", "force_kind"),
        **_FORCE_KIND,
    ),
    "units": LayerSpec(
        _POINT,
        "unit_id",
        ("unit_id", "name", "kind", "community_id", "resources", "force_kind"),
        **_FORCE_KIND,
    ),
    "party_orgs": LayerSpec(_POINT, "org_id", ("org_id", "name", "level", "parent_id", "community_id", "grid_id")),
    "responsibility_zones": LayerSpec(_POLY, "zone_id", ("zone_id", "name", "party_group_id", "grid_id")),
    "basic_units": LayerSpec(
        _POINT,
        "basic_unit_id",
        ("basic_unit_id", "name", "kind", "community_id", "grid_id", "keeper_name", "phone", "tenants", "shops"),
        optional=True,
        codes={"kind": BASIC_UNIT_KINDS},
    ),
}

LAYER_NAMES: tuple[str, ...] = tuple(LAYER_SPECS)  # parents before children
# what a complete data set (the strict path, e.g. the demo GeoPackage) must hold; onescreen.toml needs only grids
REQUIRED_LAYER_NAMES: tuple[str, ...] = tuple(n for n, s in LAYER_SPECS.items() if not s.optional)

# (layer, column, referenced layer, referenced id column); "" means "no reference".
FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("communities", "street_id", "street", "street_id"),
    ("grids", "community_id", "communities", "community_id"),
    ("micro_grids", "grid_id", "grids", "grid_id"),
    ("micro_grids", "leader_id", "members", "member_id"),
    ("members", "grid_id", "grids", "grid_id"),
    ("members", "micro_grid_id", "micro_grids", "micro_grid_id"),
    ("households", "member_id", "members", "member_id"),
    ("households", "micro_grid_id", "micro_grids", "micro_grid_id"),
    ("party_orgs", "parent_id", "party_orgs", "org_id"),
    ("responsibility_zones", "grid_id", "grids", "grid_id"),
    ("basic_units", "community_id", "communities", "community_id"),
    ("basic_units", "grid_id", "grids", "grid_id"),
)


def feature_ids(gdf: pd.DataFrame, id_column: str) -> list[str]:
    """How problems name each row: its id, or ``row N`` (0-based) where it has none."""
    if id_column not in gdf.columns:
        return [f"row {i}" for i in range(len(gdf))]
    ids = gdf[id_column]
    return [f"row {i}" if pd.isna(v) or str(v) == "" else str(v) for i, v in enumerate(ids)]


TYPE_NAMES = np.asarray(
    ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
     "GeometryCollection"]
)  # fmt: skip


def geometry_type_names(geoms: np.ndarray) -> np.ndarray:
    """Type name per geometry ("None" for missing ones), vectorised."""
    ids = shapely.get_type_id(geoms)
    return np.where(ids < 0, "None", TYPE_NAMES[np.clip(ids, 0, 7)])


def validate_layer(name: str, gdf: gpd.GeoDataFrame, file: str = "", columns: bool = True) -> list[Problem]:
    """Columns (unless ``columns=False``; optional columns are never required), ids, coded values and geometry of
    one layer. Every problem is an error except a coded value outside ``LayerSpec.codes`` (a warning per feature,
    naming the value) and a layer of mixed geometry types (one warning besides the wrong-type features)."""
    spec = LAYER_SPECS[name]
    problems = (
        [Problem(name, "", f"missing required column {c!r}", "missing_column", file=file)
         for c in spec.required_columns if c not in gdf.columns]
        if columns else []
    )  # fmt: skip
    fids = feature_ids(gdf, spec.id_column)
    problems += _unknown_codes(name, gdf, spec, fids, file)

    if spec.id_column in gdf.columns:
        ids = gdf[spec.id_column]
        missing = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
        problems += [Problem(name, fids[i], "missing id", "missing_id", file=file) for i in np.flatnonzero(missing)]
        dup = ids.duplicated(keep="first").to_numpy() & ~missing
        problems += [Problem(name, fids[i], "duplicate id", "duplicate_id", file=file) for i in np.flatnonzero(dup)]

    geoms = np.asarray(gdf.geometry.values, dtype=object)
    null = pd.isna(geoms)
    problems += [
        Problem(name, fids[i], "missing geometry", "missing_geometry", file=file) for i in np.flatnonzero(null)
    ]
    present = np.flatnonzero(~null)
    g = geoms[present]
    empty = shapely.is_empty(g)
    problems += [
        Problem(name, fids[present[i]], "empty geometry (no coordinates; bounds are NaN)", "empty_geometry", file=file)
        for i in np.flatnonzero(empty)
    ]
    type_names = geometry_type_names(g)
    wrong = ~np.isin(type_names, spec.geometry) & ~empty
    expected = "/".join(spec.geometry)
    lines = np.isin(type_names, ("LineString", "MultiLineString", "LinearRing"))
    for i in np.flatnonzero(wrong):
        if lines[i] and "Polygon" in spec.geometry:
            closed = bool(np.all(shapely.is_closed(shapely.get_parts(g[i]))))
            hint = "; its lines form closed rings: --fix closes them into polygons" if closed else ""
            msg, kind = f"wrong geometry type {type_names[i]}: lines where polygons are expected{hint}", "lines"
        else:
            msg, kind = f"wrong geometry type {type_names[i]} (expected {expected})", "wrong_geometry_type"
        x, y = _anchor(g[i])
        problems.append(Problem(name, fids[present[i]], msg, kind, file=file, lon=x, lat=y))
    kinds = pd.Series(type_names[~empty]).map(lambda t: str(t).removeprefix("Multi")).value_counts()
    if len(kinds) > 1:
        counts = ", ".join(f"{n} {t}" for t, n in kinds.items())
        problems.append(Problem(name, "", f"mixed geometry types: {counts}", "mixed_types", "warning", file))
    check = np.flatnonzero(~empty)
    invalid = check[~shapely.is_valid(g[check])]
    for i in invalid:
        reason = str(shapely.is_valid_reason(g[i]))
        x, y = reason_location(reason)
        msg = f"invalid geometry: {reason.split('[')[0]}"
        problems.append(Problem(name, fids[present[i]], msg, "invalid_geometry", file=file, lon=x, lat=y))
    return problems


def _unknown_codes(name: str, gdf: pd.DataFrame, spec: LayerSpec, fids: list[str], file: str) -> list[Problem]:
    """A warning per feature whose coded column holds a non-empty value outside ``spec.codes``."""
    problems: list[Problem] = []
    for col, allowed in spec.codes.items():
        if col not in gdf.columns:
            continue
        values = gdf[col].fillna("").astype(str).str.strip()
        bad = (~values.isin(allowed) & (values != "")).to_numpy()
        problems += [
            Problem(name, fids[i], f"unknown {col} {values.iloc[i]!r} (row {i}; expected one of {', '.join(allowed)} "
                    "or their Chinese names)", "unknown_code", "warning", file)
            for i in np.flatnonzero(bad)
        ]  # fmt: skip
    return problems


def _anchor(geom: object) -> tuple[float | None, float | None]:
    """A point on the geometry to say where a problem is."""
    pt = shapely.point_on_surface(geom)
    if pt is None or shapely.is_empty(pt):
        return None, None
    return float(shapely.get_x(pt)), float(shapely.get_y(pt))


def validate_links(
    frames: Mapping[str, pd.DataFrame], files: Mapping[str, str] | None = None, severity: str = "error"
) -> list[Problem]:
    """Every foreign key points at an existing feature (or is "" where that means "none")."""
    problems: list[Problem] = []
    files = files or {}
    for layer, col, ref, ref_col in FOREIGN_KEYS:
        if layer not in frames or ref not in frames:
            continue
        src, dst = frames[layer], frames[ref]
        if col not in src.columns or ref_col not in dst.columns:
            continue
        values = src[col].fillna("").astype(str)
        bad = ~values.isin(set(dst[ref_col].astype(str))) & (values != "")
        fids = feature_ids(src, LAYER_SPECS[layer].id_column)
        problems += [
            Problem(
                layer,
                fids[i],
                f"{col}={values.iloc[i]!r} not found in {ref}.{ref_col} (orphan)",
                "dangling_reference",
                "error" if severity == "error" else "warning",
                files.get(layer, ""),
            )
            for i in np.flatnonzero(bad)
        ]
    return problems
