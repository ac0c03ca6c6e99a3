"""HTTP API beside the screens: incident lookup and health; HTTP and Open311 ingest (``dashboard.ingest``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from dashboard.access.actor import ANONYMOUS, actor_of
from dashboard.access.scope import masked, may_see_incident
from dashboard.ingest import build_ingest_router
from dashboard.metrics import CONTENT_TYPE
from dashboard.runtime import Runtime
from geo.privacy import scrub_text
from incidents.acl import REFUSAL_PREFIX, describe, user_of
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
    body = {
        "status": "ok" if redis_ok and feed.get("connected") else "degraded",
        "boot_id": runtime.boot_id,
        "redis": {"reachable": redis_ok, "error": redis_error, **stored},
        "feed": feed,
        "situation": {
            "version": runtime.situation.version,
            # the count, not a view: a view at a new clock is built afresh (KPIs over every incident, ~10 ms of
            # the GIL at 10,000 open), and a monitor asks every few seconds
            "incidents": len(runtime.situation),
            # a message's grid_id vs the grid its point lies in: id → [given, located] (first 20)
            "grid_conflicts": dict(list(runtime.situation.grid_conflicts().items())[:20]),
        },
        "live": runtime.health(),
    }
    return (200 if redis_ok else 503), body


def counts_only(body: dict[str, Any]) -> dict[str, Any]:
    """``/healthz`` for someone not logged in: states and counts, no text (an error or a rejected message may
    quote what a resident typed), no ids, no area refs — but a Redis ACL refusal (``redis.refused``), which names
    a command and a user, never a message."""
    feed = {k: v for k, v in body["feed"].items() if isinstance(v, bool | int | float) and k != "since"}
    redis_part = {k: v for k, v in body["redis"].items() if isinstance(v, bool | int | float)}
    situation = {"version": body["situation"]["version"], "incidents": body["situation"]["incidents"]}
    live = {k: (len(v) if isinstance(v, list) else v) for k, v in body["live"].items()}
    # An ACL refusal is the deployment's setup, never a resident's text: a monitor without a login must see it
    for text in (body["redis"].get("error", ""), body["feed"].get("last_error", "")):
        at = text.find(REFUSAL_PREFIX) if isinstance(text, str) else -1
        if at >= 0:
            redis_part["refused"] = text[at:]
            break
    return {"status": body["status"], "redis": redis_part, "feed": feed, "situation": situation, "live": live}


def scrub_health(body: dict[str, Any]) -> dict[str, Any]:
    """``/healthz`` for a logged-in role that sees personal data masked: the text fields scrubbed."""
    body["feed"] = {k: scrub_text(v) if isinstance(v, str) else v for k, v in body["feed"].items()}
    body["redis"]["error"] = scrub_text(body["redis"].get("error", ""))
    return body


def build_router(runtime: Runtime) -> APIRouter:
    """``GET /healthz`` (200, or 503 while Redis is down; without a login counts only: ``counts_only``),
    ``GET /api/incidents/{id}`` (the stored incident as JSON; 404 unknown or outside the caller's areas, 503 Redis
    down; free text scrubbed unless the caller's role may see personal data), ``GET /metrics`` (Prometheus text
    format: ``dashboard.metrics``) and the ingest routes (``dashboard.ingest``).
    """
    router = APIRouter()

    @router.get("/healthz")
    def healthz(request: Request) -> JSONResponse:
        code, body = _health_payload(runtime)
        try:  # a public route: the gate resolved nobody
            actor = runtime.access.actor_for(request.scope, touch=False)
        except redis.RedisError:
            actor = ANONYMOUS
        if actor.is_anonymous:
            body = counts_only(body)
        elif masked(actor):
            body = scrub_health(body)
        return JSONResponse(body, status_code=code)

    @router.get("/api/incidents/{incident_id}")
    def incident(incident_id: str, request: Request) -> JSONResponse:
        actor = actor_of(request)
        try:
            found = get_incident(runtime.redis, runtime.keys, incident_id)
        except redis.RedisError as exc:
            raise HTTPException(status_code=503, detail=f"Redis unavailable: {exc}") from exc
        if found is None or not may_see_incident(actor, runtime, found):  # outside: as if there were none
            raise HTTPException(status_code=404, detail=f"no incident with id {incident_id!r}")
        if masked(actor):
            found = dataclasses.replace(found, title=scrub_text(found.title), description=scrub_text(found.description))
        return JSONResponse(found.to_dict())

    @router.get("/metrics")
    def metrics() -> Response:
        """This process's series in the Prometheus text format (``dashboard.metrics``; who may scrape: the gate).
        A worker thread: the scrape reads three stream sizes from Redis."""
        return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)

    router.include_router(build_ingest_router(runtime))
    return router
