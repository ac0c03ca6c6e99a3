"""`onescreen validate` on users' data: text and JSON, exit status, --fix, --assume-crs, mixed geometry types."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from dashboard.cli import main
from tests.support.paths import ZJ_GRIDS

REAL = ZJ_GRIDS
pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided")  # files without a CRS, on purpose
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} missing")


@needs_real
def test_json_report_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(REAL / "xingpu_grid.geojson"), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and out["errors"] == 1 and out["layers"]["grids"]["features"] == 8
    (bad,) = [p for p in out["problems"] if p["severity"] == "error"]
    assert (
        bad["kind"] == "invalid_geometry" and bad["feature_id"] == "1" and bad["file"].endswith("xingpu_grid.geojson")
    )
    assert round(bad["lon"], 3) == 122.316 and round(bad["lat"], 3) == 29.977
    assert main(["validate", str(REAL / "xihe_grid.geojson")]) == 0  # warnings do not fail
    assert "WARNINGS (1)" in capsys.readouterr().out


@needs_real
def test_fix_lists_changes_and_the_copy_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fixed.gpkg"
    assert main(["validate", str(REAL / "xingpu_grid_bianjie.geojson"), "--fix", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False  # the input
    assert [c["action"] for c in report["fix"]["changes"]] == ["polygonized"]
    assert report["fix"]["after"]["ok"] is True
    fixed = pyogrio.read_dataframe(out, layer="grids")
    assert fixed.geometry.iloc[0].geom_type == "Polygon" and fixed["grid_id"].tolist() == ["2"]


def test_missing_input_and_assume_crs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.shp")]) == 1
    assert "no such file" in capsys.readouterr().err
    shp = tmp_path / "grids.shp"
    boxes = [shapely.box(500_000 + i * 100, 3_350_000, 500_100 + i * 100, 3_350_100) for i in range(3)]
    pyogrio.write_dataframe(gpd.GeoDataFrame({"id": ["a", "b", "c"]}, geometry=boxes, crs=None), shp)
    assert main(["validate", str(shp)]) == 1
    text = capsys.readouterr().out
    assert "has no CRS" in text and "--assume-crs" in text and str(shp) in text and "EPSG:4549" in text
    assert main(["validate", str(shp), "--assume-crs", "EPSG:4549"]) == 0
    assert "assumed EPSG:4549" in capsys.readouterr().out

    # GeoJSON means degrees: metres in it are caught, with a guess
    metres = tmp_path / "metres.geojson"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"id": ["a", "b", "c"]}, geometry=boxes, crs=None), metres)
    assert main(["validate", str(metres)]) == 1
    assert "coordinates are not degrees" in capsys.readouterr().out


def test_mixed_geometry_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "grids.geojson"
    geoms = [shapely.box(120.0, 30.0, 120.01, 30.01), shapely.box(120.01, 30.0, 120.02, 30.01)]
    geoms.append(shapely.LineString([(120.02, 30.0), (120.03, 30.01)]))
    pyogrio.write_dataframe(gpd.GeoDataFrame({"id": ["a", "b", "c"]}, geometry=geoms, crs=4326), mixed)
    assert main(["validate", str(mixed)]) == 1
    text = capsys.readouterr().out
    assert "mixed geometry types: 2 Polygon, 1 LineString" in text and "grids[c]: wrong geometry type" in text
