from __future__ import annotations

import numpy as np
from pyproj import Geod

from geo.bd09 import bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, wgs84_to_bd09
from geo.gcj02 import wgs84_to_gcj02


def test_public_reference_value() -> None:
    # Beijing railway station, as published with the public formulas: GCJ-02 (116.42703, 39.90245) is BD-09
    # (116.43351, 39.90851), to the 5 decimals given (±1e-5°, ~1 m, the rounding of the published values).
    lon, lat = gcj02_to_bd09(116.42703, 39.90245)
    assert abs(float(lon) - 116.43351) < 1.5e-5 and abs(float(lat) - 39.90851) < 1.5e-5
    back = bd09_to_gcj02(116.43351, 39.90851)
    assert abs(float(back[0]) - 116.42703) < 1.5e-5 and abs(float(back[1]) - 39.90245) < 1.5e-5


def test_offset_in_hangzhou_is_about_1_1_km_and_0_6_km_beyond_gcj02() -> None:
    geod = Geod(ellps="WGS84")
    lon, lat = 120.30131, 30.29211
    blon, blat = wgs84_to_bd09(lon, lat)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 1050 < geod.inv(lon, lat, float(blon), float(blat))[2] < 1200
    assert 600 < geod.inv(float(glon), float(glat), float(blon), float(blat))[2] < 1000  # what gcj02 leaves


def test_round_trips_vectorised_below_1e_9_degrees() -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(73.0, 135.0, 5000), rng.uniform(18.0, 53.0, 5000)
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9
    g_lon, g_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.abs(g_lon - lon).max() < 1e-9 and np.abs(g_lat - lat).max() < 1e-9
    nan_lon, _ = bd09_to_wgs84(np.array([np.nan, 120.3]), np.array([30.3, 30.3]))
    assert np.isnan(nan_lon[0]) and np.isfinite(nan_lon[1])
