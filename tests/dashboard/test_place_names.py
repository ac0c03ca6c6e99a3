"""Place names at the zooms where they fit (issue 8, point 5): street names at a district's zoom, community names
once a community is wide enough on screen to hold its name, grid names closer in — pure, no browser (the offline
drawing of them is tested in Chromium: test_wall_formats, test_console_clicks)."""

from __future__ import annotations

from dataclasses import replace

from dashboard.figures.incident_map import WALL_MAP_VIEWPORT, fit_view
from dashboard.figures.layers import COMMUNITY_LABEL_ZOOM, COMMUNITY_NAME_PX, community_label_zoom, place_name_layers
from geo.areas import build_area_tree
from geo.model import GeoLayers
from geo.synthetic import build
from tests.dashboard.test_console import layers
from tests.support.geodata import SMALL, SMALL_SEED

DISTRICT = replace(SMALL, name="district", streets=3, communities=6, comprehensive_grids=24, dedicated_grids=6)


def zooms(out: list[dict[str, object]]) -> dict[str, tuple[object, object, int]]:
    return {str(x["name"]): (x["minzoom"], x["maxzoom"], len(x["source"]["features"])) for x in out}  # type: ignore[index]


def test_one_street_names_communities_from_the_start_and_no_street() -> None:
    got = zooms(place_name_layers(layers(), "zh"))
    assert "place_names:streets" not in got
    assert got["place_names:communities"][:2] == COMMUNITY_LABEL_ZOOM


def test_a_district_names_its_streets_first_then_communities_once_they_fit() -> None:
    lay = GeoLayers.from_frames(build(seed=SMALL_SEED, scale=DISTRICT))
    got = zooms(place_name_layers(lay, "zh"))
    split = community_label_zoom(lay.communities)
    assert got["place_names:streets"] == (0.0, split, len(lay.street)) and len(lay.street) == 3
    assert got["place_names:communities"][:2] == (split, COMMUNITY_LABEL_ZOOM[1])
    # at the split a median-wide community is COMMUNITY_NAME_PX wide: a framed community is far wider
    b = lay.communities.geometry.bounds
    width = float((b["maxx"] - b["minx"]).median())
    on_screen = 512 * 2**split * width / 360
    assert abs(on_screen - COMMUNITY_NAME_PX) < 1 or split == COMMUNITY_LABEL_ZOOM[1] - 0.5
    tree = build_area_tree(lay)
    street = tree.children[tree.root][0]
    community = tree.children[street][0]
    assert split < fit_view(tree.get(community).bbox, WALL_MAP_VIEWPORT)[1]  # a framed community shows its name
    # scoped into a street, the street's own name is the title, not a label
    assert "place_names:streets" not in zooms(place_name_layers(lay, "zh", area=(tree, street)))
