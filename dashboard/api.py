"""HTTP API beside the screens: incident lookup and health; HTTP and Open311 ingest (``dashboard.ingest``)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import redis
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from dashboard.ingest import build_ingest_router
from dashboard.runtime import Runtime
from incidents.acl import describe, user_of
from incidents.store import get_incident, read_stats


def _health_payload(runtime: Runtime) -> tuple[int, dict[str, Any]]:
    feed = dataclasses.asdict(runtime.feed.health())
    redis_ok = True
    redis_error = ""
    stored: dict[str, Any] = {}
    try:
        runtime.redis.ping()
        stored = {
            "incidents": int(runtime.redis.hlen(runtime.keys.state)),
            "log_length": int(runtime.redis.xlen(runtime.keys.log)),
            "dead_letters": int(runtime.redis.xlen(runtime.keys.deadletter)),
            **read_stats(runtime.redis, runtime.keys),
        }
    except redis.RedisError as exc:
        redis_ok = False
        redis_error = describe(exc, user_of(runtime.redis_url))  # an ACL refusal names the command
    view = runtime.situation.view(time.time())  # cached per version and clock: cheap
    body = {
        "status": "ok" if redis_ok and feed.get("connected") else "degraded",
        "boot_id": runtime.boot_id,
        "redis": {"reachable": redis_ok, "error": redis_error, **stored},
        "feed": feed,
        "situation": {
            "version": runtime.situation.version,
            "incidents": len(view.incidents),
            # a message's grid_id vs the grid its point lies in: id → [given, located] (first 20)
            "grid_conflicts": dict(list(runtime.situation.grid_conflicts().items())[:20]),
        },
        "live": runtime.health(),
    }
    return (200 if redis_ok else 503), body


def build_router(runtime: Runtime) -> APIRouter:
    """``GET /healthz`` (200, or 503 while Redis is down), ``GET /api/incidents/{id}`` (the stored incident as
    JSON; 404 unknown, 503 Redis down) and the ingest routes (``dashboard.ingest``).
    """
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        code, body = _health_payload(runtime)
        return JSONResponse(body, status_code=code)

    @router.get("/api/incidents/{incident_id}")
    def incident(incident_id: str) -> JSONResponse:
        try:
            found = get_incident(runtime.redis, runtime.keys, incident_id)
        except redis.RedisError as exc:
            raise HTTPException(status_code=503, detail=f"Redis unavailable: {exc}") from exc
        if found is None:
            raise HTTPException(status_code=404, detail=f"no incident with id {incident_id!r}")
        return JSONResponse(found.to_dict())

    router.include_router(build_ingest_router(runtime))
    return router
