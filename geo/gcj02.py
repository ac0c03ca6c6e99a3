"""GCJ-02 (the offset datum Chinese web maps use) ↔ WGS-84, vectorised.

GCJ-02 is defined by China's national surveying rules (the algorithm is not officially published); the forward
transform here is the widely circulated public one (e.g. the ``eviltransform``/``coordtransform`` projects), on
the Krasovsky 1940 ellipsoid (a = 6378245 m, e² = 0.00669342162296594323). Offsets are a few hundred metres
(300–700 m around Hangzhou). The inverse iterates the forward transform to a fixed point (error < 1e-9° after a
handful of steps). Points outside China's rough bounding box are returned unchanged, as the public
implementations do. Inputs and outputs are degrees (lon, lat), scalars or arrays of one shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

_A = 6378245.0
_EE = 0.00669342162296594323


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where the point is inside the box GCJ-02 applies to (72.004–137.8347 E, 0.8293–55.8271 N)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return np.asarray((x >= 72.004) & (x <= 137.8347) & (y >= 0.8293) & (y <= 55.8271))


def _d_lat(x: Floats, y: Floats) -> Floats:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return r


def _d_lon(x: Floats, y: Floats) -> Floats:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return r


def _offset(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    dlat = _d_lat(lon - 105.0, lat - 35.0)
    dlon = _d_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """WGS-84 → GCJ-02 (arrays or scalars in, float arrays out)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dx, dy = _offset(x, y)
    return x + dx, y + dy


def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, tol: float = 1e-10, max_iter: int = 30
) -> tuple[Floats, Floats]:
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward transform (round trip < ``tol`` degrees)."""
    gx, gy = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return invert_by_iteration(wgs84_to_gcj02, gx, gy, gx.copy(), gy.copy(), tol, max_iter)


def invert_by_iteration(
    forward: Callable[[Floats, Floats], tuple[Floats, Floats]],
    tx: Floats,
    ty: Floats,
    x: Floats,
    y: Floats,
    tol: float,
    max_iter: int,
) -> tuple[Floats, Floats]:
    """The (x, y) that ``forward`` maps to (``tx``, ``ty``), by fixed-point iteration from the start (``x``,
    ``y``) until the round trip is within ``tol`` (degrees) or ``max_iter`` steps; the inverse of a small shift."""
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if not np.any(np.abs(ex) > tol) and not np.any(np.abs(ey) > tol):  # NaN input never blocks exit
            break
    return x, y
