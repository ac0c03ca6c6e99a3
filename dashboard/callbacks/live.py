"""Live push over the WebSocket: at most one push loop per browser tab, fed by the frame hub.

The page tells the server what it shows — path, language, the token of the frame it was rendered with, the
console's filters — through a WebSocket callback whenever one of them changes (``live_context``), and its map's
"drawn" acknowledgements the same way (``live_drawn``); nothing is asked of the page before a push. The push
loop (``live_push``, persistent) watches its context's frame in the ``FrameHub`` and sends the shared step from
what the tab holds to the newest frame. Map patches are paced by what the tab has drawn
(``dashboard.pacing``), because ``dcc.Graph`` applies every figure change and never skips a stale one.

Limits: one push loop per tab (a repeated start request is answered at once and costs nothing), at most
``MAX_TABS_PER_CONNECTION`` tabs per WebSocket connection (Dash shares one connection between a browser's tabs),
and ``dashboard.ws_limits`` caps connections per client. A tab that stops answering (closed, crashed) is dropped
after ``LIVENESS_MISSES`` unanswered probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from dash import Dash, Input, ctx
from dash.backends.ws import FLUSH_SIGNAL
from dash.exceptions import WebsocketDisconnected

from dashboard import i18n
from dashboard.access.actor import current_actor
from dashboard.access.scope import confine
from dashboard.frame_hub import FrameHub
from dashboard.frames import Frame, ScreenContext
from dashboard.layouts.root import LIVE_DRAWN, LIVE_FILTERS, LIVE_TOKEN, ROOT_LANG, URL, screen_of_path
from dashboard.pacing import MapPacer
from dashboard.page_request import page_request, parse_page_at
from dashboard.push import PAGE_IDS, Holding
from geo.areas import AreaTree

if TYPE_CHECKING:
    from dashboard.metrics import Metrics

log = logging.getLogger(__name__)

MAX_TABS_PER_CONNECTION: Final = 16
# A tab that said nothing for this long is probed with a get_prop; it is gone after LIVENESS_MISSES unanswered.
# The timeout is long because a wall busy drawing (software rendering, a loaded machine) answers late, and a late
# answer is lost to Dash; a closed tab never answers. Only tabs sharing a connection with a live one need this:
# when a browser's last tab closes, its connection closes and the loop ends at once.
LIVENESS_EVERY_S: Final = 2.0
LIVENESS_TIMEOUT_S: Final = 8.0
LIVENESS_MISSES: Final = 2
# The heartbeat the page's stale watchdog (assets/onescreen.js) listens for.
HEARTBEAT_S: Final = 1.0
# A tab gets at most one push per this many seconds: a change after a quiet spell goes out at once, a stream of
# changes (10/s in a busy hour) reaches a screen 5 times a second — once per frame at the default tick (200 ms), so a
# frame is never held back for half a tick more. Each push costs a connection a send, a draw and its acknowledgement
# (the map's pace is the browser's: ``dashboard.pacing``). At 0.4 s, one page's event → frame p95 was 0.9-1.2 s on a
# loaded 2-core machine and 0.5 s at 0.2 s, with 200 pages 1.7 s and 1.2 s, for 0.33 vs 0.35 server CPU s/s
# (bench manyscreens; issue 11's budget is p95 ≤ 500 ms).
PUSH_INTERVAL_S: Final = 0.2
# Context sent by a tab whose push loop never started is forgotten after this.
UNCLAIMED_S: Final = 60.0

TabKey = tuple[int, str]


def tab_key(ws: Any) -> TabKey:
    """(connection, tab) of a WebSocket callback.

    Dash 4.4 has no public handle for either: the pending-get_props dict is created once per WebSocket
    connection, the renderer id once per page load (tab). tests/dashboard/test_live_limits.py fails if that
    changes.
    """
    return id(ws._pending_get_props), str(ws._renderer_id)


def send_encoded(ws: Any, payloads: Sequence[str]) -> None:
    """Queue ``set_props`` messages whose payloads (``{"componentId", "props"}``) are already JSON, as one item.

    What ``ws.set_prop_sync`` does, without encoding the value again for every connection: a step is encoded
    once and its bytes go to every tab holding the same thing. Several messages go as one JSON array — one queue
    hand-off and one WebSocket frame per push instead of one hand-off per property (with 50 walls the hand-offs were
    a third of what each wall cost the server). Dash's WebSocket worker takes an array as a batch, also inside the
    array its sender makes when other messages queue within its 5 ms window (``handleBatchedMessages`` recurses).
    Dash 4.4 keeps the outbound queue and its flush signal private (``_get_outbound_queue``, ``FLUSH_SIGNAL``); the
    live-push tests fail if that changes.
    """
    if ws.is_shutdown or not payloads:
        return
    queue = ws._get_outbound_queue()
    if queue is not None:
        head = '{"type":"set_props","rendererId":' + json.dumps(str(ws._renderer_id)) + ',"payload":'
        messages = [head + payload + "}" for payload in payloads]
        queue.sync_q.put_nowait(messages[0] if len(messages) == 1 else "[" + ",".join(messages) + "]")
        # out now: Dash's sender otherwise waits 5 ms for more to batch — a whole push is already one item
        queue.sync_q.put_nowait(FLUSH_SIGNAL)


@functools.lru_cache(maxsize=256)
def encoded_prop(component: str, prop: str, value: str | bool) -> str:
    """The ``set_props`` payload of one plain value, encoded once for every tab: the heartbeat and the health
    flags are the same text for all walls within a second."""
    return json.dumps({"componentId": component, "props": {prop: value}}, ensure_ascii=False)


@dataclass
class Tab:
    """What one tab told us, and the wake-up of its push loop."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    context: ScreenContext | None = None
    token: str | None = None
    drawn: int = 0
    resync: bool = False  # the page could not apply a map edit: send it everything again
    paused: bool = False  # the page shows a past moment (``?at=``): heartbeat and health only, no frames
    seen: float = field(default_factory=time.monotonic)
    running: bool = False

    def told(self) -> None:
        """The tab sent something: it is alive; wake its push loop."""
        self.seen = time.monotonic()
        self.wake.set()


class Tabs:
    """The tabs of this process's connections (event-loop side only)."""

    def __init__(self) -> None:
        self._tabs: dict[TabKey, Tab] = {}

    def get(self, key: TabKey) -> Tab | None:
        """The tab, created on first contact; None when its connection already has too many tabs."""
        tab = self._tabs.get(key)
        if tab is None:
            self._forget_unclaimed()
            if sum(1 for k in self._tabs if k[0] == key[0]) >= MAX_TABS_PER_CONNECTION:
                return None
            tab = self._tabs[key] = Tab()
        return tab

    def claim(self, key: TabKey) -> Tab | None:
        """The tab for a starting push loop, or None if one already runs for it (or the connection is full)."""
        tab = self.get(key)
        if tab is None or tab.running:
            return None
        tab.running = True
        return tab

    def release(self, key: TabKey) -> None:
        """Forget the tab (its push loop ended)."""
        self._tabs.pop(key, None)

    def running(self) -> int:
        """Push loops running in this process."""
        return sum(1 for t in self._tabs.values() if t.running)

    def _forget_unclaimed(self) -> None:
        cutoff = time.monotonic() - UNCLAIMED_S
        for key in [k for k, t in self._tabs.items() if not t.running and t.seen < cutoff]:
            del self._tabs[key]


class Wakers:
    """The push loops' wake-ups (event-loop side only): one hub listener per screen context, so a new frame
    crosses from the hub thread into the event loop once and wakes every tab showing that context there — not one
    thread hand-off per tab (with 50 walls, 50 self-pipe writes per frame)."""

    def __init__(self, hub: FrameHub) -> None:
        self.hub = hub
        self._events: dict[ScreenContext, set[asyncio.Event]] = {}
        self._unwatch: dict[ScreenContext, Callable[[], None]] = {}

    def add(self, ctx: ScreenContext, event: asyncio.Event) -> Callable[[], None]:
        """Set ``event`` whenever ``ctx``'s frame changes (``FrameHub.watch``); returns the remove function."""
        events = self._events.get(ctx)
        if events is None:
            loop = asyncio.get_running_loop()
            events = self._events[ctx] = set()

            def listener() -> None:  # the hub thread
                loop.call_soon_threadsafe(self._wake, ctx)

            self._unwatch[ctx] = self.hub.watch(ctx, listener)
        events.add(event)

        def remove() -> None:
            left = self._events.get(ctx)
            if left is None:
                return
            left.discard(event)
            if not left:
                del self._events[ctx]
                self._unwatch.pop(ctx)()

        return remove

    def _wake(self, ctx: ScreenContext) -> None:
        for event in self._events.get(ctx, ()):
            event.set()


class LivePage:
    """The push loop of one tab."""

    def __init__(
        self, hub: FrameHub, tab: Tab, ws: Any, default_lang: str, wakers: Wakers, metrics: Metrics | None = None
    ) -> None:
        self.wakers = wakers
        self.metrics = metrics
        self.event_at: float | None = None  # the newest event this tab was sent (None: not yet: nothing measured)
        self.hub = hub
        self.tab = tab
        self.ws = ws
        self.default_lang = default_lang
        self.holding: Holding | None = None
        self.aligned_token: str | None = None  # the page token the holding was last aligned with
        self.sent_lost: bool | None = None
        self.map_pacer = MapPacer()
        self.last_beat = 0.0
        self.last_push = 0.0
        self.dead = False
        self.outbox: list[str] = []  # the payloads of this turn, sent together at its end (``send_encoded``)

    def _set(self, component: str, prop: str, value: str | bool) -> None:
        self.outbox.append(encoded_prop(component, prop, value))

    def _align(self) -> None:
        """The page was (re)rendered: it holds the frame it was rendered with (or something unknown)."""
        self.aligned_token = self.tab.token
        self.holding = self.hub.rendered_holding(self.tab.token)
        self.sent_lost = None
        self.map_pacer.reset()

    def _push_health(self, screen: str) -> None:
        lost = self.hub.lost
        if lost != self.sent_lost:
            ids = PAGE_IDS["console" if screen == "console" else "wall"]
            self._set(ids.banner, "hidden", not lost)
            self._set(ids.status_dot, "className", "os-live-dot " + ("is-lost" if lost else "is-live"))
            self.sent_lost = lost

    def _heartbeat(self, screen: str) -> None:
        now = time.time()
        ids = PAGE_IDS["console" if screen == "console" else "wall"]
        self._set(ids.status_dot, "title", f"live {i18n.fmt_time(now, '%H:%M:%S')}")
        if ids.updated:
            self._set(ids.updated, "children", i18n.fmt_time(now, "%H:%M:%S"))
        self.last_beat = time.monotonic()

    def _held_back(self) -> float | None:
        """Seconds until this tab may get its next push (``PUSH_INTERVAL_S``); None when it may now."""
        if self.holding is None:
            return None  # a page that holds nothing known gets everything at once
        left = self.last_push + PUSH_INTERVAL_S - time.monotonic()
        return left if left > 0 else None

    async def _push(self, frame: Frame) -> None:
        holding = self.holding
        if holding is not None and holding.frame is frame and holding.map_frame is frame:
            return
        if self._held_back() is not None:
            return  # the turn at the end of the interval sends it (``_timeout``)
        map_ok = self.map_pacer.ready(self.tab.drawn, time.monotonic())
        if holding is not None and holding.frame is frame and not map_ok:
            return  # only the map is behind, and the browser is still drawing the last patch
        st = await self.hub.step(holding, frame, map_ok)
        if self.holding is not holding or self.tab.token != self.aligned_token or self.tab.paused:
            return  # the page was re-rendered (or went to a past moment) while the step was computed
        self.outbox.extend(st.payloads)
        if st.payloads:
            self.last_push = time.monotonic()
            if self.metrics is not None:
                self._measure(frame, st.nbytes)
        self.holding = st.holding
        if st.map_sent:
            self.map_pacer.sent(self.tab.drawn, time.monotonic())

    def _measure(self, frame: Frame, nbytes: int) -> None:
        """Bytes of this push, and its latency when it carries a newer event than the tab had (the first push only
        sets the mark: a page's first frame can show an event from long before it opened)."""
        assert self.metrics is not None
        self.metrics.push_bytes.observe(nbytes)
        event_at = self.hub.event_at(frame.token)
        if event_at <= 0:
            return
        if self.event_at is not None and event_at > self.event_at:
            self.metrics.push_latency.observe(max(0.0, time.time() - event_at))
        self.event_at = max(event_at, self.event_at or 0.0)

    async def _probe(self) -> None:
        """Liveness: a tab that neither speaks nor answers is gone (a closed tab's loop must not run on)."""
        misses = 0
        while not self.dead:
            await asyncio.sleep(LIVENESS_EVERY_S)
            if time.monotonic() - self.tab.seen < LIVENESS_EVERY_S:
                misses = 0
                continue
            try:
                await self.ws.get_prop(URL, "pathname", timeout=LIVENESS_TIMEOUT_S)
            except TimeoutError:
                misses += 1
                if misses < LIVENESS_MISSES:
                    continue
            except WebsocketDisconnected:
                pass
            else:
                misses = 0
                self.tab.seen = time.monotonic()
                continue
            log.info("live tab stopped answering (%d probes unanswered); its push loop ends", misses)
            self.dead = True
            self.tab.wake.set()

    def _timeout(self) -> float:
        left = HEARTBEAT_S - (time.monotonic() - self.last_beat)
        now = time.monotonic()
        pending = self.map_pacer.wait_s(now)
        if pending is not None:
            left = min(left, pending)
        held = self._held_back()
        if held is not None:
            left = min(left, held)
        return max(0.01, left)

    async def _turn(self, context: ScreenContext) -> None:
        """One wake-up: realign with a re-rendered or resyncing page, push what changed, beat the heartbeat."""
        if self.tab.token != self.aligned_token:
            self._align()
        if self.tab.resync:
            log.info("live tab asked for a resync (it held another map than its edit was made for)")
            self.tab.resync = False
            self.holding = None
            self.map_pacer.reset()
        self._push_health(context.screen)
        frame = None if self.tab.paused else self.hub.latest(context)
        pushed_before = self.last_push
        if frame is not None:
            try:
                await self._push(frame)
            except Exception:  # a bug in one step must not end the tab's live updates
                log.exception("live push failed; re-sending everything next time")
                self.holding = None
                self.map_pacer.reset()
        since_beat = time.monotonic() - self.last_beat
        # due, or half due and a push just left: ride in its WebSocket frame instead of one of its own
        if since_beat >= HEARTBEAT_S or (since_beat >= HEARTBEAT_S / 2 and self.last_push != pushed_before):
            self._heartbeat(context.screen)
        send_encoded(self.ws, self.outbox)
        self.outbox = []

    async def run(self) -> None:
        """Push until the connection closes or the tab stops answering (see the module doc)."""
        wake = self.tab.wake
        watching: ScreenContext | None = None
        unwatch = None
        probe = asyncio.create_task(self._probe())
        try:
            while not self.ws.is_shutdown and not self.dead:
                wake.clear()
                context = self.tab.context
                if context is not None:
                    if context != watching:
                        if unwatch is not None:
                            unwatch()
                        if self.metrics is not None:
                            self.metrics.page(watching.screen if watching is not None else None, -1)
                            self.metrics.page(context.screen, +1)
                        unwatch, watching = self.wakers.add(context, wake), context
                    await self._turn(context)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self._timeout())
        except WebsocketDisconnected:
            log.debug("live tab gone")
        except Exception:
            log.exception("live push loop failed")
            raise
        finally:
            log.info("live push loop ends (shutdown=%s, dead=%s)", self.ws.is_shutdown, self.dead)
            self.dead = True
            probe.cancel()
            if unwatch is not None:
                unwatch()
            if self.metrics is not None and watching is not None:
                self.metrics.page(watching.screen, -1)


def _context_of(
    pathname: Any, search: Any, lang: Any, filters: Any, default_lang: str, areas: AreaTree | None
) -> ScreenContext:
    f = filters if isinstance(filters, dict) else {}
    path = pathname if isinstance(pathname, str) else None
    area, hidden = "", True
    scope: tuple[str, ...] = ()
    if areas is not None:  # the page as the connection's actor may see it (access.scope.confine)
        req = page_request(path, search if isinstance(search, str) else "", default_lang="zh", areas=areas)
        req = confine(req, current_actor(), areas)
        area, scope, hidden = req.area, req.scope, req.masked
    return ScreenContext.of(
        screen_of_path(path),
        lang if isinstance(lang, str) else default_lang,
        f.get("statuses"),
        f.get("communities"),
        area=area,
        scope=scope,
        masked=hidden,
    )


def shows_past(search: Any) -> bool:
    """Whether a page URL's query asks for a past moment (a valid ``?at=``: the page gets no live frames)."""
    values = (parse_qs(search.lstrip("?")).get("at") if isinstance(search, str) else None) or []
    return bool(values) and parse_page_at(values[-1].strip(), time.time())[0] is not None


def register(app: Dash, hub: FrameHub, default_lang: str, metrics: Metrics | None = None) -> Tabs:
    """The three WebSocket callbacks; returns the tab registry (for /healthz and tests). ``metrics``: pages by
    screen, push latency and bytes are measured there."""
    tabs = Tabs()
    wakers = Wakers(hub)

    # @app.callback (not dash.callback): registered at once, so a reconnect after a server restart is accepted.
    @app.callback(
        Input(URL, "pathname"),
        Input(URL, "search"),
        Input(ROOT_LANG, "data"),
        Input(LIVE_TOKEN, "data"),
        Input(LIVE_FILTERS, "data"),
        websocket=True,
    )
    async def live_context(pathname: Any, search: Any, lang: Any, token: Any, filters: Any) -> None:
        ws = ctx.websocket
        tab = tabs.get(tab_key(ws)) if ws is not None else None
        if tab is None:
            return
        tab.context = _context_of(pathname, search, lang, filters, default_lang, hub.areas)
        tab.paused = shows_past(search)
        tab.token = token if isinstance(token, str) else None
        tab.told()

    @app.callback(Input(LIVE_DRAWN, "data"), websocket=True)
    async def live_drawn(drawn: Any) -> None:
        ws = ctx.websocket
        tab = tabs.get(tab_key(ws)) if ws is not None else None
        if tab is not None and isinstance(drawn, dict):
            tab.drawn = max(tab.drawn, int(drawn.get("n") or 0))
            tab.resync = tab.resync or bool(drawn.get("resync"))
            tab.told()

    @app.callback(websocket=True, persistent=True)
    async def live_push() -> None:
        ws = ctx.websocket
        if ws is None:
            return
        key = tab_key(ws)
        tab = tabs.claim(key)
        if tab is None:
            return  # a push loop already runs for this tab, or its connection has too many tabs
        try:
            await LivePage(hub, tab, ws, default_lang, wakers, metrics).run()
        finally:
            tabs.release(key)

    return tabs
