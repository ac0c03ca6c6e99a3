"""The command levels as areas (``geo.areas``): the tree, references, breadcrumbs and incident masks."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from dashboard.settings import DEFAULT_DATA
from geo.areas import AreaError, AreaTree, build_area_tree, parse_ref
from geo.layers import GeoLayers, read_layers
from geo.synthetic import Scale, build


@cache
def demo() -> GeoLayers:
    return read_layers(DEFAULT_DATA)


@cache
def three_streets() -> GeoLayers:
    scale = Scale(name="t", streets=3, communities=9, comprehensive_grids=24, dedicated_grids=6, members=300,
                  households=600, volunteer_teams=3, units=6)  # fmt: skip
    return GeoLayers.from_frames(build(seed=7, scale=scale))


def test_one_street_is_the_root_and_every_level_hangs_below_it() -> None:
    layers = demo()
    tree = build_area_tree(layers)
    street_id = str(layers.street["street_id"].iloc[0])
    assert tree.root == f"street:{street_id}"
    kinds = pd.Series([a.kind for a in tree.areas.values()]).value_counts().to_dict()
    assert kinds == {
        "street": 1,
        "community": len(layers.communities),
        "grid": len(layers.grids),
        "micro_grid": len(layers.micro_grids),
    }
    grid = layers.grids.iloc[0]
    crumbs = [a.ref for a in tree.path(f"grid:{grid['grid_id']}")]
    assert crumbs == [tree.root, f"community:{grid['community_id']}", f"grid:{grid['grid_id']}"]
    assert len(tree.children[f"community:{grid['community_id']}"]) == int(
        (layers.grids["community_id"] == grid["community_id"]).sum()
    )
    # parents come before children, every area once
    rows = tree.as_json()
    seen: set[str] = set()
    for row in rows:
        assert row["parent"] is None or row["parent"] in seen
        seen.add(str(row["ref"]))
    assert len(rows) == len(tree.areas)


def test_several_streets_get_a_district_above_them() -> None:
    tree = build_area_tree(three_streets(), district_name="测试区")
    assert tree.root == "district:all" and tree.get("district:all").name == "测试区"
    assert len(tree.children["district:all"]) == 3
    x0, y0, x1, y1 = tree.get("district:all").bbox
    for ref in tree.children["district:all"]:
        a, b, c, d = tree.get(ref).bbox
        assert x0 <= a and y0 <= b and c <= x1 and d <= y1


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("C003", "expected KIND:ID"),
        ("community:", "expected KIND:ID"),
        ("village:C003", "unknown kind 'village'"),
        ("community:NOPE", "no such area"),
    ],
)
def test_a_bad_reference_says_what_is_wrong(ref: str, says: str) -> None:
    tree = build_area_tree(demo())
    with pytest.raises(AreaError, match=says):
        tree.get(ref)


def test_parse_ref() -> None:
    assert parse_ref("micro_grid:M00001") == ("micro_grid", "M00001")


def test_masks_select_the_incidents_of_an_area_at_every_level() -> None:
    tree: AreaTree = build_area_tree(three_streets())
    layers = three_streets()
    micro = layers.micro_grids.sample(40, random_state=1, replace=True).reset_index(drop=True)
    incidents = pd.DataFrame(
        {
            "micro_grid_id": micro["micro_grid_id"],
            "grid_id": micro["grid_id"],
            "community_id": micro["community_id"],
        }
    )
    street_of = dict(zip(layers.communities["community_id"], layers.communities["street_id"], strict=True))
    assert tree.mask(incidents, tree.root).all()
    for ref in tree.children[tree.root]:
        want = incidents["community_id"].map(street_of) == tree.get(ref).id
        assert np.array_equal(tree.mask(incidents, ref), want.to_numpy())
    row = incidents.iloc[0]
    for kind in ("community", "grid", "micro_grid"):
        want = (incidents[f"{kind}_id"] == row[f"{kind}_id"]).to_numpy()
        assert np.array_equal(tree.mask(incidents, f"{kind}:{row[f'{kind}_id']}"), want)


def test_a_click_drills_one_level_toward_the_grid_clicked() -> None:
    layers = three_streets()
    tree = build_area_tree(layers)
    grid = layers.grids.iloc[-1]
    g, c = f"grid:{grid['grid_id']}", f"community:{grid['community_id']}"
    street = tree.get(c).parent
    assert street is not None
    assert tree.step_toward(tree.root, g) == street  # district → the grid's street
    assert tree.step_toward(street, g) == c
    assert tree.step_toward(c, g) == g
    assert tree.step_toward(g, g) == g  # nothing below a grid's click
    other = next(r for r in tree.children[tree.root] if r != street)
    assert tree.step_toward(other, g) == street  # a click in the neighbouring street goes there, same level
    with pytest.raises(AreaError):
        tree.step_toward(tree.root, "grid:NOPE")


def test_an_area_outline_is_its_boundary_and_the_district_has_none() -> None:
    from shapely.geometry import shape

    from geo.areas import area_outline

    layers = demo()
    comm = layers.communities.iloc[0]
    line = shape(area_outline(layers, f"community:{comm['community_id']}"))
    assert line.geom_type in ("LineString", "MultiLineString")
    assert line.hausdorff_distance(comm.geometry.boundary) < 1e-4  # ≈ 10 m: simplified by ~1 m only
    assert area_outline(three_streets(), "district:all") is None
    assert area_outline(layers, "grid:NOPE") is None


def test_contains_inside_and_normalise_are_the_one_containment_rule() -> None:
    from dashboard.access.gate import within
    from dashboard.runtime import load_geo
    from dashboard.settings import Settings

    tree = load_geo(Settings.from_env()).areas
    community = next(r for r in tree.areas if r.startswith("community:"))
    other = next(r for r in tree.areas if r.startswith("community:") and r != community)
    grid = tree.children[community][0]
    micro = tree.children[grid][0]
    assert tree.contains(community, micro) and tree.contains(community, grid) and tree.contains(community, community)
    assert not tree.contains(community, other) and not tree.contains(grid, community)
    assert not tree.contains(community, "") and tree.contains("", community) and tree.contains(tree.root, "")
    assert not tree.contains("community:NOPE", community) and not tree.contains(community, "grid:NOPE")
    assert within(tree, community, micro) == tree.contains(community, micro)  # the gate asks the same function
    assert tree.inside(grid, (other, community)) and not tree.inside(grid, (other,)) and tree.inside(grid, ())
    assert tree.normalise((grid, community, community)) == (community,)
    assert tree.normalise((other, community)) == tuple(sorted((other, community)))
    assert tree.normalise((community, tree.root)) == ()
    assert tree.normalise(("community:NOPE",)) == ("community:NOPE",)  # kept: it contains nothing, never all
