"""Past moments on the screens (``?at=`` and the officials' scrubber): one warm log ``Timeline`` per Runtime.

The first use reads the state hash and the whole log once (``incidents.timetravel.refresh_timeline``); every later
moment reads only the log's new entries and is rebuilt from memory by ``situation_at`` — the very rebuild
``onescreen snapshot --at`` runs cold — so a scrubber step costs a rebuild, not a scan. Frames of a past moment
come from ``frames.screen_frame`` over the rebuilt view with the page's own ``ScreenContext`` (area, scope,
masking), exactly as live frames do. No Dash here.

Memory: the timeline holds the log's raw entries (bounded by ``keys.LOG_MAXLEN``); it is dropped after
``IDLE_S`` without use and read again on the next. The last ``VIEWS_KEPT`` views and ``FRAMES_KEPT`` frames are
kept (a page load and its first callbacks ask for the same moment).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import redis

from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame, ScreenContext, screen_frame
from geo.areas import AreaTree
from incidents.keys import Keys
from incidents.situation import Locator, SituationView
from incidents.sla import SlaPolicy
from incidents.timetravel import Rebuild, Timeline, oldest_entry_ts, refresh_timeline, situation_at

IDLE_S: Final = 600.0  # a timeline nobody asked anything of for this long is dropped (its memory freed)
VIEWS_KEPT: Final = 8
FRAMES_KEPT: Final = 32
DEFAULT_WINDOW_S: Final = 24 * 3600.0  # the scrubber's default reach: the last 24 h (or less, as the log reaches)


class Replay:
    """``view_at(at)`` / ``frame(ctx, at)`` / ``reach(now)`` over a warm timeline of ``keys``' log. Thread-safe."""

    def __init__(
        self,
        client: Callable[[], redis.Redis],
        keys: Keys,
        locator: Locator,
        sla: SlaPolicy | None,
        *,
        base_for: Callable[[ScreenContext], MapBase],
        areas: AreaTree | None,
        boot_id: str,
        idle_s: float = IDLE_S,
    ) -> None:
        self._client = client
        self.keys = keys
        self.locator = locator
        self.sla = sla
        self.base_for = base_for
        self.areas = areas
        self.boot_id = boot_id
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._timeline: Timeline | None = None
        self._used = 0.0
        self._views: OrderedDict[float, tuple[SituationView, Rebuild]] = OrderedDict()
        self._frames: OrderedDict[tuple[ScreenContext, float], Frame] = OrderedDict()
        self._log_len = -1  # the timeline's length when the cached views were made
        self._log_last: object = None
        self._generation = 0

    def _warm(self) -> Timeline:
        """The timeline, brought up to the log (read whole on first use or after an idle drop)."""
        now = time.monotonic()
        if self._timeline is None or now - self._used > self.idle_s:
            self._timeline = Timeline()
            self._schedule_drop(self.idle_s)
        self._used = now
        refresh_timeline(self._client(), self.keys, self._timeline)
        if (len(self._timeline), self._timeline.last_id) != (self._log_len, self._log_last):
            self._views.clear()  # a new or trimmed entry may change any past moment (a late message)
            self._frames.clear()
            self._generation += 1  # and the frames of it get new tokens (a cached page of the moment is redone)
            self._log_len, self._log_last = len(self._timeline), self._timeline.last_id
        return self._timeline

    def _schedule_drop(self, after_s: float) -> None:
        timer = threading.Timer(after_s, self._drop_if_idle)
        timer.daemon = True
        timer.start()

    def _drop_if_idle(self) -> None:
        """Free the timeline (and the cached views and frames) once nobody used it for ``idle_s``."""
        with self._lock:
            if self._timeline is None:
                return
            idle = time.monotonic() - self._used
            if idle < self.idle_s:
                self._schedule_drop(self.idle_s - idle + 1.0)
                return
            self._timeline = None
            self._views.clear()
            self._frames.clear()
            self._log_len, self._log_last = -1, None

    @property
    def warm(self) -> bool:
        """Whether a timeline is held (for /healthz and tests)."""
        return self._timeline is not None

    def view_at(self, at: float) -> tuple[SituationView, Rebuild]:
        """``situation_at`` of ``at`` (epoch seconds) over the warm timeline."""
        with self._lock:
            tl = self._warm()
            hit = self._views.get(at)
            if hit is not None:
                self._views.move_to_end(at)
                return hit
            found = situation_at(self._client(), self.keys, at, self.locator, self.sla, timeline=tl)
            self._views[at] = found
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
            return found

    def frame(self, ctx: ScreenContext, at: float) -> tuple[Frame, Rebuild]:
        """The frame of ``ctx`` at ``at``; its token (``{boot}@{at}:{context}:{generation}``) names the moment and
        the log it was rebuilt from."""
        view, rebuild = self.view_at(at)
        with self._lock:
            hit = self._frames.get((ctx, at))
            generation = self._generation
        if hit is None:
            boot = f"{self.boot_id}@{int(at)}"
            hit = screen_frame(view, self.base_for(ctx), ctx, seq=generation, boot_id=boot, areas=self.areas)
            with self._lock:
                self._frames[(ctx, at)] = hit
                while len(self._frames) > FRAMES_KEPT:
                    self._frames.popitem(last=False)
        return hit, rebuild

    def reach(self, now: float, window_s: float = DEFAULT_WINDOW_S) -> tuple[float, float] | None:
        """The scrubber's (start, end) in epoch seconds: from ``window_s`` before ``now`` or the oldest moment the
        log reaches, whichever is later, to ``now``; None for an empty log. With a warm timeline the oldest moment
        is the oldest *exact* one (``Timeline.exact_since``); without one it is the oldest entry's time (one
        ``XRANGE``: a page load never reads the whole log — the first scrubber step does, and tightens it)."""
        with self._lock:
            if self._timeline is not None:
                refresh_timeline(self._client(), self.keys, self._timeline)
                since = self._timeline.exact_since()
            else:
                since = oldest_entry_ts(self._client(), self.keys)
        if since is None:
            return None
        return min(max(since, now - window_s), now), now
