"""What a screen shows at one moment, as plain values — computed from a SituationView, diffed per connection.

Pure (no Dash, no Redis): the live push, the page render and the tests all go through `screen_frame`, so a
full render and a sequence of live updates cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from dashboard.figures.incident_map import MapBase, grid_fill_z, incident_trace_updates
from dashboard.figures.kpi import BRIEFING_KPIS, WALL_KPIS, KpiTile, kpi_tiles
from incidents.situation import SituationView

Screen = Literal["wall", "console"]

# Resolved and closed incidents stay on the map this long after their last change, then drop off:
# the wall shows the current situation, not the day's archive.
RECENT_DONE_S = 2 * 3600.0
FEED_ROWS = 12


@dataclass(frozen=True, slots=True)
class ScreenContext:
    """Per-connection view options (the console's filters; the wall uses the defaults)."""

    screen: Screen = "wall"
    lang: str = "zh"
    statuses: tuple[str, ...] = ()  # empty = all
    communities: tuple[str, ...] = ()  # empty = all

    @classmethod
    def of(cls, screen: Screen, lang: str | None, statuses: Any = None, communities: Any = None) -> ScreenContext:
        return cls(
            screen=screen,
            lang=lang if lang in ("zh", "en") else "zh",
            statuses=tuple(sorted(str(s) for s in statuses or ())),
            communities=tuple(sorted(str(c) for c in communities or ())),
        )


@dataclass(frozen=True)
class Frame:
    version_token: str
    grid_z: list[int]
    traces: dict[int, dict[str, list[Any]]]
    kpis: list[KpiTile]
    kpi_key: tuple[Any, ...]  # changes when the sidebar charts need a redraw
    feed: pd.DataFrame
    feed_key: tuple[Any, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def map_incidents(view: SituationView, ctx: ScreenContext) -> pd.DataFrame:
    """The incidents drawn on the map: open ones, plus recently finished ones; console filters applied."""
    df = view.incidents
    if len(df) == 0:
        return df
    status = df["status"].astype(str)
    recent = df["ts"].to_numpy() >= view.now - RECENT_DONE_S
    keep = status.isin(("reported", "dispatched", "accepted")).to_numpy() | (
        status.isin(("resolved", "closed")).to_numpy() & recent
    )
    if ctx.statuses:
        keep &= status.isin(ctx.statuses).to_numpy()
    if ctx.communities:
        keep &= df["community_id"].astype(str).isin(ctx.communities).to_numpy()
    return df[keep]


def _feed_key(feed: pd.DataFrame) -> tuple[Any, ...]:
    if len(feed) == 0:
        return ()
    return tuple(zip(feed["id"], feed["status"], feed["ts"], feed["overdue"], strict=True))


def screen_frame(view: SituationView, base: MapBase, ctx: ScreenContext) -> Frame:
    kpi_keys: Sequence[str] = WALL_KPIS if ctx.screen == "wall" else BRIEFING_KPIS
    tiles = kpi_tiles(view.kpis, kpi_keys, ctx.lang)
    k = view.kpis
    feed = view.latest(FEED_ROWS)
    if ctx.communities and len(feed):
        feed = view.incidents[view.incidents["community_id"].astype(str).isin(ctx.communities)]
        feed = feed.sort_values("ts", ascending=False).head(FEED_ROWS)
    if len(feed):
        feed = feed.assign(grid_name=feed["grid_id"].map(base.grid_name_by_id).fillna(feed["grid_id"]))
    return Frame(
        version_token=view.version_token,
        grid_z=grid_fill_z(base.grid_ids, view.grid_states),
        traces=incident_trace_updates(map_incidents(view, ctx), ctx.lang, hover=ctx.screen == "console"),
        kpis=tiles,
        kpi_key=(tuple(k.trend_24h), tuple(sorted(k.by_category.items())), int(view.now // 600)),
        feed=feed,
        feed_key=_feed_key(feed),
    )
