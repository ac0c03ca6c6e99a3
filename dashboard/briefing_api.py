"""``GET /api/briefing.png`` and ``GET /api/briefing.pdf``: a briefing of any area, now or at a past moment, in
any size (``dashboard.briefing_export``: the one composition the CLI and the page's button use too).

Parameters: ``area`` (``KIND:ID``; default the caller's own area, else everything), ``at`` (ISO 8601 — without
an offset Beijing time —, epoch seconds or relative ``-2h``; default now), ``size`` (``1920x1080`` default for
PNG, ``3840x2160``, ``a4`` — the PDF's only and default size), ``watermark`` (``1``: "内部资料" across the page),
``lang``. Answers: the image (``Content-Disposition`` with an ASCII name and a ``filename*`` UTF-8 one naming
the area and the time); 422 for a bad size, time or format combination, 404 unknown area, 403 outside the
caller's areas; 503 with one line when Chromium or CJK fonts are missing (what to install), when the exporter
is busy (``Retry-After``) or a render failed. Masked unless the caller's role may see personal data.

Now is drawn from the hub's ``briefing`` frame (so briefing and wall never disagree), a past moment from the log
(``situation_at``). The picture is drawn by the Runtime's warm kaleido browser (``Snapshotter``: one browser,
a bounded queue, a per-render timeout), the figure built off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from dashboard.access.actor import actor_of
from dashboard.access.scope import masked, may_see, scopes
from dashboard.briefing_export import BriefingSpec, compose, content_disposition, filenames, parse_size, render_async
from dashboard.page_request import parse_page_at
from dashboard.runtime import Runtime
from dashboard.snapshot import Format, SnapshotBusy, SnapshotError, missing_render_deps
from geo.areas import AreaError, UnknownAreaError


def parse_at_param(text: str | None, now: float | None = None) -> float | None:
    """``at`` as the page reads it (``page_request.parse_page_at``: whole seconds, a ``+`` a URL turned into a
    space restored), so a briefing of a past page is of that page's very moment; None for none/empty.
    ``ValueError`` for no time or a future one."""
    if not text or not text.strip():
        return None
    at, why = parse_page_at(text, time.time() if now is None else now)
    if at is None:
        raise ValueError(
            f"at={text!r} is in the future"
            if why == "future"
            else f"not a time: {text!r} (ISO 8601 like 2026-11-26T09:00+08:00, epoch, or -2h)"
        )
    return at


def build_briefing_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    async def briefing(
        request: Request,
        fmt: Format,
        lang: str | None,
        area: str | None,
        at: str | None,
        size: str | None,
        watermark: bool,
    ) -> Response:
        actor = actor_of(request)
        tree = runtime.geo.areas
        try:
            spec_size = parse_size(size or ("a4" if fmt == "pdf" else None))
            moment = parse_at_param(at)
            spec_size.scale(fmt)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        try:
            if area:
                tree.get(area)
        except AreaError as exc:
            raise HTTPException(status_code=404 if isinstance(exc, UnknownAreaError) else 422, detail=str(exc)) from exc
        if area and not may_see(actor, tree, area):
            raise HTTPException(status_code=403, detail=f"area {area!r} is outside your areas")
        missing = await asyncio.to_thread(missing_render_deps)
        if missing:
            raise HTTPException(status_code=503, detail=missing)
        confined = scopes(actor, tree)
        ref = area or (confined[0] if len(confined) == 1 else None)
        spec = BriefingSpec(
            area=ref,
            at=moment,
            size=spec_size,
            fmt=fmt,
            watermark=watermark,
            lang=lang or runtime.settings.lang,
            scope=confined,
            masked=masked(actor),
        )
        try:
            snapshotter = runtime.snapshotter()
            figure = await asyncio.to_thread(compose, runtime, spec)
            data = await render_async(figure, spec, snapshotter)
        except SnapshotBusy as exc:
            raise HTTPException(
                status_code=503, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}
            ) from exc
        except SnapshotError as exc:
            raise HTTPException(status_code=503, detail=f"briefing unavailable: {exc}") from exc
        node = tree.get(ref) if ref else tree.get(tree.root)
        ascii_name, utf8_name = filenames(ref, node.name, moment if moment is not None else time.time(), spec)
        disposition = "attachment" if fmt == "pdf" else "inline"
        headers = {
            "Cache-Control": "no-store",
            "Content-Disposition": content_disposition(ascii_name, utf8_name, disposition),
        }
        return Response(data, media_type="application/pdf" if fmt == "pdf" else "image/png", headers=headers)

    @router.get("/api/briefing.png", response_class=Response)
    async def briefing_png(
        request: Request,
        lang: Literal["zh", "en"] | None = None,
        area: str | None = Query(None, description="KIND:ID (geo.areas); default: the whole data set"),
        at: str | None = Query(None, description="a past moment (ISO 8601, epoch, -2h); default now"),
        size: str | None = Query(None, description="1920x1080 (default), 3840x2160, a4"),
        watermark: bool = Query(False, description="内部资料 across the page"),
    ) -> Response:
        """PNG bytes of the briefing (module doc)."""
        return await briefing(request, "png", lang, area, at, size, watermark)

    @router.get("/api/briefing.pdf", response_class=Response)
    async def briefing_pdf(
        request: Request,
        lang: Literal["zh", "en"] | None = None,
        area: str | None = Query(None, description="KIND:ID (geo.areas); default: the whole data set"),
        at: str | None = Query(None, description="a past moment (ISO 8601, epoch, -2h); default now"),
        size: str | None = Query(None, description="a4 (the only PDF size)"),
        watermark: bool = Query(False, description="内部资料 across the page"),
    ) -> Response:
        """A one-page A4 PDF of the briefing (module doc)."""
        return await briefing(request, "pdf", lang, area, at, size, watermark)

    return router
