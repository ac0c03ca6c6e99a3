"""The edit arithmetic behind small live Patches: applying an edit to the old list must give the new one."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dashboard.list_edits import REPLACE, ListEdit, plan_prepend, plan_trace, plan_unordered, stable_order_keyed


def apply_unordered(before: list[Any], after: list[Any], edit: ListEdit) -> list[Any]:
    if edit.replace:
        return list(after)
    out = list(before)
    for i in edit.delete:  # descending: each index still valid
        del out[i]
    return out + [after[i] for i in edit.add]


def apply_prepend(before: list[Any], after: list[Any], edit: ListEdit) -> list[Any]:
    if edit.replace:
        return list(after)
    out = list(before)
    for i in edit.delete:
        del out[i]
    return [after[i] for i in edit.add] + out


@pytest.mark.parametrize("seed", range(200))
def test_unordered_edit_reaches_the_target_set(seed: int) -> None:
    rng = random.Random(seed)
    before = rng.sample(range(1000), rng.randint(0, 60))
    kept = [x for x in before if rng.random() < 0.9]
    after = kept + rng.sample(range(1000, 2000), rng.randint(0, 5))
    rng.shuffle(after)
    edit = plan_unordered(before, after)
    assert sorted(apply_unordered(before, after, edit)) == sorted(after)
    assert list(edit.delete) == sorted(edit.delete, reverse=True)


def test_one_new_marker_is_one_append_not_a_copy() -> None:
    before = list(range(500))
    edit = plan_unordered(before, [*before, 999])
    assert (edit.replace, edit.delete, edit.add) == (False, (), (500,))


def test_big_changes_replace_the_list() -> None:
    assert plan_unordered(list(range(10)), list(range(100, 120))).replace
    assert plan_unordered(None, [1, 2]).replace


@pytest.mark.parametrize("seed", range(200))
def test_prepend_edit_reaches_the_exact_target(seed: int) -> None:
    rng = random.Random(seed)
    before = [f"r{i}" for i in rng.sample(range(100), 12)]
    changed = [x for x in before if rng.random() < 0.2]  # rows that changed move to the top
    new = [f"n{i}" for i in range(rng.randint(0, 3))]
    head = new + changed
    rng.shuffle(head)
    after = (head + [x for x in before if x not in changed])[:12]
    edit = plan_prepend(before, after)
    assert apply_prepend(before, after, edit) == after


def test_prepend_for_the_usual_new_incident() -> None:
    before = ["a", "b", "c", "d"]
    edit = plan_prepend(before, ["x", "a", "b", "c"])
    assert (edit.replace, edit.delete, edit.add) == (False, (3,), (0,))


def test_a_row_changed_in_place_is_still_reached() -> None:
    # "b" changed without moving to the top (it turned overdue as the clock ran): re-send the head down to it
    before, after = ["a", "b", "c"], ["a", "b2", "c"]
    assert apply_prepend(before, after, plan_prepend(before, after)) == after
    assert plan_prepend(["a", "a"], ["a"]) == REPLACE  # duplicate keys: no index arithmetic


def test_plan_trace_keeps_parallel_arrays_aligned() -> None:
    n = 30
    before: dict[str, list[Any]] = {
        "lon": [float(i) for i in range(n)],
        "lat": [10.0 * i for i in range(n)],
        "customdata": [f"id{i}" for i in range(n)],
    }
    after = {
        k: [v for j, v in enumerate(col) if j != 1] + [{"lon": 99.0, "lat": 990.0, "customdata": "new"}[k]]
        for k, col in before.items()
    }
    planned = plan_trace(before, after)
    assert not planned.edit.replace and planned.edit.delete == (1,) and planned.edit.add == (n - 1,)
    assert planned.result == after
    moved = {k: list(col) for k, col in planned.result.items()}
    moved["lon"][0] = 0.5  # "id0" moved: deleted and re-added at its new place
    planned = plan_trace(planned.result, moved)
    triples = set(zip(planned.result["customdata"], planned.result["lon"], planned.result["lat"], strict=True))
    assert triples == set(zip(moved["customdata"], moved["lon"], moved["lat"], strict=True))


def test_small_traces_are_simply_replaced() -> None:
    before: dict[str, list[Any]] = {"lon": [1.0, 2.0], "lat": [1.0, 2.0], "customdata": ["a", "b"]}
    after: dict[str, list[Any]] = {"lon": [1.0, 3.0], "lat": [1.0, 3.0], "customdata": ["a", "c"]}
    planned = plan_trace(before, after)  # one delete costs more than re-sending two points
    assert planned.edit.replace and planned.result == after


def test_many_new_feed_rows_still_prepend_until_the_whole_list_is_new() -> None:
    before = [f"r{i}" for i in range(12)]
    after = [f"n{i}" for i in range(6)] + before[:6]
    edit = plan_prepend(before, after)
    assert not edit.replace and edit.add == tuple(range(6)) and len(edit.delete) == 6
    assert plan_prepend(before, [f"n{i}" for i in range(12)]).replace


def test_stably_ordered_frames_are_reproduced_exactly_by_edits_from_any_earlier_frame() -> None:
    """The frame hub's invariant: a browser that holds frame k of a lineage and applies the edit to frame n holds
    frame n's arrays, in order — whatever k — so a holding is named by its frame alone."""
    from dashboard.list_edits import stable_order

    rng = random.Random(5)
    frames: list[dict[str, list[Any]]] = []
    previous: dict[str, list[Any]] | None = None
    for _ in range(40):
        ids = rng.sample(range(60), rng.randrange(0, 40))
        after: dict[str, list[Any]] = {
            "customdata": [f"E{i}" for i in ids],
            "lon": [i * 0.01 for i in ids],
            "lat": [1.0] * len(ids),
        }
        previous = stable_order(previous, after)
        assert sorted(previous["customdata"]) == sorted(after["customdata"])
        frames.append(previous)
    for k in range(len(frames)):
        for n in range(k, len(frames)):
            assert plan_trace(frames[k], frames[n]).result == frames[n]


def test_an_unchanged_trace_shares_the_earlier_frames_lists() -> None:
    """Frames are read-only: a trace equal to the previous frame's is those very lists and index (a city frame's
    markers are megabytes; the hub keeps several frames), a changed one gets its own."""
    before, keys = stable_order_keyed(None, {"lon": [1.0, 2.0], "lat": [3.0, 4.0], "customdata": ["a", "b"]})
    same, same_keys = stable_order_keyed(before, {"lon": [2.0, 1.0], "lat": [4.0, 3.0], "customdata": ["b", "a"]}, keys)
    assert same_keys is keys and all(same[n] is before[n] for n in before)
    moved, moved_keys = stable_order_keyed(
        before, {"lon": [1.0, 2.5], "lat": [3.0, 4.0], "customdata": ["a", "b"]}, keys
    )
    assert moved_keys is not keys and moved["lon"] == [1.0, 2.5] and moved["lon"] is not before["lon"]
    hover = {**before, "hovertext": ["x", "y"]}
    _, hk = stable_order_keyed(None, hover)
    changed, _ = stable_order_keyed(hover, {**hover, "hovertext": ["x", "z"]}, hk)
    assert changed["hovertext"] == ["x", "z"] and before["lon"] == [1.0, 2.0]
