"""PNG export of Plotly figures with kaleido 1.x (headless Chromium), offline.

How Chromium is found: kaleido passes ``path=`` to choreographer's ``Browser``; without it choreographer
looks at ``BROWSER_PATH``, its own downloaded Chrome, then PATH names (chrome/chromium/…) and typical paths.
We resolve the path ourselves (``find_chromium``: argument → ``ONESCREEN_CHROMIUM`` → ``BROWSER_PATH`` →
PATH → /usr/bin/chromium → choreographer's search) and always pass it, so the browser used is explicit.
``mathjax=False``: kaleido's default loads MathJax from a CDN; plotly.js comes from the installed plotly
package (a file:// URL), so nothing is fetched from the network.

``Snapshotter`` keeps one browser warm on its own asyncio thread (started off the request path) and is
safe to call from many threads / async handlers. kaleido's global ``start_sync_server`` is not used: its
``call_function`` joins a shared queue and can hand one caller another caller's result under concurrency.
``render_png`` is the plain one-shot function for the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeAlias

import plotly.graph_objects as go

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM = "/usr/bin/chromium"
Figureish: TypeAlias = go.Figure | dict[str, Any]


class SnapshotError(RuntimeError):
    """No PNG: no Chromium found, kaleido returned something else than PNG bytes, or a file is not a PNG."""


def find_chromium(explicit: str | os.PathLike[str] | None = None) -> str:
    """Path of the Chromium/Chrome executable kaleido should drive (see module doc for the order)."""
    candidates: list[str | None] = [
        os.fspath(explicit) if explicit else None,
        os.environ.get("ONESCREEN_CHROMIUM"),
        os.environ.get("BROWSER_PATH"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
        DEFAULT_CHROMIUM,
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
    except Exception:  # pragma: no cover - depends on choreographer internals
        found = None
    if found:
        return str(found)
    raise SnapshotError("no Chromium found: install chromium or set ONESCREEN_CHROMIUM=/path/to/chromium")


def kaleido_options(chromium: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Keyword arguments for ``kaleido.Kaleido``: explicit browser path, no MathJax CDN, one tab."""
    return {"n": 1, "timeout": timeout, "mathjax": False, "path": find_chromium(chromium)}


def _opts(width: int, height: int, scale: float) -> dict[str, Any]:
    return {"format": "png", "width": width, "height": height, "scale": scale}


def _write(data: bytes, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(p)  # atomic: a reader never sees half a PNG


def render_png(
    fig: Figureish,
    path: str | os.PathLike[str] | None = None,
    width: int = 1920,
    height: int = 1080,
    *,
    scale: float = 1,
    chromium: str | None = None,
    timeout: float = 60,
) -> bytes:
    """One-shot export (starts and stops a browser: ~seconds). Writes ``path`` if given; returns the PNG."""
    import kaleido

    data = kaleido.calc_fig_sync(fig, _opts(width, height, scale), kopts=kaleido_options(chromium, timeout))
    if not isinstance(data, bytes):
        raise SnapshotError(f"kaleido returned {type(data).__name__}, expected PNG bytes")
    _write(data, path)
    return data


class Snapshotter:
    """A warm kaleido browser on a private event-loop thread.

    ``start()`` returns at once (the browser opens and renders a warm-up figure in the background);
    ``render()`` / ``await render_async()`` wait for it when needed. Renders are serialised by kaleido's
    tab queue (one tab). ``close()`` stops the browser.
    """

    def __init__(self, *, chromium: str | None = None, timeout: float = 60, warm_up: bool = True) -> None:
        self._kopts = kaleido_options(chromium, timeout)
        self._warm_up = warm_up
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        self._opened: Future[None] = Future()
        self._lock = threading.Lock()
        self.started_s: float | None = None  # seconds from start() to ready

    @property
    def chromium(self) -> str:
        """Path of the Chromium binary kaleido drives."""
        return str(self._kopts["path"])

    def start(self) -> Snapshotter:
        """Open the browser in the background (no-op when started); returns ``self`` at once."""
        with self._lock:
            if self._thread is not None:
                return self
            self._loop = asyncio.new_event_loop()
            if self._opened.done():  # restarted after close()
                self._opened = Future()
            self._thread = threading.Thread(target=self._run, name="snapshotter", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.create_task(self._open())
        self._loop.run_forever()

    async def _open(self) -> None:
        import kaleido

        t0 = time.perf_counter()
        try:
            k = kaleido.Kaleido(**self._kopts)
            await k.open()
            self._kaleido = k
            if self._warm_up:  # first render loads plotly.js into the tab
                await k.calc_fig(go.Figure(go.Scatter(x=[0], y=[0])), opts=_opts(64, 64, 1))
            self.started_s = time.perf_counter() - t0
            log.info("kaleido ready in %.2f s (chromium %s)", self.started_s, self.chromium)
            self._opened.set_result(None)
        except BaseException as exc:  # reported to every waiter
            log.exception("kaleido failed to start")
            self._opened.set_exception(exc)

    def wait_ready(self, timeout: float | None = 60) -> None:
        """Start if needed and block until the browser is ready.

        Re-raises the browser's start error; ``TimeoutError`` after ``timeout`` seconds.
        """
        self.start()
        self._opened.result(timeout)

    def _submit(self, fig: Figureish, width: int, height: int, scale: float) -> Future[bytes]:
        self.start()
        assert self._loop is not None

        async def job() -> bytes:
            await asyncio.wrap_future(self._opened)
            data = await self._kaleido.calc_fig(fig, opts=_opts(width, height, scale))
            if not isinstance(data, bytes):
                raise SnapshotError(f"kaleido returned {type(data).__name__}, expected PNG bytes")
            return data

        return asyncio.run_coroutine_threadsafe(job(), self._loop)

    def render(
        self,
        fig: Figureish,
        path: str | os.PathLike[str] | None = None,
        width: int = 1920,
        height: int = 1080,
        *,
        scale: float = 1,
        timeout: float | None = 60,
    ) -> bytes:
        """Blocking render (call from worker threads, not from an event loop)."""
        data = self._submit(fig, width, height, scale).result(timeout)
        _write(data, path)
        return data

    async def render_async(self, fig: Figureish, width: int = 1920, height: int = 1080, *, scale: float = 1) -> bytes:
        """Awaitable render for async handlers (FastAPI)."""
        return await asyncio.wrap_future(self._submit(fig, width, height, scale))

    def close(self) -> None:
        """Close the browser and stop the loop thread; ``start`` may be called again."""
        with self._lock:
            loop, thread, k = self._loop, self._thread, self._kaleido
            self._loop = self._thread = self._kaleido = None
        if loop is None or thread is None:
            return
        if k is not None:
            try:
                asyncio.run_coroutine_threadsafe(k.close(), loop).result(15)
            except Exception:
                log.warning("kaleido close failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    def __enter__(self) -> Snapshotter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    import struct

    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise SnapshotError("not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)
