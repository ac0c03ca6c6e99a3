"""``GET /api/audit`` and ``GET /api/audit.csv``: who changed what, when, from where — admins only.

Read from the audit stream (``incidents.audit``), which ``apply.lua`` writes in the same atomic step as each change.
Filters: ``since`` (epoch seconds, or ISO 8601 with an offset), ``actor`` (a label: ``user:alice``, ``key:erp``,
``publisher``), ``incident`` (an id); paging: ``limit`` (1–1000, default 100) and ``after`` (the ``next`` cursor
of the previous page). The CSV has every matching entry (UTF-8 with a BOM, so spreadsheet programs read the
Chinese text; cells that would start a formula are quoted with ``'``).
"""

from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from dashboard.access.actor import actor_of
from dashboard.access.policy import can
from dashboard.runtime import Runtime
from incidents import audit
from incidents.timeutil import parse_ts


def _since(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return float(parse_ts(value))
    except (TypeError, ValueError) as exc:
        raise HTTPException(status_code=422, detail=f"since: epoch seconds or ISO 8601, got {value[:40]!r}") from exc


def _admin(request: Request) -> None:
    if not can(actor_of(request), "admin"):
        raise HTTPException(status_code=403, detail="the audit is for admins")


def build_audit_router(runtime: Runtime) -> APIRouter:
    """The two routes of the module doc (403 unless the caller may ``admin``; 422 bad ``since``; 503 Redis down)."""
    router = APIRouter()

    @router.get("/api/audit")
    def audit_page(
        request: Request,
        since: str | None = Query(None, description="epoch seconds or ISO 8601"),
        actor: str | None = Query(None, description="an actor label, e.g. user:alice"),
        incident: str | None = Query(None, description="an incident id"),
        after: str | None = Query(None, description="the previous page's next cursor"),
        limit: int = Query(100, ge=1, le=audit.PAGE_MAX),
    ) -> dict[str, Any]:
        """``{"entries": [{entry, at, actor, via, client, incident, what, from, to, ts, assignee}], "next": cursor
        or null}``, oldest first."""
        _admin(request)
        try:
            entries, nxt = audit.page(
                runtime.redis,
                runtime.keys,
                since=_since(since),
                after=after,
                actor=actor,
                incident=incident,
                limit=limit,
            )
        except redis.RedisError as exc:
            raise HTTPException(status_code=503, detail=f"Redis unavailable: {exc}") from exc
        return {"entries": [e.as_json() for e in entries], "next": nxt}

    @router.get("/api/audit.csv")
    def audit_csv(
        request: Request,
        since: str | None = Query(None),
        actor: str | None = Query(None),
        incident: str | None = Query(None),
    ) -> StreamingResponse:
        """Every matching entry as CSV (columns ``incidents.audit.CSV_FIELDS``)."""
        _admin(request)
        entries = audit.scan(
            runtime.redis, runtime.keys, since=_since(since), actor=actor, incident=incident, scan_max=None
        )

        def body() -> Any:
            yield "\ufeff"
            yield from audit.csv_rows(entries)

        headers = {"Content-Disposition": 'attachment; filename="audit.csv"', "Cache-Control": "no-store"}
        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)

    return router
