"""HTTP ingest: ``POST /api/incidents`` (the wire contract over HTTP) and Open311 GeoReport v2.

Everything written goes through the durable path (``incidents.publish``: validate → atomic apply; servers see
it in the log);
invalid input is answered with the reason and dead-lettered (``source`` ``http`` or ``open311``), so
``/healthz`` counts it like any other rejected message. Mapping rules live in the pure modules
``incidents.open311`` (reading other cities' responses) and ``incidents.open311_server`` (serving ours); request
bodies are read by ``dashboard.http_body``. Who may post is the access gate's (an ``ingest`` API key); an
area-scoped key is refused (403, naming its areas) for an incident outside them, and a batch counts its items
against the key's rate limit (429 + ``Retry-After``) — ``dashboard.access.ingest_guard``.

Routes:

* ``POST /api/incidents`` — one wire message (≤ 64 KiB): 202 applied, 200 duplicate/stale, both with
  ``{"id", "outcome", "log_id"}``; 422 ``{"detail": reason}``; 413 too large; 503 Redis unavailable.
* ``POST /api/incidents/batch`` — a JSON array of wire messages (≤ 1 MiB, ≤ 1000): 200, one result each.
* ``GET /open311/discovery.{json,xml}`` (also under ``/open311/v2/``) — the service discovery document.
* ``GET /open311/v2/services.{json,xml}`` — our categories as services.
* ``GET /open311/v2/services/{code}.{json,xml}`` — a service definition (no attributes; 404 unknown code).
* ``GET /open311/v2/requests.{json,xml}`` — incidents as requests (filters: ``open311_server.parse_query``).
* ``POST /open311/v2/requests.{json,xml}`` — form-encoded (or JSON / multipart) → 200
  ``[{"service_request_id", "service_notice", "account_id"}]``; errors ``[{"code", "description"}]`` (400, 404 for
  an unknown ``service_code``, 503 Redis unavailable).
* ``GET /open311/v2/requests/{id}.{json,xml}`` — one request (404 if unknown); ``request/{id}`` too (the swagger
  definition's spelling).
* anything else under ``/open311/`` — 404 (405 for a known resource with another method) as an Open311 error, XML
  for a ``.xml`` path, else JSON: never the dashboard's page.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from functools import partial
from typing import Any, Final

import redis
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dashboard.access import ingest_guard
from dashboard.access.actor import actor_of
from dashboard.access.scope import masked, may_see_incident
from dashboard.http_body import BodyTooLarge, parse_open311_body, read_body, split_json_array
from dashboard.runtime import Runtime
from geo.privacy import scrub_text
from incidents import open311_server as o3
from incidents import store
from incidents.acl import refusal, user_of
from incidents.metrics import RejectReason, reject_reason
from incidents.model import Incident
from incidents.open311 import Open311Error
from incidents.open311_places import Gazetteer
from incidents.publish import publish, publish_many
from incidents.store import ApplyResult, Outcome
from incidents.timeutil import format_ts
from incidents.wire import MAX_BYTES, WireError, id_hint

log = logging.getLogger(__name__)

BATCH_MAX_BYTES: Final = 1 << 20
FORMATS: Final = ("json", "xml")
READ: Final = ["GET", "HEAD"]  # the Open311 reads (HEAD: the same headers, no body)


def _result_body(res: ApplyResult) -> dict[str, Any]:
    return {"id": res.id, "outcome": str(res.outcome), "log_id": res.log_id}


def _redis_error(runtime: Runtime, exc: redis.RedisError) -> str:
    """``Redis unavailable: …``, or the ACL refusal naming the command (``incidents.acl``): never "applied"."""
    return refusal(exc, user_of(runtime.redis_url)) or f"Redis unavailable: {exc}"


def _detail(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _open311(fmt: str, rows: list[dict[str, Any]], status: int = 200, *, root: str = "", item: str = "") -> Response:
    body, media = o3.render(fmt, root, item, rows)
    return Response(body, status_code=status, media_type=media)


def _open311_error(fmt: str, code: int, description: str, headers: dict[str, str] | None = None) -> Response:
    body, media = o3.render(fmt if fmt in FORMATS else "json", "errors", "error", o3.errors(code, description))
    return Response(body, status_code=code, media_type=media, headers=headers)


def _open311_document(fmt: str, root: str, doc: dict[str, Any]) -> Response:
    body, media = o3.render_document(fmt, root, doc)
    return Response(body, media_type=media)


def _suffix_format(path: str) -> str:
    """The format an unknown Open311 path asks for by its suffix: ``xml`` for ``….xml``, else ``json``."""
    return "xml" if path.lower().endswith(".xml") else "json"


# Known resources (path under /open311/v2/ → the methods it takes), to tell 405 from 404 for the rest.
_RESOURCES: Final = (
    (re.compile(r"^(discovery|services|services/[^/]+|requests/[^/]+|request/[^/]+)\.[^/.]+$"), ("GET", "HEAD")),
    (re.compile(r"^requests\.[^/.]+$"), ("GET", "HEAD", "POST")),
)


def _limits(runtime: Runtime, request: Request | None = None) -> dict[str, Any]:
    """The checks the server's own feed applies (served area, allowed clock skew, publishers' default CRS), for
    the durable path too; with the ``request``: who it is and from where, recorded with the change (history,
    audit). The caller's areas were checked before (``access.ingest_guard.refusals``: only API keys reach these
    routes, and an area key's incidents must lie in its areas)."""
    limits: dict[str, Any] = {
        "area": runtime.feed.area,
        "max_future_s": runtime.feed.max_future_s,
        "source_crs": runtime.feed.source_crs,
        "metrics": runtime.metrics.ingest,
    }
    if request is not None:
        actor = actor_of(request)
        limits.update(actor=actor.label(), client=runtime.access.client_address(request.scope))
    return limits


def _readable(runtime: Runtime, request: Request, incidents: list[Incident]) -> list[Incident]:
    """The incidents the caller may see (its areas), free text scrubbed unless its role may see personal data."""
    actor = actor_of(request)
    shown = [inc for inc in incidents if may_see_incident(actor, runtime, inc)] if actor.areas else incidents
    if not masked(actor):
        return shown
    return [
        dataclasses.replace(inc, title=scrub_text(inc.title), description=scrub_text(inc.description)) for inc in shown
    ]


def build_ingest_router(runtime: Runtime) -> APIRouter:
    """The routes of the module docstring, served from ``runtime`` (its Redis, keys, feed limits, situation).

    Handlers never raise for bad input or a Redis outage: they answer 4xx/503 with the reason (module doc).
    """
    router = APIRouter()
    _add_wire_routes(router, runtime)
    _add_open311_routes(router, runtime)
    return router


def _rejected(
    runtime: Runtime,
    via: str,
    reason: str,
    incident_id: str = "",
    *,
    count: bool = False,
    kind: RejectReason | None = None,
) -> None:
    """Log one rejected message (``incident_id`` as a field when known); ``count``: also count it in the metrics
    (the durable path counts what it rejects itself: only rejections before it need this), as ``kind`` (default:
    ``reject_reason(reason)``)."""
    kind = kind or reject_reason(reason)
    if count:
        runtime.metrics.ingest.reject(via, kind)
    log.info(
        "rejected %s message%s: %s",
        via,
        f" for incident {incident_id}" if incident_id else "",
        ascii(reason[:300]),
        extra={"incident_id": incident_id, "reason": kind.value, "via": via},
    )


def _dead_letter(runtime: Runtime, raw: bytes | str, reason: str, source: str) -> None:
    try:
        store.dead_letter(runtime.redis, runtime.keys, raw, reason, source)
    except redis.RedisError as exc:  # the caller answers anyway; nothing else to do
        log.warning("could not dead-letter %s input (%s): %s", source, reason, exc)


def _grid(runtime: Runtime, incident_id: str) -> str:
    loc = runtime.situation.location(incident_id)
    return loc[1] if loc else ""


def _add_wire_routes(router: APIRouter, runtime: Runtime) -> None:
    """``POST /api/incidents`` and ``POST /api/incidents/batch``: the wire contract over HTTP."""

    @router.post("/api/incidents")
    async def post_incident(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, MAX_BYTES)
        except BodyTooLarge as exc:
            _rejected(runtime, "http", exc.reason, count=True)
            await run_in_threadpool(_dead_letter, runtime, b"", exc.reason, "http")
            return _detail(413, exc.reason)
        try:
            (refused,) = await run_in_threadpool(ingest_guard.refusals, runtime, actor_of(request), [body])
            if refused:
                runtime.metrics.ingest.reject("http", RejectReason.REFUSED)
                return _detail(403, refused)
            res = await run_in_threadpool(
                partial(publish, source="http", **_limits(runtime, request)), runtime.redis, runtime.keys, body
            )
        except WireError as exc:
            _rejected(runtime, "http", exc.reason, id_hint(body))
            return _detail(422, exc.reason)
        except redis.RedisError as exc:
            return _detail(503, _redis_error(runtime, exc))
        return JSONResponse(_result_body(res), status_code=202 if res.applied else 200)

    @router.post("/api/incidents/batch")
    async def post_batch(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, BATCH_MAX_BYTES)
            items = split_json_array(body)
        except BodyTooLarge as exc:
            return _detail(413, exc.reason)
        except WireError as exc:
            return _detail(422, exc.reason)
        try:
            actor = actor_of(request)
            retry = await run_in_threadpool(ingest_guard.charge, runtime, actor, len(items))
            if retry:
                detail = f"rate limit of API key {actor.name!r}: a batch counts its {len(items)} items"
                return JSONResponse({"detail": detail}, 429, headers={"Retry-After": str(retry)})
            refused = [
                (i, r) for i, r in enumerate(await run_in_threadpool(ingest_guard.refusals, runtime, actor, items)) if r
            ]
            if refused:
                for _ in refused:
                    runtime.metrics.ingest.reject("http", RejectReason.REFUSED)
                return JSONResponse({"detail": refused[0][1], "refused": [i for i, _ in refused]}, 403)
            results = await run_in_threadpool(
                partial(publish_many, source="http", **_limits(runtime, request)), runtime.redis, runtime.keys, items
            )
        except redis.RedisError as exc:
            return _detail(503, _redis_error(runtime, exc))
        for item, res in zip(items, results, strict=True):
            if res.reason:
                _rejected(runtime, "http", res.reason, res.id or id_hint(item))
        out = [{**_result_body(res), "reason": res.reason} for res in results]
        counts = {o.value: sum(1 for res in results if res.outcome is o) for o in Outcome}
        return JSONResponse({"results": out, "counts": counts})


def _add_open311_routes(router: APIRouter, runtime: Runtime) -> None:
    """Open311 GeoReport v2 as json or xml: discovery, services (list, definition), requests (list, one), posting
    a request, and the Open311 404 for every other path under ``/open311/`` (registered last)."""
    _add_open311_discovery(router)
    _add_open311_reads(router, runtime)
    _add_open311_post(router, runtime)
    _add_open311_not_found(router)


def _add_open311_discovery(router: APIRouter) -> None:
    changeset = format_ts(time.time())  # this document changes only with the server (its code and settings)

    @router.api_route("/open311/discovery.{fmt}", methods=READ)
    @router.api_route("/open311/v2/discovery.{fmt}", methods=READ)
    def discovery(fmt: str, request: Request) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        endpoint = str(request.base_url).rstrip("/") + "/open311/v2"
        return _open311_document(fmt, "discovery", o3.discovery(endpoint, changeset))


def _add_open311_not_found(router: APIRouter) -> None:
    @router.api_route("/open311/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def not_found(rest: str, request: Request) -> Response:
        fmt = _suffix_format(rest)
        sub = rest.removeprefix("v2/") if rest.startswith("v2/") else None
        for pattern, methods in _RESOURCES:
            if sub is not None and pattern.match(sub) and request.method not in methods:
                return _open311_error(fmt, 405, f"{request.method} is not allowed here", {"Allow": ", ".join(methods)})
        if sub is not None and sub.startswith("tokens/"):
            return _open311_error(fmt, 404, "no such token: every service here is realtime (POST returns the id)")
        return _open311_error(fmt, 404, f"no Open311 resource /open311/{rest[:80]} (see /open311/discovery.json)")


def _add_open311_reads(router: APIRouter, runtime: Runtime) -> None:
    @router.api_route("/open311/v2/services.{fmt}", methods=READ)
    def services(fmt: str) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        return _open311(fmt, o3.services(), root="services", item="service")

    @router.api_route("/open311/v2/services/{code}.{fmt}", methods=READ)
    def service_definition(code: str, fmt: str) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        try:
            return _open311_document(fmt, "service_definition", o3.service_definition(code))
        except Open311Error as exc:
            return _open311_error(fmt, exc.code, exc.description)

    @router.api_route("/open311/v2/requests.{fmt}", methods=READ)
    def list_requests(fmt: str, request: Request) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        try:
            query = o3.parse_query(dict(request.query_params), now=time.time())
            incidents = store.load_state(runtime.redis, runtime.keys)
        except Open311Error as exc:
            return _open311_error(fmt, exc.code, exc.description)
        except redis.RedisError as exc:
            return _open311_error(fmt, 503, _redis_error(runtime, exc))
        actor = actor_of(request)
        if actor.areas:  # before the page is cut: a confined caller's page is full of its own
            incidents = [inc for inc in incidents if may_see_incident(actor, runtime, inc)]
        shown = _readable(runtime, request, o3.select(incidents, query))
        rows = [o3.incident_to_request(inc, grid_id=_grid(runtime, inc.id)) for inc in shown]
        return _open311(fmt, rows, root="service_requests", item="request")

    @router.api_route("/open311/v2/requests/{request_id}.{fmt}", methods=READ)
    @router.api_route("/open311/v2/request/{request_id}.{fmt}", methods=READ)
    def one_request(request_id: str, fmt: str, request: Request) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        try:
            found = store.get_incident(runtime.redis, runtime.keys, request_id)
        except (redis.RedisError, ValueError) as exc:
            return _open311_error(fmt, 503, f"cannot read the request: {exc}")
        shown = _readable(runtime, request, [found]) if found is not None else []
        if not shown:  # outside the caller's areas: as if there were none
            return _open311_error(fmt, 404, f"no service request {request_id!r}")
        inc = shown[0]
        return _open311(
            fmt, [o3.incident_to_request(inc, grid_id=_grid(runtime, inc.id))], root="service_requests", item="request"
        )


def _add_open311_post(router: APIRouter, runtime: Runtime) -> None:
    @router.post("/open311/v2/requests.{fmt}")
    async def post_request(fmt: str, request: Request) -> Response:
        if fmt not in FORMATS:
            return _open311_error("json", 404, "format must be json or xml")
        try:
            body = await read_body(request, MAX_BYTES)
        except BodyTooLarge as exc:  # the body may hold personal data: only the reason is kept
            _rejected(runtime, "open311", exc.reason, count=True)
            await run_in_threadpool(_dead_letter, runtime, b"", exc.reason, "open311")
            return _open311_error(fmt, 400, exc.reason)  # the spec's errors are 400/404: clients expect no 413
        fields: o3.Fields = []
        try:
            fields = o3.with_query(
                parse_open311_body(body, request.headers.get("content-type", "")), request.query_params.multi_items()
            )
            msg = await run_in_threadpool(_post_to_wire, runtime, fields)
        except Open311Error as exc:
            kind = reject_reason(exc.description)  # a request that is no incident: a missing or bad field
            kind = RejectReason.INVALID_FIELD if kind is RejectReason.OTHER else kind
            _rejected(runtime, "open311", exc.description, count=True, kind=kind)
            await run_in_threadpool(_dead_letter, runtime, o3.redact(fields), exc.description, "open311")
            return _open311_error(fmt, exc.code, exc.description)
        try:
            (refused,) = await run_in_threadpool(ingest_guard.refusals, runtime, actor_of(request), [msg])
            if refused:
                runtime.metrics.ingest.reject("open311", RejectReason.REFUSED)
                return _open311_error(fmt, 403, refused)
            res = await run_in_threadpool(
                partial(publish, source="open311", **_limits(runtime, request)), runtime.redis, runtime.keys, msg
            )
        except WireError as exc:  # dead-lettered and counted by publish (the message holds no personal fields)
            _rejected(runtime, "open311", exc.reason, str(msg.get("id") or ""))
            return _open311_error(fmt, 400, exc.reason)
        except redis.RedisError as exc:
            return _open311_error(fmt, 503, _redis_error(runtime, exc))
        row = {"service_request_id": res.id, "service_notice": o3.SERVICE_NOTICE, "account_id": None}
        return _open311(fmt, [row], root="service_requests", item="request")  # 200: the spec's swagger says so


def _post_to_wire(runtime: Runtime, fields: o3.Fields) -> dict[str, Any]:
    """``post_to_wire`` with the street's places (off the event loop: the first call builds them)."""
    return o3.post_to_wire(fields, now=time.time(), places=_places(runtime))


def _places(runtime: Runtime) -> Gazetteer:
    """The street's place names and ids for POSTs located by address (built once, on first use)."""
    return runtime.memo("open311:gazetteer", lambda: Gazetteer.from_layers(runtime.layers))
