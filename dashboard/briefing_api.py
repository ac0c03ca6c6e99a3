"""``GET /api/briefing.png``: the current situation as the 1920×1080 briefing PNG, from the hub's frame.

The PNG is drawn from the same ``briefing`` frame the screens' frames come from (``dashboard.frame_hub``), by
the Runtime's warm kaleido browser (``dashboard.snapshot.Snapshotter``, started on first use, off the event loop),
so a briefing and the wall never disagree and a warm export takes a fraction of a second.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from dashboard.access.actor import actor_of
from dashboard.access.scope import masked, may_see, scopes
from dashboard.runtime import Runtime
from dashboard.snapshot import SnapshotError
from dashboard.snapshot_cli import scoped_briefing
from geo.areas import AreaError, UnknownAreaError


def build_briefing_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/api/briefing.png", response_class=Response)
    async def briefing_png(
        request: Request,
        lang: Literal["zh", "en"] | None = None,
        area: str | None = Query(None, description="KIND:ID (geo.areas); default: the whole data set"),
    ) -> Response:
        """PNG bytes (image/png, 1920×1080) of the situation now, of everything or of ``area`` (422 malformed,
        404 unknown, 403 outside the caller's areas); 503 when no browser can render it. A caller confined to
        areas gets its area (several: their union) by default; masked unless its role may see personal data."""
        actor = actor_of(request)
        tree = runtime.geo.areas
        try:
            if area:
                tree.get(area)
        except AreaError as exc:
            raise HTTPException(status_code=404 if isinstance(exc, UnknownAreaError) else 422, detail=str(exc)) from exc
        if area and not may_see(actor, tree, area):
            raise HTTPException(status_code=403, detail=f"area {area!r} is outside your areas")
        confined = scopes(actor, tree)
        ref = area or (confined[0] if len(confined) == 1 else None)
        figure = scoped_briefing(
            runtime, lang or runtime.settings.lang, ref, runtime.hub.frame, scope=confined, masked=masked(actor)
        )
        try:
            png = await runtime.snapshotter().render_async(figure)
        except SnapshotError as exc:
            raise HTTPException(status_code=503, detail=f"briefing PNG unavailable: {exc}") from exc
        headers = {"Cache-Control": "no-store", "Content-Disposition": 'inline; filename="briefing.png"'}
        return Response(png, media_type="image/png", headers=headers)

    return router
