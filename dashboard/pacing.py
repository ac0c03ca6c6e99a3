"""The pacing of one tab's live map edits: how many it may have in flight, sent but not yet drawn (``MapPacer``).
Pure; times are ``time.monotonic()`` seconds.


``dcc.Graph`` applies every figure change it receives, in order, and never skips a stale one; a wall drawing
in software takes 150–300 ms per map draw. Patches sent faster than that would queue in the browser and the
map would fall further and further behind. Waiting for each draw before sending the next one (a window of 1)
keeps the queue empty but adds a whole draw plus the acknowledgement's trip to every change that arrives while
the map is drawing. A larger window (TCP's idea of a send window, applied to draws) lets the next patch wait in
the browser while the current one draws. Measured on the demo wall (bench ``screens``), a window of 2 made the
map fall 1.9 s behind: a page that receives patches at once also spends its main thread on every one of them,
and Dash hands a store only its newest value, so two edits in one batch would merge. The window stays 1; what
made a patch slow was the re-plot, which the wall no longer does (``assets/onescreen.js``, map edits).

The browser's acknowledgement is a counter of map edits held by MapLibre (``assets/onescreen.js``: counted once
every edited source is re-tiled, before the frame that shows it, so the acknowledgement's trip overlaps the draw);
a patch counts as drawn once the counter has moved past its value when the patch was sent. A patch that never
causes a draw (it changed nothing visible) is given up on after ``timeout_s``.
"""

from __future__ import annotations

from collections import deque
from typing import Final

MAP_WINDOW: Final = 1  # patches in flight per tab
MAP_ACK_TIMEOUT_S: Final = 2.0


class MapPacer:
    """The map patches one tab has in flight. Times are ``time.monotonic()`` seconds; ``drawn`` is the tab's
    draw counter."""

    def __init__(self, window: int = MAP_WINDOW, timeout_s: float = MAP_ACK_TIMEOUT_S) -> None:
        if window < 1:
            raise ValueError(f"map window must be at least 1, got {window}")
        self.window = window
        self.timeout_s = timeout_s
        self._in_flight: deque[tuple[int, float]] = deque()  # (draw counter when sent, sent at)

    def _settle(self, drawn: int, now: float) -> None:
        while self._in_flight:
            drawn_then, sent_at = self._in_flight[0]
            if drawn > drawn_then or now - sent_at > self.timeout_s:
                self._in_flight.popleft()
            else:
                break

    def ready(self, drawn: int, now: float) -> bool:
        """May another map patch be sent now?"""
        self._settle(drawn, now)
        return len(self._in_flight) < self.window

    def sent(self, drawn: int, now: float) -> None:
        """A map patch left for the tab while its draw counter read ``drawn``."""
        self._in_flight.append((drawn, now))

    def reset(self) -> None:
        """The page was re-rendered: nothing of it is in flight any more."""
        self._in_flight.clear()

    def wait_s(self, now: float) -> float | None:
        """Seconds until the oldest patch in flight times out (None when none is in flight)."""
        if not self._in_flight:
            return None
        return max(0.0, self.timeout_s - (now - self._in_flight[0][1]))
