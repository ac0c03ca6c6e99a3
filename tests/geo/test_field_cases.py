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
from pyproj import Geod

from dashboard.cli import main
from geo.io.encoding import TextEncodingError, decode_text
from geo.problems import GeoValidationError
from geo.sources import load_config, load_layers
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
    assert first["message"].endswith("it would explain the 2,992 warning(s) below about where members lie")
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


# ------------------------------------------------------------------------------------ 2. encodings and byte quirks


def test_notepad_bom_crlf_with_an_empty_feature(capsys: pytest.CaptureFixture[str]) -> None:
    """field-cases/bom-crlf-empty-geometry.geojson: no traceback; one line for the empty feature, the rest read —
    by validate and by serve alike."""
    case = FIELD_CASES / "bom-crlf-empty-geometry.geojson"
    status, report = _report(capsys, str(case))
    assert status == 0 and report["layers"]["grids"]["features"] == 3
    (warn,) = [p for p in report["problems"] if p["severity"] != "info" and p["kind"] != "encoding_detected"]
    where = (warn["layer"], warn["feature_id"], warn["kind"], warn["severity"])
    assert where == ("grids", "G0004", "empty_geometry", "warning")
    assert warn["message"].endswith("left out, the other 3 grids are read")
    (note,) = [p for p in report["problems"] if p["kind"] == "encoding_detected"]
    assert "UTF-8 with BOM" in note["message"]
    assert load_layers(case).grids["grid_id"].tolist() == ["G0001", "G0002", "G0003"]  # serve reads the same


def test_a_layer_of_only_empty_features_still_refuses(tmp_path: Path) -> None:
    """Leaving out stops where nothing would remain: every grid empty is the error it was, not an empty map."""
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"grid_id": f"G{i}"}, "geometry": {"type": "Polygon", "coordinates": []}}
        for i in (1, 2)
    ]}  # fmt: skip
    target = tmp_path / "grids.geojson"
    target.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(GeoValidationError, match=r"grids\[G1\]: empty geometry"):
        load_layers(target)


def test_gbk_geojson_is_detected_and_the_option_is_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    """field-cases/gbk.geojson: read, the encoding named; --encoding GB18030 used for GeoJSON too."""
    case = FIELD_CASES / "gbk.geojson"
    status, report = _report(capsys, str(case))
    assert status == 0 and report["layers"]["grids"]["features"] == 4
    (note,) = [p for p in report["problems"] if p["kind"] == "encoding_detected"]
    assert "GBK/GB18030 (detected" in note["message"]
    assert load_layers(case).grids["name"].tolist()[0] == "明湾产业园专属网格"
    _, report = _report(capsys, str(case), "--encoding", "GB18030")
    (note,) = [p for p in report["problems"] if p["kind"] == "encoding_detected"]
    assert "GB18030 (--encoding)" in note["message"]
    status, report = _report(capsys, str(case), "--encoding", "UTF-8")  # wrong: said, not a traceback
    (err,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert status == 1 and (
        "byte 107 (0xc3) is not UTF-8, the --encoding/encoding given; it reads as GBK/GB18030" in err["message"]
    )


@pytest.mark.parametrize(
    ("name", "how", "first"),
    [
        ("utf16le_bom_notepad.geojson", "UTF-16 LE with BOM", "明湾产业园专属网格"),
        ("big5.geojson", "Big5 (detected", "東園網格"),
    ],
)
def test_more_encodings_of_windows_tools(name: str, how: str, first: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _report(capsys, str(HERE / name))
    assert status == 0 and report["warnings"] == 0, report["problems"]
    (note,) = [p for p in report["problems"] if p["kind"] == "encoding_detected"]
    assert how in note["message"]
    assert load_layers(HERE / name).grids["name"].tolist()[0] == first


def test_utf16_without_bom_and_undecodable_bytes(tmp_path: Path) -> None:
    text = (FIELD_CASES / "gbk.geojson").read_bytes().decode("gb18030")
    assert decode_text(text.encode("utf-16-be")).how == "UTF-16 BE without a byte-order mark"
    assert decode_text(text.encode("utf-16-le")).text == text
    with pytest.raises(TextEncodingError, match=r"neither UTF-8 \(byte 0: 0x81\) nor GBK/GB18030.*--encoding"):
        decode_text(b"\x81\x30" + b"{}")


# ------------------------------------------------------------------------------------ 3. files that read as nothing


def test_a_required_layer_without_features_fails_validate_and_serve_alike(capsys: pytest.CaptureFixture[str]) -> None:
    case = HERE / "empty_collection.geojson"
    status, report = _report(capsys, str(case))
    (err,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert status == 1 and err["kind"] == "no_features" and "yields 0 grids" in err["message"]
    with pytest.raises(GeoValidationError, match="yields 0 grids"):
        load_layers(case)


def test_features_gdal_drops_are_counted_and_explained(capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _report(capsys, str(HERE / "dropped_features.geojson"))
    (warn,) = [p for p in report["problems"] if p["kind"] == "dropped_features"]
    assert status == 0 and report["layers"]["grids"]["features"] == 2
    assert warn["message"] == (
        'GDAL read 2 of the 4 features in the file, 2 dropped: feature 1: "type" is "feature", not "Feature"; '
        'feature 2: no "type": "Feature"'
    )


def test_every_feature_dropped_names_the_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fc = json.loads((HERE / "dropped_features.geojson").read_text(encoding="utf-8"))
    for f in fc["features"]:
        f["type"] = "feature"
    (tmp_path / "grids.geojson").write_text(json.dumps(fc), encoding="utf-8")
    status, report = _report(capsys, str(tmp_path / "grids.geojson"))
    (err,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert status == 1 and "GDAL dropped every feature" in err["message"]


def test_an_unclosed_ring_costs_its_feature_not_the_layer(capsys: pytest.CaptureFixture[str]) -> None:
    status, report = _report(capsys, str(HERE / "unclosed_ring.geojson"))
    (warn,) = [p for p in report["problems"] if p["kind"] == "missing_geometry"]
    assert status == 0 and report["layers"]["grids"]["features"] == 3
    assert (warn["feature_id"], warn["severity"]) == ("G0004", "warning")
    assert any("Non closed ring" in p["message"] for p in report["problems"] if p["kind"] == "gdal_warning")


def test_validate_and_serve_agree_on_a_derived_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What serve's strict check refuses is in validate's report too (serve_check), and no more."""
    for case in [*sorted(HERE.glob("*.geojson")), FIELD_CASES / "gbk.geojson"]:
        status, report = _report(capsys, str(case))
        try:
            load_layers(case)
            served = True
        except GeoValidationError:
            served = False
        assert served == (status == 0), (case, report["problems"][:3])


# ------------------------------------------------------------------------- 4. datums without a transformation


@pytest.mark.parametrize(
    ("name", "datum"), [("xian80_grids.gpkg", "Xian 1980"), ("beijing54_grids.gpkg", "Beijing 1954")]
)
def test_ballpark_datum_shift_is_a_warning_with_its_accuracy(
    name: str, datum: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = _report(capsys, str(HERE / name))
    (warn,) = [p for p in report["problems"] if p["kind"] == "datum_ballpark"]
    assert status == 0 and f"from {datum} to WGS 84" in warn["message"] and "30–100 m" in warn["message"]
    assert 'towgs84 = "dx,dy,dz,rx,ry,rz,ds"' in warn["message"]


def test_local_towgs84_parameters_are_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Xi'an 1980 with a 3-parameter transformation: no warning, and the grids move by tens of metres."""
    body = f'[layers.grids]\nsource = "{HERE / "xian80_grids.gpkg"}"\nlayer = "grids"\n'
    (tmp_path / "onescreen.toml").write_text(body + 'towgs84 = "24,-123,-94"\n', encoding="utf-8")
    status, report = _report(capsys, str(tmp_path / "onescreen.toml"))
    assert status == 0 and "datum_ballpark" not in _kinds(report) and "towgs84" in _kinds(report)
    local = load_layers(config_path=tmp_path / "onescreen.toml").grids.geometry.to_numpy()
    ballpark = load_layers(HERE / "xian80_grids.gpkg").grids.geometry.to_numpy()
    moved = Geod(ellps="WGS84").inv(
        shapely.get_x(shapely.centroid(local)), shapely.get_y(shapely.centroid(local)),
        shapely.get_x(shapely.centroid(ballpark)), shapely.get_y(shapely.centroid(ballpark)),
    )[2]  # fmt: skip
    assert (moved > 10).all() and (moved < 200).all()
    (tmp_path / "onescreen.toml").write_text(body + 'towgs84 = "24,-123"\n', encoding="utf-8")
    assert main(["validate", str(tmp_path / "onescreen.toml")]) == 1
    assert "towgs84 needs 3 or 7 numbers" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("case", "line"),
    [
        (HERE / "empty_collection.geojson", "yields 0 grids"),
    ],
)
def test_serve_refuses_with_the_report_s_own_line(
    case: Path, line: str, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No traceback, no unrelated message: `serve` stops (exit 2) on the error `validate` reports."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    status, report = _report(capsys, str(case))
    assert status == 1 and any(line in f"{p['layer']}[{p['feature_id']}]: {p['message']}" for p in report["problems"])
    assert main(["serve", "--data", str(case), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert line in err and "Traceback" not in err


def test_a_config_saved_by_notepad_in_gbk_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    """onescreen.toml in GBK with CR LF ("ANSI" Notepad on a Chinese Windows), naming a GBK GeoJSON."""
    status, report = _report(capsys, str(HERE / "onescreen_gbk.toml"))
    assert status == 0 and report["layers"]["grids"]["features"] == 4
    assert load_config(HERE / "onescreen_gbk.toml").street_name == "示例街道"


def test_mercator_metres_in_a_geojson_are_guessed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Web/Baidu Mercator metres (x ≈ 1.34e7 around Hangzhou) in a GeoJSON: the guess names them."""
    ring = [[13393000, 3539000], [13394000, 3539000], [13394000, 3540000], [13393000, 3539000]]
    feature = {
        "type": "Feature",
        "properties": {"grid_id": "G1"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    fc = {"type": "FeatureCollection", "features": [feature]}
    (tmp_path / "grids.geojson").write_text(json.dumps(fc), encoding="utf-8")
    status, report = _report(capsys, str(tmp_path / "grids.geojson"))
    (err,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert status == 1 and err["kind"] == "crs_mismatch" and "Web Mercator (EPSG:3857)" in err["message"]
    assert "BD-09MC" in err["message"]
