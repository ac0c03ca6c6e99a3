"""The geo field cases: ../shared/field-cases (README there says what each expects) and more of each kind in
tests/geo/field_cases (README there). Expected values are asserted, not just "no crash"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from dashboard.cli import main
from geo.sources import load_layers
from tests.support.paths import FIELD_CASES

HERE = Path(__file__).parent / "field_cases"
BD09 = FIELD_CASES / "bd09-grids"


def _report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(["validate", *argv, "--json"])
    return status, json.loads(capsys.readouterr().out)


def _kinds(report: dict[str, Any], severity: str | None = None) -> list[str]:
    return [p["kind"] for p in report["problems"] if severity is None or p["severity"] == severity]


def _bd09_config(tmp_path: Path, hint: str | None) -> Path:
    line = f'crs_hint = "{hint}"\n' if hint else ""
    body = (f'[layers.grids]\nsource = "{BD09 / "网格_bd09.geojson"}"\n{line}'
            f'[layers.members]\nsource = "{BD09 / "党员.gpkg"}"\nlayer = "党员"\n')  # fmt: skip
    (tmp_path / "onescreen.toml").write_text(body, encoding="utf-8")
    return tmp_path / "onescreen.toml"


# ------------------------------------------------------------------------------------ 1. Chinese coordinate systems


def test_bd09_grids_name_the_cause_first(capsys: pytest.CaptureFixture[str]) -> None:
    """field-cases/bd09-grids: Baidu-drawn grids, GPS members → the BD-09 shift named, first, on grids."""
    status, report = _report(capsys, str(BD09 / "onescreen.toml"))
    assert status == 0  # warnings: the data can be served, but not as it is meant
    first = report["problems"][0]
    assert first["kind"] == "bd09_suspect" and first["layer"] == "grids" and first["severity"] == "warning"
    assert "BD-09 (Baidu Map)" in first["message"] and "crs_hint = 'bd09'" in first["message"]
    assert "100% of members lies outside grids as read, 0% with grids read as BD-09" in first["message"]
    assert "file name says 'bd09'" in first["message"]
    assert "gcj02_suspect" not in _kinds(report)  # GCJ-02 alone does not explain it: not offered
    assert report["warnings"] == 2 + 2992  # the cause, the fingerprint, then what the shift makes of members


def test_bd09_hint_reads_the_grids_into_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _report(capsys, str(_bd09_config(tmp_path, "bd09")))
    assert status == 0 and report["warnings"] == 0, report["problems"][:3]
    assert "bd09_converted" in _kinds(report)
    # the one-file CLI option too, and serve's loader puts every member in a grid
    status, report = _report(capsys, str(BD09 / "网格_bd09.geojson"), "--crs-hint", "bd09")
    assert status == 0 and report["warnings"] == 0
    layers = load_layers(config_path=tmp_path / "onescreen.toml")
    inside = shapely.STRtree(layers.grids.geometry.to_numpy()).query(
        layers.members.geometry.to_numpy(), predicate="within"
    )
    assert len(np.unique(inside[0])) == 3000


def test_bd09_grids_read_as_gcj02_are_still_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """crs_hint = 'gcj02' on BD-09 data leaves ~0.9 km: the detector says BD-09, not as read."""
    _, report = _report(capsys, str(_bd09_config(tmp_path, "gcj02")))
    first = report["problems"][0]
    assert first["kind"] == "bd09_suspect" and "not GCJ-02 as read" in first["message"]


def test_fingerprints_of_chinese_map_services(capsys: pytest.CaptureFixture[str]) -> None:
    """DataV.GeoAtlas properties (GCJ-02) and Baidu's coordtype column (bd09ll) are named when no hint is set."""
    _, report = _report(capsys, str(HERE / "datav_gcj02_grids.json"))
    (fp,) = [p for p in report["problems"] if p["kind"] == "datum_fingerprint"]
    assert "DataV.GeoAtlas" in fp["message"] and "crs_hint = 'gcj02'" in fp["message"]
    _, report = _report(capsys, str(HERE / "baidu_coordtype_points.geojson"), "--layer", "members")
    (fp,) = [p for p in report["problems"] if p["kind"] == "datum_fingerprint"]
    assert "coordtype column says 'bd09ll'" in fp["message"] and "crs_hint = 'bd09'" in fp["message"]
    # declared: no warning, converted
    _, report = _report(capsys, str(HERE / "datav_gcj02_grids.json"), "--crs-hint", "gcj02")
    assert "datum_fingerprint" not in _kinds(report) and "gcj02_converted" in _kinds(report)


def test_fingerprint_in_a_copied_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "社区网格_高德.geojson"
    shutil.copy(HERE / "datav_gcj02_grids.json", target)
    _, report = _report(capsys, str(target))
    fps = [p["message"] for p in report["problems"] if p["kind"] == "datum_fingerprint"]
    assert fps and "GCJ-02" in fps[0]
