"""Minimal edits that turn what a browser holds into what it should show — the arithmetic behind small Patches.

Pure. The live push keeps a mirror of each list it sent (a trace's points, the feed's rows); on the next tick it
sends only deletions by index plus the new items, instead of the whole list: one new incident costs a few hundred
bytes whether 100 or 10,000 are on the map.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Relative wire cost of deleting one item by index (one Delete operation per parallel array, ~60 bytes each) in
# units of re-sending one item. Markers are tiny (~40 bytes: lon, lat, id); feed rows are big (~700 bytes).
MARKER_DELETE_COST = 6.0
ROW_DELETE_COST = 0.1


@dataclass(frozen=True, slots=True)
class ListEdit:
    """Replace the list, or delete ``delete`` (indices into the old list, descending, so each stays valid while
    applied in order) and then add the target items at ``add`` (target indices, in target order)."""

    replace: bool
    delete: tuple[int, ...] = ()
    add: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether applying the edit changes nothing."""
        return not self.replace and not self.delete and not self.add


@dataclass(frozen=True, slots=True)
class TraceEdit:
    """A planned update of one marker trace, and what the browser's arrays hold once it is applied."""

    edit: ListEdit
    result: dict[str, list[Any]] = field(default_factory=dict)


REPLACE = ListEdit(replace=True)


def _replace_is_cheaper(deletes: int, adds: int, target_size: int, delete_cost: float) -> bool:
    """Is re-sending all ``target_size`` items cheaper than ``deletes`` deletions plus ``adds`` items?"""
    return deletes * delete_cost + adds >= max(target_size, 1)


def plan_unordered(before: Sequence[Hashable] | None, after: Sequence[Hashable]) -> ListEdit:
    """For lists whose order does not matter (map markers): delete what went, append what came."""
    if before is None:
        return REPLACE
    wanted = set(after)
    present = set(before)
    delete = tuple(i for i in range(len(before) - 1, -1, -1) if before[i] not in wanted)
    add = tuple(i for i, key in enumerate(after) if key not in present)
    if len(set(before)) != len(before) or len(wanted) != len(after):
        return REPLACE  # duplicate keys would make index arithmetic ambiguous
    if (delete or add) and _replace_is_cheaper(len(delete), len(add), len(after), MARKER_DELETE_COST):
        return REPLACE
    return ListEdit(replace=False, delete=delete, add=add)


def plan_prepend(before: Sequence[Hashable] | None, after: Sequence[Hashable]) -> ListEdit:
    """For newest-first lists (the live feed): delete rows that changed or fell off, prepend the new head.

    Finds the shortest head of ``after`` such that the rest of ``after`` is exactly what remains of ``before``
    in the same order; if none exists (a row changed in place), the list is replaced.
    """
    if before is None or len(set(after)) != len(after) or len(set(before)) != len(before):
        return REPLACE
    for k in range(len(after) + 1):
        tail = after[k:]
        keep = set(tail)
        if [key for key in before if key in keep] == list(tail):
            delete = tuple(i for i in range(len(before) - 1, -1, -1) if before[i] not in keep)
            if k and _replace_is_cheaper(len(delete), k, len(after), ROW_DELETE_COST):
                return REPLACE
            return ListEdit(replace=False, delete=delete, add=tuple(range(k)))
    return REPLACE


def point_keys(values: Mapping[str, Sequence[Any]]) -> list[tuple[Any, ...]]:
    """One key per marker: its id with everything drawn for it, so a moved or relabelled marker is replaced."""
    columns = [values[name] for name in sorted(values)]
    return list(zip(*columns, strict=True))


def plan_trace(before: Mapping[str, list[Any]] | None, after: Mapping[str, list[Any]]) -> TraceEdit:
    """Edit for one marker trace (parallel arrays lon, lat, customdata[, hovertext]) and the resulting arrays."""
    if before is not None and set(before) != set(after):
        before = None  # different fields (e.g. hover switched on): start over
    edit = plan_unordered(None if before is None else point_keys(before), point_keys(after))
    if edit.replace or before is None:
        return TraceEdit(REPLACE, {k: list(v) for k, v in after.items()})
    gone = set(edit.delete)
    result = {
        name: [v for i, v in enumerate(before[name]) if i not in gone] + [after[name][i] for i in edit.add]
        for name in after
    }
    return TraceEdit(edit, result)


def stable_order(before: Mapping[str, Sequence[Any]] | None, after: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """``after``'s parallel arrays reordered so that markers also in ``before`` keep ``before``'s order and the new
    ones follow in ``after``'s order.

    Then the edit from ``before`` to the result (delete what went by index, append what came — ``plan_trace``)
    leaves a browser holding exactly the result, in order. The frame hub orders every frame this way against the
    previous frame of its context, so "what a browser holds" is always some frame of that context: two browsers
    holding the same frame hold the same arrays, and one step serves both.
    """
    if before is None or set(before) != set(after):
        return {k: list(v) for k, v in after.items()}
    after_keys = point_keys(after)
    position = {key: i for i, key in enumerate(after_keys)}
    if len(position) != len(after_keys):
        return {k: list(v) for k, v in after.items()}  # duplicate markers: keep the order as given
    kept = [position[key] for key in point_keys(before) if key in position]
    seen = set(kept)
    order = kept + [i for i in range(len(after_keys)) if i not in seen]
    return {name: [column[i] for i in order] for name, column in after.items()}
