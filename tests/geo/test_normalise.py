"""One normaliser: the strict (demo GeoPackage) and the lenient (config) path coerce the same way."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from geopandas.testing import assert_geodataframe_equal

from geo.layers import LAYER_NAMES, read_layers
from geo.normalise import normalise_layer
from geo.sources import load_layers


def test_strict_and_config_paths_give_the_same_layers(
    tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    members = small_frames["members"].copy()
    members["phone"] = members["phone"].astype("float64")  # numeric DBF/GeoJSON fields come back as floats
    members["on_duty"] = members["on_duty"].map({True: "是", False: "否"})  # a Chinese export's yes/no
    for name in LAYER_NAMES:
        frame = members if name == "members" else small_frames[name]
        pyogrio.write_dataframe(frame, tmp_path / f"{name}.geojson")
    strict = read_layers(tmp_path)  # every layer required
    lenient = load_layers(tmp_path)  # a folder: read through the config machinery
    for name in LAYER_NAMES:
        assert_geodataframe_equal(strict.layer(name), lenient.layer(name), check_like=True)
    assert strict.members["phone"].tolist() == small_frames["members"]["phone"].tolist()  # "138…", not "138….0"
    assert strict.members["on_duty"].tolist() == small_frames["members"]["on_duty"].tolist()
    assert strict.households["size"].dtype == "int64"


def test_normalise_maps_codes_and_is_idempotent(small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    g = small_frames["grids"].head(3)
    theirs = gpd.GeoDataFrame(
        {"网格编号": [1.0, 2.0, None], "网格名称": g["name"].tolist(), "网格类型": ["综合网格", "专属网格", "综合"]},
        geometry=g.geometry.to_numpy(),
        crs=4326,
    ).rename_geometry("geom")
    out, problems = normalise_layer("grids", theirs, "grids.shp")
    assert out["grid_id"].tolist() == ["1", "2", ""]  # a missing id stays detectable as ""
    assert out["grid_type"].tolist() == ["comprehensive", "dedicated", "comprehensive"]
    assert out.geometry.name == "geometry"
    assert [p.kind for p in problems] == ["columns_mapped"]
    again, more = normalise_layer("grids", out, "grids.shp")
    pd.testing.assert_frame_equal(pd.DataFrame(again), pd.DataFrame(out))
    assert not more
