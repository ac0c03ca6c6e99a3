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

from geo.layers import GeoLayers

ArrayLike = npt.ArrayLike
LOCATE_COLUMNS = ["micro_grid_id", "grid_id", "community_id"]
NEAREST_COLUMNS = ["member_id", "name", "role", "grid_id", "skills", "distance_m", "query_index"]
_CHUNK_CELLS = 4_000_000  # query × candidate distances computed per block (~32 MB of float64)


class SpatialIndex:
    """Built once per data set; ``locate`` and ``nearest_members`` are vectorised and thread-safe (read-only)."""

    def __init__(self, layers: GeoLayers) -> None:
        self.layers = layers
        micro = layers.micro_grids
        self._geoms = np.asarray(micro.geometry.values, dtype=object)
        shapely.prepare(self._geoms)
        self._tree = STRtree(self._geoms)
        # One extra "" entry at the end is what points outside every micro-grid resolve to.
        self._ids = {c: np.append(micro[c].to_numpy(dtype=object), "") for c in LOCATE_COLUMNS}
        self._to_metric = Transformer.from_crs(4326, layers.metric_crs, always_xy=True)
        m = layers.members
        self._member_cols = {c: m[c].to_numpy(dtype=object) for c in ("member_id", "name", "role", "grid_id", "skills")}
        self._on_duty = m["on_duty"].to_numpy(dtype=bool)
        self._roles = m["role"].to_numpy(dtype=object)
        self._candidates: dict[tuple[bool, frozenset[str] | None], npt.NDArray[np.intp]] = {}

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
        coords = shapely.get_coordinates(self.layers.members.geometry.values)
        x, y = self._to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def to_metric(self, lon: ArrayLike, lat: ArrayLike) -> npt.NDArray[np.float64]:
        x, y = self._to_metric.transform(np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float)))
        return np.column_stack([x, y])

    def _members_for(self, on_duty_only: bool, roles: Iterable[str] | None) -> npt.NDArray[np.intp]:
        key = (on_duty_only, None if roles is None else frozenset(roles))
        if key not in self._candidates:
            mask = self._on_duty.copy() if on_duty_only else np.ones(len(self._on_duty), dtype=bool)
            if key[1] is not None:
                mask &= np.isin(self._roles, list(key[1]))
            self._candidates[key] = np.flatnonzero(mask)
        return self._candidates[key]

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
        Exact brute force in numpy, chunked: ~1 ms per query point at 100,000 members.
        """
        q = self.to_metric(lon, lat)
        cand = self._members_for(on_duty_only, roles)
        k = min(n, len(cand))
        if k <= 0 or not len(q):
            return pd.DataFrame({c: pd.Series(dtype=float if c == "distance_m" else object) for c in NEAREST_COLUMNS})
        cxy = self.members_xy[cand]
        step = max(1, _CHUNK_CELLS // len(cand))
        picks, dists = [], []
        for s in range(0, len(q), step):
            block = q[s : s + step]
            d = np.hypot(block[:, :1] - cxy[:, 0], block[:, 1:] - cxy[:, 1])
            part = (
                np.argpartition(d, k - 1, axis=1)[:, :k]
                if k < len(cand)
                else np.tile(np.arange(len(cand)), (len(block), 1))
            )
            dd = np.take_along_axis(d, part, axis=1)
            order = np.lexsort((part, dd), axis=1)  # distance, then member order for ties
            picks.append(np.take_along_axis(part, order, axis=1))
            dists.append(np.take_along_axis(dd, order, axis=1))
        idx = cand[np.concatenate(picks)].ravel()
        dist = np.concatenate(dists).ravel()
        query = np.repeat(np.arange(len(q)), k)
        keep = np.isfinite(dist) if max_distance_m is None else dist <= max_distance_m
        idx, dist, query = idx[keep], dist[keep], query[keep]
        out = pd.DataFrame({c: v[idx] for c, v in self._member_cols.items()})
        out["distance_m"] = dist
        out["query_index"] = query
        return out
