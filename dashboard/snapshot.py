"""Export of Plotly figures (PNG, PDF) with kaleido 1.x (headless Chromium), offline.

How Chromium is found: kaleido passes ``path=`` to choreographer's ``Browser``; without it choreographer
looks at ``BROWSER_PATH``, its own downloaded Chrome, then PATH names (chrome/chromium/…) and typical paths.
We resolve the path ourselves (``find_chromium``: argument → ``ONESCREEN_CHROMIUM`` → ``BROWSER_PATH`` →
PATH → /usr/bin/chromium → choreographer's search) and always pass it, so the browser used is explicit. An
explicit choice (the argument or ``ONESCREEN_CHROMIUM``) that is not an executable file is an error, never
silently replaced by another browser.
``mathjax=False``: kaleido's default loads MathJax from a CDN; plotly.js comes from the installed plotly
package (a file:// URL), so nothing is fetched from the network.

Before rendering, ``missing_render_deps`` says in one line what is missing (no Chromium, no font covering
Chinese — the PNG would be boxes) and what to install; ``require_render_deps`` raises it as
``RenderDepsMissing``. The CLI prints that line (exit 2), the route answers 503 with it.

``Snapshotter`` keeps one browser warm on its own asyncio thread (started off the request path) and is
safe to call from many threads / async handlers: renders run one at a time, at most ``max_pending`` wait
(then ``SnapshotBusy`` at once — the route answers 503 + Retry-After rather than piling up), each bounded by
``render_timeout`` seconds; a timeout or a browser that died discards the browser and the next render opens
a new one. kaleido's global ``start_sync_server`` is not used: its ``call_function`` joins a shared queue and can
hand one caller another caller's result under concurrency. ``render_png`` is the plain one-shot function.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal, TypeAlias

import plotly.graph_objects as go

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "apt-get install chromium fonts-noto-cjk (or scripts/ensure-system-deps.sh runtime)"
Figureish: TypeAlias = go.Figure | dict[str, Any]
Format: TypeAlias = Literal["png", "pdf"]
MAGIC: dict[str, bytes] = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF"}


class SnapshotError(RuntimeError):
    """No image: no Chromium found, the render failed or timed out, kaleido returned something else than the
    asked format's bytes, or a file is not a PNG."""


class RenderDepsMissing(SnapshotError):
    """Chromium or a CJK font is missing; the message is one line naming it and the install command."""


class SnapshotBusy(SnapshotError):
    """The warm exporter's queue is full: try again in a moment (``retry_after_s`` seconds)."""

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _usable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def find_chromium(explicit: str | os.PathLike[str] | None = None) -> str:
    """Path of the Chromium/Chrome executable kaleido should drive (see module doc for the order).
    ``SnapshotError`` when none is found, or when the explicit choice is unusable."""
    for name, chosen in (("chromium", explicit), ("ONESCREEN_CHROMIUM", os.environ.get("ONESCREEN_CHROMIUM"))):
        if chosen:
            if _usable(os.fspath(chosen)):
                return os.fspath(chosen)
            raise SnapshotError(f"{name}={os.fspath(chosen)} is not an executable Chromium")
    candidates: list[str | None] = [
        os.environ.get("BROWSER_PATH"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
        DEFAULT_CHROMIUM,
    ]
    for c in candidates:
        if c and _usable(c):
            return c
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
    except Exception:  # pragma: no cover - depends on choreographer internals
        found = None
    if found:
        return str(found)
    raise SnapshotError("no Chromium found")


_FONTS_FOUND: set[tuple[str | None, ...]] = set()  # fontconfig setups known to have a CJK font


def _cjk_fonts(config: tuple[str | None, ...]) -> tuple[bool, str]:
    """Whether fontconfig (``config``: its environment) has a font for Chinese; only a yes is remembered, so fonts
    installed while a server runs are found on the next briefing."""
    if config in _FONTS_FOUND:
        return True, ""
    ok, why = _fc_list_zh()
    if ok:
        _FONTS_FOUND.add(config)
    return ok, why


def _fc_list_zh() -> tuple[bool, str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False, "no fontconfig (fc-list)"
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"fc-list failed ({exc})"
    return bool(out.strip()), "no font covering Chinese (fc-list :lang=zh is empty)"


def missing_render_deps(chromium: str | None = None) -> str | None:
    """One line saying what is missing to draw a briefing (Chromium, a CJK font) and what to install; None when
    both are there. Font lookup is fontconfig's (``fc-list :lang=zh``, the fonts Chromium will use; honours
    ``FONTCONFIG_FILE``), remembered per configuration once found."""
    problems = []
    try:
        find_chromium(chromium)
    except SnapshotError as exc:
        problems.append(str(exc))
    ok, why = _cjk_fonts((os.environ.get("FONTCONFIG_FILE"), os.environ.get("FONTCONFIG_PATH")))
    if not ok:
        problems.append(why)
    if not problems:
        return None
    return f"cannot draw briefings: {'; '.join(problems)} — install: {INSTALL_HINT}"


def require_render_deps(chromium: str | None = None) -> None:
    """``RenderDepsMissing`` (one line, see ``missing_render_deps``) unless Chromium and a CJK font are there."""
    missing = missing_render_deps(chromium)
    if missing:
        raise RenderDepsMissing(missing)


def kaleido_options(chromium: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Keyword arguments for ``kaleido.Kaleido``: explicit browser path, no MathJax CDN, one tab."""
    return {"n": 1, "timeout": timeout, "mathjax": False, "path": find_chromium(chromium)}


def _opts(width: int, height: int, scale: float, fmt: Format = "png") -> dict[str, Any]:
    return {"format": fmt, "width": width, "height": height, "scale": scale}


def _checked(data: object, fmt: Format) -> bytes:
    if not isinstance(data, bytes) or not data.startswith(MAGIC[fmt]):
        raise SnapshotError(f"kaleido returned {type(data).__name__}, expected {fmt.upper()} bytes")
    return data


def _write(data: bytes, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(p)  # atomic: a reader never sees half a file


def render_png(
    fig: Figureish,
    path: str | os.PathLike[str] | None = None,
    width: int = 1920,
    height: int = 1080,
    *,
    scale: float = 1,
    chromium: str | None = None,
    timeout: float = 60,
    fmt: Format = "png",
) -> bytes:
    """One-shot export (starts and stops a browser: ~seconds) of ``width``×``height`` CSS px at ``scale``
    (a PNG of width·scale × height·scale pixels; a one-page PDF of that size in CSS px). Writes ``path`` if
    given; returns the bytes. ``SnapshotError`` when no browser or no image."""
    import kaleido

    data = kaleido.calc_fig_sync(fig, _opts(width, height, scale, fmt), kopts=kaleido_options(chromium, timeout))
    data = _checked(data, fmt)
    _write(data, path)
    return data


class Snapshotter:
    """A warm kaleido browser on a private event-loop thread (see the module doc).

    ``start()`` returns at once (the browser opens and renders a warm-up figure in the background);
    ``render()`` / ``await render_async()`` wait for it when needed. ``close()`` stops the browser.
    ``max_pending``: renders allowed to wait behind the running one (then ``SnapshotBusy``);
    ``render_timeout``: seconds one render may take (then ``SnapshotError``, and a fresh browser next time).
    """

    def __init__(
        self,
        *,
        chromium: str | None = None,
        timeout: float = 60,
        warm_up: bool = True,
        max_pending: int = 4,
        render_timeout: float = 30,
    ) -> None:
        self._kopts = kaleido_options(chromium, timeout)
        self._warm_up = warm_up
        self.max_pending = max_pending
        self.render_timeout = render_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        self._opening: Any = None  # a browser being opened: close() must close it too (a stop during warm-up)
        self._opened: Future[None] = Future()
        self._lock = threading.Lock()
        self._pending = 0  # submitted, not finished (the running one included)
        self._browser_lock: asyncio.Lock | None = None  # in the loop: one (re)open at a time
        self._render_lock: asyncio.Lock | None = None  # in the loop: one render at a time
        self.started_s: float | None = None  # seconds from start() to ready
        self.restarts = 0  # browsers discarded after a timeout or a crash

    @property
    def chromium(self) -> str:
        """Path of the Chromium binary kaleido drives."""
        return str(self._kopts["path"])

    @property
    def browser_pid(self) -> int | None:
        """The warm browser's process id (None before it opened or after it was discarded)."""
        proc = getattr(self._kaleido, "subprocess", None)
        return None if proc is None else int(proc.pid)

    @property
    def pending(self) -> int:
        """Renders submitted and not finished."""
        return self._pending

    def status(self) -> dict[str, Any]:
        """For ``/healthz``: ``ready`` (a browser is open), ``started_s``, ``pending``, ``restarts``."""
        return {
            "ready": self._kaleido is not None,
            "started_s": None if self.started_s is None else round(self.started_s, 2),
            "pending": self._pending,
            "restarts": self.restarts,
        }

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
        self._browser_lock = asyncio.Lock()
        self._render_lock = asyncio.Lock()
        self._loop.create_task(self._first_open())
        self._loop.run_forever()

    async def _first_open(self) -> None:
        t0 = time.perf_counter()
        try:
            await self._browser()
            self.started_s = time.perf_counter() - t0
            log.info("kaleido ready in %.2f s (chromium %s)", self.started_s, self.chromium)
            self._opened.set_result(None)
        except BaseException as exc:  # reported to every waiter; the next render tries again
            log.warning("kaleido failed to start: %s", exc)
            self._opened.set_exception(exc)

    async def _browser(self) -> Any:
        """The open browser, opened (and warmed) first when there is none."""
        import kaleido

        assert self._browser_lock is not None
        async with self._browser_lock:
            proc = getattr(self._kaleido, "subprocess", None)
            if proc is not None and proc.poll() is not None:  # the browser died since the last render
                log.warning("kaleido: the browser exited (%s); starting a new one", proc.returncode)
                self.restarts += 1
                await self._discard(self._kaleido)
            if self._kaleido is None:
                k = self._opening = kaleido.Kaleido(**self._kopts)
                try:
                    await asyncio.wait_for(k.open(), self.render_timeout * 2)
                    if self._warm_up:  # first render loads plotly.js into the tab
                        await asyncio.wait_for(
                            k.calc_fig(go.Figure(go.Scatter(x=[0], y=[0])), opts=_opts(64, 64, 1)), self.render_timeout
                        )
                except BaseException:
                    await self._discard(k)
                    raise
                finally:
                    self._opening = None
                self._kaleido = k
            return self._kaleido

    async def _discard(self, k: Any) -> None:
        if k is None:
            return
        if self._kaleido is k:
            self._kaleido = None
        try:
            await asyncio.wait_for(k.close(), 10)
        except BaseException:  # a dead or hung browser: make sure the process is gone
            proc = getattr(k, "subprocess", None)
            if proc is not None and proc.poll() is None:
                proc.kill()
            log.debug("kaleido close failed", exc_info=True)

    def wait_ready(self, timeout: float | None = 60) -> None:
        """Start if needed and block until the browser is ready.

        Re-raises the browser's start error; ``TimeoutError`` after ``timeout`` seconds.
        """
        self.start()
        self._opened.result(timeout)

    async def _job(self, fig: Figureish, opts: dict[str, Any]) -> bytes:
        from kaleido.errors import JavascriptError, KaleidoError

        assert self._render_lock is not None
        async with self._render_lock:
            try:
                k = await self._browser()
            except BaseException as exc:
                raise SnapshotError(f"could not start Chromium: {exc}") from exc
            try:
                data = await asyncio.wait_for(k.calc_fig(fig, opts=opts), self.render_timeout)
            except TimeoutError as exc:
                self.restarts += 1
                await self._discard(k)
                raise SnapshotError(f"render timed out after {self.render_timeout:g} s") from exc
            except (KaleidoError, JavascriptError) as exc:  # the figure's fault: the browser is fine
                raise SnapshotError(f"render failed: {exc}") from exc
            except Exception as exc:  # the browser died or hung up: a new one next time
                self.restarts += 1
                await self._discard(k)
                raise SnapshotError(f"render failed, the browser is restarted: {type(exc).__name__}: {exc}") from exc
            return _checked(data, opts["format"])

    def _submit(self, fig: Figureish, width: int, height: int, scale: float, fmt: Format) -> Future[bytes]:
        self.start()
        with self._lock:
            if self._pending > self.max_pending:
                raise SnapshotBusy(f"the briefing exporter is busy ({self._pending} renders queued)")
            self._pending += 1
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(self._job(fig, _opts(width, height, scale, fmt)), self._loop)
        fut.add_done_callback(self._done)
        return fut

    def _done(self, _fut: Future[bytes]) -> None:
        with self._lock:
            self._pending -= 1

    def render(
        self,
        fig: Figureish,
        path: str | os.PathLike[str] | None = None,
        width: int = 1920,
        height: int = 1080,
        *,
        scale: float = 1,
        timeout: float | None = 60,
        fmt: Format = "png",
    ) -> bytes:
        """Blocking render (call from worker threads, not from an event loop): ``fmt`` bytes of
        ``width``×``height`` CSS px at ``scale`` (see ``render_png``). ``SnapshotBusy``, ``SnapshotError``."""
        data = self._submit(fig, width, height, scale, fmt).result(timeout)
        _write(data, path)
        return data

    async def render_async(
        self, fig: Figureish, width: int = 1920, height: int = 1080, *, scale: float = 1, fmt: Format = "png"
    ) -> bytes:
        """Awaitable render for async handlers (FastAPI); as ``render``."""
        return await asyncio.wrap_future(self._submit(fig, width, height, scale, fmt))

    def close(self) -> None:
        """Close the browser and stop the loop thread; ``start`` may be called again."""
        with self._lock:
            # a browser still opening (a stop during the warm-up) is closed too: left to the interpreter's exit, its
            # profile folder was removed while Chromium still wrote to it (a traceback on Ctrl-C)
            loop, thread, k = self._loop, self._thread, self._kaleido or self._opening
            self._loop = self._thread = self._kaleido = None
        if loop is None or thread is None:
            return
        if k is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._discard(k), loop).result(15)
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

    if data[:8] != MAGIC["png"] or data[12:16] != b"IHDR":
        raise SnapshotError("not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)
