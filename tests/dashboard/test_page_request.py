"""Page URLs → what they ask for (``dashboard.page_request``): areas checked against the data set, tours, dwell."""

from __future__ import annotations

from functools import cache

import pytest

from dashboard.page_request import TOUR_DWELL_MAX_S, TOUR_DWELL_MIN_S, TOUR_DWELL_S, page_request
from dashboard.settings import DEFAULT_DATA
from geo.areas import AreaTree, build_area_tree
from geo.layers import read_layers


@cache
def tree() -> AreaTree:
    return build_area_tree(read_layers(DEFAULT_DATA))


def first(kind: str) -> str:
    return next(ref for ref in tree().areas if ref.startswith(kind + ":"))


def test_the_console_takes_area_and_the_wall_scope() -> None:
    comm = first("community")
    console = page_request("/", f"?area={comm}", default_lang="zh", areas=tree())
    assert (console.screen, console.area, console.bad_area) == ("console", comm, "")
    assert console.context().area == comm
    wall = page_request("/wall", f"scope={comm}&lang=en", default_lang="zh", areas=tree())
    assert (wall.screen, wall.area, wall.lang) == ("wall", comm, "en")
    assert wall.search_for(comm) == f"?scope={comm}"
    assert console.search_for(first("grid")) == f"?area={first('grid')}"


def test_the_root_is_the_page_without_an_area() -> None:
    req = page_request("/", f"area={tree().root}", default_lang="zh", areas=tree())
    assert req.area == "" and req == page_request("/", "", default_lang="zh", areas=tree())


@pytest.mark.parametrize("bad", ["community:NOPE", "nonsense", "planet:earth"])
def test_an_unknown_or_malformed_area_shows_everything_and_is_named(bad: str) -> None:
    req = page_request("/", f"area={bad}", default_lang="zh", areas=tree())
    assert (req.area, req.bad_area) == ("", bad)


def test_a_tour_lists_the_areas_of_a_kind_inside_the_scope() -> None:
    comms = tree().children[tree().root]
    req = page_request("/wall", "tour=communities", default_lang="zh", areas=tree())
    assert req.tour == comms and req.dwell_s == TOUR_DWELL_S
    grids = page_request("/wall", f"scope={comms[0]}&tour=grids&dwell=12", default_lang="zh", areas=tree())
    assert grids.tour == tree().children[comms[0]] and grids.dwell_s == 12
    assert grids.search_for(grids.tour[1]) == f"?scope={grids.tour[1]}&tour={','.join(grids.tour)}&dwell=12"
    listed = page_request("/wall", f"tour={comms[1]},community:NOPE,{comms[0]}", default_lang="zh", areas=tree())
    assert listed.tour == (comms[1], comms[0])
    assert page_request("/", "tour=communities", default_lang="zh", areas=tree()).tour == ()  # walls only


@pytest.mark.parametrize(("text", "want"), [("1", TOUR_DWELL_MIN_S), ("999999", TOUR_DWELL_MAX_S), ("x", TOUR_DWELL_S)])
def test_dwell_is_clamped(text: str, want: int) -> None:
    assert page_request("/wall", f"tour=communities&dwell={text}", default_lang="zh", areas=tree()).dwell_s == want
