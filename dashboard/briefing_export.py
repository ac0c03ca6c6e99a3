"""Briefings from anywhere: the one composition behind ``onescreen snapshot``, ``GET /api/briefing.png|.pdf`` and
the officials' page's 简报 button.

A briefing is asked for by a ``BriefingSpec``: area (a ``geo.areas`` ref — street, community, grid, … — or the
whole data set), moment (``at``: None = now, from the hub's frame; a past moment is rebuilt from the log with
``incidents.timetravel.situation_at``, the same rebuild as ``snapshot --at``), size, format, language, the
caller's scope and masking, and an optional "内部资料" watermark. ``compose`` turns it into the figure
(``dashboard.figures.briefing``), ``render`` into bytes through a ``Snapshotter`` (the server's warm browser)
or a one-shot browser (the CLI's single snapshot).

Sizes (``SIZES``; ``parse_size`` also takes ``1920×1080``, ``4k``, ``A4``):

======================  ==================  =====================================================
size                    page (CSS px)       output
======================  ==================  =====================================================
``1920x1080``           landscape 1920×1080  PNG 1920×1080
``3840x2160`` (``4k``)  landscape 1920×1080  PNG 3840×2160: the same page at scale 2 (crisp text)
``a4``                  A4 portrait 1240×1754 PNG 2480×3508 (300 dpi); PDF one A4 page (595×842 pt)
======================  ==================  =====================================================

PDF is offered for A4 only (a printable page); asking for it at another size is a ``ValueError``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import plotly.graph_objects as go

from dashboard.figures.briefing import A4, LANDSCAPE, Page
from dashboard.frames import Frame, ScreenContext, screen_frame
from dashboard.i18n import to_shanghai
from dashboard.runtime import Runtime
from dashboard.snapshot import Format, Snapshotter, render_png
from dashboard.snapshot_cli import scoped_briefing

log = logging.getLogger(__name__)

A4_PDF_SCALE = 793.7 / A4.w  # 210 mm at 96 CSS px per inch = 793.7 px: the PDF page is exactly A4


@dataclass(frozen=True)
class BriefingSize:
    """One output size: its key, the page layout, and the scale per format (PNG pixels = page px × scale)."""

    key: str
    page: Page
    png_scale: float
    pdf_scale: float | None  # None: no PDF at this size
    label: str

    @property
    def formats(self) -> tuple[Format, ...]:
        """The formats this size is offered in."""
        return ("png", "pdf") if self.pdf_scale is not None else ("png",)

    def scale(self, fmt: Format) -> float:
        """The kaleido scale for ``fmt``; ``ValueError`` when the size has no such format."""
        if fmt == "pdf":
            if self.pdf_scale is None:
                raise ValueError(f"PDF is offered for size a4 only, not {self.key}")
            return self.pdf_scale
        return self.png_scale

    def pixels(self) -> tuple[int, int]:
        """(width, height) of the PNG in pixels."""
        return round(self.page.w * self.png_scale), round(self.page.h * self.png_scale)


SIZES: dict[str, BriefingSize] = {
    "1920x1080": BriefingSize("1920x1080", LANDSCAPE, 1, None, "1920×1080"),
    "3840x2160": BriefingSize("3840x2160", LANDSCAPE, 2, None, "3840×2160"),
    "a4": BriefingSize("a4", A4, 2, A4_PDF_SCALE, "A4"),
}
DEFAULT_SIZE = "1920x1080"
_ALIASES = {"4k": "3840x2160", "uhd": "3840x2160", "hd": "1920x1080", "fhd": "1920x1080", "1080p": "1920x1080"}


def parse_size(text: str | None) -> BriefingSize:
    """``1920x1080`` (default for None/empty), ``3840x2160``/``4k``, ``a4`` (case and ``×`` tolerated).
    ``ValueError`` naming the sizes on offer otherwise."""
    key = (text or DEFAULT_SIZE).strip().lower().replace("×", "x").replace("*", "x").replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in SIZES:
        raise ValueError(f"unknown size {text!r}: use one of {', '.join(SIZES)}")
    return SIZES[key]


@dataclass(frozen=True)
class BriefingSpec:
    """What to draw. ``area``: a ref (None: the whole data set, or the caller's own area); ``at``: epoch seconds
    of a past moment (None: now); ``scope``/``masked``: the caller's (``dashboard.access.scope``)."""

    area: str | None = None
    at: float | None = None
    size: BriefingSize = SIZES[DEFAULT_SIZE]
    fmt: Format = "png"
    watermark: bool = False
    lang: str = "zh"
    scope: tuple[str, ...] = ()
    masked: bool = True

    def __post_init__(self) -> None:
        self.size.scale(self.fmt)  # ValueError for a PDF at a screen size


def frames_at(runtime: Runtime, at: float) -> Callable[[ScreenContext], Frame]:
    """A ``frame_of`` for the moment ``at``: the screens' replay (``Runtime.replay``: ``situation_at`` over the
    process's log timeline — the whole log read once, then only what is new), framed like ``?at=`` frames them."""
    replay = runtime.replay

    def frame_of(ctx: ScreenContext) -> Frame:
        return replay.frame(ctx, at)[0]

    return frame_of


def frames_now(runtime: Runtime) -> Callable[[ScreenContext], Frame]:
    """A ``frame_of`` computing each frame from the runtime's situation as it is now, past the hub's cache: for a
    process whose hub does not run (the CLI's archive reloads the state each round, ``Runtime.load_state_once``)."""

    def frame_of(ctx: ScreenContext) -> Frame:
        view = runtime.situation.view(time.time())
        return screen_frame(view, runtime.hub.base_for(ctx), ctx, boot_id=runtime.boot_id, areas=runtime.geo.areas)

    return frame_of


def compose(
    runtime: Runtime, spec: BriefingSpec, frame_of: Callable[[ScreenContext], Frame] | None = None
) -> go.Figure:
    """The briefing figure of ``spec``. ``frame_of``: where frames come from (default: the hub's for now,
    ``frames_at`` for a past moment). ``AreaError`` for an area the data set lacks. Blocking (CPU, and Redis for
    a past moment): call it off the event loop."""
    if frame_of is None:
        frame_of = runtime.hub.frame if spec.at is None else frames_at(runtime, spec.at)
    return scoped_briefing(
        runtime,
        spec.lang,
        spec.area,
        frame_of,
        at=spec.at,
        scope=spec.scope,
        masked=spec.masked,
        page=spec.size.page,
        watermark=spec.watermark,
    )


def render(figure: go.Figure, spec: BriefingSpec, snapshotter: Snapshotter | None = None) -> bytes:
    """``figure`` as ``spec``'s format and size: through ``snapshotter`` (warm) or a one-shot browser.
    ``SnapshotError`` (``SnapshotBusy``) as ``Snapshotter.render``."""
    page, scale = spec.size.page, spec.size.scale(spec.fmt)
    if snapshotter is None:
        return render_png(figure, None, page.w, page.h, scale=scale, fmt=spec.fmt)
    return snapshotter.render(figure, None, page.w, page.h, scale=scale, fmt=spec.fmt)


async def render_async(figure: go.Figure, spec: BriefingSpec, snapshotter: Snapshotter) -> bytes:
    """As ``render`` through the warm ``snapshotter``, awaitable."""
    page, scale = spec.size.page, spec.size.scale(spec.fmt)
    return await snapshotter.render_async(figure, page.w, page.h, scale=scale, fmt=spec.fmt)


def _stamp(ts: float) -> str:
    return f"{to_shanghai(ts):%Y%m%d-%H%M}"


def filenames(area_ref: str | None, area_name: str, ts: float, spec: BriefingSpec) -> tuple[str, str]:
    """(ASCII file name, UTF-8 file name) of a briefing: ``briefing-community-C003-20261201-0958-a4.pdf`` and
    ``简报-霞庭村-20261201-0958-A4.pdf`` (time in Beijing time; the moment ``at`` when historical)."""
    ascii_area = re.sub(r"[^A-Za-z0-9_-]+", "-", area_ref or "all").strip("-") or "all"
    name = re.sub(r'[\\/:*?"<>|\s]+', "-", area_name).strip("-") or "all"
    size = spec.size.label.replace("×", "x")
    return (
        f"briefing-{ascii_area}-{_stamp(ts)}-{spec.size.key}.{spec.fmt}",
        f"简报-{name}-{_stamp(ts)}-{size}.{spec.fmt}",
    )


def content_disposition(ascii_name: str, utf8_name: str, disposition: str = "attachment") -> str:
    """A Content-Disposition header value with both names (RFC 6266 / 5987: ``filename*=UTF-8''…``)."""
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"


# ---- the rolling archive (`onescreen snapshot --every 1h --keep 48 --out DIR`) ----

ARCHIVE_RE = re.compile(r"^briefing-\d{8}-\d{6}\.(png|pdf)$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$", re.IGNORECASE)


def parse_every(text: str) -> float:
    """``90`` / ``90s`` / ``15m`` / ``1h`` / ``1d`` → seconds (> 0). ``ValueError`` otherwise."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 15m, 1h)")
    unit = (m.group(2) or "s").lower()
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def archive_name(ts: float, fmt: Format) -> str:
    """``briefing-20261201-095800.png``: the moment in Beijing time, sortable."""
    return f"briefing-{to_shanghai(ts):%Y%m%d-%H%M%S}.{fmt}"


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` archive files (``ARCHIVE_RE``) in ``folder``; the deleted paths."""
    files = sorted(p for p in folder.iterdir() if ARCHIVE_RE.match(p.name))
    gone = files[: max(0, len(files) - keep)]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def run_archive(
    runtime: Runtime,
    spec: BriefingSpec,
    folder: Path,
    *,
    every_s: float,
    keep: int,
    stop: threading.Event,
    snapshotter: Snapshotter,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.time,
) -> int:
    """Write a briefing of ``spec`` into ``folder`` every ``every_s`` seconds (named by ``archive_name``, the
    newest ``keep`` kept) until ``stop`` is set; the count written. Each round reloads the state from Redis;
    one warm ``snapshotter`` serves every round. A failed round says one line and the loop goes on."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    next_at = clock()
    while not stop.is_set():
        started = clock()
        try:
            runtime.load_state_once()
            data = render(compose(runtime, spec, frames_now(runtime)), spec, snapshotter)
            path = folder / archive_name(started, spec.fmt)
            path.with_suffix(".tmp").write_bytes(data)
            path.with_suffix(".tmp").replace(path)
            prune(folder, keep)
            written += 1
            say(f"wrote {path} in {clock() - started:.2f} s")
        except Exception as exc:  # one line, and on to the next round
            say(f"onescreen snapshot: the round of {to_shanghai(started):%H:%M:%S} failed: {exc}")
        next_at += every_s
        while next_at <= clock():  # a round longer than the interval: skip the missed ticks
            next_at += every_s
        stop.wait(next_at - clock())
    return written
