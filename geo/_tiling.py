"""Vectorised Voronoi tiling of polygons into exactly nested, edge-matched children.

All work happens in a metric CRS. Every parent is cut into ``counts[p]`` Polygon children that union back to it:
children are Voronoi cells of random seeds intersected with the parent, multi-part leftovers are merged into
the neighbour sharing the most boundary, and :func:`node_layers` inserts the T-junction vertices so that each
layer is a valid polygonal coverage (needed by ``shapely.coverage_simplify`` for the display layer).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree

Geoms = npt.NDArray[np.object_]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_POLYGON = 3  # shapely.GeometryType.POLYGON


def ragged_rank(owner: Ints) -> Ints:
    """Position of each element inside its run of equal, sorted ``owner`` values."""
    starts = np.searchsorted(owner, owner, side="left")
    return np.arange(len(owner), dtype=np.int64) - starts


def sample_points(polys: Geoms, counts: Ints, rng: np.random.Generator) -> tuple[Floats, Ints]:
    """Uniform random points strictly inside each polygon, ``counts[i]`` of them; returned sorted by owner."""
    counts = np.asarray(counts, dtype=np.int64)
    shapely.prepare(polys)
    bounds = shapely.bounds(polys)
    width, height = bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]
    fill = np.clip(shapely.area(polys) / np.maximum(width * height, 1e-12), 0.05, 1.0)
    need = counts.copy()
    xs: list[Floats] = []
    owners: list[Ints] = []
    while need.sum() > 0:
        # Oversample by the bbox fill ratio so one or two rounds are enough.
        m = np.where(need > 0, np.ceil(need / fill * 1.4 + 3), 0).astype(np.int64)
        owner = np.repeat(np.arange(len(polys), dtype=np.int64), m)
        u = rng.random((len(owner), 2))
        x = bounds[owner, 0] + u[:, 0] * width[owner]
        y = bounds[owner, 1] + u[:, 1] * height[owner]
        ok = shapely.contains_xy(polys[owner], x, y)
        owner, x, y = owner[ok], x[ok], y[ok]
        keep = ragged_rank(owner) < need[owner]
        xs.append(np.column_stack([x[keep], y[keep]]))
        owners.append(owner[keep])
        need -= np.bincount(owner[keep], minlength=len(polys))
    xy = np.concatenate(xs) if xs else np.empty((0, 2))
    own = np.concatenate(owners) if owners else np.empty(0, dtype=np.int64)
    order = np.argsort(own, kind="stable")
    return xy[order], own[order]


def _voronoi_cells(parents: Geoms, xy: Floats, owner: Ints) -> Geoms:
    """Voronoi cell of every seed (sorted by owner), clipped to its parent. May be multi-part."""
    n_per = np.bincount(owner, minlength=len(parents))
    cells = np.empty(len(xy), dtype=object)
    single = n_per[owner] == 1
    cells[single] = parents[owner[single]]
    multi = ~single
    if multi.any():
        used, dense = np.unique(owner[multi], return_inverse=True)
        mp = shapely.multipoints(xy[multi], indices=dense)
        vor = shapely.voronoi_polygons(mp, extend_to=parents[used], ordered=True)
        parts, idx = shapely.get_parts(vor, return_index=True)
        if len(parts) != int(multi.sum()) or not np.array_equal(idx, dense):
            raise RuntimeError("Voronoi diagram lost cells (duplicate seeds?)")
        cells[multi] = shapely.intersection(parts, parents[owner[multi]])
    return cells


def _lloyd_step(parents: Geoms, cells: Geoms, owner: Ints) -> Floats:
    """Move seeds to their cell centroid (point-on-surface when the centroid falls outside the parent)."""
    c = shapely.get_coordinates(shapely.centroid(cells))
    inside = shapely.contains_xy(parents[owner], c[:, 0], c[:, 1])
    if not inside.all():
        c[~inside] = shapely.get_coordinates(shapely.point_on_surface(cells[~inside]))
    return np.asarray(c, dtype=np.float64)


def _blobs(xy: Floats, radius: Floats, rng: np.random.Generator, k: int = 10) -> Geoms:
    """Irregular compact polygons (jittered star-shaped k-gons) around the given centres."""
    n = len(xy)
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, k)), axis=1)
    r = radius[:, None] * rng.uniform(0.75, 1.15, (n, k))
    ring = np.stack([xy[:, :1] + r * np.cos(ang), xy[:, 1:] + r * np.sin(ang)], axis=2)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    return np.asarray(shapely.make_valid(shapely.polygons(ring)), dtype=object)


def _shared_length(a: shapely.Geometry, others: Geoms) -> Floats:
    """Length of boundary ``a`` shares with each of ``others`` (0 for point contacts)."""
    exact = np.asarray(shapely.length(shapely.intersection(shapely.boundary(others), a.boundary)))
    if exact.max(initial=0.0) > 0:
        return exact
    # Float noise: count neighbour boundary within 5 cm, ignoring point-like contacts.
    near = np.asarray(shapely.length(shapely.intersection(shapely.boundary(others), a.buffer(0.05))))
    return np.where(near > 1.0, near, 0.0)


def _absorb(mains: Geoms, cell_owner: Ints, prefer: npt.NDArray[np.bool_], orphans: list[tuple[object, int]]) -> None:
    """Merge orphan fragments (in place) into the same-parent main piece they share most boundary with."""
    pending = orphans
    while pending:
        tree = STRtree(mains)
        deferred: list[tuple[object, int]] = []
        for geom, parent in pending:
            cand = tree.query(geom)
            cand = cand[cell_owner[cand] == parent]
            shared = _shared_length(geom, mains[cand]) if len(cand) else np.zeros(0)
            # Prefer ordinary cells so dedicated (blob) cells stay compact.
            score = shared + np.where(prefer[cand], 1e9, 0.0) * (shared > 0)
            done = False
            for k in np.argsort(-score, kind="stable"):
                if shared[k] <= 0:
                    break
                merged = shapely.union(mains[cand[k]], geom)
                if shapely.get_type_id(merged) == _POLYGON:
                    mains[cand[k]] = merged
                    done = True
                    break
            if not done:
                deferred.append((geom, parent))
        if len(deferred) == len(pending):
            raise RuntimeError(f"{len(deferred)} fragments have no neighbour in their parent")
        pending = deferred


def tile(
    parents: Geoms,
    counts: Ints,
    rng: np.random.Generator,
    *,
    lloyd: int = 1,
    blob_radius: Floats | None = None,
) -> tuple[Geoms, Ints]:
    """Cut each parent into ``counts[p]`` Polygon children; returns (children, parent index), sorted by parent.

    ``blob_radius`` (one value per child, NaN = ordinary) turns a child into a compact blob around its seed
    (dedicated grids): the rest of its Voronoi cell is handed to ordinary neighbours.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if (counts < 1).any():
        raise ValueError("every parent needs at least one child")
    xy, owner = sample_points(parents, counts, rng)
    cells = _voronoi_cells(parents, xy, owner)
    for _ in range(lloyd):
        xy = _lloyd_step(parents, cells, owner)
        cells = _voronoi_cells(parents, xy, owner)

    orphans: list[tuple[object, int]] = []
    ordinary = np.ones(len(cells), dtype=bool)
    if blob_radius is not None:
        special = ~np.isnan(blob_radius)
        ordinary = ~special
        if special.any():
            blob = _blobs(xy[special], blob_radius[special], rng)
            rest = shapely.difference(cells[special], blob)
            cells[special] = shapely.intersection(cells[special], blob)
            rest_parts, rest_idx = shapely.get_parts(rest, return_index=True)
            big = (shapely.get_type_id(rest_parts) == _POLYGON) & (shapely.area(rest_parts) > 0)
            src = np.flatnonzero(special)[rest_idx[big]]
            orphans += list(zip(rest_parts[big], owner[src].tolist(), strict=True))

    parts, idx = shapely.get_parts(cells, return_index=True)
    area = shapely.area(parts)
    ok = (shapely.get_type_id(parts) == _POLYGON) & (area > 0)
    parts, idx, area = parts[ok], idx[ok], area[ok]
    order = np.lexsort((-area, idx))
    parts, idx = parts[order], idx[order]
    first = np.r_[True, idx[1:] != idx[:-1]]
    if first.sum() != len(cells):
        raise RuntimeError("a tile came out empty")
    mains = parts[first]
    orphans += list(zip(parts[~first], owner[idx[~first]].tolist(), strict=True))
    if orphans:
        _absorb(mains, owner, ordinary, orphans)
    return mains, owner


def _canonical_map(xy: Floats, tol: float) -> tuple[npt.NDArray[np.complex128], Floats]:
    """Sorted unique vertices (as complex numbers) and, for each, the representative of its cluster of
    vertices closer than ``tol`` (near-duplicates computed independently by neighbouring cells)."""
    keys = np.unique(xy[:, 0] + 1j * xy[:, 1])
    pts = shapely.points(keys.real, keys.imag)
    i, j = STRtree(pts).query(pts, predicate="dwithin", distance=tol)
    label = np.arange(len(keys))
    while True:  # propagate the smallest index through each cluster
        new = label.copy()
        np.minimum.at(new, i, label[j])
        if np.array_equal(new, label):
            break
        label = new
    return keys, np.column_stack([keys.real[label], keys.imag[label]])


def node_layers(layers: list[Geoms], pool: Geoms, tol: float) -> list[Geoms]:
    """Make each layer an exact, edge-matched coverage nested in the others.

    Near-duplicate vertices of ``pool`` (the finest layer) are merged to one representative, then every
    nearby ``pool`` vertex is inserted into each geometry's edges (fixes T-junctions where children of
    different parents meet). A geometry that would turn invalid is left as it was.
    """
    keys, canon = _canonical_map(shapely.get_coordinates(pool), tol)

    def to_canon(xy: Floats) -> Floats:
        c = xy[:, 0] + 1j * xy[:, 1]
        pos = np.clip(np.searchsorted(keys, c), 0, len(keys) - 1)
        hit = keys[pos] == c
        out = xy.copy()
        out[hit] = canon[pos[hit]]
        return out

    pool_c = np.asarray(shapely.remove_repeated_points(shapely.transform(pool, to_canon)))
    tree = STRtree(pool_c)
    coords, cidx = shapely.get_coordinates(pool_c, return_index=True)
    n_coords = np.bincount(cidx, minlength=len(pool_c))
    start = np.r_[0, np.cumsum(n_coords)[:-1]]
    out = []
    for geoms in layers:
        moved = np.asarray(shapely.remove_repeated_points(shapely.transform(geoms, to_canon)))
        gi, pj = tree.query(moved, predicate="dwithin", distance=tol)
        order = np.lexsort((pj, gi))
        gi, pj = gi[order], pj[order]
        rep = n_coords[pj]
        pos = np.repeat(start[pj], rep) + ragged_rank(np.repeat(np.arange(len(pj)), rep))
        refs = shapely.multipoints(coords[pos], indices=np.repeat(gi, rep))
        snapped = np.asarray(shapely.snap(moved, refs, tol))
        bad = ~shapely.is_valid(snapped) | (shapely.get_type_id(snapped) != _POLYGON)
        snapped[bad] = geoms[bad]
        out.append(snapped)
    return out
