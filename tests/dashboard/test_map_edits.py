"""The wall's live map edits (``push.map_edit``) and their pacing (``pacing.MapPacer``).

``apply_edit`` below does what ``assets/onescreen.js`` does with an edit (the browser tests check the JavaScript
against a real page); here a long random run of situation changes checks that chaining the edits always leaves a
page with exactly the newest frame's markers and grid colours.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dashboard.figures.incident_map import INCIDENT_TRACES, TRACE_AREA_COUNTS, TRACE_REPORTED, area_count_text
from dashboard.figures.sample import sample_base
from dashboard.frames import Frame, ScreenContext, screen_frame
from dashboard.layouts.ids import Wall
from dashboard.pacing import MapPacer
from dashboard.push import PAGE_IDS, Holding, map_edit, map_step, step
from incidents.situation import Situation
from tests.incidents.test_situation import NOW, mk

WALL = ScreenContext.of("wall", "zh")
BASE = sample_base()


def sample_locator(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Points fall in the sample base's grids G001…G020 by their longitude's thousandths."""
    n = len(BASE.grid_ids)
    grid = [BASE.grid_ids[round(float(x) * 1000) % n] for x in lon]
    return pd.DataFrame(
        {"micro_grid_id": [g + "-m" for g in grid], "grid_id": grid, "community_id": ["C1"] * len(grid)}
    )


class Page:
    """What a wall page holds of its map: the figure's arrays and the token of the frame they are."""

    def __init__(self, frame: Frame) -> None:
        self.traces = copy.deepcopy(frame.traces)
        if frame.area_counts:  # a district overview's count labels (the figure's TRACE_AREA_COUNTS text)
            self.traces[TRACE_AREA_COUNTS] = {"text": area_count_text(frame.area_counts)}
        self.z = list(frame.grid_z)
        self.token: str | None = frame.token

    def apply(self, edit: dict[str, Any]) -> bool:
        """``applyEdit`` of assets/onescreen.js; False (and nothing changed) when the page holds another frame."""
        if edit["base"] is not None and edit["base"] != self.token:
            return False
        for key, e in edit["traces"].items():
            tr = self.traces[int(key)]
            if "set" in e:
                for k, values in e["set"].items():
                    for i, v in values.items():
                        tr[k][int(i)] = v
                continue
            if "replace" in e:
                for k, column in e["replace"].items():
                    tr[k] = list(column)
                continue
            for i in e["delete"]:
                for k in e["add"]:
                    del tr[k][i]
            for k, column in e["add"].items():
                tr[k].extend(column)
        if "z" in edit:
            if "all" in edit["z"]:
                self.z = list(edit["z"]["all"])
            else:
                for i, rank in edit["z"]["set"].items():
                    self.z[int(i)] = rank
        self.token = edit["to"]
        return True


def frames(situation: Situation, n: int, seed: int) -> list[Frame]:
    """``n`` frames of the wall, each after a random change: new incidents, lifecycle steps, closures."""
    rng = random.Random(seed)
    out = [screen_frame(situation.view(NOW), BASE, WALL, seq=0, boot_id="t")]
    ids: list[str] = []
    for k in range(1, n):
        for _ in range(rng.randint(1, 4)):
            if ids and rng.random() < 0.5:
                iid = rng.choice(ids)
                status = rng.choice(["dispatched", "accepted", "resolved", "closed"])
                situation.apply(mk(iid, ("reported", -600), (status, -k), lon=120.0 + ids.index(iid) / 1000))
            else:
                iid = f"I{len(ids)}"
                ids.append(iid)
                situation.apply(mk(iid, ("reported", -k), lon=120.0 + (len(ids) - 1) / 1000))
        out.append(screen_frame(situation.view(NOW), BASE, WALL, seq=k, boot_id="t", previous=out[-1]))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chained_edits_leave_the_page_with_exactly_the_newest_frame(seed: int) -> None:
    situation = Situation(sample_locator, boot_id="t")
    run = frames(situation, 60, seed)
    page = Page(run[0])
    rng = random.Random(seed)
    held = run[0]
    grid_edits = 0
    for frame in run[1:]:
        if rng.random() < 0.3:
            continue  # the pacing skipped this frame: the next edit spans two changes
        edit = map_edit(held, frame)
        if edit is None:
            assert page.traces == frame.traces and page.z == frame.grid_z
            continue
        assert edit["base"] == held.token and edit["to"] == frame.token
        assert page.apply(edit)
        grid_edits += "set" in edit.get("z", {})
        held = frame
        assert page.traces == frame.traces
        assert page.z == frame.grid_z
    assert sum(len(page.traces[i]["customdata"]) for i in INCIDENT_TRACES) > 0
    assert grid_edits > 0  # grid colours changed one by one along the way


def test_an_edit_is_small_and_names_only_what_changed() -> None:
    situation = Situation(sample_locator, boot_id="t")
    for n in range(30):
        situation.apply(mk(f"OLD{n}", ("reported", -3600), lon=120.0 + n / 1000))
    before = screen_frame(situation.view(NOW), BASE, WALL, seq=1, boot_id="t")
    situation.apply(mk("NEW", ("reported", -5), lon=120.0 + 31 / 1000))
    after = screen_frame(situation.view(NOW), BASE, WALL, seq=2, boot_id="t", previous=before)
    edit = map_edit(before, after)
    assert edit is not None
    assert list(edit["traces"]) == [str(TRACE_REPORTED)]
    assert edit["traces"][str(TRACE_REPORTED)]["add"]["customdata"] == ["NEW"]
    assert edit["traces"][str(TRACE_REPORTED)]["delete"] == []
    assert map_edit(after, after) is None


def test_a_page_holding_another_frame_refuses_the_edit_and_a_full_edit_applies_anywhere() -> None:
    situation = Situation(sample_locator, boot_id="t")
    situation.apply(mk("A", ("reported", -60), lon=120.003))
    first = screen_frame(situation.view(NOW), BASE, WALL, seq=1, boot_id="t")
    situation.apply(mk("B", ("reported", -30), lon=120.004))
    second = screen_frame(situation.view(NOW), BASE, WALL, seq=2, boot_id="t", previous=first)
    stale = Page(first)
    stale.token = "something else"
    edit = map_edit(first, second)
    assert edit is not None and not stale.apply(edit)
    assert stale.traces == first.traces  # untouched
    full = map_edit(None, second)  # what the server sends after the page asked for a resync
    assert full is not None and full["base"] is None and "all" in full["z"]
    assert stale.apply(full)
    assert stale.traces == second.traces and stale.z == second.grid_z


def test_the_wall_gets_its_map_as_an_edit_and_the_console_as_a_figure_patch() -> None:
    situation = Situation(sample_locator, boot_id="t")
    first = screen_frame(situation.view(NOW), BASE, WALL, seq=1, boot_id="t")
    situation.apply(mk("A", ("reported", -60), lon=120.003))
    wall = step(Holding.rendered(first), screen_frame(situation.view(NOW), BASE, WALL, seq=2, boot_id="t"))
    assert wall.map_sent and (Wall.MAP_EDIT, "data") in [(c, p) for c, p, _ in wall.props]
    assert Wall.MAP not in [c for c, _, _ in wall.props]
    console = ScreenContext.of("console", "zh")
    c1 = screen_frame(situation.view(NOW), BASE, console, seq=3, boot_id="t")
    situation.apply(mk("B", ("reported", -30), lon=120.004))
    c2 = screen_frame(situation.view(NOW), BASE, console, seq=4, boot_id="t", previous=c1)
    st = step(Holding.rendered(c1), c2)
    assert (PAGE_IDS["console"].map, "figure") in [(c, p) for c, p, _ in st.props]


def test_the_pacer_keeps_one_patch_in_flight_until_drawn_or_timed_out() -> None:
    pacer = MapPacer(window=1, timeout_s=2.0)
    assert pacer.ready(drawn=0, now=0.0)
    pacer.sent(drawn=0, now=0.0)
    assert not pacer.ready(drawn=0, now=1.0)
    assert pacer.wait_s(now=1.5) == pytest.approx(0.5)
    assert pacer.ready(drawn=1, now=1.0)  # drawn
    pacer.sent(drawn=1, now=1.0)
    assert not pacer.ready(drawn=1, now=2.9)
    assert pacer.ready(drawn=1, now=3.1)  # never drawn (changed nothing visible): given up on
    assert pacer.wait_s(now=3.1) is None
    pacer.sent(drawn=1, now=4.0)
    pacer.reset()
    assert pacer.ready(drawn=1, now=4.0)
    with pytest.raises(ValueError, match="at least 1"):
        MapPacer(window=0)


def test_a_district_overviews_changed_counts_go_as_single_labels() -> None:
    """One area's open count changes: the wall's edit and the console's patch carry that label only (a few bytes,
    not every area's); the wall's page then holds exactly the new labels. Many changed: all labels, once."""
    situation = Situation(sample_locator, boot_id="t")
    first = screen_frame(situation.view(NOW), BASE, WALL, seq=1, boot_id="t")
    n = 40
    before = dataclasses.replace(first, area_counts=[1] * n)
    after = dataclasses.replace(first, token=first.token + "b", area_counts=[1] * 7 + [0, 5] + [1] * (n - 9))
    edit = map_edit(before, after)
    assert edit is not None and edit["base"] == before.token
    assert edit["traces"] == {str(TRACE_AREA_COUNTS): {"set": {"text": {"7": "", "8": "5"}}}}
    page = Page(before)
    assert page.apply(edit) and page.traces[TRACE_AREA_COUNTS]["text"] == area_count_text(after.area_counts)
    patch = map_step(before, after)
    assert patch is not None
    ops = patch.to_plotly_json()["operations"]
    assert [(op["location"], op["params"]["value"]) for op in ops] == [
        (["data", TRACE_AREA_COUNTS, "text", 7], ""),
        (["data", TRACE_AREA_COUNTS, "text", 8], "5"),
    ]
    many = dataclasses.replace(first, token=first.token + "c", area_counts=list(range(n)))
    whole = map_edit(before, many)
    assert whole is not None and whole["traces"] == {
        str(TRACE_AREA_COUNTS): {"replace": {"text": area_count_text(many.area_counts)}}
    }
    assert map_edit(None, before)["traces"][str(TRACE_AREA_COUNTS)] == {"replace": {"text": ["1"] * n}}  # type: ignore[index]
