"""The layout response (``/_dash-layout``) of the current frame, built once and served to every page load.

A page load asks for the layout with the page URL as Referer. The page for that URL is rendered from the frame
hub's current frame of its context, serialised and gzipped once per frame; every other browser loading the same
page while that frame is current gets the same bytes (200 walls coming up together cost one render, not 200).
Without a Referer the empty shell goes out and the routing callback renders the page.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dash._utils import to_json
from starlette.requests import Request
from starlette.responses import Response

from dashboard.frames import Frame

GZIP_LEVEL = 6  # the bytes are reused for a whole frame: level 6 is within a few % of 9 at a fraction of the time
MAX_PAGES = 32  # distinct (path, language) pages kept


@dataclass(frozen=True, slots=True)
class CachedPage:
    token: str
    body: bytes
    gzipped: bytes


class PageCache:
    """``response(request)``: the layout JSON for the request's page, shared per frame.

    ``frame_for(path, lang)`` gives the current frame; ``layout_for(path, lang, frame)`` the Dash layout
    (the shell with the page in it); ``shell(lang)`` the empty shell; ``lang_for(query)`` the language of a page
    URL's query (or None).
    """

    def __init__(
        self,
        *,
        frame_for: Callable[[str, str], Frame],
        layout_for: Callable[[str, str, Frame], Any],
        shell: Callable[[str], Any],
        lang_for: Callable[[str], str | None],
        default_lang: str,
    ) -> None:
        self._frame_for = frame_for
        self._layout_for = layout_for
        self._shell = shell
        self._lang_for = lang_for
        self._default_lang = default_lang
        self._pages: dict[tuple[str, str], CachedPage] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def page(self, path: str, lang: str) -> CachedPage:
        """The cached page of ``path`` in ``lang`` for the current frame (built once per frame)."""
        key = (path, lang)
        frame = self._frame_for(path, lang)
        cached = self._pages.get(key)
        if cached is not None and cached.token == frame.token:
            return cached
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one build per page and frame; the other requests wait for it
            frame = self._frame_for(path, lang)
            cached = self._pages.get(key)
            if cached is not None and cached.token == frame.token:
                return cached
            body = to_json(self._layout_for(path, lang, frame)).encode("utf-8")
            cached = CachedPage(frame.token, body, gzip.compress(body, GZIP_LEVEL))
            with self._lock:
                if key not in self._pages and len(self._pages) >= MAX_PAGES:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[key] = cached
            self.builds += 1
            return cached

    def response(self, request: Request) -> Response:
        referer = request.headers.get("referer")
        if not referer:
            body = to_json(self._shell(self._default_lang)).encode("utf-8")
            return Response(body, media_type="application/json")
        url = urlsplit(referer)
        lang = self._lang_for(url.query) or self._default_lang
        page = self.page(url.path or "/", lang)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers = {"content-encoding": "gzip", "vary": "Accept-Encoding"}
            return Response(page.gzipped, media_type="application/json", headers=headers)
        return Response(page.body, media_type="application/json")
