from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from dashboard.settings import DEFAULT_DATA
from geo.display import display_layers
from geo.gcj02 import wgs84_to_gcj02
from geo.layers import LAYER_NAMES, GeoLayers, GeoValidationError, read_layers
from geo.synthetic import write_gpkg
from geo.validate import REQUIRED_LAYER_NAMES

BOWTIE = shapely.Polygon([(120.27, 30.30), (120.28, 30.31), (120.28, 30.30), (120.27, 30.31)])


def _copy(frames: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return {k: v.copy() for k, v in frames.items()}


def test_reads_demo_as_wgs84(small_layers: GeoLayers) -> None:
    for name in LAYER_NAMES:
        assert small_layers.layer(name).crs.to_epsg() == 4326
    assert small_layers.members["on_duty"].dtype == bool
    assert small_layers.metric_crs.to_epsg() == 32651


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_one_error_lists_every_problem(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    frames = _copy(small_frames)
    grids = frames["grids"]
    ids = list(grids["grid_id"])
    grids.loc[0, "geometry"] = BOWTIE
    grids.loc[1, "geometry"] = shapely.Polygon()
    grids.loc[2, "grid_id"] = ids[3]
    frames["units"] = frames["units"].drop(columns="resources")
    frames["members"] = frames["members"].set_crs(None, allow_override=True)
    path = tmp_path / "broken.gpkg"
    write_gpkg(frames, path)

    with pytest.raises(GeoValidationError) as info:
        read_layers(path)
    err = info.value
    found = {(p.layer, p.feature_id, p.message.split(":")[0].split(" (")[0]) for p in err.problems}
    assert ("grids", ids[0], "invalid geometry") in found
    assert ("grids", ids[1], "empty geometry") in found
    assert ("grids", ids[3], "duplicate id") in found
    assert ("units", "", "missing required column 'resources'") in found
    assert ("members", "", "missing CRS") in found
    assert "Self-intersection" in str(err)
    assert "broken.gpkg" in str(err) and "'members'" in str(err)  # names the file and the layer
    assert len(err.problems) >= 5


def test_wrong_geometry_type_missing_id_and_dangling_reference(small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    frames = _copy(small_frames)
    frames["communities"].loc[0, "geometry"] = shapely.Point(120.29, 30.31)
    frames["micro_grids"].loc[0, "micro_grid_id"] = ""
    frames["households"].loc[0, "member_id"] = "P-NOPE"
    with pytest.raises(GeoValidationError) as info:
        GeoLayers.from_frames(frames)
    reasons = [str(p) for p in info.value.problems]
    assert any("communities[" in r and "wrong geometry type Point" in r for r in reasons)
    assert any(r.startswith("micro_grids[row 0]: missing id") for r in reasons)
    assert any("member_id='P-NOPE' not found in members.member_id" in r for r in reasons)


def test_missing_layer_is_reported(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    path = tmp_path / "partial.gpkg"
    for name in ("street", "grids"):
        pyogrio.write_dataframe(small_frames[name], path, layer=name, driver="GPKG")
    with pytest.raises(GeoValidationError) as info:
        read_layers(path)
    missing = {p.layer for p in info.value.problems if "layer missing" in p.message}
    assert missing == set(REQUIRED_LAYER_NAMES) - {"street", "grids"}
    (optional,) = [p for p in info.value.problems if p.layer == "basic_units"]  # optional: a note, not an error
    assert optional.severity == "info" and optional.kind == "optional_layer"


def test_folder_of_files_is_reprojected(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    for name, gdf in small_frames.items():
        out = gdf.to_crs(3857) if name in ("grids", "members") else gdf
        pyogrio.write_dataframe(out, tmp_path / f"{name}.geojson" if name != "units" else tmp_path / "units.gpkg")
    layers = read_layers(tmp_path)
    assert layers.grids.crs.to_epsg() == 4326
    a = small_frames["grids"].geometry.to_numpy()
    b = layers.grids.geometry.to_numpy()
    assert shapely.hausdorff_distance(a, b).max() < 1e-7  # degrees
    assert len(layers.units) == len(small_frames["units"])


def test_missing_file_raises() -> None:
    with pytest.raises(FileNotFoundError):
        read_layers("/nonexistent/nowhere.gpkg")


def test_layers_drawn_over_gcj02_tiles_are_shifted_by_the_gcj02_offset() -> None:
    layers = read_layers(DEFAULT_DATA)
    assert display_layers(layers, "wgs84") is layers
    shown = display_layers(layers, "gcj02")
    for name in ("grids", "members"):
        before = shapely.get_coordinates(getattr(layers, name).geometry.to_numpy())
        after = shapely.get_coordinates(getattr(shown, name).geometry.to_numpy())
        lon, lat = wgs84_to_gcj02(before[:, 0], before[:, 1])
        assert np.allclose(after, np.column_stack([lon, lat]))
        assert 200 < abs(after[0, 0] - before[0, 0]) * 95_000 + abs(after[0, 1] - before[0, 1]) * 111_000 < 1200
    with pytest.raises(ValueError, match="bd09"):
        display_layers(layers, "bd09")
