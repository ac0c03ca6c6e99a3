"""The two apps the screen measurements compare — ours (``onescreen serve``) and the naive Dash baseline — and,
for each, how to serve it, which page to open and where the in-page probe looks.

Shared by ``screens`` (demo scale, in process) and ``cityrender`` (city scale, one child process per app), so
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

from bench.browser import PageProbe
from bench.naive import FEED_ID, KPIS_ID, MAP_ID
from bench.procs import Served, serve_naive, serve_onescreen
from dashboard.layouts.ids import Console, Wall

App = Literal["ours", "naive"]
Serve = Callable[[str, str, Path, Path], AbstractContextManager[Served]]  # (redis_url, prefix, data, log_dir)

PROBES: dict[str, PageProbe] = {
    "ours": PageProbe(f"#{Wall.MAP} .js-plotly-plot", f"#{Wall.FEED}", f"#{Wall.KPIS} [id$='-value']"),
    "naive": PageProbe(f"#{MAP_ID} .js-plotly-plot", f"#{FEED_ID}", f"#{KPIS_ID} span"),
}
PATHS: dict[str, str] = {"ours": "/wall", "naive": "/"}
# our officials' page (``/``): its map and KPI tiles (it has no feed list of its own; the tiles stand in)
CONSOLE_PROBE = PageProbe(f"#{Console.MAP} .js-plotly-plot", f"#{Console.KPIS}", f"#{Console.KPIS} [id$='-value']")


def probe_for(app: str, path: str | None) -> PageProbe:
    """The probe for ``app``'s page at ``path`` (None: its wall): ours has the officials' page at ``/``."""
    if app == "ours" and path is not None and path.split("?")[0] == "/":
        return CONSOLE_PROBE
    return PROBES[app]


FEEDS: dict[str, str] = {"ours": Wall.FEED, "naive": FEED_ID}  # the feed list's element id
SERVE: dict[str, Serve] = {"ours": serve_onescreen, "naive": serve_naive}
