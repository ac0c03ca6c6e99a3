"""Users' files the tests make: GBK shapefiles without .cpg, Gauss-Krüger/Beijing 1954/Lambert/UTM, missing CRS,
GCJ-02, zipped shapefiles, overlapping and gapped grids, config files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geo.config import ConfigError
from geo.crs import from_gcj02
from geo.gcj02 import wgs84_to_gcj02
from geo.index import SpatialIndex
from geo.io.encoding import detect_dbf_encoding
from geo.problems import GeoValidationError
from geo.report import validate
from geo.sources import load_config, load_layers, resolve_config
from geo.text import mojibake_score
from geo.user_export import write_gbk_shapefile_zip

# GDAL's note when it cuts UTF-8 field names at 10 bytes (the very quirk these files are made to have)
pytestmark = pytest.mark.filterwarnings("ignore:Could not decode error message to UTF-8")


def zh_grids(small_frames: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    g = small_frames["grids"]
    return gpd.GeoDataFrame(
        {"网格编号": g["grid_id"], "网格名称": g["name"], "所属社区": g["community_id"]},
        geometry=g.geometry.values,
        crs=4326,
    )


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "onescreen.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_gbk_shapefile_without_cpg_decodes(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    shp = tmp_path / "网格.shp"
    pyogrio.write_dataframe(zh_grids(small_frames), shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    data = bytearray(shp.with_suffix(".dbf").read_bytes())
    data[29] = 0  # no language driver byte either
    shp.with_suffix(".dbf").write_bytes(bytes(data))
    assert detect_dbf_encoding(bytes(data)).encoding == "GB18030"

    naive = pyogrio.read_dataframe(shp)  # what GDAL alone makes of it
    assert mojibake_score(naive.columns[:3]) > 0.5

    r = validate(resolve_config(shp))
    assert r.ok, r.to_text()
    assert any(p.kind == "encoding_detected" and "GB18030" in p.message for p in r.problems)
    layers = load_layers(shp)
    assert layers.grids["name"].tolist() == small_frames["grids"]["name"].tolist()
    assert layers.grids["grid_id"].tolist() == small_frames["grids"]["grid_id"].tolist()

    wrong = validate(resolve_config(shp, encoding="latin-1"))  # --encoding overrides, and mojibake is reported
    assert any(p.kind == "mojibake" for p in wrong.warnings), wrong.to_text()


def test_zipped_shapefile_via_vsizip(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    zipped = write_gbk_shapefile_zip(zh_grids(small_frames).to_crs(4549), tmp_path / "grids.zip", "网格")
    with zipfile.ZipFile(zipped) as zf:
        assert not any(n.endswith(".cpg") for n in zf.namelist())
    layers = load_layers(zipped)
    assert layers.grids["name"].tolist() == small_frames["grids"]["name"].tolist()
    a, b = small_frames["grids"].geometry.to_numpy(), layers.grids.geometry.to_numpy()
    assert shapely.hausdorff_distance(a, b).max() < 1e-7


LAMBERT = "+proj=lcc +lat_1=29 +lat_2=31 +lat_0=30 +lon_0=120.5 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:4528", "EPSG:2437", "EPSG:32651", LAMBERT])
def test_projected_crs_are_reprojected(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame], crs: str) -> None:
    shp = tmp_path / "grids.shp"
    pyogrio.write_dataframe(zh_grids(small_frames).to_crs(crs), shp, encoding="UTF-8")
    r = validate(resolve_config(shp))
    assert r.ok, r.to_text()
    assert any(p.kind == "reprojected" for p in r.problems)
    cut = {p.message.split("'")[1] for p in r.warnings if p.kind == "truncated_field_name"}
    assert cut == {"网格编\ufffd", "网格名\ufffd", "所属社\ufffd"}  # UTF-8 names cut at 10 bytes, still mapped
    layers = load_layers(shp)
    assert layers.grids["name"].tolist() == small_frames["grids"]["name"].tolist()
    assert layers.grids.crs.to_epsg() == 4326
    a, b = small_frames["grids"].geometry.to_numpy(), layers.grids.geometry.to_numpy()
    assert shapely.hausdorff_distance(a, b).max() < 1e-6  # the round trip through the file's CRS


@pytest.mark.parametrize(("crs", "hint"), [("EPSG:4549", "EPSG:4549"), ("EPSG:4528", "zone number 40")])
def test_missing_crs_names_the_file_and_the_way_out(
    tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame], crs: str, hint: str
) -> None:
    shp = tmp_path / "grids.shp"
    pyogrio.write_dataframe(zh_grids(small_frames).to_crs(crs), shp, encoding="UTF-8")
    shp.with_suffix(".prj").unlink()
    r = validate(resolve_config(shp))
    (p,) = r.errors
    assert p.kind == "missing_crs" and str(shp) in p.message and "--assume-crs" in p.message and hint in p.message
    with pytest.raises(GeoValidationError, match="--assume-crs"):
        load_layers(shp)
    layers = load_layers(shp, assume_crs=crs)
    assert (
        shapely.hausdorff_distance(small_frames["grids"].geometry.to_numpy(), layers.grids.geometry.to_numpy()).max()
        < 1e-6
    )


def _gcj(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    def shift(xy: np.ndarray) -> np.ndarray:
        x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return frame.set_geometry(shapely.transform(frame.geometry.to_numpy(), shift))


def test_gcj02_layer_draws_a_warning_and_converts_when_declared(
    tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    pyogrio.write_dataframe(small_frames["grids"], tmp_path / "grids.geojson")
    pyogrio.write_dataframe(_gcj(small_frames["members"]), tmp_path / "members.geojson")
    body = '[layers.grids]\nsource = "grids.geojson"\n[layers.members]\nsource = "members.geojson"\n'
    r = validate(load_config(write_config(tmp_path, body)))
    (warn,) = [p for p in r.warnings if p.kind == "gcj02_suspect"]
    assert warn.layer == "members" and "crs_hint = 'gcj02'" in warn.message and warn.file.endswith("members.geojson")
    assert r.warnings[0] is warn  # the datum shift comes first: it explains the rest

    r = validate(load_config(write_config(tmp_path, body + 'crs_hint = "gcj02"\n')))
    assert not [p for p in r.problems if p.kind in ("gcj02_suspect", "outside_grids")], r.to_text()
    layers = load_layers(config_path=tmp_path / "onescreen.toml")
    a = shapely.get_coordinates(small_frames["members"].geometry.to_numpy())
    b = shapely.get_coordinates(layers.members.geometry.to_numpy())
    assert np.abs(a - b).max() < 1e-7
    assert from_gcj02(np.asarray([shapely.Point(120.3, 30.3)], dtype=object))[0].x < 120.3


def test_overlaps_gaps_outside_and_stray_points(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    grids = small_frames["grids"].copy()
    comm = small_frames["communities"]
    metric = grids.estimate_utm_crs()
    g = grids.to_crs(metric)
    geoms = g.geometry.to_numpy().copy()
    # grid 1 grows 20 m into its neighbours and out of its community; grid 5 shrinks by 15 m: a gap
    geoms[1] = shapely.buffer(geoms[1], 20, join_style="mitre")
    geoms[5] = shapely.buffer(geoms[5], -15, join_style="mitre")
    grids = g.set_geometry(geoms).to_crs(4326)
    members = small_frames["members"].copy()
    members.loc[0, "geometry"] = shapely.Point(121.5, 31.0)  # far outside every grid
    for name, frame in (("grids", grids), ("communities", comm), ("members", members)):
        pyogrio.write_dataframe(frame, tmp_path / f"{name}.gpkg", layer=name)
    body = "".join(f'[layers.{n}]\nsource = "{n}.gpkg"\n' for n in ("grids", "communities", "members"))
    r = validate(load_config(write_config(tmp_path, body)))
    assert r.ok  # all warnings
    gid = grids["grid_id"].tolist()
    overlaps = [
        p for p in r.warnings if p.kind == "overlap" and gid[1] in (p.feature_id, p.message.split("[")[-1][:-1])
    ]
    assert overlaps and any(p.area_m2 and p.area_m2 > 1000 for p in overlaps) and all(p.lon for p in overlaps)
    gap = [
        p
        for p in r.warnings
        if p.kind == "gap" and p.layer == "communities" and p.feature_id == grids["community_id"][5]
    ]
    expected = shapely.area(g.geometry.to_numpy()[5]) - shapely.area(geoms[5])
    assert gap and sum(p.area_m2 or 0 for p in gap) == pytest.approx(expected, rel=0.1)
    assert any(p.kind == "outside_parent" and p.feature_id == gid[1] and p.area_m2 for p in r.warnings)
    stray = [p for p in r.warnings if p.kind == "outside_grids"]
    assert stray[0].feature_id == members["member_id"][0] and stray[0].lon == pytest.approx(121.5)
    in_gap = shapely.intersects(geoms[5], members.to_crs(metric).geometry.to_numpy())  # those in the shrunk-off rim
    assert len(stray) >= 1 and all(p.feature_id not in set(members["member_id"][in_gap]) for p in stray)


def test_config_errors_are_listed_together(tmp_path: Path) -> None:
    body = (
        '[layers.gridz]\nsource = "x.shp"\n'
        '[layers.members]\nsource = "nope.gpkg"\n[layers.members.columns]\n"姓名" = "nmae"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, body))
    text = str(info.value)
    assert "gridz" in text and "unknown layer" in text and "nope.gpkg does not exist" in text and "'nmae'" in text
    assert "required layer grids not configured" in text and "optional" in text


def test_grids_only_config_runs_with_defaults(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    g = small_frames["grids"]
    pyogrio.write_dataframe(
        gpd.GeoDataFrame({"编号": g["grid_id"], "名称": g["name"]}, geometry=g.geometry.values, crs=4326),
        tmp_path / "grids.geojson",
    )
    layers = load_layers(
        config_path=write_config(tmp_path, '[street]\nname = "测试街道"\n[layers.grids]\nsource = "grids.geojson"\n')
    )
    assert layers.street["name"].tolist() == ["测试街道"]
    assert (
        len(layers.communities) == 1 and (layers.grids["community_id"] == layers.communities["community_id"][0]).all()
    )
    assert layers.micro_grids["micro_grid_id"].tolist() == g["grid_id"].tolist()
    assert layers.members.empty and list(layers.members.columns)[:2] == ["member_id", "name"]
    index = SpatialIndex(layers)
    pts = shapely.point_on_surface(g.geometry.to_numpy())
    got = index.locate(shapely.get_x(pts), shapely.get_y(pts))
    assert got["grid_id"].tolist() == g["grid_id"].tolist()
    assert index.nearest_members(120.29, 30.31).empty


def test_names_as_keys_must_be_unique(tmp_path: Path, small_frames: dict[str, gpd.GeoDataFrame]) -> None:
    g = small_frames["grids"].head(3)
    frame = gpd.GeoDataFrame({"网格名称": ["甲", "乙", "甲"]}, geometry=g.geometry.values, crs=4326)
    pyogrio.write_dataframe(frame, tmp_path / "grids.geojson")
    r = validate(resolve_config(tmp_path / "grids.geojson"))
    (p,) = r.errors
    assert p.kind == "duplicate_name_key" and "'甲'" in p.message and "rows 0, 2" in p.message
