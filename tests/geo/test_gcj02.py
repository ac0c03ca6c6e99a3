from __future__ import annotations

import numpy as np
from pyproj import Geod

from geo.gcj02 import gcj02_to_wgs84, in_china, wgs84_to_gcj02


def test_offset_in_hangzhou_is_a_few_hundred_metres() -> None:
    lon, lat = 120.29, 30.31
    glon, glat = wgs84_to_gcj02(lon, lat)
    _, _, d = Geod(ellps="WGS84").inv(lon, lat, float(glon), float(glat))
    assert 100 < d < 800
    assert glon > lon and glat < lat  # in eastern China GCJ-02 is shifted east and south


# (wgs lat, wgs lon, gcj lat, gcj lon): test vectors shipped with the public eviltransform implementations.
REFERENCE = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


def test_reference_values() -> None:
    wlat, wlon, glat, glon = (np.array(c) for c in zip(*REFERENCE, strict=True))
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    np.testing.assert_allclose(lon, glon, atol=1e-9)
    np.testing.assert_allclose(lat, glat, atol=1e-9)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(back_lon, wlon, atol=1e-9)
    np.testing.assert_allclose(back_lat, wlat, atol=1e-9)


def test_round_trip_below_1e_6_degrees() -> None:
    rng = np.random.default_rng(1)
    lon = rng.uniform(73.0, 135.0, 10_000)
    lat = rng.uniform(18.0, 53.0, 10_000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-6
    assert np.abs(back_lat - lat).max() < 1e-6
    # and in the other direction
    fwd_lon, fwd_lat = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.abs(fwd_lon - lon).max() < 1e-6
    assert np.abs(fwd_lat - lat).max() < 1e-6


def test_outside_china_unchanged_and_vectorised() -> None:
    lon = np.array([2.35, -74.0, 120.29])
    lat = np.array([48.85, 40.7, 30.31])
    assert in_china(lon, lat).tolist() == [False, False, True]
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon.shape == (3,)
    assert glon[:2].tolist() == lon[:2].tolist() and glat[:2].tolist() == lat[:2].tolist()
    assert glon[2] != lon[2]
    wlon, _ = gcj02_to_wgs84(np.array([np.nan, 120.0]), np.array([30.0, 30.0]))
    assert np.isnan(wlon[0]) and np.isfinite(wlon[1])
