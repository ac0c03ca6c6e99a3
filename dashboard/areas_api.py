"""``GET /api/areas`` and ``GET /api/summary?area=KIND:ID``: the command levels and the numbers of one area, as
JSON for other tools (a DataV or GoView 大屏 pulls JSON) — computed by the same functions the screens use.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from dashboard.runtime import Runtime
from geo.areas import AreaError, UnknownAreaError, layer_counts


def summary(runtime: Runtime, ref: str, now: float | None = None) -> dict[str, Any]:
    """The numbers of area ``ref``: KPIs (``incidents.situation.Kpis``), today's funnel, open incidents by
    category and status, and how many of each layer's features lie in it. ``AreaError`` for a bad ``ref``."""
    tree = runtime.geo.areas
    area = tree.get(ref)
    view = runtime.situation.view(time.time() if now is None else now)
    rows = tree.mask(view.incidents, ref)
    kpis = view.kpis_for(rows)
    funnel = view.funnel_for(rows)
    return {
        "area": area.as_json(),
        "path": [a.as_json() for a in tree.path(ref)],
        "now": view.now,
        "kpis": asdict(kpis),
        "funnel": {"stages": funnel.today, "median_minutes": funnel.median_min},
        "layers": layer_counts(tree, runtime.layers, ref),
    }


def build_areas_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/api/areas")
    def areas() -> dict[str, Any]:
        """Every area, parents before children: ``{"root": ref, "areas": [{ref, kind, id, name, parent, bbox}]}``
        (bbox: min lon, min lat, max lon, max lat in EPSG:4326 degrees)."""
        tree = runtime.geo.areas
        return {"root": tree.root, "areas": tree.as_json()}

    @router.get("/api/summary")
    def area_summary(area: str | None = Query(None, description="KIND:ID; default: the whole data set")) -> Any:
        """The numbers of one area (``summary``); 422 for a malformed ref, 404 for an unknown one."""
        ref = area or runtime.geo.areas.root
        try:
            return summary(runtime, ref)
        except AreaError as exc:
            raise HTTPException(status_code=404 if isinstance(exc, UnknownAreaError) else 422, detail=str(exc)) from exc

    return router
