"""What a screen shows at one moment, as plain values — computed once per screen context, shared by every consumer.

Pure (no Dash, no Redis). ``screen_frame`` is the only way from a ``SituationView`` to what is drawn: the page
render, every live push (through ``dashboard.frame_hub``) and the briefing PNG all take a ``Frame`` from it, so a
full render, a sequence of live updates and a PNG cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from dashboard.figures.incident_map import MapBase, grid_fill_z, incident_trace_updates
from dashboard.figures.kpi import BRIEFING_KPIS, WALL_KPIS, KpiTile, kpi_tiles
from dashboard.list_edits import KeyIndex, stable_order_keyed
from geo.areas import AREA_KINDS, AreaKind, AreaTree
from geo.gcj02 import wgs84_to_gcj02
from geo.privacy import scrub_text
from incidents.model import GRID_STATE_RANK, OPEN_STATUS_VALUES, GridState
from incidents.situation import Funnel, Kpis, SituationView
from incidents.worklist import status_mask

Screen = Literal["wall", "console", "briefing"]
SCREENS: tuple[Screen, ...] = ("wall", "console", "briefing")

# Resolved and closed incidents stay on the map this long after their last change, then drop off:
# the wall shows the current situation, not the day's archive.
RECENT_DONE_S = 2 * 3600.0
FEED_ROWS = 12
_DONE_ON_MAP = ("resolved", "closed")


@dataclass(frozen=True, slots=True)
class ScreenContext:
    """What decides a frame's content: the screen, its language, its area, the console's filters.

    Hashable: the frame hub keys frames by it. The wall and the briefing ignore filters (``of`` drops them),
    so every wall of one area in one language shares one frame. ``area``: a ``geo.areas`` ref (``KIND:ID``),
    already checked against the data set by whoever built the context; "" is the whole data set.
    ``scope``: the areas of the actor looking (``AreaTree.normalise``d; empty: unconfined) — incidents, KPIs and
    area states outside their union are left out. ``masked``: free text scrubbed of phone and ID numbers
    (``geo.privacy.scrub_text``); the wall is always masked. Both are part of the key: a frame made for an
    official is never pushed to a viewer, a wall, or an official of another area.
    """

    screen: Screen = "wall"
    lang: str = "zh"
    statuses: tuple[str, ...] = ()  # empty = all
    communities: tuple[str, ...] = ()  # empty = all
    area: str = ""  # "" = the root area
    scope: tuple[str, ...] = ()  # the looking actor's areas; empty = unconfined
    masked: bool = True

    @classmethod
    def of(
        cls,
        screen: str,
        lang: str | None,
        statuses: Any = None,
        communities: Any = None,
        area: str = "",
        *,
        scope: tuple[str, ...] = (),
        masked: bool = True,
    ) -> ScreenContext:
        """Normalised context: unknown screens become ``wall``, languages ``zh``; filters sorted (console only);
        the wall always masked."""
        kind: Screen = "console" if screen == "console" else "briefing" if screen == "briefing" else "wall"
        filtered = kind == "console"
        return cls(
            screen=kind,
            lang=lang if lang in ("zh", "en") else "zh",
            statuses=tuple(sorted(str(s) for s in statuses or ())) if filtered else (),
            communities=tuple(sorted(str(c) for c in communities or ())) if filtered else (),
            area=area,
            scope=tuple(sorted(scope)),
            masked=masked or kind == "wall",
        )

    @property
    def key(self) -> str:
        """Short stable text for tokens and logs, e.g. ``console.en.s=reported.c=C01``."""
        parts = [self.screen, self.lang]
        if self.statuses:
            parts.append("s=" + ",".join(self.statuses))
        if self.communities:
            parts.append("c=" + ",".join(self.communities))
        if self.area:
            parts.append("a=" + self.area)
        if self.scope:
            parts.append("in=" + "+".join(self.scope))
        parts.append("m" if self.masked else "u")
        return ".".join(parts)


@dataclass(frozen=True, eq=False)
class Frame:
    """One screen context's picture at one moment. Immutable; compared by identity (the hub re-uses a frame
    object while its content does not change, so ``a is b`` means "nothing to send").

    ``grid_z``: grid-state rank per grid in ``MapBase.grid_ids`` order. ``traces``: per incident trace index,
    parallel lists ``lon``/``lat``/``customdata`` (+ ``hovertext`` on the console). ``feed``: the newest
    ``FEED_ROWS`` incidents (newest first) with ``grid_name``. ``incidents``: the rows drawn on the map (for the
    PNG's overdue list). ``token``: ``"{boot}:{context}:{seq}"``, unique per process and frame.
    """

    ctx: ScreenContext
    seq: int
    token: str
    now: float
    version_token: str
    grid_z: list[int]
    traces: dict[int, dict[str, list[Any]]]
    kpis: list[KpiTile]
    kpi_values: Kpis
    kpi_key: tuple[Any, ...]  # changes when the sidebar charts need a redraw
    feed: pd.DataFrame
    feed_key: tuple[Any, ...]
    incidents: pd.DataFrame = field(repr=False)
    funnel: Funnel | None = None  # today's loop (点单 → … → 评单) in the frame's area
    # a district overview's open incidents per area, in ``MapBase.grid_ids`` order (empty for a grid map)
    area_counts: list[int] = field(default_factory=list)
    # list_edits.point_keys of each incident trace with positions, built with the frame: every step from or to it
    # (one per distinct thing browsers hold) and the next frame's ordering use them.
    marker_keys: dict[int, KeyIndex] = field(default_factory=dict, repr=False)

    def same_picture(self, other: Frame | None) -> bool:
        """Whether ``other`` shows exactly what this frame shows (then no push is needed)."""
        return (
            other is not None
            and other.ctx == self.ctx
            and other.grid_z == self.grid_z
            and other.traces == self.traces
            and other.kpis == self.kpis
            and other.kpi_key == self.kpi_key
            and other.feed_key == self.feed_key
            and other.funnel == self.funnel
            and other.area_counts == self.area_counts
        )


def area_rows(view: SituationView, ctx: ScreenContext, areas: AreaTree | None) -> np.ndarray | None:
    """Boolean array over ``view.incidents``: the rows in ``ctx.area`` (``AreaTree.mask``) and in the union of
    ``ctx.scope`` (``AreaTree.mask_any``); None for the whole data set. ``AreaError`` when the area is not in
    ``areas``. Without ``areas`` a scoped context shows nothing (never everything)."""
    if ctx.scope and areas is None:
        return np.zeros(len(view.incidents), dtype=bool)
    rows = None
    if ctx.area and areas is not None and ctx.area != areas.root:
        rows = areas.mask(view.incidents, ctx.area)
    if ctx.scope and areas is not None:
        inside = areas.mask_any(view.incidents, ctx.scope)
        rows = inside if rows is None else rows & inside
    return rows


_SCOPE_CACHE: dict[tuple[int, str, int, tuple[str, ...], str, int], np.ndarray] = {}


def ids_in_scope(areas: AreaTree, scope: tuple[str, ...], kind: AreaKind, ids: Sequence[str]) -> np.ndarray:
    """Boolean array over ``ids`` (areas of ``kind``: ``grid``, ``community``, ``street``): those lying wholly
    inside the union of ``scope`` (``AreaTree.within``; an area only partly inside — a grid of a confined
    micro-grid — is not). Static per (tree, scope, kind, ids): cached."""
    key = (id(areas), areas.root, len(areas.areas), scope, kind, len(ids))
    hit = _SCOPE_CACHE.get(key)
    if hit is not None:
        return hit
    series = pd.Series(list(ids), dtype=object)
    out = np.zeros(len(series), dtype=bool)
    for ref in scope:
        if ref not in areas.areas:
            continue
        if AREA_KINDS.index(areas.areas[ref].kind) <= AREA_KINDS.index(kind):
            out |= areas.within(series, kind, ref)
    if len(_SCOPE_CACHE) > 256:
        _SCOPE_CACHE.clear()
    _SCOPE_CACHE[key] = out
    return out


def communities_in_scope(areas: AreaTree | None, scope: tuple[str, ...]) -> frozenset[str]:
    """The ids of the communities lying wholly inside the union of ``scope`` (none without ``areas``)."""
    if areas is None:
        return frozenset()
    ids = sorted(a.id for a in areas.areas.values() if a.kind == "community")
    return frozenset(c for c, y in zip(ids, ids_in_scope(areas, scope, "community", ids), strict=True) if y)


def scrub_frame_text(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its free-text columns (title, description, address) scrubbed (``geo.privacy.scrub_text``)."""
    cols = [c for c in ("title", "description", "address") if c in df.columns]
    if not cols or len(df) == 0:
        return df
    return df.assign(**{c: df[c].fillna("").astype(str).map(scrub_text) for c in cols})


def map_incidents(view: SituationView, ctx: ScreenContext, rows: np.ndarray | None = None) -> pd.DataFrame:
    """The incidents drawn on the map: open ones, plus recently finished ones; console filters applied;
    ``rows`` (``area_rows``) limits them to an area."""
    df = view.incidents
    if len(df) == 0:
        return df
    status = df["status"].astype(str)
    recent = df["ts"].to_numpy() >= view.now - RECENT_DONE_S
    keep = status.isin(OPEN_STATUS_VALUES).to_numpy() | (status.isin(_DONE_ON_MAP).to_numpy() & recent)
    if rows is not None:
        keep &= rows
    if ctx.statuses:  # lifecycle statuses and the work list's views (overdue, urgent, …): one rule for both
        keep &= status_mask(df, ctx.statuses)
    if ctx.communities:
        keep &= df["community_id"].astype(str).isin(ctx.communities).to_numpy()
    return df[keep]


def incident_near(incidents: pd.DataFrame, lon: float, lat: float, max_m: float) -> str | None:
    """The id of the incident nearest to (``lon``, ``lat``) within ``max_m`` metres (equirectangular distance,
    < 0.1 % off at a street's scale), or None. ``incidents``: columns ``id``, ``lon``, ``lat`` (WGS-84)."""
    if len(incidents) == 0:
        return None
    x = incidents["lon"].to_numpy(dtype=float)
    y = incidents["lat"].to_numpy(dtype=float)
    m_per_deg = 111_320.0
    d = np.hypot((x - lon) * m_per_deg * np.cos(np.radians(lat)), (y - lat) * m_per_deg)
    d = np.where(np.isnan(d), np.inf, d)
    i = int(np.argmin(d))
    return str(incidents["id"].iloc[i]) if d[i] <= max_m else None


def _feed_key(feed: pd.DataFrame) -> tuple[Any, ...]:
    if len(feed) == 0:
        return ()
    return tuple(zip(feed["id"], feed["status"], feed["ts"], feed["overdue"], strict=True))


def _feed(view: SituationView, base: MapBase, ctx: ScreenContext, rows: np.ndarray | None) -> pd.DataFrame:
    feed = view.latest(FEED_ROWS)
    if (ctx.communities or rows is not None) and len(feed):
        keep = np.ones(len(view.incidents), dtype=bool) if rows is None else rows.copy()
        if ctx.communities:
            keep &= view.incidents["community_id"].astype(str).isin(ctx.communities).to_numpy()
        feed = view.incidents[keep].sort_values("ts", ascending=False).head(FEED_ROWS)
    if len(feed):
        feed = feed.assign(grid_name=feed["grid_id"].map(base.grid_name_by_id).fillna(feed["grid_id"]))
    return feed


def overview_values(
    view: SituationView, kpis: Kpis, base: MapBase, communities: Callable[[str], bool] | None = None
) -> tuple[list[int], list[int]]:
    """A district overview's grid-state rank and open count per area, in ``base.grid_ids`` order: the communities'
    (``view.community_states``, ``kpis.by_community``), rolled up to streets by ``base.rollup`` (worst state, sum).
    ``communities``: which communities' states count (a confined actor's); None: all."""
    states: Mapping[str, GridState] = view.community_states
    if communities is not None:
        states = {c: st for c, st in states.items() if communities(c)}
    counts: Mapping[str, int] = kpis.by_community
    if base.rollup is not None:
        worst: dict[str, GridState] = {}
        for community, state in states.items():
            area = base.rollup.get(community)
            if area is not None and (area not in worst or GRID_STATE_RANK[state] > GRID_STATE_RANK[worst[area]]):
                worst[area] = state
        summed: dict[str, int] = {}
        for community, n in counts.items():
            area = base.rollup.get(community)
            if area is not None:
                summed[area] = summed.get(area, 0) + int(n)
        states, counts = worst, summed
    return grid_fill_z(base.grid_ids, states), [int(counts.get(a, 0)) for a in base.grid_ids]


def screen_frame(
    view: SituationView,
    base: MapBase,
    ctx: ScreenContext,
    *,
    seq: int = 0,
    boot_id: str = "",
    previous: Frame | None = None,
    areas: AreaTree | None = None,
) -> Frame:
    """The frame of ``ctx`` for ``view``. ``seq``/``boot_id`` only label it (the hub numbers its frames).

    ``areas``: the data set's ``AreaTree``; with ``ctx.area`` set, the map, the feed and the KPIs are those of
    that area (``SituationView.kpis_for``: the very numbers ``GET /api/summary`` gives).
    ``previous``: the last frame of the same context; markers it had keep their order and new ones follow
    (``list_edits.stable_order``), so an edit from it — or from any earlier frame of the lineage — reproduces
    this frame's arrays exactly in a browser.
    """
    kpi_keys: Sequence[str] = WALL_KPIS if ctx.screen == "wall" else BRIEFING_KPIS
    rows = area_rows(view, ctx, areas)
    k = view.kpis if rows is None else view.kpis_for(rows)
    feed = _feed(view, base, ctx, rows)
    drawn = map_incidents(view, ctx, rows)
    if ctx.masked:
        feed, drawn = scrub_frame_text(feed), scrub_frame_text(drawn)
    if base.display_crs == "gcj02" and len(drawn):  # drawn over GCJ-02 tiles: markers move with the layers
        lon, lat = wgs84_to_gcj02(drawn["lon"].to_numpy(dtype=float), drawn["lat"].to_numpy(dtype=float))
        drawn = drawn.assign(lon=lon, lat=lat)
    unordered = incident_trace_updates(drawn, ctx.lang, hover=ctx.screen == "console")
    lineage = previous is not None and previous.ctx == ctx
    ordered = {
        idx: stable_order_keyed(
            previous.traces.get(idx) if lineage and previous else None,
            v,
            previous.marker_keys.get(idx) if lineage and previous else None,
        )
        for idx, v in unordered.items()
    }
    traces = {idx: values for idx, (values, _) in ordered.items()}
    in_scope: Callable[[str], bool] | None = None
    if ctx.scope and base.level != "grid":
        in_scope = communities_in_scope(areas, ctx.scope).__contains__
    overview_z, overview_counts = overview_values(view, k, base, in_scope) if base.level != "grid" else ([], [])
    grid_z = grid_fill_z(base.grid_ids, view.grid_states) if base.level == "grid" else overview_z
    if ctx.scope and base.level == "grid":  # grids outside the actor's areas are drawn clear: their state is not theirs
        keep = ids_in_scope(areas, ctx.scope, "grid", base.grid_ids) if areas is not None else None
        grid_z = [z if keep is not None and keep[i] else 0 for i, z in enumerate(grid_z)]
    return Frame(
        ctx=ctx,
        seq=seq,
        token=f"{boot_id or view.boot_id}:{ctx.key}:{seq}",
        now=view.now,
        version_token=view.version_token,
        grid_z=grid_z,
        traces=traces,
        kpis=kpi_tiles(k, kpi_keys, ctx.lang),
        kpi_values=k,
        kpi_key=(tuple(k.trend_24h), tuple(sorted(k.by_category.items())), int(view.now // 600)),
        feed=feed,
        feed_key=_feed_key(feed),
        incidents=drawn,
        funnel=view.funnel_for(rows),
        area_counts=overview_counts,
        marker_keys={idx: keys for idx, (_, keys) in ordered.items()},
    )
