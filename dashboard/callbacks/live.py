"""Live push over the WebSocket: one persistent callback per browser connection.

On (re)connect it finds out which page is open, then sends, at most once per tick, only what changed since the
last push: a Patch with the changed incident traces and grid colours (geometry never travels again), KPI texts,
the feed list, the "feed lost" banner. Changes arriving faster than the tick are coalesced into one push,
because dcc.Graph redraws every figure change it receives and never skips a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Patch, ctx
from dash.exceptions import WebsocketDisconnected

from dashboard import i18n
from dashboard.change_bridge import ChangeBridge
from dashboard.figures.incident_map import TRACE_GRIDS
from dashboard.frames import Frame, Screen, ScreenContext, screen_frame
from dashboard.layouts import components
from dashboard.layouts.ids import Console, Wall, kpi_tile_id, kpi_value_id
from dashboard.layouts.root import ROOT_LANG, URL
from dashboard.layouts.wall import wall_side_figures
from dashboard.list_edits import REPLACE, TraceEdit, plan_prepend, plan_trace
from dashboard.runtime import Runtime

log = logging.getLogger(__name__)

# The browser answers a get_prop within this, or the tab is gone (a closed tab's callback would run forever).
LIVENESS_TIMEOUT_S = 3.0
# Without any change, wake this often: overdue follows the clock.
IDLE_WAKE_S = 1.0
# While idle, look at the feed's health this often: "feed lost" shows (and clears) without waiting for IDLE_WAKE_S.
# The feed comes back up only after its rebuild has changed the situation, so that change's push still says lost.
HEALTH_POLL_S = 0.1
# A map patch waits until the browser has drawn the previous one (its "drawn" counter moved on), because
# dcc.Graph queues every figure change and never skips a stale one: faster pushes than draws would build an
# ever-growing lag (software-rendered walls take ~0.3 s a draw). Past this, send anyway (a patch may not redraw).
ACK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class PageIds:
    screen: str
    map: str
    banner: str
    status_dot: str
    version: str
    drawn: str
    feed: str | None
    updated: str | None


WALL_IDS = PageIds(
    "wall", Wall.MAP, Wall.BANNER, Wall.STATUS_DOT, Wall.STORE_VERSION, Wall.STORE_DRAWN, Wall.FEED, Wall.UPDATED
)
CONSOLE_IDS = PageIds(
    "console", Console.MAP, Console.BANNER, Console.STATUS_DOT, Console.STORE_VERSION, Console.STORE_DRAWN, None, None
)


async def _none() -> None:
    return None


def figure_data_patch(fig: go.Figure) -> Patch:
    """Replace only ``data`` — for small charts whose layout is already on the page."""
    patch = Patch()
    patch["data"] = fig.to_plotly_json()["data"]
    return patch


def page_ids(pathname: str | None) -> PageIds:
    return WALL_IDS if (pathname or "").rstrip("/").endswith("/wall") else CONSOLE_IDS


class LivePage:
    """The push loop of one browser connection."""

    def __init__(self, runtime: Runtime, bridge: ChangeBridge, ws: Any) -> None:
        self.runtime = runtime
        self.bridge = bridge
        self.ws = ws
        self.tick = runtime.settings.tick_ms / 1000.0
        self.sent: Frame | None = None
        self.sent_ctx: ScreenContext | None = None
        self.sent_token: str | None = None
        self.sent_lost: bool | None = None
        self.ids: PageIds | None = None  # the page we last found open
        # What this browser holds, so the next push can be an edit rather than a copy.
        self.traces_mirror: dict[int, dict[str, list[Any]]] = {}
        self.grid_z_mirror: list[int] | None = None
        self.feed_mirror: list[Any] | None = None
        # Map pacing by the browser's "drawn" acknowledgement.
        self.drawn_n = 0
        self.map_sent_at: tuple[int, float] | None = None  # (drawn counter, monotonic time) at the last map patch
        self.map_behind = False

    async def _get(self, component: str, prop: str) -> Any:
        return await self.ws.get_prop(component, prop, timeout=LIVENESS_TIMEOUT_S)

    async def _context(self) -> tuple[PageIds, ScreenContext, Any]:
        """Which page is open, with which options; doubles as the liveness check.

        The reads go out together — one round trip to the page, not five (the page may be busy drawing) — for
        the page we believe is open; only when the URL says otherwise is a second round needed.
        """
        ids = self.ids or page_ids(await self._get(URL, "pathname"))
        while True:
            on_console = ids.screen == "console"
            pathname, lang, page_token, drawn, statuses, communities = await asyncio.gather(
                self._get(URL, "pathname"),
                self._get(ROOT_LANG, "data"),
                self._get(ids.version, "data"),
                self._get(ids.drawn, "data"),
                self._get(Console.STATUS_FILTER, "value") if on_console else _none(),
                self._get(Console.COMMUNITY_FILTER, "value") if on_console else _none(),
            )
            actual = page_ids(pathname)
            if actual == ids:
                break
            ids = actual
        self.ids = ids
        self.drawn_n = int(drawn.get("n", 0)) if isinstance(drawn, dict) else 0
        screen: Screen = "console" if on_console else "wall"
        return ids, ScreenContext.of(screen, lang or self.runtime.settings.lang, statuses, communities), page_token

    def _set(self, component: str, props: dict[str, Any]) -> None:
        for name, value in props.items():
            self.ws.set_prop_sync(component, name, value)

    def _push(self, ids: PageIds, sc: ScreenContext, page_token: Any) -> None:
        now = time.time()
        view = self.runtime.situation.view(now)
        frame = screen_frame(view, self.runtime.map_base, sc)
        # The page was (re)rendered since our last push, or options changed: diff against nothing.
        fresh = self.sent is None or page_token != self.sent_token or sc != self.sent_ctx
        # The banner first: a busy wall draws the map patch below before it would render anything sent after it.
        self._push_health(ids, fresh)
        before = None if fresh else self.sent
        if fresh:
            # A page we rendered holds exactly that frame: diff against it instead of re-sending everything.
            rendered = self.runtime.rendered.get(page_token)
            if rendered is not None and sc == ScreenContext.of(sc.screen, sc.lang):
                before = rendered
            self.traces_mirror = {} if before is None else {i: dict(t) for i, t in before.traces.items()}
            self.grid_z_mirror = None if before is None else before.grid_z
            self.feed_mirror = None if before is None else list(before.feed_key)
            self.map_sent_at = None

        plans = {idx: plan_trace(self.traces_mirror.get(idx), values) for idx, values in frame.traces.items()}
        map_changed = self.grid_z_mirror != frame.grid_z or any(not p.edit.empty for p in plans.values())
        self.map_behind = map_changed and not self._map_ready()
        if map_changed and not self.map_behind:
            self._set(ids.map, {"figure": self._map_patch(frame, plans)})
            self.map_sent_at = (self.drawn_n, time.monotonic())
        old_tiles = {} if before is None else {t.key: t for t in before.kpis}
        for tile in frame.kpis:
            if old_tiles.get(tile.key) != tile:
                self._set(kpi_value_id(tile.key, ids.screen), {"children": tile.value})
                self._set(kpi_tile_id(tile.key, ids.screen), {"className": components.kpi_tile_class(tile)})
        if ids.feed:
            self._push_feed(ids.feed, frame, sc.lang)
        if ids.screen == "wall" and (before is None or before.kpi_key != frame.kpi_key):
            # Data only: axes, fonts and colours are already on the page.
            for chart, fig in zip((Wall.TREND, Wall.CATEGORY), wall_side_figures(view.kpis, sc.lang, now), strict=True):
                self._set(chart, {"figure": figure_data_patch(fig)})
        if ids.updated:
            self._set(ids.updated, {"children": i18n.fmt_time(now, "%H:%M:%S")})
        # The heartbeat the page's stale watchdog (assets/onescreen.js) listens for.
        self._set(ids.status_dot, {"title": f"live {i18n.fmt_time(now, '%H:%M:%S')}"})
        token = f"{frame.version_token}@{now:.3f}"
        self._set(ids.version, {"data": token})
        self.sent, self.sent_ctx, self.sent_token = frame, sc, token

    def _map_ready(self) -> bool:
        if self.map_sent_at is None:
            return True
        drawn_then, sent_time = self.map_sent_at
        return self.drawn_n > drawn_then or time.monotonic() - sent_time > ACK_TIMEOUT_S

    def _map_patch(self, frame: Frame, plans: dict[int, TraceEdit]) -> Patch:
        """Deletions and additions per marker trace against what the browser holds; grid colours if changed."""
        patch = Patch()
        for idx, values in frame.traces.items():
            planned = plans[idx]
            self.traces_mirror[idx] = planned.result
            edit = planned.edit
            if edit.replace:
                for key, column in values.items():
                    patch["data"][idx][key] = column
            for i in edit.delete:
                for key in values:
                    del patch["data"][idx][key][i]
            if edit.add:
                for key, column in values.items():
                    patch["data"][idx][key].extend([column[i] for i in edit.add])
        before_z = self.grid_z_mirror
        if before_z is None or len(before_z) != len(frame.grid_z):
            patch["data"][TRACE_GRIDS]["z"] = frame.grid_z
        else:  # only the grids whose colour changed: a few bytes each, not the whole 10,000-grid array
            changed = [i for i, (a, b) in enumerate(zip(before_z, frame.grid_z, strict=True)) if a != b]
            if len(changed) * 4 > len(frame.grid_z):
                patch["data"][TRACE_GRIDS]["z"] = frame.grid_z
            else:
                for i in changed:
                    patch["data"][TRACE_GRIDS]["z"][i] = frame.grid_z[i]
        self.grid_z_mirror = frame.grid_z
        return patch

    def _push_feed(self, feed_id: str, frame: Frame, lang: str) -> None:
        """Newest first: usually one row prepended and one dropped, not the whole list re-sent."""
        keys = list(frame.feed_key)
        edit = plan_prepend(self.feed_mirror or None, keys) if keys else REPLACE
        if edit.replace:
            if keys != self.feed_mirror:
                self._set(feed_id, {"children": components.feed_items(frame.feed, lang)})
        elif not edit.empty:
            patch = Patch()
            for i in edit.delete:
                del patch[i]
            for item in reversed(components.feed_items(frame.feed.iloc[list(edit.add)], lang)):
                patch.prepend(item)
            self._set(feed_id, {"children": patch})
        self.feed_mirror = keys

    def _feed_lost(self) -> bool:
        return not self.runtime.feed.health().connected

    async def _wait_for_change(self, changed: asyncio.Event) -> None:
        """Until the situation changes, the feed's health differs from what the page shows, or IDLE_WAKE_S."""
        deadline = time.monotonic() + IDLE_WAKE_S
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=min(left, HEALTH_POLL_S))
                return
            if self._feed_lost() != self.sent_lost:
                return

    def _push_health(self, ids: PageIds, fresh: bool) -> None:
        lost = self._feed_lost()
        if fresh or lost != self.sent_lost:
            self._set(ids.banner, {"hidden": not lost})
            self._set(ids.status_dot, {"className": "os-live-dot " + ("is-lost" if lost else "is-live")})
            self.sent_lost = lost

    async def run(self) -> None:
        changed = self.bridge.subscribe()
        try:
            last_push = 0.0
            while not self.ws.is_shutdown:
                if self.ids is not None and self.sent is not None and self._feed_lost() != self.sent_lost:
                    # "feed lost" (or its end) goes out at once, not after a round trip to a page busy drawing.
                    self._push_health(self.ids, False)
                ids, sc, page_token = await self._context()
                if page_token is None:  # page content not rendered yet
                    await asyncio.sleep(0.05)
                    continue
                pending = changed.is_set() or self.sent is None or page_token != self.sent_token
                pending = pending or sc != self.sent_ctx or time.monotonic() - last_push >= IDLE_WAKE_S
                pending = pending or self.map_behind or self._feed_lost() != self.sent_lost
                if pending:
                    changed.clear()
                    self._push(ids, sc, page_token)
                    last_push = time.monotonic()
                if self.map_behind:
                    await asyncio.sleep(self.tick)  # poll the "drawn" acknowledgement
                    continue
                await self._wait_for_change(changed)
                # Leading edge: an isolated change goes out at once; a stream of changes is coalesced into at
                # most one push per tick.
                wait = last_push + self.tick - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        except (WebsocketDisconnected, TimeoutError):
            log.debug("live page gone")
        finally:
            self.bridge.unsubscribe(changed)


def register(app: Dash, runtime: Runtime, bridge: ChangeBridge) -> None:
    # @app.callback (not dash.callback): registered at once, so a reconnect after a server restart is accepted.
    @app.callback(websocket=True, persistent=True)
    async def live_push() -> None:
        ws = ctx.websocket
        if ws is None:
            return
        await LivePage(runtime, bridge, ws).run()
