"""Issue 8's data model: micro-grid leaders (微网格长), force kinds (六边形治理组团), basic units (基本单元) —
optional in users' data, coded from Chinese, checked, generated, counted per area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geo.areas import build_area_tree, layer_counts
from geo.cli import run_validate
from geo.layers import GeoLayers, GeoValidationError
from geo.normalise import normalise_layer
from geo.report import validate
from geo.sources import load_layers, resolve_config
from geo.synthetic import build
from geo.validate import BASIC_UNIT_KINDS, FORCE_KINDS, LAYER_NAMES, LAYER_SPECS, validate_layer
from tests.support.geodata import SMALL

Frames = dict[str, gpd.GeoDataFrame]


def _copy(frames: Frames) -> Frames:
    return {k: v.copy() for k, v in frames.items()}


def test_layer_names_put_parents_first_and_basic_units_is_the_optional_one() -> None:
    assert [n for n in LAYER_NAMES if LAYER_SPECS[n].optional] == ["basic_units"]
    assert LAYER_NAMES.index("basic_units") > max(LAYER_NAMES.index("communities"), LAYER_NAMES.index("grids"))
    assert LAYER_SPECS["micro_grids"].optional_columns == ("leader_id",)
    assert "leader_id" not in LAYER_SPECS["micro_grids"].required_columns


def test_frames_without_the_new_things_load_with_empty_defaults(small_frames: Frames) -> None:
    frames = _copy(small_frames)
    del frames["basic_units"]
    frames["micro_grids"] = frames["micro_grids"].drop(columns="leader_id")
    frames["units"] = frames["units"].drop(columns="force_kind")
    frames["volunteer_teams"] = frames["volunteer_teams"].drop(columns="force_kind")
    layers = GeoLayers.from_frames(frames)  # no error
    bu = layers.basic_units
    assert bu.empty and bu.crs.to_epsg() == 4326 and list(bu.columns[:-1]) == list(LAYER_SPECS["basic_units"].columns)
    assert bu["tenants"].dtype == "int64" and bu["shops"].dtype == "int64"
    assert (layers.micro_grids["leader_id"] == "").all()
    assert (layers.units["force_kind"] == "").all() and (layers.volunteer_teams["force_kind"] == "").all()


def test_a_user_folder_without_the_new_things_validates(
    tmp_path: Path, small_frames: Frames, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("grids", "micro_grids", "units"):
        frame = small_frames[name].drop(columns=[c for c in ("leader_id", "force_kind") if c in small_frames[name]])
        pyogrio.write_dataframe(frame, tmp_path / f"{name}.geojson")
    layers = load_layers(tmp_path)
    assert layers.basic_units.empty and (layers.micro_grids["leader_id"] == "").all()
    assert run_validate(tmp_path) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "basic_units" in out.split("NOT GIVEN (empty):")[1]


def test_chinese_force_kinds_and_basic_unit_kinds_are_coded(small_frames: Frames) -> None:
    u = small_frames["units"].head(5)
    theirs = gpd.GeoDataFrame(
        {
            "单位编号": u["unit_id"].tolist(),
            "单位名称": u["name"].tolist(),
            "力量类型": ["指导力量", "执法", "共建单位", "社会", ""],
        },
        geometry=u.geometry.to_numpy(),
        crs=4326,
    )
    out, _ = normalise_layer("units", theirs)
    assert out["force_kind"].tolist() == ["guidance", "enforcement", "co_building", "social", ""]
    assert not validate_layer("units", out, columns=False)

    b = small_frames["basic_units"].head(3)
    theirs = gpd.GeoDataFrame(
        {"单元编号": ["1", "2", "3"], "名称": ["甲", "乙", "丙"], "类型": ["出租房", "红街", "商业街"],
         "房东": b["keeper_name"].tolist(), "租户数": [12.0, None, 0], "商铺数": ["0", "30", "8"]},
        geometry=b.geometry.to_numpy(),
        crs=4326,
    )  # fmt: skip
    out, _ = normalise_layer("basic_units", theirs)
    assert out["basic_unit_id"].tolist() == ["1", "2", "3"]
    assert out["kind"].tolist() == ["rental_house", "shop_street", "shop_street"]
    assert out["keeper_name"].tolist() == b["keeper_name"].tolist()
    assert out["tenants"].tolist() == [12, 0, 0] and out["shops"].tolist() == [0, 30, 8]


def test_an_unknown_force_kind_is_a_warning_naming_value_and_row(small_frames: Frames) -> None:
    frames = _copy(small_frames)
    teams = frames["volunteer_teams"]
    teams.loc[1, "force_kind"] = "神秘力量"
    problems = validate_layer("volunteer_teams", teams)
    (p,) = problems
    assert p.severity == "warning" and p.kind == "unknown_code"
    assert p.feature_id == teams.loc[1, "team_id"] and "'神秘力量'" in p.message and "row 1" in p.message
    GeoLayers.from_frames(frames)  # a warning does not stop loading


def test_a_dangling_leader_is_an_error(small_frames: Frames) -> None:
    frames = _copy(small_frames)
    micro = frames["micro_grids"]
    micro.loc[0, "leader_id"] = "P-NOPE"
    with pytest.raises(GeoValidationError) as info:
        GeoLayers.from_frames(frames)
    (p,) = [p for p in info.value.problems if p.is_error]
    assert p.layer == "micro_grids" and p.feature_id == micro.loc[0, "micro_grid_id"]
    assert "leader_id='P-NOPE' not found in members.member_id" in p.message


def test_generated_leaders_are_party_members_living_in_their_micro_grid(small_layers: GeoLayers) -> None:
    micro, members = small_layers.micro_grids, small_layers.members
    party = members[members["role"] != "志愿者"]
    has_party = micro["micro_grid_id"].isin(party["micro_grid_id"])
    assert has_party.any()
    assert (micro.loc[has_party, "leader_id"] != "").all() and (micro.loc[~has_party, "leader_id"] == "").all()
    led = micro[has_party]
    who = members.set_index("member_id").loc[led["leader_id"]]
    assert (who["micro_grid_id"].to_numpy() == led["micro_grid_id"].to_numpy()).all()
    assert (who["role"] != "志愿者").all()
    # 网格员 first: where one lives in the micro-grid, the leader is one
    with_wy = set(members.loc[members["role"] == "网格员", "micro_grid_id"])
    assert (who.loc[led["micro_grid_id"].isin(with_wy).to_numpy(), "role"] == "网格员").all()


def test_generated_force_kinds(small_layers: GeoLayers, demo_layers: GeoLayers) -> None:
    assert (small_layers.units["force_kind"] == "co_building").all()
    assert set(demo_layers.volunteer_teams["force_kind"]) == set(FORCE_KINDS)  # 20 teams over the six kinds
    assert demo_layers.volunteer_teams["force_kind"].value_counts().max() <= 4


@pytest.mark.parametrize("fixture", ["small_layers", "demo_layers"])
def test_generated_basic_units_lie_in_their_grid(fixture: str, request: pytest.FixtureRequest) -> None:
    layers: GeoLayers = request.getfixturevalue(fixture)
    bu = layers.basic_units
    assert len(bu) and set(bu["kind"]) == set(BASIC_UNIT_KINDS) and bu["basic_unit_id"].is_unique
    grids = layers.grids.set_index("grid_id")
    assert shapely.contains(grids.geometry.loc[bu["grid_id"]].to_numpy(), bu.geometry.to_numpy()).all()
    assert (grids["community_id"].loc[bu["grid_id"]].to_numpy() == bu["community_id"].to_numpy()).all()
    rental = bu["kind"] == "rental_house"
    assert (bu.loc[rental, "tenants"] > 0).all() and (bu.loc[rental, "shops"] == 0).all()
    assert (bu.loc[~rental, "shops"] > 0).all() and (bu.loc[~rental, "tenants"] == 0).all()
    assert bu["keeper_name"].str.len().between(2, 3).all() and bu["phone"].str.fullmatch(r"1[3-9]\d{9}").all()


def test_demo_basic_unit_counts(demo_layers: GeoLayers) -> None:
    kinds = demo_layers.basic_units["kind"].value_counts()
    assert kinds["rental_house"] == 300 and kinds["shop_street"] == 15


def test_generation_is_deterministic_for_the_new_things(small_frames: Frames) -> None:
    from tests.support.geodata import SMALL_SEED

    again = build(SMALL_SEED, SMALL)
    assert again["micro_grids"]["leader_id"].tolist() == small_frames["micro_grids"]["leader_id"].tolist()
    assert again["basic_units"].drop(columns="geometry").equals(small_frames["basic_units"].drop(columns="geometry"))


def test_basic_units_are_counted_per_area(small_layers: GeoLayers) -> None:
    tree = build_area_tree(small_layers)
    bu = small_layers.basic_units
    assert layer_counts(tree, small_layers, tree.root)["basic_units"] == len(bu)
    grid = str(bu["grid_id"].iloc[0])
    comm = str(bu["community_id"].iloc[0])
    assert layer_counts(tree, small_layers, f"grid:{grid}")["basic_units"] == int((bu["grid_id"] == grid).sum())
    assert layer_counts(tree, small_layers, f"community:{comm}")["basic_units"] == int(
        (bu["community_id"] == comm).sum()
    )
    micro = str(small_layers.micro_grids["micro_grid_id"].iloc[0])
    assert layer_counts(tree, small_layers, f"micro_grid:{micro}")["basic_units"] is None  # placed by grid


def test_a_users_basic_units_in_chinese_read_through_the_config(tmp_path: Path, small_frames: Frames) -> None:
    pyogrio.write_dataframe(small_frames["grids"], tmp_path / "grids.geojson")
    b = small_frames["basic_units"].head(4)
    theirs = gpd.GeoDataFrame(
        {"单元编号": ["U1", "U2", "U3", "U4"], "单元名称": ["甲出租房", "乙出租房", "丙红街", "丁出租房"],
         "类型": ["出租房", "出租屋", "红街", "民宿"], "房东": b["keeper_name"].tolist(),
         "联系电话": b["phone"].tolist(), "租户数": [3, 5, 0, 2]},
        geometry=b.geometry.to_numpy(),
        crs=4326,
    )  # fmt: skip
    pyogrio.write_dataframe(theirs, tmp_path / "basic_units.geojson")
    layers = load_layers(tmp_path)
    got = layers.basic_units
    assert got["kind"].tolist() == ["rental_house", "rental_house", "shop_street", "民宿"]
    assert got["grid_id"].tolist() == b["grid_id"].tolist()  # by location: no grid column given
    assert got["shops"].tolist() == [0, 0, 0, 0] and got["tenants"].tolist() == [3, 5, 0, 2]
    assert np.array_equal(got["keeper_name"].to_numpy(), b["keeper_name"].to_numpy())
    report = validate(resolve_config(tmp_path))
    assert report.ok
    (unknown,) = [p for p in report.warnings if p.kind == "unknown_code"]
    assert unknown.layer == "basic_units" and unknown.feature_id == "U4" and "'民宿'" in unknown.message


def test_validate_lists_basic_units(small_gpkg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(small_gpkg) == 0
    out = capsys.readouterr().out
    n = len(pyogrio.read_dataframe(small_gpkg, layer="basic_units", read_geometry=False))
    assert f"basic_units {n}" in out.splitlines()[0]
