"""The validation report an office reads before go-live: ``validate(config) -> Report`` (text and JSON).

Besides the contract checks of ``geo.validate`` and what reading found (``geo.sources``: encodings, CRS, quirks),
the spatial checks run in a metric CRS (the data's UTM zone), vectorised, on the layers the user gave:

* overlaps between siblings (STRtree pairs, intersection area > ``overlap_m2``), with area and where;
* gaps: the parent's area in no child (``parent − ∪children``, parts > ``gap_m2``), or, without a parent layer,
  holes enclosed by the siblings' union;
* children outside their parent (by the declared parent id, else the parent layer's union; > ``outside_m2``);
* members, households and basic units outside every grid, or in another grid than their ``grid_id`` says;
* a layer that looks GCJ-02- or BD-09-shifted against another (see ``datum_shift_suspects``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from tqdm import tqdm

from geo.bd09 import bd09_to_wgs84, wgs84_to_bd09
from geo.config import Config, Tolerances
from geo.crs import shifted
from geo.dataset import POLYGON_LAYERS, DataSet
from geo.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from geo.model import utm_crs_for
from geo.problems import SEVERITIES, Problem
from geo.sources import build_dataset, serve_check
from geo.validate import LAYER_SPECS

# (child, parent, the child's column naming its parent)
NESTING: tuple[tuple[str, str, str], ...] = (
    ("communities", "street", "street_id"),
    ("grids", "communities", "community_id"),
    ("micro_grids", "grids", "grid_id"),
    ("responsibility_zones", "grids", "grid_id"),
)
POINTS_IN_GRIDS = ("members", "households", "basic_units")
SINGULAR = {
    "street": "street",
    "communities": "community",
    "grids": "grid",
    "micro_grids": "micro-grid",
    "responsibility_zones": "responsibility zone",
}
GCJ_MIN_SHARE = 0.05  # a layer is suspect when ≥ 5 % of it lies outside its reference …
GCJ_GAIN = 3.0  # … and shifting it by the GCJ-02 offset cuts that share at least threefold


@dataclass
class Report:
    """The validation report of one data set: every problem (errors, warnings, notes), per-layer counts and the
    time each check took (seconds)."""

    source: str
    problems: list[Problem]
    layers: dict[str, dict[str, Any]]  # name → {file, features, given}
    timings_s: dict[str, float] = field(default_factory=dict)
    dataset: DataSet | None = field(default=None, repr=False)

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """No errors (warnings do not fail a data set)."""
        return not self.errors

    def summary(self) -> str:
        """One line: source, OK/FAILED, error and warning counts, features per given layer."""
        counts = ", ".join(f"{k} {v['features']}" for k, v in self.layers.items() if v["given"])
        verdict = "OK" if self.ok else "FAILED"
        return f"{self.source}: {verdict} — {len(self.errors)} error(s), {len(self.warnings)} warning(s); {counts}"

    def to_text(self, notes: bool = True) -> str:
        """The report for people: summary, problems by severity and file (notes unless ``notes=False``), then the
        layers derived or left empty."""
        lines = [self.summary()]
        for severity in SEVERITIES:
            chosen = [p for p in self.problems if p.severity == severity]
            if not chosen or (severity == "info" and not notes):
                continue
            lines.append(f"{severity.upper()}S ({len(chosen)})" if severity != "info" else f"NOTES ({len(chosen)})")
            by_file: dict[str, list[Problem]] = {}
            for p in chosen:
                by_file.setdefault(p.file or self.source, []).append(p)
            for file, ps in by_file.items():
                lines.append(f"  {file}")
                lines += [f"    {p}" for p in ps]
        derived = [f"{k} ({v['file'].removeprefix('derived: ')})" for k, v in self.layers.items() if not v["given"]
                   and v["features"]]  # fmt: skip
        empty = [k for k, v in self.layers.items() if not v["given"] and not v["features"]]
        if derived:
            lines.append("DERIVED: " + "; ".join(derived))
        if empty:
            lines.append("NOT GIVEN (empty): " + ", ".join(empty))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (non-finite numbers → ``None``; timings rounded to 0.1 ms)."""
        return {
            "source": self.source,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "layers": self.layers,
            "problems": [_jsonable(p.to_dict()) for p in self.problems],
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}


class _Metric:
    """To and from the metric CRS, and valid metric geometries per layer (computed once)."""

    def __init__(self, ds: DataSet, crs: CRS) -> None:
        self.ds = ds
        self.crs = crs
        self._back = Transformer.from_crs(crs, 4326, always_xy=True)
        self._cache: dict[str, np.ndarray] = {}

    def geoms(self, layer: str) -> np.ndarray:
        if layer not in self._cache:
            g = np.asarray(self.ds.frames[layer].to_crs(self.crs).geometry.values, dtype=object)
            bad = ~shapely.is_valid(g) & ~shapely.is_empty(g) & ~shapely.is_missing(g)
            g[bad] = shapely.make_valid(g[bad])
            keep = shapely.get_type_id(g) >= 0
            g[keep] = shapely.force_2d(g[keep])
            self._cache[layer] = g
        return self._cache[layer]

    def lonlat(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = shapely.point_on_surface(geoms)
        x, y = self._back.transform(shapely.get_x(pts), shapely.get_y(pts))
        return np.asarray(x), np.asarray(y)

    def ids(self, layer: str) -> np.ndarray:
        return np.asarray(self.ds.frames[layer][LAYER_SPECS[layer].id_column].astype(str).to_numpy(), dtype=object)


def _polygonal(g: np.ndarray) -> np.ndarray:
    return np.asarray(np.isin(shapely.get_type_id(g), (3, 6)) & ~shapely.is_empty(g), dtype=bool)


def overlaps(m: _Metric, layer: str, tol: Tolerances) -> list[Problem]:
    """Pairs of siblings whose intersection is larger than ``tol.overlap_m2`` (m², in the metric CRS): one warning
    per pair, at a point of the overlap, with its area."""
    g = m.geoms(layer)
    idx = np.flatnonzero(_polygonal(g))
    if len(idx) < 2:
        return []
    tree = shapely.STRtree(g[idx])
    a, b = tree.query(g[idx], predicate="intersects")
    keep = a < b
    a, b = idx[a[keep]], idx[b[keep]]
    inter = shapely.intersection(g[a], g[b])
    area = shapely.area(inter)
    big = area > tol.overlap_m2
    ids, lon, lat = m.ids(layer), *m.lonlat(inter[big])
    return [
        Problem(layer, ids[i], f"overlaps {layer}[{ids[j]}]", "overlap", "warning", m.ds.files[layer], x, y, float(ar))
        for i, j, ar, x, y in zip(a[big], b[big], area[big], lon, lat, strict=True)
    ]


def edge_mismatches(m: _Metric, layer: str, tol: Tolerances) -> list[Problem]:
    """Neighbours whose shared edges do not match: sliver gaps/overlaps narrower than ``sliver_width_m`` (too thin
    to matter as area, but they make points on the line fall in no grid, or in two). --fix snaps them."""
    g = m.geoms(layer)
    idx = np.flatnonzero(_polygonal(g))
    if len(idx) < 2:
        return []
    edges = np.asarray(shapely.coverage_invalid_edges(g[idx], gap_width=tol.sliver_width_m), dtype=object)
    bad = ~shapely.is_empty(edges)
    if not bad.any():
        return []
    length = shapely.length(edges[bad])
    lon, lat = m.lonlat(edges[bad])
    ids = m.ids(layer)[idx[bad]]
    return [
        Problem(layer, fid, f"{ln:,.0f} m of its edges do not match the neighbours' (sliver gaps or overlaps "
                f"narrower than {tol.sliver_width_m} m; --fix snaps them)", "edge_mismatch", "warning",
                m.ds.files[layer], x, y)
        for fid, ln, x, y in zip(ids, length, lon, lat, strict=True)
    ]  # fmt: skip


def gaps(m: _Metric, child: str, parent: str | None, tol: Tolerances) -> list[Problem]:
    """Parts of each parent in no child; without a parent layer, holes enclosed by the children's union."""
    g = m.geoms(child)
    union = shapely.union_all(g[_polygonal(g)])
    if shapely.is_empty(union):
        return []
    if parent is not None:
        pg = m.geoms(parent)
        owners = np.flatnonzero(_polygonal(pg))
        pieces = shapely.difference(pg[owners], union)
        parts, which = shapely.get_parts(pieces, return_index=True)
        owner_ids = m.ids(parent)[owners][which]
        what = f"part of {SINGULAR[parent]} {{}} in no {SINGULAR[child]}"
    else:
        rings = [shapely.get_interior_ring(p, k) for p in shapely.get_parts(union)
                 for k in range(shapely.get_num_interior_rings(p))]  # fmt: skip
        parts = shapely.polygons(np.asarray(rings, dtype=object)) if rings else np.empty(0, dtype=object)
        owner_ids = np.full(len(parts), "", dtype=object)
        what = f"hole enclosed by the {child}, in none of them{{}}"
    area = shapely.area(parts)
    big = area > tol.gap_m2
    lon, lat = m.lonlat(parts[big])
    return [
        Problem(child if parent is None else parent, oid, "gap: " + what.format(oid), "gap", "warning",
                m.ds.files[child], x, y, float(ar))
        for oid, ar, x, y in zip(owner_ids[big], area[big], lon, lat, strict=True)
    ]  # fmt: skip


def outside_parent(m: _Metric, child: str, parent: str, column: str, tol: Tolerances) -> list[Problem]:
    """Children with more than ``tol.outside_m2`` m² outside their parent (the one ``column`` names when the user
    gave that column, else the parent layer's union): ``orphan`` when entirely outside, else ``outside_parent``
    with the share."""
    g = m.geoms(child)
    pg = m.geoms(parent)
    if not len(g) or not len(pg):
        return []
    declared = column not in m.ds.filled.get(child, set())
    if declared:
        lookup = dict(zip(m.ids(parent), range(len(pg)), strict=True))
        pos = np.array([lookup.get(v, -1) for v in m.ds.frames[child][column].astype(str)], dtype=np.intp)
        target = np.where(pos >= 0, pg[np.maximum(pos, 0)], shapely.union_all(pg))
    else:
        target = np.full(len(g), shapely.union_all(pg), dtype=object)
    ok = _polygonal(g)
    out = np.full(len(g), np.nan)
    pieces = np.full(len(g), None, dtype=object)
    pieces[ok] = shapely.difference(g[ok], target[ok])
    out[ok] = shapely.area(pieces[ok])
    share = out / np.maximum(shapely.area(g), 1e-9)
    big = np.flatnonzero(out > tol.outside_m2)
    lon, lat = m.lonlat(pieces[big]) if len(big) else (np.empty(0), np.empty(0))
    cids, pids = m.ids(child), m.ds.frames[child][column].astype(str).to_numpy()
    out_list = []
    for k, i in enumerate(big):
        whose = f"its {SINGULAR[parent]} {pids[i]}" if declared and pids[i] else f"every {SINGULAR[parent]}"
        label = "entirely outside" if share[i] > 0.999 else f"{share[i]:.0%} outside"
        kind = "orphan" if share[i] > 0.999 else "outside_parent"
        out_list.append(
            Problem(child, cids[i], f"{label} {whose}", kind, "warning", m.ds.files[child], lon[k], lat[k], out[i])
        )
    return out_list


def points_outside(m: _Metric, layer: str) -> list[Problem]:
    """Points (members, households, basic units) in no grid, and — when the user gave ``grid_id`` — points lying in
    another grid than their ``grid_id`` says (the first grid in layer order on a shared edge, as
    ``SpatialIndex.locate``)."""
    pts = m.geoms(layer)
    grids = m.geoms("grids")
    ok = ~shapely.is_empty(pts) & (shapely.get_type_id(pts) == 0)
    if not ok.any() or not len(grids):
        return []
    tree = shapely.STRtree(grids)
    inp, hit = tree.query(pts, predicate="intersects")
    best = np.full(len(pts), len(grids), dtype=np.intp)
    np.minimum.at(best, inp, hit)
    ids = m.ids(layer)
    lon, lat = m.lonlat(pts)
    out = [
        Problem(layer, ids[i], "outside every grid", "outside_grids", "warning", m.ds.files[layer], lon[i], lat[i])
        for i in np.flatnonzero(ok & (best == len(grids)))
    ]
    if "grid_id" not in m.ds.filled.get(layer, set()):
        located = np.append(m.ids("grids"), "")[best]
        said = m.ds.frames[layer]["grid_id"].astype(str).to_numpy()
        wrong = ok & (best < len(grids)) & (said != located) & (said != "")
        out += [
            Problem(layer, ids[i], f"grid_id is {said[i]!r} but it lies in grid {located[i]!r}", "wrong_grid",
                    "warning", m.ds.files[layer], lon[i], lat[i])
            for i in np.flatnonzero(wrong)
        ]  # fmt: skip
    return out


def _share_outside(layer_geoms: np.ndarray, reference: np.ndarray) -> float:
    """Share of the layer outside its reference geometry (one per feature): area for polygons, count for points."""
    if np.all(shapely.get_type_id(layer_geoms) == 0):
        return float(np.mean(~shapely.intersects(layer_geoms, reference)))
    total = shapely.area(layer_geoms).sum()
    return float(shapely.area(shapely.difference(layer_geoms, reference)).sum() / total) if total else 0.0


def _references(ds: DataSet, layer: str, ref: str, column: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The layer's valid geometries and, per feature, its declared parent (when the column was given and names
    an existing feature) or else the reference layer's union."""
    frame = ds.frames[layer]
    g = np.asarray(frame.geometry.values, dtype=object)
    keep = ~shapely.is_empty(g) & ~shapely.is_missing(g)
    g = _valid(g[keep])
    rg = _valid(np.asarray(ds.frames[ref].geometry.values, dtype=object))
    union = shapely.union_all(rg)
    target = np.full(len(g), union, dtype=object)
    if column and column in frame.columns and column not in ds.filled.get(layer, set()):
        lookup = dict(zip(ds.frames[ref][LAYER_SPECS[ref].id_column].astype(str), rg, strict=True))
        declared = np.asarray([lookup.get(v) for v in frame[column].astype(str).to_numpy()[keep]], dtype=object)
        has = np.asarray([d is not None for d in declared], dtype=bool)
        target[has] = declared[has]
    return g, target


Move = Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]
# The offsets a layer drawn on a Chinese web map carries: hint → (name, to WGS-84, from WGS-84).
DATUM_SHIFTS: dict[str, tuple[str, Move, Move]] = {
    "gcj02": ("GCJ-02 (Amap/Tencent/DataV)", gcj02_to_wgs84, wgs84_to_gcj02),
    "bd09": ("BD-09 (Baidu Map)", bd09_to_wgs84, wgs84_to_bd09),
    "wgs84": ("WGS-84", lambda x, y: (np.asarray(x), np.asarray(y)), lambda x, y: (np.asarray(x), np.asarray(y))),
}
SHIFT_KINDS = ("gcj02_suspect", "bd09_suspect", "wgs84_suspect")


def _then(first: Move, second: Move) -> Move:
    return lambda x, y: second(*first(x, y))


# What a datum shift between a layer and its reference shows up as, on the layer.
CONSEQUENCES = ("outside_grids", "wrong_grid", "outside_parent", "orphan")


def datum_shift_suspects(
    ds: DataSet, pairs: list[tuple[str, str, str | None]], found: list[Problem] | None = None
) -> list[Problem]:
    """A layer whose fit to a reference layer improves markedly when read as GCJ-02, BD-09 or WGS-84 instead of
    how it was read: the cause named, with the ``crs_hint`` that fixes it (kind ``gcj02_suspect`` /
    ``bd09_suspect`` / ``wgs84_suspect``).

    For each (layer, reference) pair given by the user: the share of the layer outside its reference — its
    declared parent feature when the parent id was given, else the reference layer's union — as read, and after
    reading either side with each other hint (the layer moved so: undo its hint, apply the other; for the
    reference, the inverse move of the layer). Area for polygons, count for points. The offsets are 300–700 m
    (GCJ-02) and ~1.1 km (BD-09) in China, far above export noise: when ≥ 5 % lies outside and the best move
    cuts that at least threefold, that move names the shifted layer and its system. GCJ-02 alone leaves ~0.9 km
    of a BD-09 layer's offset, so the two are told apart by which fits better. Computed in degrees (WGS-84 both
    sides). ``found``: the problems of the other checks; the message then counts those the shift explains
    (``CONSEQUENCES`` on the layer)."""
    out = []
    for layer, ref, column in pairs:
        lg, target = _references(ds, layer, ref, column)
        if not len(lg) or not len(target):
            continue
        base = _share_outside(lg, target)
        if base < GCJ_MIN_SHARE:
            continue
        read = {n: ds.loaded[n].source.crs_hint or "wgs84" if n in ds.loaded else "wgs84" for n in (layer, ref)}
        tried: dict[tuple[str, str], float] = {}
        for hint, (_, back, fwd) in DATUM_SHIFTS.items():
            if hint != read[layer]:  # read the layer as `hint`: undo what was applied, then apply `hint`
                tried[hint, layer] = _share_outside(_shift(lg, _then(DATUM_SHIFTS[read[layer]][2], back)), target)
            if hint != read[ref]:  # read the reference as `hint`: move the layer the other way
                tried[hint, ref] = _share_outside(_shift(lg, _then(fwd, DATUM_SHIFTS[read[ref]][1])), target)
        (hint, blamed), after = min(tried.items(), key=lambda kv: kv[1])
        if after * GCJ_GAIN > base:
            continue
        other = ref if blamed == layer else layer
        fp = ds.fingerprints.get(blamed)
        also = f"; {fp[1]} too" if fp and fp[0] == hint else ""
        short = DATUM_SHIFTS[hint][0].split(" ")[0]
        was = f", not {DATUM_SHIFTS[read[blamed]][0].split(' ')[0]} as read" if read[blamed] != "wgs84" else ""
        msg = (f"looks drawn in {DATUM_SHIFTS[hint][0]}{was}, against {other}: {base:.0%} of {layer} lies outside "
               f"{ref} as read, {after:.0%} with {blamed} read as {short}{also}; set crs_hint = '{hint}' for "
               f"{blamed} (--crs-hint {hint} for one file)")  # fmt: skip
        explained = sum(1 for p in found or () if p.layer == layer and p.kind in CONSEQUENCES)
        if explained:
            msg += f"; it would explain the {explained:,} warning(s) below about where {layer} lie"
        out.append(Problem(blamed, "", msg, f"{hint}_suspect", "warning", ds.files[blamed]))
    return out


def _valid(g: np.ndarray) -> np.ndarray:
    g = g.copy()
    bad = ~shapely.is_valid(g)
    g[bad] = shapely.make_valid(g[bad])
    return g


_shift = shifted


class _NoBar:
    def set_postfix_str(self, _: str) -> None: ...

    def update(self, _: int) -> None: ...


_NO_BAR = _NoBar()


@contextmanager
def _step(timings: dict[str, float], name: str, bar: Any) -> Iterator[None]:
    started = time.perf_counter()
    bar.set_postfix_str(name)
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
    bar.update(1)


def spatial_checks(ds: DataSet, progress: bool = False, timings: dict[str, float] | None = None) -> list[Problem]:
    """Every spatial check of the module doc on the layers the user gave."""
    timings = {} if timings is None else timings
    given = ds.provided
    base = next(
        (n for n in ("grids", *sorted(given)) if n in given and np.isfinite(ds.frames[n].total_bounds).all()), None
    )
    if base is None:
        return []
    m = _Metric(ds, utm_crs_for(ds.frames[base]))
    tol = ds.config.tolerances
    jobs: list[tuple[str, Callable[[], list[Problem]]]] = []
    for layer in POLYGON_LAYERS:
        if layer in given and layer != "street":
            jobs.append((f"overlaps {layer}", partial(overlaps, m, layer, tol)))
            jobs.append((f"edges {layer}", partial(edge_mismatches, m, layer, tol)))
    for child, parent, column in NESTING:
        if child in given and parent in given:
            jobs.append((f"{child} in {parent}", partial(outside_parent, m, child, parent, column, tol)))
            if child != "responsibility_zones":
                jobs.append((f"gaps {child}", partial(gaps, m, child, parent, tol)))
    for layer in ("grids", "micro_grids", "communities"):
        if layer in given and not any(c == layer and p in given for c, p, _ in NESTING):
            jobs.append((f"holes {layer}", partial(gaps, m, layer, None, tol)))
    if "grids" in given:
        jobs += [(f"{p} in grids", partial(points_outside, m, p)) for p in POINTS_IN_GRIDS if p in given]
    pairs: list[tuple[str, str, str | None]] = [(c, p, k) for c, p, k in NESTING if c in given and p in given]
    pairs += [(p, "grids", "grid_id") for p in POINTS_IN_GRIDS if p in given and "grids" in given]
    problems: list[Problem] = []
    if pairs:  # last: it counts what the other checks found that a shift explains
        jobs.append(("datum shifts", partial(datum_shift_suspects, ds, pairs, problems)))
    with tqdm(total=len(jobs), desc="checking", unit="check", disable=not progress, leave=False) as bar:
        for name, job in jobs:
            with _step(timings, name, bar):
                problems += job()
    return problems


def validate(config: Config, progress: bool = False) -> Report:
    """Read, complete and check a data set; every problem in one report (nothing raised for data problems)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    ds = build_dataset(config, progress=progress)
    timings["read"] = time.perf_counter() - started
    problems = list(ds.problems) + spatial_checks(ds, progress, timings)
    with _step(timings, "serve check", _NO_BAR):
        problems += serve_check(ds)  # what `serve` would refuse: the two always agree
    problems.sort(key=lambda p: p.kind not in SHIFT_KINDS)  # stable: a datum shift explains what follows it
    timings["total"] = time.perf_counter() - started
    layers = {
        name: {"file": ds.files[name], "features": len(ds.frames[name]), "given": name in ds.provided}
        for name in LAYER_SPECS
    }
    return Report(config.label, problems, layers, timings, ds)
