"""One frame per screen context per tick, shared by every consumer in the process (Grafana Live's managed streams).

A single ``frame-hub`` thread waits on the Situation; when it changes (or ``idle_s`` passed: overdue follows the
clock) it takes one ``SituationView`` and computes the frame of every *active* screen context — a context some
connection watches, or a page load / PNG asked for within ``keep_s``. A frame whose picture did not change is not
replaced, so nothing wakes. Frames are computed at most once per ``tick_s`` (leading edge: an isolated change
goes out at once) and with at least their last computation time between two (``BUSY_FACTOR``), never on the event
loop.

Connections (``dashboard.callbacks.live``) ``watch`` a context and are woken when its frame changes or the feed's
health flips; the step from what a browser holds to the new frame (``dashboard.push.step``) is computed once per
(holding, frame) on a worker thread, encoded once, and shared by every connection holding the same thing (frames
of one context are stably ordered, so a holding is named by two frame tokens and walls drawing at different
speeds still share their steps). Page loads and the
briefing PNG read ``frame(ctx)``; ``by_token``/``rendered_holding`` find the frame a page was rendered with, so
its first live push is a diff too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame, ScreenContext, screen_frame
from dashboard.push import Holding, Step, step
from geo.areas import AreaTree
from incidents.situation import Situation

if TYPE_CHECKING:
    from dashboard.metrics import Metrics

log = logging.getLogger(__name__)

# Without any change, recompute this often: overdue and the KPI windows follow the clock.
IDLE_S = 1.0
# The feed's health is looked at this often, so "feed lost" shows (and clears) within a fraction of a second.
HEALTH_POLL_S = 0.1
# A context nobody watches stays computed this long after its last use (a page load is followed by its push).
KEEP_S = 30.0
# Frames kept findable by token (pages rendered from them diff against them on their first push).
TOKENS_KEPT = 64
# … and at most this many incident rows over those frames: a city frame (10,000+ open incidents: its rows, trace
# lists and marker keys) holds ~6 MB, and under a steady stream of changes the history filled up at once — at
# 150,000 rows it was ~70 MB of the server (issue 11). A demo street's 64 frames stay far below it; at city scale
# little more than each context's current frame is kept (never dropped). A frame still held elsewhere — the page
# cache's page rendered from it, a connection's holding — stays findable by its token (weakly: ``by_token``).
ROWS_KEPT = 40_000
STEPS_KEPT = 256
# Between two computations for changes the hub waits at least this many times as long as the last one took (and at
# least a tick): it spends at most half of the process's time on frames. A city frame takes 0.1–0.3 s; computed
# back to back a tick apart, the frames took the CPU from the log follower and the event loop, which share the GIL
# with them: on a busy machine the follower fell behind and the lag grew (bench ``live``, 200 changes/s).
BUSY_FACTOR = 1.0

Listener = Callable[[], None]
StepKey = tuple[tuple[str, str], str, bool]  # (what the browser holds, target frame token, map allowed)


class FrameHub:
    """See the module doc. ``start()``/``stop()``; thread-safe readers; ``step`` is awaited on the event loop."""

    def __init__(
        self,
        situation: Situation,
        base: MapBase,
        *,
        boot_id: str,
        tick_s: float = 0.2,
        idle_s: float = IDLE_S,
        keep_s: float = KEEP_S,
        healthy: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.time,
        areas: AreaTree | None = None,
        overview: MapBase | None = None,
        metrics: Metrics | None = None,
        event_time: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.situation = situation
        self.base = base
        self.areas = areas  # contexts with an area need it (frames.screen_frame)
        self.overview = overview  # a district's root: communities instead of grids (MapBase.overview)
        self.boot_id = boot_id
        self.tick_s = tick_s
        self.idle_s = idle_s
        self.keep_s = keep_s
        self._healthy = healthy
        self._clock = clock
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()  # one frame computation at a time (hub thread or a page load)
        self._latest: dict[ScreenContext, Frame] = {}
        self._used: dict[ScreenContext, float] = {}  # monotonic time of the last frame() / watch
        self._listeners: dict[ScreenContext, set[Listener]] = {}
        self._tokens: OrderedDict[str, Frame] = OrderedDict()
        self._held: weakref.WeakValueDictionary[str, Frame] = weakref.WeakValueDictionary()  # any frame still alive
        self._rows_kept = 0  # incident rows over the frames in ``_tokens`` (ROWS_KEPT)
        self._steps: OrderedDict[StepKey, Step] = OrderedDict()
        self._inflight: dict[StepKey, asyncio.Future[Step]] = {}
        self._seq = 0
        self._lost = not healthy()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-step")
        self.computed = 0  # frames computed (for /healthz and the bench)
        self.metrics = metrics  # frame compute times (None: not measured)
        # when Redis took the newest change the Situation holds (epoch s; 0: unknown): ``event_at`` per frame
        self._event_time = event_time
        self._event_at: dict[str, float] = {}  # frame token → event time, for the frames in ``_tokens``

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> FrameHub:
        """Start the hub thread (idempotent); returns self."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="frame-hub", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the hub thread and the step worker (within ``timeout`` seconds)."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- readers (any thread) ------------------------------------------------------------------------------
    def base_for(self, ctx: ScreenContext) -> MapBase:
        """The map base of a context: the district overview at the root (when there is one), else the grids."""
        return self.overview if self.overview is not None and not ctx.area else self.base

    @property
    def lost(self) -> bool:
        """The feed's health as last polled: True while "feed lost" should show."""
        return self._lost

    def frame(self, ctx: ScreenContext) -> Frame:
        """The current frame of ``ctx``, computed now if the hub has none (then kept current for ``keep_s``)."""
        with self._lock:
            self._used[ctx] = time.monotonic()
            found = self._latest.get(ctx)
        if found is not None:
            return found
        with self._compute_lock:
            with self._lock:
                found = self._latest.get(ctx)
            if found is not None:
                return found
            event_at = self._event_time()
            view = self.situation.view(self._clock())
            self._publish(ctx, view, event_at)
            with self._lock:
                return self._latest[ctx]

    def latest(self, ctx: ScreenContext) -> Frame | None:
        """The current frame of ``ctx`` if the hub has one (never computes)."""
        with self._lock:
            return self._latest.get(ctx)

    def by_token(self, token: object) -> Frame | None:
        """The frame with this token, if it is among the last kept (``TOKENS_KEPT``, ``ROWS_KEPT``) or still held
        anywhere (a cached page rendered from it, a connection's holding)."""
        if not isinstance(token, str):
            return None
        with self._lock:
            return self._tokens.get(token) or self._held.get(token)

    def event_at(self, token: str) -> float:
        """When Redis took the newest change frame ``token`` shows (epoch s; 0.0 unknown): the live push's latency
        starts there."""
        with self._lock:
            return self._event_at.get(token, 0.0)

    def rendered_holding(self, token: object) -> Holding | None:
        """What a page rendered from frame ``token`` holds (None: a frame this process no longer knows)."""
        frame = self.by_token(token)
        return None if frame is None else Holding.rendered(frame)

    def contexts(self) -> list[ScreenContext]:
        """The contexts the hub currently keeps a frame of."""
        with self._lock:
            return list(self._latest)

    # -- watchers (event loop) -----------------------------------------------------------------------------
    def watch(self, ctx: ScreenContext, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` (from the hub thread) whenever ``ctx``'s frame changes or the feed's health flips.

        The context becomes active at once (its first frame follows within a tick). Returns the unwatch function.
        """
        with self._lock:
            self._listeners.setdefault(ctx, set()).add(listener)
            self._used[ctx] = time.monotonic()
            known = ctx in self._latest
        if not known:
            self._dirty.set()

        def unwatch() -> None:
            with self._lock:
                self._listeners.get(ctx, set()).discard(listener)
                self._used[ctx] = time.monotonic()

        return unwatch

    def watchers(self) -> int:
        """Listeners watching any context (push loops)."""
        with self._lock:
            return sum(len(s) for s in self._listeners.values())

    async def step(self, holding: Holding | None, frame: Frame, map_ok: bool) -> Step:
        """``push.step(holding, frame, map_ok=...)``, computed once per key off the event loop and shared."""
        key = (("", "") if holding is None else holding.key, frame.token, map_ok)
        with self._lock:
            hit = self._steps.get(key)
        if hit is not None:
            return hit
        fut = self._inflight.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = asyncio.ensure_future(loop.run_in_executor(self._pool, _step, holding, frame, map_ok))
            self._inflight[key] = fut

            def done(f: asyncio.Future[Step]) -> None:
                self._inflight.pop(key, None)
                if not f.cancelled() and f.exception() is None:
                    with self._lock:
                        self._steps[key] = f.result()
                        while len(self._steps) > STEPS_KEPT:
                            self._steps.popitem(last=False)

            fut.add_done_callback(done)
        return await asyncio.shield(fut)

    # -- the hub thread ------------------------------------------------------------------------------------
    def _publish(self, ctx: ScreenContext, view: Any, event_at: float = 0.0) -> bool:
        """Compute ``ctx``'s frame from ``view`` (``event_at``: when Redis took the newest change in it); keep the
        old object when the picture is the same."""
        with self._lock:
            seq = self._seq + 1
            old = self._latest.get(ctx)
        started = time.perf_counter()
        frame = screen_frame(
            view, self.base_for(ctx), ctx, seq=seq, boot_id=self.boot_id, previous=old, areas=self.areas
        )
        if self.metrics is not None:
            self.metrics.computed(ctx.screen, time.perf_counter() - started)
        self.computed += 1
        if frame.same_picture(old):
            return False
        with self._lock:
            self._seq = max(self._seq, seq)
            self._latest[ctx] = frame
            self._tokens[frame.token] = frame
            self._held[frame.token] = frame
            self._event_at[frame.token] = event_at
            self._rows_kept += len(frame.incidents)
            self._forget_tokens()
            listeners = list(self._listeners.get(ctx, ()))
        for listener in listeners:
            listener()
        return True

    def _forget_tokens(self) -> None:
        """Drop the oldest frames past ``TOKENS_KEPT`` frames or ``ROWS_KEPT`` incident rows (caller holds the
        lock); a context's current frame stays."""
        current = {f.token for f in self._latest.values()}
        gone: set[str] = set()
        for token in list(self._tokens):
            if len(self._tokens) <= TOKENS_KEPT and self._rows_kept <= ROWS_KEPT:
                break
            if token in current:
                continue
            self._rows_kept -= len(self._tokens.pop(token).incidents)
            self._event_at.pop(token, None)
            gone.add(token)
        if gone:  # a cached step holds its frames: those steps go with them (a holding of them is unknown now)
            for key in [k for k, st in self._steps.items() if {*k[0], k[1], *st.holding.key} & gone]:
                del self._steps[key]

    def _active(self) -> list[ScreenContext]:
        """Contexts to keep computing; forgets those nobody watched or asked for within ``keep_s``."""
        cutoff = time.monotonic() - self.keep_s
        with self._lock:
            for ctx in [c for c, t in self._used.items() if t < cutoff and not self._listeners.get(c)]:
                self._used.pop(ctx, None)
                self._latest.pop(ctx, None)
                self._listeners.pop(ctx, None)
            return list(self._used)

    def _compute(self) -> None:
        event_at = self._event_time()  # before the view: the view holds at least this change
        view = self.situation.view(self._clock())
        with self._compute_lock:
            for ctx in self._active():
                self._publish(ctx, view, event_at)

    def _poll_health(self) -> None:
        try:
            lost = not self._healthy()
        except Exception:  # a health probe must never stop the hub
            log.exception("frame hub: health probe failed")
            return
        if lost != self._lost:
            self._lost = lost
            with self._lock:
                listeners = [fn for fns in self._listeners.values() for fn in fns]
            for listener in listeners:
                listener()

    def _run(self) -> None:
        version = -1
        last_change = 0.0  # when frames were last computed for a change (coalescing)
        last = 0.0  # when frames were last computed at all (the clock's re-evaluation)
        took = 0.0  # how long the last computation took (BUSY_FACTOR)
        while not self._stop.is_set():
            changed = self.situation.wait_for_change(version, HEALTH_POLL_S)
            self._poll_health()
            dirty = self._dirty.is_set()
            if not (changed or dirty or time.monotonic() - last >= self.idle_s):
                continue
            if changed:
                # Coalesce: at most one computation per tick for changes; an isolated change goes out at once
                # (the clock's idle re-evaluation does not hold it back).
                wait = last_change + max(self.tick_s, BUSY_FACTOR * took) - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
            self._dirty.clear()
            version = self.situation.version
            started = time.monotonic()
            try:
                self._compute()
            except Exception:  # a bug in one frame must not stop the live path; the next change retries
                log.exception("frame hub: computing frames failed")
            last = time.monotonic()
            took = last - started
            if changed:
                last_change = last


def _step(holding: Holding | None, frame: Frame, map_ok: bool) -> Step:
    return step(holding, frame, map_ok=map_ok)
