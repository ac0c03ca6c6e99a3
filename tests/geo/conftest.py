"""Shared fixtures: a small generated data set (fast) and the committed demo file."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from geo.layers import GeoLayers, read_layers
from geo.synthetic import build, generate
from tests.support.geodata import SMALL, SMALL_SEED
from tests.support.paths import DEMO_GPKG


@pytest.fixture(scope="session")
def small_frames() -> dict[str, gpd.GeoDataFrame]:
    return build(SMALL_SEED, SMALL)


@pytest.fixture(scope="session")
def small_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("small"), seed=SMALL_SEED, scale=SMALL, progress=False)


@pytest.fixture(scope="session")
def small_layers(small_gpkg: Path) -> GeoLayers:
    return read_layers(small_gpkg)


@pytest.fixture(scope="session")
def demo_layers() -> GeoLayers:
    return read_layers(DEMO_GPKG)
