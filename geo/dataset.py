"""A user's layers made complete: ids and references as strings, names resolved to ids, missing columns and layers
filled with sensible defaults, so the dashboard runs with only ``grids``.

Defaults: no ``communities`` → grids dissolved by their ``community_id`` (or one community over all grids); no
``street`` → the union of the communities; no ``micro_grids`` → each grid is its own micro-grid; point/zone layers
→ empty. A missing reference column (a grid's ``community_id``, a member's ``grid_id`` …) is filled by location
(the containing feature; on a shared boundary the first in the layer, as ``SpatialIndex.locate``). References
given as *names* (``所属社区 = 兴普社区``) are resolved to ids when the name is unique.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.config import REQUIRED_LAYERS, Config
from geo.crs import WGS84
from geo.io import LoadedLayer
from geo.normalise import empty_layer, normalise_layer
from geo.problems import Problem
from geo.validate import FOREIGN_KEYS, LAYER_NAMES, LAYER_SPECS, feature_ids, validate_layer, validate_links

POLYGON_LAYERS = ("street", "communities", "grids", "micro_grids", "responsibility_zones")
_ID_PREFIX = {
    "street": "S",
    "communities": "C",
    "grids": "G",
    "micro_grids": "MG",
    "members": "P",
    "households": "H",
    "volunteer_teams": "T",
    "units": "U",
    "party_orgs": "O",
    "responsibility_zones": "Z",
    "basic_units": "BU",
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "street": {},
    "communities": {"kind": "community"},
    "grids": {"grid_type": "comprehensive", "dedicated_kind": "", "branch_id": ""},
    "micro_grids": {},
    "members": {"name": "", "phone": "", "role": "党员", "branch_id": "", "party_group_id": "", "skills": "",
                "on_duty": True, "team_id": ""},
    "households": {"head_name": "", "phone": "", "size": 1, "member_id": ""},
    "volunteer_teams": {"focus": "", "size": 0},
    "units": {"kind": "", "resources": ""},
    "party_orgs": {"level": "party_group", "parent_id": "", "community_id": "", "grid_id": ""},
    "responsibility_zones": {"party_group_id": ""},
    "basic_units": {"kind": "", "keeper_name": "", "phone": "", "tenants": 0, "shops": 0},
}  # fmt: skip
# (layer, column, containing layer): filled by location when the column is not in the user's data.
BY_LOCATION: tuple[tuple[str, str, str], ...] = (
    ("communities", "street_id", "street"),
    ("grids", "community_id", "communities"),
    ("micro_grids", "grid_id", "grids"),
    ("micro_grids", "community_id", "communities"),
    ("members", "grid_id", "grids"),
    ("members", "micro_grid_id", "micro_grids"),
    ("households", "grid_id", "grids"),
    ("households", "micro_grid_id", "micro_grids"),
    ("volunteer_teams", "community_id", "communities"),
    ("units", "community_id", "communities"),
    ("responsibility_zones", "grid_id", "grids"),
    ("basic_units", "grid_id", "grids"),
    ("basic_units", "community_id", "communities"),
)
_NAME_SCOPE = {
    "communities": "street_id",
    "grids": "community_id",
    "micro_grids": "grid_id",
    "responsibility_zones": "grid_id",
    "volunteer_teams": "community_id",
    "units": "community_id",
    "basic_units": "grid_id",
}


@dataclass
class DataSet:
    """A user's data set made complete (``complete``): every layer present, with what was found on the way."""

    config: Config
    frames: dict[str, gpd.GeoDataFrame]  # every layer, EPSG:4326, our columns (derived/empty where not given)
    files: dict[str, str]  # layer → where it came from ("derived from grids" for made-up layers)
    provided: set[str]  # layers read from the user's data
    problems: list[Problem] = field(default_factory=list)
    loaded: dict[str, LoadedLayer] = field(default_factory=dict)
    filled: dict[str, set[str]] = field(default_factory=dict)  # layer → columns we filled (defaults, location)

    @property
    def fingerprints(self) -> dict[str, tuple[str, str]]:
        """Layer → (crs hint, why) for layers carrying a Chinese map service's fingerprint (``geo.crs``)."""
        return {n: layer.fingerprint for n, layer in self.loaded.items() if layer.fingerprint is not None}

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``error`` (the set cannot be served while there are any)."""
        return [p for p in self.problems if p.is_error]


def _valid(geoms: np.ndarray) -> np.ndarray:
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms


def contained_in(points_or_shapes: np.ndarray, parents: gpd.GeoDataFrame, id_column: str) -> np.ndarray:
    """Id of the parent feature containing each geometry's representative point ("" if none; the first in the
    layer on a shared boundary). ``points_or_shapes``: shape (n,) of shapely geometries; ``parents``: a layer in
    the same CRS with ``id_column``. Returns shape (n,) of str (object dtype). Invalid geometries are made valid
    first."""
    out = np.full(len(points_or_shapes), "", dtype=object)
    if not len(points_or_shapes) or not len(parents):
        return out
    pts = shapely.point_on_surface(_valid(np.asarray(points_or_shapes, dtype=object)))
    geoms = _valid(np.asarray(parents.geometry.values, dtype=object))
    tree = shapely.STRtree(geoms)
    inp, hit = tree.query(pts, predicate="intersects")
    best = np.full(len(pts), len(geoms), dtype=np.intp)
    np.minimum.at(best, inp, hit)
    ids = np.append(parents[id_column].to_numpy(dtype=object), "")
    return np.asarray(ids[best], dtype=object)


def _ensure_keys(name: str, frame: gpd.GeoDataFrame, file: str, problems: list[Problem]) -> gpd.GeoDataFrame:
    """An id column (from names, or row numbers, when absent: reported), and duplicate names reported.
    ``frame`` is normalised (``geo.normalise``): ids and names are strings."""
    spec = LAYER_SPECS[name]
    if spec.id_column not in frame.columns:
        if "name" in frame.columns and name not in ("members", "households"):
            frame[spec.id_column] = frame["name"]
            problems.append(
                Problem(name, "", f"no id column: names are used as keys ({spec.id_column} = name)", "name_as_key",
                        "warning", file)
            )  # fmt: skip
            dup = frame["name"].duplicated(keep=False) & (frame["name"] != "")
            for value, rows in frame.index[dup].groupby(frame["name"][dup]).items():
                problems.append(
                    Problem(name, str(value), f"non-unique name used as key: {len(rows)} features "
                            f"(rows {', '.join(map(str, rows))}) are called {value!r}; add an id column",
                            "duplicate_name_key", "error", file)
                )  # fmt: skip
        else:
            frame[spec.id_column] = [f"{_ID_PREFIX[name]}{i + 1}" for i in range(len(frame))]
            problems.append(
                Problem(name, "", f"no id column: ids made from row numbers ({_ID_PREFIX[name]}1 …); map one in "
                        "onescreen.toml for ids that survive a re-export", "generated_ids", "warning", file)
            )  # fmt: skip
    elif "name" in frame.columns and name not in ("members", "households", "party_orgs"):
        # Same name under the same parent (第1网格 in two communities is normal; twice in one is not).
        parent = _NAME_SCOPE.get(name)
        scope = frame[parent].astype(str) if parent in frame.columns else pd.Series("", index=frame.index)
        key = scope + "\x1f" + frame["name"]
        dup = key.duplicated(keep=False) & (frame["name"] != "")
        where = f" in {parent} " if parent in frame.columns else ""
        for value, rows in frame.index[dup].groupby(key[dup]).items():
            ids = ", ".join(frame.loc[rows, spec.id_column].astype(str))
            inside, _, label = str(value).partition("\x1f")
            problems.append(
                Problem(name, "", f"name {label!r} is shared by {len(rows)} features{where}{inside} (ids {ids}): "
                        "a name is no key, screens will show it several times", "duplicate_name", "warning", file)
            )  # fmt: skip
    return frame


def _resolve_names(frames: dict[str, gpd.GeoDataFrame], files: dict[str, str], problems: list[Problem]) -> None:
    """References given as names (所属社区 = 兴普社区) → ids, where the name is unique."""
    for layer, col, ref, ref_col in FOREIGN_KEYS:
        if layer not in frames or ref not in frames or col not in frames[layer].columns:
            continue
        src, dst = frames[layer], frames[ref]
        if "name" not in dst.columns or not len(src):
            continue
        values = src[col].astype(str)
        unknown = ~values.isin(set(dst[ref_col])) & (values != "")
        if not unknown.any():
            continue
        counts = dst["name"].value_counts()
        by_name = dst.drop_duplicates("name").set_index("name")[ref_col]
        unique = values[unknown].map(counts).fillna(0) == 1
        resolved = unknown.copy()
        resolved[unknown] = unique.to_numpy()
        if resolved.any():
            src.loc[resolved, col] = values[resolved].map(by_name)
            problems.append(
                Problem(layer, "", f"{resolved.sum()} {col} value(s) are {ref} names, resolved to ids", "by_name",
                        "info", files.get(layer, ""))
            )  # fmt: skip
        for value in sorted(set(values[unknown & ~resolved]) & set(counts.index[counts > 1])):
            problems.append(
                Problem(layer, "", f"{col}={value!r} is a name shared by {counts[value]} {ref}: a non-unique name "
                        "cannot be used as a key", "duplicate_name_key", "error", files.get(layer, ""))
            )  # fmt: skip


def _derive(name: str, frames: dict[str, gpd.GeoDataFrame], street_name: str) -> tuple[gpd.GeoDataFrame, str]:
    grids = frames.get("grids", empty_layer("grids"))
    if name == "micro_grids":
        cols = [c for c in ("grid_id", "name", "community_id") if c in grids.columns]
        out = gpd.GeoDataFrame(grids[cols].copy(), geometry=grids.geometry.values, crs=WGS84)
        out["micro_grid_id"] = out["grid_id"]
        return out, "derived: each grid is its own micro-grid"
    if name == "communities":
        geoms = _valid(np.asarray(grids.geometry.values, dtype=object))
        given = "community_id" in grids.columns and (grids["community_id"] != "").any()
        keys = grids["community_id"].to_numpy(dtype=object) if given else np.full(len(grids), "C1", dtype=object)
        if not given:
            grids["community_id"] = "C1"
        uniq = list(dict.fromkeys(keys))
        shapes = [shapely.union_all(geoms[keys == k]) for k in uniq]
        names = uniq if given else [street_name or "社区"][: len(uniq)]
        out = gpd.GeoDataFrame({"community_id": uniq, "name": names}, geometry=shapes, crs=WGS84)
        how = "dissolved by community_id" if given else "one community over all grids"
        return out, f"derived: {how}"
    if name == "street":
        base = frames.get("communities", grids)
        shape = shapely.union_all(_valid(np.asarray(base.geometry.values, dtype=object)))
        out = gpd.GeoDataFrame({"street_id": ["S1"], "name": [street_name or "街道"]}, geometry=[shape], crs=WGS84)
        return out, "derived: the union of the communities"
    return empty_layer(name), "not given (empty)"


def _fill_columns(
    name: str, frame: gpd.GeoDataFrame, frames: dict[str, gpd.GeoDataFrame], provided: set[str]
) -> gpd.GeoDataFrame:
    """Missing columns: references by location, the rest by ``DEFAULTS``. References into a layer we derived
    (no micro-grids given, but members name micro-grid ids) are located anew: the given ids name nothing."""
    spec = LAYER_SPECS[name]
    for layer, col, parent in BY_LOCATION:
        derived_parent = parent not in provided and (layer, col) != ("grids", "community_id")
        if layer == name and col in frame.columns and derived_parent and name in provided:
            frame = frame.drop(columns=col)
    frame.attrs["filled"] = {c for c in spec.columns if c not in frame.columns}
    geoms = np.asarray(frame.geometry.values, dtype=object)
    for layer, col, parent in BY_LOCATION:
        if layer == name and col not in frame.columns and parent in frames:
            pid = LAYER_SPECS[parent].id_column
            if layer == "micro_grids" and col == "community_id" and "grid_id" in frame.columns:
                lookup = frames["grids"].drop_duplicates("grid_id").set_index("grid_id")["community_id"]
                frame[col] = frame["grid_id"].map(lookup).fillna("").astype(str)
            else:
                frame[col] = contained_in(geoms, frames[parent], pid)
    for col in spec.columns:
        if col not in frame.columns:
            frame[col] = DEFAULTS[name].get(col, frame[spec.id_column] if col == "name" else "")
    return frame


def _explain_empty(
    name: str, frame: gpd.GeoDataFrame, problems: list[Problem], explained: set[tuple[str, str]]
) -> None:
    """Name the features whose EMPTY geometry the reader explained (nested coordinates) by their ids."""
    ids = frame[LAYER_SPECS[name].id_column].astype(str).to_numpy()
    for i, p in enumerate(problems):
        if p.layer == name and p.kind == "nested_coordinates" and p.feature_id.startswith("row "):
            fid = ids[int(p.feature_id.removeprefix("row "))] or p.feature_id
            problems[i] = dataclasses.replace(p, feature_id=fid)
            explained.add((name, fid))
    if any(p.layer == name and p.kind == "nested_coordinates" for p in problems):  # GDAL's own note on it
        problems[:] = [dataclasses.replace(p, severity="info") if p.kind == "gdal_warning" else p for p in problems]


def _no_features(name: str, layer: LoadedLayer, problems: list[Problem]) -> Problem:
    """A configured layer that read as nothing: an error for a required one (``REQUIRED_LAYERS``: the dashboard
    cannot run without grids), else a warning; the cause when reading found one (features GDAL dropped)."""
    dropped = any(p.layer == name and p.kind == "dropped_features" for p in problems)
    cause = (
        "GDAL dropped every feature: see the dropped_features warning" if dropped else "the file/table/layer holds none"
    )
    required = name in REQUIRED_LAYERS
    need = f"; the dashboard needs at least one {name.removesuffix('s')}" if required else ""
    return Problem(name, "", f"no features: {layer.file} yields 0 {name} ({cause}){need}", "no_features",
                   "error" if required else "warning", layer.file)  # fmt: skip


_NO_COORDINATES = ("empty_geometry", "missing_geometry")


def _leave_out_unlocated(
    name: str, frame: gpd.GeoDataFrame, problems: list[Problem], explained: set[tuple[str, str]]
) -> gpd.GeoDataFrame:
    """Features without coordinates (a null or EMPTY geometry the reader could not explain) can be neither drawn nor
    located: they are left out and their problem becomes a warning that says so, so the rest of the layer serves
    (field case ``bom-crlf-empty-geometry``). Nested coordinates (``explained``) stay errors: ``--fix`` recovers them.
    A layer left with no feature at all is reported by ``_no_features``."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    ids = np.asarray(feature_ids(frame, LAYER_SPECS[name].id_column), dtype=object)
    gone = (pd.isna(geoms) | shapely.is_empty(geoms)) & ~np.isin(ids, [f for layer, f in explained if layer == name])
    if not gone.any():
        return frame
    kept = int((~gone).sum())
    note = f"; left out, the other {kept} {name} are read" if kept else ""
    problems[:] = [
        dataclasses.replace(p, message=p.message + note, severity="warning") if kept and _unlocated(p, name) else p
        for p in problems
    ]
    return frame[~gone] if kept else frame


def _unlocated(p: Problem, name: str) -> bool:
    return p.layer == name and p.kind in _NO_COORDINATES


def complete(config: Config, loaded: dict[str, LoadedLayer]) -> DataSet:
    """The data set made complete from the layers as read (``geo.io.read_source`` per configured layer): each
    layer normalised (``geo.normalise``) and keyed, then checked (``geo.validate``, columns not required), names
    resolved to ids, missing layers derived and missing columns filled (see the module doc), links checked.
    Every problem is collected in ``DataSet.problems``, none raised. Layers are EPSG:4326 in and out."""
    problems = [p for layer in loaded.values() for p in layer.problems]
    frames: dict[str, gpd.GeoDataFrame] = {}
    files: dict[str, str] = {}
    explained: set[tuple[str, str]] = set()
    for name in LAYER_NAMES:
        layer = loaded.get(name)
        if layer is None or layer.frame is None:
            continue
        files[name] = layer.file
        frame, found = normalise_layer(name, layer.frame, layer.file, layer.source.columns)
        problems += found
        frames[name] = _ensure_keys(name, frame, layer.file, problems)
        _explain_empty(name, frames[name], problems, explained)
        keyed_by_name = any(p.layer == name and p.kind == "name_as_key" for p in problems)
        problems += [
            p
            for p in validate_layer(name, frames[name], layer.file, columns=False)
            if not (keyed_by_name and p.kind == "duplicate_id")  # reported as duplicate_name_key
        ]
        frames[name] = _leave_out_unlocated(name, frames[name], problems, explained)
    problems += [_no_features(name, layer, problems) for name, layer in loaded.items()
                 if layer.frame is not None and not len(layer.frame)]  # fmt: skip
    provided = set(frames)
    _resolve_names(frames, files, problems)
    for name in ("grids", "micro_grids", "communities", "street", *LAYER_NAMES):  # parents first, as derived
        if name not in frames:
            frames[name], files[name] = _derive(name, frames, config.street_name)
    for name in LAYER_NAMES:  # parents before children
        frames[name] = _fill_columns(name, frames[name], frames, provided)
    problems += validate_links({n: frames[n] for n in provided | {"street", "communities", "grids"}}, files)
    filled = {n: set(f.attrs.get("filled", ())) for n, f in frames.items()}
    problems = [p for p in problems if not (p.kind == "empty_geometry" and (p.layer, p.feature_id) in explained)]
    return DataSet(config, frames, files, provided, problems, loaded, filled)
