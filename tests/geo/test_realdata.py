"""The real grid files in ../shared/realdata/zj_grids (SOURCES.md lists their quirks): each gets its specific report,
the loadable ones load, and --fix repairs the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from geo.repair import repair, write_repaired
from geo.report import Report, validate
from geo.sources import load_layers, resolve_config
from tests.support.paths import ZJ_GRIDS

REAL = ZJ_GRIDS
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} missing (CI has shared/ beside the clone)")


def report(name: str, layer: str | None = None) -> Report:
    return validate(resolve_config(REAL / name, layer=layer))


def kinds(r: Report, severity: str = "error") -> set[str]:
    return {p.kind for p in r.problems if p.severity == severity}


def test_xingpu_self_intersection_is_named_and_located() -> None:
    r = report("xingpu_grid.geojson")
    assert not r.ok
    (bad,) = [p for p in r.errors if p.kind == "invalid_geometry"]
    assert bad.feature_id == "1" and "Self-intersection" in bad.message  # feature 0 carries id 1
    assert bad.lon == pytest.approx(122.3158, abs=1e-3) and bad.lat == pytest.approx(29.9774, abs=1e-3)
    assert bad.file.endswith("xingpu_grid.geojson")
    # its real sliver overlap and enclosed gaps, with area and place
    overlap = [p for p in r.warnings if p.kind == "overlap"]
    assert overlap and all(p.area_m2 and p.area_m2 > 1 and p.lon for p in overlap)
    assert any(p.kind == "gap" and p.area_m2 and p.area_m2 > 100 for p in r.warnings)
    assert "grids[1]: invalid geometry: Self-intersection (at 122.3158" in r.to_text()


@pytest.mark.parametrize("name", ["xingpu_grid_bianjie.geojson", "jfbianjie.geojson", "assinEdge.geojson"])
def test_boundaries_stored_as_lines(name: str) -> None:
    r = report(name)
    (p,) = r.errors
    assert p.kind == "lines" and "MultiLineString" in p.message and "lines where polygons are expected" in p.message
    assert "closed rings" in p.message  # they do close: --fix can polygonize them


def test_ankang_reads_as_empty_and_says_why() -> None:
    r = report("安康社区边界.geojson", layer="communities")
    (p,) = r.errors
    assert p.kind == "nested_coordinates" and p.layer == "communities" and p.feature_id == "1"
    assert "EMPTY" in p.message and "nested 4 levels deep, 3 expected" in p.message
    assert p.file.endswith("安康社区边界.geojson")


def test_assin_truncated_field_name_is_reported_and_mapped() -> None:
    r = report("assinGrid.geojson")
    assert r.ok
    (cut,) = [p for p in r.warnings if p.kind == "truncated_field_name"]
    assert "网格名\ufffd" in cut.message and "read as 'name'" in cut.message
    layers = load_layers(REAL / "assinGrid.geojson")
    assert layers.grids["name"].tolist()[:2] == ["第一网格", "第二网格"]
    assert "702" in set(layers.grids["grid_id"])  # integer ids become strings, 7 and 702 both kept
    # the grids do not share edges exactly: slivers, reported per grid
    assert any(p.kind == "edge_mismatch" for p in r.warnings)


def test_xihe_duplicate_names_warn_but_load() -> None:
    r = report("xihe_grid.geojson")
    assert r.ok
    (dup,) = [p for p in r.warnings if p.kind == "duplicate_name"]
    assert "西河社区网格" in dup.message and "4 features" in dup.message
    layers = load_layers(REAL / "xihe_grid.geojson")
    assert layers.grids["grid_id"].tolist() == ["1", "2", "3", "4"]


def test_sjjbianjie_loads_with_its_chinese_column() -> None:
    r = report("sjjbianjie.geojson", layer="communities")
    assert r.ok and not r.warnings
    layers = load_layers(REAL / "sjjbianjie.geojson")
    assert len(layers.grids) == 1 and "面积" in layers.grids.columns
    assert len(layers.micro_grids) == 1 and len(layers.communities) == 1 and len(layers.street) == 1
    assert layers.members.empty and layers.households.empty


def test_unloadable_files_raise_one_clear_error() -> None:
    from geo.problems import GeoValidationError

    with pytest.raises(GeoValidationError) as info:
        load_layers(REAL / "xingpu_grid.geojson")
    assert "Self-intersection" in str(info.value) and "xingpu_grid.geojson" in str(info.value)


@pytest.mark.parametrize(
    ("name", "layer", "actions"),
    [
        ("xingpu_grid.geojson", None, {"made_valid"}),
        ("xingpu_grid_bianjie.geojson", None, {"polygonized"}),
        ("jfbianjie.geojson", None, {"polygonized"}),
        ("安康社区边界.geojson", "communities", {"recovered", "polygonized"}),
        ("assinGrid.geojson", None, {"snapped"}),
    ],
)
def test_fix_repairs_and_lists_every_change(name: str, layer: str | None, actions: set[str], tmp_path: Path) -> None:
    r = report(name, layer)
    assert r.dataset is not None
    frames, changes = repair(r.dataset)
    assert actions <= {c.action for c in changes}
    assert all(c.file.endswith(name) for c in changes)
    out = tmp_path / "fixed.geojson"
    write_repaired(frames, out)
    after = validate(resolve_config(out, layer=layer))
    assert after.ok, after.to_text()
    geoms = next(iter(frames.values())).geometry.to_numpy()
    assert shapely.is_valid(geoms).all() and not shapely.is_empty(geoms).any()
    assert set(shapely.get_type_id(geoms)) <= {3, 6}
