"""Minimal edits that turn what a browser holds into what it should show — the arithmetic behind small Patches.

Pure. The live push keeps a mirror of each list it sent (a trace's points, the feed's rows); on the next tick it
sends only deletions by index plus the new items, instead of the whole list: one new incident costs a few hundred
bytes whether 100 or 10,000 are on the map.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

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
    """A planned update of one marker trace from ``before`` to ``after`` (parallel arrays)."""

    edit: ListEdit
    before: Mapping[str, Sequence[Any]] | None
    after: Mapping[str, Sequence[Any]]

    @property
    def result(self) -> dict[str, list[Any]]:
        """What the browser's arrays hold once the edit is applied (computed on demand: the live push needs only
        the edit, and this is a copy of every marker)."""
        before, after, edit = self.before, self.after, self.edit
        if edit.replace or before is None:
            return {k: list(v) for k, v in after.items()}
        gone = set(edit.delete)
        return {
            name: [v for i, v in enumerate(before[name]) if i not in gone] + [after[name][i] for i in edit.add]
            for name in after
        }


REPLACE = ListEdit(replace=True)


def _replace_is_cheaper(deletes: int, adds: int, target_size: int, delete_cost: float) -> bool:
    """Is re-sending all ``target_size`` items cheaper than ``deletes`` deletions plus ``adds`` items?"""
    return deletes * delete_cost + adds >= max(target_size, 1)


@dataclass(frozen=True, slots=True)
class KeyIndex:
    """A list of keys with each key's position: what ``plan_unordered`` needs of one side, built once per list
    (a frame keeps one per marker trace, so the many steps from or to it cost only the set differences)."""

    keys: Sequence[Hashable]
    position: dict[Hashable, int]

    @classmethod
    def of(cls, keys: Sequence[Hashable]) -> KeyIndex:
        return cls(keys, {key: i for i, key in enumerate(keys)})

    @property
    def has_duplicates(self) -> bool:
        return len(self.position) != len(self.keys)


def plan_unordered(before: Sequence[Hashable] | KeyIndex | None, after: Sequence[Hashable] | KeyIndex) -> ListEdit:
    """For lists whose order does not matter (map markers): delete what went, append what came."""
    if before is None:
        return REPLACE
    old = before if isinstance(before, KeyIndex) else KeyIndex.of(before)
    new = after if isinstance(after, KeyIndex) else KeyIndex.of(after)
    if old.has_duplicates or new.has_duplicates:
        return REPLACE  # duplicate keys would make index arithmetic ambiguous
    gone = old.position.keys() - new.position.keys()
    came = new.position.keys() - old.position.keys()
    delete = tuple(sorted((old.position[key] for key in gone), reverse=True))
    add = tuple(sorted(new.position[key] for key in came))
    if (delete or add) and _replace_is_cheaper(len(delete), len(add), len(new.keys), MARKER_DELETE_COST):
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


def plan_trace(
    before: Mapping[str, Sequence[Any]] | None,
    after: Mapping[str, Sequence[Any]],
    keys: tuple[KeyIndex | None, KeyIndex] | None = None,
) -> TraceEdit:
    """Edit for one marker trace (parallel arrays lon, lat, customdata[, hovertext]).

    ``keys``: the ``KeyIndex`` of (before, after)'s ``point_keys`` when the caller has them (a frame keeps its
    own), so the step for each thing browsers hold does not rebuild 10,000 keys.
    """
    if before is not None and set(before) != set(after):
        before = None  # different fields (e.g. hover switched on): start over
    if before is None:
        return TraceEdit(REPLACE, None, after)
    before_keys, after_keys = keys if keys is not None else (None, KeyIndex.of(point_keys(after)))
    edit = plan_unordered(point_keys(before) if before_keys is None else before_keys, after_keys)
    return TraceEdit(edit, before, after)


def stable_order(
    before: Mapping[str, Sequence[Any]] | None,
    after: Mapping[str, list[Any]],
    before_keys: KeyIndex | None = None,
) -> dict[str, list[Any]]:
    """``after``'s parallel arrays reordered so that markers also in ``before`` keep ``before``'s order and the new
    ones follow in ``after``'s order (``stable_order_keyed`` without the keys)."""
    return stable_order_keyed(before, after, before_keys)[0]


def stable_order_keyed(
    before: Mapping[str, Sequence[Any]] | None,
    after: Mapping[str, list[Any]],
    before_keys: KeyIndex | None = None,
) -> tuple[dict[str, list[Any]], KeyIndex]:
    """``after``'s parallel arrays reordered so that markers also in ``before`` keep ``before``'s order and the new
    ones follow in ``after``'s order, with the result's ``KeyIndex``.

    Then the edit from ``before`` to the result (delete what went by index, append what came — ``plan_trace``)
    leaves a browser holding exactly the result, in order. The frame hub orders every frame this way against the
    previous frame of its context, so "what a browser holds" is always some frame of that context: two browsers
    holding the same frame hold the same arrays, and one step serves both. ``before_keys``: ``point_keys(before)``
    with positions, when the caller has them.
    """
    after_keys = point_keys(after)
    if before is None or set(before) != set(after):
        return {k: list(v) for k, v in after.items()}, KeyIndex.of(after_keys)
    position: dict[Hashable, int] = {key: i for i, key in enumerate(after_keys)}
    if len(position) != len(after_keys):
        # duplicate markers: keep the order as given
        return {k: list(v) for k, v in after.items()}, KeyIndex(after_keys, position)
    old_keys = point_keys(before) if before_keys is None else before_keys.keys
    kept = [position[key] for key in old_keys if key in position]
    seen = set(kept)
    order = kept + [i for i in range(len(after_keys)) if i not in seen]
    keys = [after_keys[i] for i in order]
    out = {name: [column[i] for i in order] for name, column in after.items()}
    if before_keys is not None and keys == before_keys.keys and all(out[n] == before[n] for n in out):
        # unchanged: the earlier lists and index themselves (frames are read-only). A city frame's traces are
        # megabytes and most of them do not change from one frame to the next: the frames the hub keeps share them.
        return {n: cast(list[Any], before[n]) for n in out}, before_keys
    return out, KeyIndex.of(keys)
