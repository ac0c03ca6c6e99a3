"""The layout response (``/_dash-layout``) of the current frame, built once and served to every page load.

A page load asks for the layout with the page URL as Referer. The page for that URL is rendered from the frame
hub's current frame of its context, serialised and gzipped once; every browser loading the same page gets those
bytes, and when the frame has moved on one background rebuild refreshes them (200 walls coming up together cost
one render, not 200, and none of them waits for it). A page a tick old is as good as a fresh one: its live push
diffs from the frame it was rendered with (``FrameHub.rendered_holding``).
Without a Referer the empty shell goes out and the routing callback renders the page.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dash._utils import to_json
from starlette.requests import Request
from starlette.responses import Response

from dashboard.frames import Frame

log = logging.getLogger(__name__)

GZIP_LEVEL = 6  # the bytes are reused for a whole frame: level 6 is within a few % of 9 at a fraction of the time
MAX_PAGES = 64  # distinct pages (path, language, area …) kept
# A cached page older than this is rebuilt before it goes out (after a quiet spell its frame may be forgotten).
MAX_STALE_S = 5.0
# Background refreshes of one page: at least this far apart, and at most 1/REFRESH_SHARE of the time rendering.
MIN_REFRESH_S = 1.0
REFRESH_SHARE = 4.0


@dataclass(frozen=True, slots=True)
class CachedPage:
    """One rendered page: the frame token it shows, its JSON and gzip bytes, when it was built, and the frame itself
    — held, so that the hub still finds it by token when the page's live push starts (``FrameHub.by_token``): the
    hub itself keeps only the newest frames of a city."""

    token: str
    body: bytes
    gzipped: bytes
    built_at: float  # monotonic
    frame: Frame | None = None


class PageCache:
    """``response(request)``: the layout JSON for the request's page, shared per frame.

    ``key_for(path, query)`` names the page a URL asks for (hashable, e.g. ``page_request.PageRequest``);
    ``frame_for(key)`` gives its current frame; ``layout_for(key, frame)`` the Dash layout (the shell with the
    page in it); ``shell()`` the empty shell.
    """

    def __init__(
        self,
        *,
        key_for: Callable[[str, str], Hashable],
        frame_for: Callable[[Any], Frame],
        layout_for: Callable[[Any, Frame], Any],
        shell: Callable[[], Any],
    ) -> None:
        self._key_for = key_for
        self._frame_for = frame_for
        self._layout_for = layout_for
        self._shell = shell
        self._pages: dict[Hashable, CachedPage] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self._refreshing: set[Hashable] = set()
        self._quiet_until: dict[Hashable, float] = {}
        self.last_build_s = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-cache")
        self.builds = 0

    def page(self, key: Hashable) -> CachedPage:
        """The cached page ``key``. When the frame moved on since it was built, the cached page still goes out
        (its live push brings it up to date from its own frame at once) while one rebuild runs in the
        background: a crowd of page loads never waits for a render."""
        frame = self._frame_for(key)
        cached = self._pages.get(key)
        if cached is not None and cached.token == frame.token:
            return cached
        if cached is not None and time.monotonic() - cached.built_at < MAX_STALE_S:
            self._refresh(key)
            return cached
        return self._build(key)

    def _refresh(self, key: Hashable) -> None:
        with self._lock:
            if key in self._refreshing or time.monotonic() < self._quiet_until.get(key, 0.0):
                return
            self._refreshing.add(key)

        def run() -> None:
            try:
                self._build(key)
            except Exception:
                log.exception("page cache: rebuilding %s failed", key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        self._pool.submit(run)

    def _build(self, key: Hashable) -> CachedPage:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one build per page and frame; the other requests wait for it
            frame = self._frame_for(key)
            cached = self._pages.get(key)
            if cached is not None and cached.token == frame.token:
                return cached
            started = time.monotonic()
            body = to_json(self._layout_for(key, frame)).encode("utf-8")
            cached = CachedPage(frame.token, body, gzip.compress(body, GZIP_LEVEL), time.monotonic(), frame)
            took = cached.built_at - started
            # Under a stream of changes every request finds the page a frame behind: refresh it at most this
            # often, so page loads never keep a core busy rendering (at 10,000 incidents a render is ~0.4 s).
            self._quiet_until[key] = cached.built_at + max(MIN_REFRESH_S, REFRESH_SHARE * took)
            self.last_build_s = took
            with self._lock:
                if key not in self._pages and len(self._pages) >= MAX_PAGES:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[key] = cached
            self.builds += 1
            return cached

    def response(self, request: Request) -> Response:
        """The layout response for ``request`` (page from its Referer; gzip when accepted)."""
        referer = request.headers.get("referer")
        if not referer:
            body = to_json(self._shell()).encode("utf-8")
            return Response(body, media_type="application/json")
        url = urlsplit(referer)
        page = self.page(self._key_for(url.path or "/", url.query))
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"}
            return Response(page.gzipped, media_type="application/json", headers=headers)
        return Response(page.body, media_type="application/json")
