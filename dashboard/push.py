"""What one live push sends: the step from what a browser holds to a frame.

A ``Holding`` is what a browser shows: the frame its KPIs, feed and charts reflect and the frame its map shows.
``step(holding, frame)`` returns the property updates that turn the one into the other — already encoded — and
the new holding. It is deterministic, so the frame hub computes it once per (holding, frame) and every connection
that holds the same thing sends the same bytes (Grafana Live's "encode once, fan out").

Dash objects (``Patch``, feed list items) are built here; nothing here talks to a connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from _plotly_utils.utils import PlotlyJSONEncoder
from dash import Patch

from dashboard.figures.incident_map import TRACE_AREA_COUNTS, TRACE_GRIDS, area_count_text
from dashboard.frames import Frame, Screen
from dashboard.layouts import components
from dashboard.layouts.ids import Console, Wall, kpi_tile_id, kpi_value_id
from dashboard.layouts.wall import wall_side_parts
from dashboard.list_edits import REPLACE, TraceEdit, plan_prepend, plan_trace

PropUpdate = tuple[str, str, Any]  # (component id, property, value)


@dataclass(frozen=True, slots=True)
class PageIds:
    """The ids a live push writes on one screen."""

    map: str
    map_edit: str | None  # the store the wall's map edits travel in (None: the map is patched via ``figure``)
    banner: str
    status_dot: str
    feed: str | None
    updated: str | None
    charts: tuple[str, ...]
    funnel: str | None = None


PAGE_IDS: Final[dict[Screen, PageIds]] = {
    "wall": PageIds(
        Wall.MAP, Wall.MAP_EDIT, Wall.BANNER, Wall.STATUS_DOT, Wall.FEED, Wall.UPDATED, (Wall.TREND, Wall.CATEGORY)
    ),
    "console": PageIds(Console.MAP, None, Console.BANNER, Console.STATUS_DOT, None, None, (), Console.FUNNEL),
}


@dataclass(frozen=True, eq=False)
class Holding:
    """What one browser shows: ``frame`` for the KPI tiles and the feed; ``map_frame`` (an earlier frame while
    the browser is still drawing) for its Plotly parts — the map's markers and grid colours, the sidebar charts.
    Frames of one context are stably ordered (``frames.screen_frame(previous=...)``), so after an edit a
    browser's marker arrays are exactly its ``map_frame``'s: a holding is fully named by its two frames' tokens."""

    frame: Frame
    map_frame: Frame

    @classmethod
    def rendered(cls, frame: Frame) -> Holding:
        """A page rendered from ``frame`` holds exactly it."""
        return cls(frame, frame)

    @property
    def key(self) -> tuple[str, str]:
        """(frame token, map frame token): names the holding in the hub's step cache."""
        return self.frame.token, self.map_frame.token


@dataclass(frozen=True, slots=True)
class Step:
    """``props`` to send, in order, and the same already encoded (``payloads``: the ``payload`` of each Dash
    ``set_props`` message, JSON — encoded once, whatever the number of connections); ``holding`` once the browser
    applied them; ``map_sent``: a map patch is among them (the sender then waits for the browser's "drawn"
    acknowledgement before the next one); ``nbytes``: the payloads' size in UTF-8 bytes (the metrics' bytes per push,
    counted once per step, not per connection)."""

    props: tuple[PropUpdate, ...]
    payloads: tuple[str, ...]
    holding: Holding
    map_sent: bool
    nbytes: int = 0


def encode(value: Any) -> str:
    """JSON of a ``set_props`` payload as Dash encodes it (``PlotlyJSONEncoder``: components, Patches, numpy),
    compact and with non-ASCII text as UTF-8: Dash's ``to_json`` escapes every Chinese character to six bytes
    (``\\u4e2d``) instead of three, a third of a feed row. A WebSocket text frame is UTF-8 anyway."""
    return json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def chart_patch(data: list[Any], xaxis: dict[str, Any]) -> Patch:
    """Replace ``data`` and set the x-axis properties that follow the numbers (hour labels, range) — for small
    charts whose layout is otherwise already on the page."""
    patch = Patch()
    patch["data"] = data
    for key, value in xaxis.items():
        patch["layout"]["xaxis"][key] = value
    return patch


@dataclass(frozen=True, slots=True)
class MapPlan:
    """What changes on the map from ``before`` (None: unknown) to ``frame``: one plan per incident trace and the
    grid colours' before/after."""

    before: Frame | None
    frame: Frame
    traces: dict[int, TraceEdit]
    grid_before: list[int] | None

    @property
    def grid_changed(self) -> bool:
        return self.grid_before != self.frame.grid_z

    @property
    def counts_changed(self) -> bool:
        """The overview's open counts differ (never for a grid map: both empty)."""
        return bool(self.frame.area_counts) and (
            self.before is None or self.before.area_counts != self.frame.area_counts
        )

    def changed_counts(self) -> list[int] | None:
        """Indices of the overview's areas whose open count changed; None when sending all the labels is as cheap
        (or there is no drawn frame of the same context to edit)."""
        before, after = self.before.area_counts if self.before is not None else None, self.frame.area_counts
        if before is None or len(before) != len(after):
            return None
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        return None if len(changed) * 4 > len(after) else changed

    def changed_grids(self) -> list[int] | None:
        """Indices of the grids whose colour changed; None when sending the whole array is as cheap."""
        before, after = self.grid_before, self.frame.grid_z
        if before is None or len(before) != len(after):
            return None
        # Only the grids whose colour changed: a few bytes each, not the whole 10,000-grid array.
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        return None if len(changed) * 4 > len(after) else changed


def plan_map(before: Frame | None, frame: Frame) -> MapPlan | None:
    """The map's edits from what a browser drew of frame ``before`` to ``frame``; None if nothing changed.
    Within one context the edits leave the browser with exactly ``frame``'s arrays (stable order); from another
    context (the console's filters changed) the markers are replaced."""
    same_lineage = before is not None and before.ctx == frame.ctx
    old = before.traces if same_lineage and before is not None else {}
    old_keys = before.marker_keys if same_lineage and before is not None else {}
    plans = {
        idx: plan_trace(old.get(idx), v, (old_keys.get(idx), frame.marker_keys[idx])) for idx, v in frame.traces.items()
    }
    grid_before = None if before is None else before.grid_z
    counts_same = before is not None and before.area_counts == frame.area_counts
    if grid_before == frame.grid_z and counts_same and all(p.edit.empty for p in plans.values()):
        return None
    return MapPlan(before if same_lineage else None, frame, plans, grid_before)


def _trace_patch(patch: Patch, idx: int, values: dict[str, list[Any]], planned: TraceEdit) -> None:
    edit = planned.edit
    if edit.replace:
        for key, column in values.items():
            patch["data"][idx][key] = column
        return
    for i in edit.delete:
        for key in values:
            del patch["data"][idx][key][i]
    if edit.add:
        for key, column in values.items():
            patch["data"][idx][key].extend([column[i] for i in edit.add])


def map_step(before: Frame | None, frame: Frame) -> Patch | None:
    """The map's edits as a ``figure`` Patch (the console: Plotly keeps hover and click data current)."""
    plan = plan_map(before, frame)
    if plan is None:
        return None
    patch = Patch()
    for idx, values in frame.traces.items():
        _trace_patch(patch, idx, values, plan.traces[idx])
    if plan.grid_changed:
        changed = plan.changed_grids()
        if changed is None:
            patch["data"][TRACE_GRIDS]["z"] = frame.grid_z
        else:
            for i in changed:
                patch["data"][TRACE_GRIDS]["z"][i] = frame.grid_z[i]
    if plan.counts_changed:
        texts = area_count_text(frame.area_counts)
        changed_counts = plan.changed_counts()
        if changed_counts is None:
            patch["data"][TRACE_AREA_COUNTS]["text"] = texts
        else:
            for i in changed_counts:
                patch["data"][TRACE_AREA_COUNTS]["text"][i] = texts[i]
    return patch


def map_edit(before: Frame | None, frame: Frame) -> dict[str, Any] | None:
    """The map's edits as data for ``assets/onescreen.js`` (the wall), or None if nothing changed.

    Shape: ``{"base": token | None, "to": token, "traces": {"<trace index>": {"replace": {key: list}} |
    {"delete": [old indices, descending], "add": {key: list}} | {"set": {key: {"<index>": value}}}}, "z":
    {"all": list[int]} | {"set": {"<grid index>": rank}}}`` (a trace's ``set``: a district overview's changed
    count labels). ``base`` is the frame the edit applies to: a page holding another one asks for a resync instead
    of applying it; None means "whatever you hold" (a full replacement). The wall shows no hover or click data, so
    its map is edited in place (the MapLibre sources directly), not re-plotted by Plotly — see
    ``docs/ARCHITECTURE.md``, "The wall's map edits".
    """
    plan = plan_map(before, frame)
    if plan is None:
        return None
    traces: dict[str, Any] = {}
    for idx, values in frame.traces.items():
        edit = plan.traces[idx].edit
        if plan.before is None or edit.replace:
            traces[str(idx)] = {"replace": values}
        elif not edit.empty:
            traces[str(idx)] = {
                "delete": list(edit.delete),
                "add": {key: [column[i] for i in edit.add] for key, column in values.items()},
            }
    if plan.counts_changed:  # the few labels that changed: a district's counts move one or two at a time
        texts = area_count_text(frame.area_counts)
        changed_counts = plan.changed_counts()
        traces[str(TRACE_AREA_COUNTS)] = (
            {"replace": {"text": texts}}
            if changed_counts is None
            else {"set": {"text": {str(i): texts[i] for i in changed_counts}}}
        )
    out: dict[str, Any] = {"base": None if plan.before is None else plan.before.token, "to": frame.token}
    out["traces"] = traces
    if plan.grid_changed or plan.before is None:
        changed = plan.changed_grids()
        if changed is None or plan.before is None:
            out["z"] = {"all": frame.grid_z}
        else:
            out["z"] = {"set": {str(i): frame.grid_z[i] for i in changed}}
    return out


def _feed_props(feed_id: str, before: Frame | None, frame: Frame) -> list[PropUpdate]:
    """Newest first: usually one row prepended and one dropped, not the whole list re-sent."""
    keys = list(frame.feed_key)
    old = None if before is None else list(before.feed_key)
    if keys == old:
        return []
    edit = plan_prepend(old or None, keys) if keys else REPLACE
    if edit.replace:
        return [(feed_id, "children", components.feed_items(frame.feed, frame.ctx.lang))]
    patch = Patch()
    for i in edit.delete:
        del patch[i]
    for item in reversed(components.feed_items(frame.feed.iloc[list(edit.add)], frame.ctx.lang)):
        patch.prepend(item)
    return [(feed_id, "children", patch)]


def _kpi_props(screen: str, before: Frame | None, frame: Frame) -> list[PropUpdate]:
    old = {} if before is None else {t.key: t for t in before.kpis}
    out: list[PropUpdate] = []
    for tile in frame.kpis:
        if old.get(tile.key) != tile:
            out.append((kpi_value_id(tile.key, screen), "children", tile.value))
            out.append((kpi_tile_id(tile.key, screen), "className", components.kpi_tile_class(tile)))
    return out


def _chart_props(ids: PageIds, before: Frame | None, frame: Frame) -> list[PropUpdate]:
    if not ids.charts or (before is not None and before.kpi_key == frame.kpi_key):
        return []
    parts = wall_side_parts(frame.kpi_values, frame.ctx.lang, frame.now)
    # The numbers only: fonts and colours are already on the page.
    return [(chart, "figure", chart_patch(*p)) for chart, p in zip(ids.charts, parts, strict=True)]


def step(holding: Holding | None, frame: Frame, *, map_ok: bool = True) -> Step:
    """Everything that differs between ``holding`` (None: unknown, send all) and ``frame``.

    ``map_ok=False`` (the browser has not drawn the previous map patch yet) leaves the map out; it follows in a
    later step from the returned holding.
    """
    ids = PAGE_IDS["console" if frame.ctx.screen == "console" else "wall"]
    before = None if holding is None else holding.frame
    props: list[PropUpdate] = []
    map_frame = None if holding is None else holding.map_frame
    map_sent = False
    if map_ok or map_frame is None:
        # The Plotly parts — the map and the sidebar charts — are paced together by the browser's "drawn"
        # acknowledgement: each costs the page's main thread a redraw (0.1–1 s in software rendering), and a
        # page sent redraws faster than it draws them queues them all, delaying everything behind.
        update: Any = map_edit(map_frame, frame) if ids.map_edit else map_step(map_frame, frame)
        if update is not None:
            props.append((ids.map_edit, "data", update) if ids.map_edit else (ids.map, "figure", update))
            map_sent = True
        props += _chart_props(ids, map_frame, frame)
        map_frame = frame
    props += _kpi_props("wall" if ids is PAGE_IDS["wall"] else "console", before, frame)
    if ids.feed:
        props += _feed_props(ids.feed, before, frame)
    if ids.funnel and (before is None or before.funnel != frame.funnel):
        props.append((ids.funnel, "children", components.funnel_stages(frame.funnel, frame.ctx.lang)))
    payloads = tuple(encode({"componentId": c, "props": {p: v}}) for c, p, v in props)
    nbytes = sum(len(p.encode("utf-8")) for p in payloads)
    return Step(tuple(props), payloads, Holding(frame, map_frame), map_sent, nbytes)
