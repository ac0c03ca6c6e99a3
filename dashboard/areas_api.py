"""``GET /api/areas`` and ``GET /api/summary?area=KIND:ID``: the command levels and the numbers of one area, as
JSON for other tools (a DataV or GoView 大屏 pulls JSON) — computed by the same functions the screens use.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from dashboard.access.actor import actor_of
from dashboard.access.scope import may_see, scopes
from dashboard.runtime import Runtime
from geo.areas import AreaError, AreaTree, UnknownAreaError, layer_counts
from incidents.kpis import WINDOWS as KPI_WINDOWS


def summary(runtime: Runtime, ref: str, now: float | None = None) -> dict[str, Any]:
    """The numbers of area ``ref``: KPIs (``incidents.kpis.Kpis``; ``kpi_windows``: the window of each), today's
    funnel, open incidents by category and status, and how many of each layer's features lie in it. ``AreaError``
    for a bad ``ref``."""
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
        "kpi_windows": KPI_WINDOWS,
        "funnel": {"stages": funnel.today, "median_minutes": funnel.median_min},
        "layers": layer_counts(tree, runtime.layers, ref),
    }


def union_summary(runtime: Runtime, refs: tuple[str, ...], now: float | None = None) -> dict[str, Any]:
    """``summary`` of several areas together (a confined actor's, ``AreaTree.normalise``d: none inside another):
    ``area`` None, ``areas`` their rows, KPIs and funnel of the union, layer counts summed."""
    tree = runtime.geo.areas
    view = runtime.situation.view(time.time() if now is None else now)
    rows = tree.mask_any(view.incidents, refs)
    kpis = view.kpis_for(rows)
    funnel = view.funnel_for(rows)
    layers: dict[str, int | None] = {}
    for ref in refs:
        for name, n in layer_counts(tree, runtime.layers, ref).items():
            layers[name] = None if n is None or layers.get(name, 0) is None else (layers.get(name) or 0) + n
    return {
        "area": None,
        "areas": [tree.get(r).as_json() for r in refs],
        "now": view.now,
        "kpis": asdict(kpis),
        "kpi_windows": KPI_WINDOWS,
        "funnel": {"stages": funnel.today, "median_minutes": funnel.median_min},
        "layers": layers,
    }


def visible_areas(tree: AreaTree, confined: tuple[str, ...]) -> list[dict[str, object]]:
    """``GET /api/areas`` rows an actor confined to ``confined`` may see: its areas and everything inside them
    (parents before children); every area when unconfined."""
    rows = tree.as_json()
    if not confined:
        return rows
    return [row for row in rows if tree.inside(str(row["ref"]), confined)]


def build_areas_router(runtime: Runtime) -> APIRouter:
    router = APIRouter()

    @router.get("/api/areas")
    def areas(request: Request) -> dict[str, Any]:
        """Every area the caller may see, parents before children: ``{"root": ref, "roots": [ref …], "areas":
        [{ref, kind, id, name, parent, bbox}]}`` (bbox: min lon, min lat, max lon, max lat in EPSG:4326 degrees).
        ``roots``: the caller's own areas (confined) or the data set's root; ``root`` the first of them."""
        tree = runtime.geo.areas
        confined = scopes(actor_of(request), tree)
        roots = list(confined) or [tree.root]
        return {"root": roots[0], "roots": roots, "areas": visible_areas(tree, confined)}

    @router.get("/api/summary")
    def area_summary(
        request: Request, area: str | None = Query(None, description="KIND:ID; default: the whole data set")
    ) -> Any:
        """The numbers of one area (``summary``); 422 for a malformed ref, 404 for an unknown one, 403 for one
        outside the caller's areas. A confined caller asking for no area gets its own (several: ``union_summary``)."""
        tree = runtime.geo.areas
        actor = actor_of(request)
        confined = scopes(actor, tree)
        try:
            if area is None and len(confined) > 1:
                return union_summary(runtime, confined)
            ref = area or (confined[0] if confined else tree.root)
            tree.get(ref)
            if not may_see(actor, tree, ref):
                raise HTTPException(status_code=403, detail=f"area {ref!r} is outside your areas")
            return summary(runtime, ref)
        except AreaError as exc:
            raise HTTPException(status_code=404 if isinstance(exc, UnknownAreaError) else 422, detail=str(exc)) from exc

    return router
