"""BD-09 (Baidu Map's coordinates) ↔ GCJ-02 ↔ WGS-84, vectorised.

BD-09 is Baidu's second obfuscation on top of GCJ-02 (``geo.gcj02``): a small polar rotation and scaling plus a
fixed offset of (0.0065°, 0.006°), about 1.1 km north-east of WGS-84 around Hangzhou (GCJ-02 alone: ~0.5 km).
The forward formula (GCJ-02 → BD-09) is the widely circulated public one, as in the ``coordtransform``
(wandergis/coordTransform_py, ``gcj02_to_bd09``) and ``eviltransform`` projects::

    z     = sqrt(x² + y²) + 2e-5 · sin(y · π·3000/180)
    θ     = atan2(y, x)   + 3e-6 · cos(x · π·3000/180)
    x_bd  = z · cos θ + 0.0065,   y_bd = z · sin θ + 0.006

The published closed-form inverse is approximate (errors up to ~1e-6°, 0.1 m); here the inverse starts from it
and iterates the forward transform to a fixed point (error < 1e-10° after a few steps). Unlike GCJ-02, Baidu
applies its offset everywhere, so no China box is tested here (the GCJ-02 step keeps its own). Inputs and
outputs are degrees (lon, lat), scalars or arrays of one shape; NaN in, NaN out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geo.gcj02 import Floats, gcj02_to_wgs84, invert_by_iteration, wgs84_to_gcj02

_X_PI = np.pi * 3000.0 / 180.0
_DX, _DY = 0.0065, 0.006


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """GCJ-02 → BD-09 (the public forward formula, module doc)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _DX, z * np.sin(theta) + _DY


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike, tol: float = 1e-10, max_iter: int = 10) -> tuple[
    Floats, Floats
]:  # fmt: skip
    """BD-09 → GCJ-02: the public closed-form inverse, refined by fixed-point iteration of ``gcj02_to_bd09``
    until the round trip is within ``tol`` degrees."""
    bx, by = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    x, y = bx - _DX, by - _DY
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return invert_by_iteration(gcj02_to_bd09, bx, by, z * np.cos(theta), z * np.sin(theta), tol, max_iter)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Floats, Floats]:
    """BD-09 → WGS-84 (through GCJ-02; each inverse iterated, round trip < 1e-9°)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
