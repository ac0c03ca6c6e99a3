"""Spatial index: point → micro-grid/grid/community, and nearest party members in metres."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Transformer
from shapely import STRtree

from geo._tiling import ragged_rank
from geo.columns import point_lonlat
from geo.model import GeoLayers

ArrayLike = npt.ArrayLike
LOCATE_COLUMNS = ["micro_grid_id", "grid_id", "community_id"]
NEAREST_COLUMNS = ["member_id", "name", "role", "grid_id", "skills", "distance_m", "query_index"]
# Up to this many (query, eligible member) pairs, distances are measured to every eligible member at once (a detail
# panel's one incident against a city's 100,000 members: ~2 ms, a few MB for a moment) and the member tree is never
# built — its 100,000 shapely Points are ~22 MB of a server that only ever asks about one incident at a time.
EXHAUSTIVE_PAIRS = 300_000


class SpatialIndex:
    """Built once per data set; ``locate`` and ``nearest_members`` are vectorised and thread-safe (read-only)."""

    def __init__(self, layers: GeoLayers) -> None:
        self.layers = layers
        micro = layers.micro_grids
        self._geoms = np.asarray(micro.geometry.values, dtype=object)
        # not shapely.prepare'd: STRtree.query prepares the query points, never the tree's polygons, so prepared
        # micro-grids only cost memory (~7 MB for a city's 50,000 after 20,000 locates, no faster)
        self._tree = STRtree(self._geoms)
        # One extra "" entry at the end is what points outside every micro-grid resolve to.
        self._ids = {c: np.append(micro[c].to_numpy(dtype=object), "") for c in LOCATE_COLUMNS}
        self._to_metric = Transformer.from_crs(4326, layers.metric_crs, always_xy=True)
        m = layers.members
        self._member_cols = {c: m[c].to_numpy(dtype=object) for c in ("member_id", "name", "role", "grid_id", "skills")}
        self._on_duty = m["on_duty"].to_numpy(dtype=bool)
        self._roles = m["role"].to_numpy(dtype=object)
        self._eligible: dict[tuple[bool, frozenset[str] | None], npt.NDArray[np.bool_]] = {}

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> pd.DataFrame:
        """Micro-grid, grid and community of each point ("" outside every grid, or for NaN input).

        A point on a shared boundary goes to the micro-grid that comes first in the layer, so the answer is
        deterministic.
        """
        x = np.atleast_1d(np.asarray(lon, dtype=float))
        y = np.atleast_1d(np.asarray(lat, dtype=float))
        n_out = len(self._geoms)
        best = np.full(len(x), n_out, dtype=np.intp)
        if len(x):
            inp, hit = self._tree.query(shapely.points(x, y), predicate="intersects")
            np.minimum.at(best, inp, hit)
        return pd.DataFrame({c: ids[best] for c, ids in self._ids.items()})

    @cached_property
    def members_xy(self) -> npt.NDArray[np.float64]:
        """Member coordinates in the metric CRS (metres), shape (n, 2)."""
        lon, lat = point_lonlat(self.layers.members)  # a GeoDataFrame or a served one (geo.columns.point_columns)
        x, y = self._to_metric.transform(lon, lat)
        return np.column_stack([x, y])

    def to_metric(self, lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.float64]:
        """WGS-84 degrees (scalars or shape (n,)) → shape (n, 2) metres in ``layers.metric_crs``."""
        x, y = self._to_metric.transform(np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float)))
        return np.column_stack([x, y])

    def _eligible_members(self, on_duty_only: bool, roles: Iterable[str] | None) -> npt.NDArray[np.bool_]:
        key = (on_duty_only, None if roles is None else frozenset(roles))
        if key not in self._eligible:
            mask = self._on_duty.copy() if on_duty_only else np.ones(len(self._on_duty), dtype=bool)
            if key[1] is not None:
                mask &= np.isin(self._roles, list(key[1]))
            self._eligible[key] = mask
        return self._eligible[key]

    @cached_property
    def _member_extent(self) -> tuple[float, float]:
        """(bounding-box area m², diagonal m) of all members."""
        span = self.members_xy.max(axis=0) - self.members_xy.min(axis=0) if len(self.members_xy) else np.zeros(2)
        return float(max(span[0] * span[1], 1.0)), float(np.hypot(*span)) + 1.0

    @cached_property
    def _member_tree(self) -> STRtree:
        return STRtree(shapely.points(self.members_xy))

    def nearest_members(
        self,
        lon: ArrayLike,
        lat: ArrayLike,
        n: int = 5,
        on_duty_only: bool = True,
        max_distance_m: float | None = None,
        roles: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """The ``n`` nearest members of each query point, sorted by (query_index, distance_m).

        Distances are straight-line metres in ``layers.metric_crs`` (UTM; < 0.1 % from geodesic here).
        Exact: for a few queries (``EXHAUSTIVE_PAIRS``) the distance to every eligible member, else an STRtree
        radius search that doubles the radius for queries with fewer than ``n`` eligible members inside it; ties
        are broken by member order.
        """
        q = self.to_metric(lon, lat)
        eligible = self._eligible_members(on_duty_only, roles)
        n_eligible = int(eligible.sum())
        if n <= 0 or not n_eligible or not len(q):
            return pd.DataFrame({c: pd.Series(dtype=float if c == "distance_m" else object) for c in NEAREST_COLUMNS})
        finite = np.asarray(np.isfinite(q).all(axis=1), dtype=bool)
        cap = np.inf if max_distance_m is None else float(max_distance_m)
        if int(finite.sum()) * n_eligible <= EXHAUSTIVE_PAIRS:
            found = [self._all_pairs(q, np.flatnonzero(finite), np.flatnonzero(eligible), n, cap)]
        else:
            found = self._tree_pairs(q, finite, eligible, n, n_eligible, cap)
        qi = np.concatenate([f[0] for f in found])
        mj = np.concatenate([f[1] for f in found])
        d = np.concatenate([f[2] for f in found])
        order = np.lexsort((mj, d, qi))
        qi, mj, d = qi[order], mj[order], d[order]
        top = ragged_rank(qi) < n
        qi, mj, d = qi[top], mj[top], d[top]
        out = pd.DataFrame({c: v[mj] for c, v in self._member_cols.items()})
        out["distance_m"] = d
        out["query_index"] = qi
        return out

    def _all_pairs(
        self,
        q: npt.NDArray[np.float64],
        queries: npt.NDArray[np.intp],
        members: npt.NDArray[np.intp],
        n: int,
        cap: float,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """(query index, member index, metres) of the pairs of ``queries`` and ``members`` within ``cap`` and no
        farther than each query's ``n``-th nearest (ties at that distance all kept: member order breaks them)."""
        xy = self.members_xy[members]
        d = np.hypot(q[queries, 0][:, None] - xy[None, :, 0], q[queries, 1][:, None] - xy[None, :, 1])
        if n < d.shape[1]:
            cap_each = np.minimum(np.partition(d, n - 1, axis=1)[:, n - 1], cap)
        else:
            cap_each = np.full(len(queries), cap)
        qi, mk = np.nonzero(d <= cap_each[:, None])
        return queries[qi], members[mk], d[qi, mk]

    def _tree_pairs(
        self,
        q: npt.NDArray[np.float64],
        finite: npt.NDArray[np.bool_],
        eligible: npt.NDArray[np.bool_],
        n: int,
        n_eligible: int,
        cap: float,
    ) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]]:
        """The pairs holding at least the ``n`` nearest eligible members of each finite query (or all within
        ``cap``): an STRtree radius search that doubles the radius for queries with fewer inside it."""
        xy = self.members_xy
        area, extent = self._member_extent
        # Start where ~4n eligible members are expected inside the circle.
        radius = float(np.sqrt(4 * n * area / (np.pi * n_eligible)))
        pts = shapely.points(q)
        pending = np.flatnonzero(finite)
        found: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]] = []
        while pending.size:
            r = min(radius, cap)
            qi, mj = self._member_tree.query(pts[pending], predicate="dwithin", distance=r)
            ok = eligible[mj]
            qi, mj = pending[qi[ok]], mj[ok]
            d = np.hypot(q[qi, 0] - xy[mj, 0], q[qi, 1] - xy[mj, 1])
            inside = d <= r
            qi, mj, d = qi[inside], mj[inside], d[inside]
            count = np.bincount(qi, minlength=len(q))[pending]
            done = (count >= n) | (r >= cap) | (r >= extent)
            sel = np.isin(qi, pending[done])
            found.append((qi[sel], mj[sel], d[sel]))
            pending = pending[~done]
            radius *= 2
        return found
