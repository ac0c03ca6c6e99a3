"""The durable publish path: validate → apply (state + log), atomically, once.

A bare ``PUBLISH onescreen:incidents`` from an outside system is at-most-once (Redis pub/sub keeps nothing: if
no server process is subscribed at that moment, the message is gone). ``publish()`` is the durable path: the
change is written to ``state`` and ``log`` by one script run, so it is never lost and works with no server
process running. Nothing is broadcast on the wire channel: every server follows the log (``XREAD BLOCK``,
``incidents.feed``) and sees the change there, so a durable message is parsed, area-checked and applied
exactly once, here, however many servers run.

Invalid input: the caller gets ``WireError`` (so an HTTP handler can answer 4xx with the reason), and the
input is also dead-lettered with ``source`` (so ``/healthz`` counts every rejected message, whichever door it
came through). Pass ``dead_letter_invalid=False`` to only raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from incidents import store
from incidents.area import MessageGuard
from incidents.keys import Keys
from incidents.metrics import IngestMetrics, metrics_of
from incidents.store import ApplyResult, Origin, Outcome
from incidents.wire import MAX_FUTURE_S, WireError, WireMessage, parse_message

Payload = Mapping[str, Any] | str | bytes
PUBLISHER = "publisher"  # the actor of a change that names no person or key: the wire channel, the publish API


def _raw(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, Mapping):
        try:
            text = json.dumps(dict(payload), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise WireError(f"payload is not JSON-serialisable: {exc}") from exc
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate in some string: \u-escaped it is valid JSON, and the wire names the field.
            return json.dumps(dict(payload), ensure_ascii=True, allow_nan=False).encode("ascii")
    raise WireError(f"payload must be a dict, str or bytes, got {type(payload).__name__}")


def _parse_in_area(
    raw: bytes,
    area: MessageGuard | None,
    now: float | None,
    max_future_s: float,
    source_crs: Mapping[str, str] | None = None,
) -> WireMessage:
    """The wire contract, then (when the caller knows the served area) the same area check as the feed."""
    msg = parse_message(raw, now=now, max_future_s=max_future_s, source_crs=source_crs)
    outside = area.check([msg])[0] if area is not None else None
    if outside:
        raise WireError(outside)
    return msg


def publish(
    r: redis.Redis,
    keys: Keys,
    payload: Payload,
    *,
    source: str = "api",
    dead_letter_invalid: bool = True,
    area: MessageGuard | None = None,
    now: float | None = None,
    max_future_s: float = MAX_FUTURE_S,
    source_crs: Mapping[str, str] | None = None,
    actor: str = PUBLISHER,
    client: str = "",
    metrics: IngestMetrics | None = None,
) -> ApplyResult:
    """Validate and apply durably (state + one log entry; servers see it by following the log).

    Returns the ``ApplyResult``: ``APPLIED`` (stored and logged), or ``DUPLICATE``/``STALE`` (nothing
    changed). Raises ``WireError`` for input that breaks the wire contract or that the
    store rejects (a first message without lon/lat/category); see the module doc for dead-lettering.
    ``now`` (epoch s, default the wall clock) and ``max_future_s`` bound ``ts`` as in ``wire.parse_message``;
    ``source_crs`` is the publishers' default CRS by source, as there. ``actor`` (an ``Actor.label()``; default
    ``publisher``) and ``client`` (an address) are recorded with the change, ``source`` as the way in
    (``store.Origin``: the history and the audit stream). Redis errors (``redis.RedisError``) propagate: nothing
    is known to be stored then. ``metrics``: counted there by ``source`` (``IngestMetrics``), rejections by reason;
    default: the client's own (``metrics_of(r)``: a Runtime's clients count), else not counted.
    """
    metrics = metrics if metrics is not None else metrics_of(r)
    try:
        raw = _raw(payload)
    except WireError as exc:
        if metrics is not None:
            metrics.reject(source, exc.reason)
        if dead_letter_invalid:
            store.dead_letter(r, keys, repr(payload), exc.reason, source)
        raise
    try:
        msg = _parse_in_area(raw, area, now, max_future_s, source_crs)
    except WireError as exc:
        if metrics is not None:
            metrics.reject(source, exc.reason)
        if dead_letter_invalid:
            store.dead_letter(r, keys, raw, exc.reason, source)
        raise
    (result,) = store.apply_many_isolated(r, keys, [msg], origin=Origin(actor, source, client))
    if metrics is not None:
        metrics.results(source, [result])
    if result.outcome is Outcome.ERROR:
        if dead_letter_invalid:
            store.dead_letter(r, keys, raw, result.detail, source)
        raise WireError(result.detail)
    return result


def publish_many(
    r: redis.Redis,
    keys: Keys,
    payloads: Iterable[Payload],
    *,
    source: str = "api",
    chunk: int = 500,
    area: MessageGuard | None = None,
    now: float | None = None,
    max_future_s: float = MAX_FUTURE_S,
    source_crs: Mapping[str, str] | None = None,
    actor: str = PUBLISHER,
    client: str = "",
    metrics: IngestMetrics | None = None,
) -> list[ApplyResult]:
    """``publish`` for bulk input (simulator, imports): pipelined, never raises for bad input.

    Each payload gets a result in order; invalid ones come back as ``ERROR`` with the reason (and are
    dead-lettered with ``source``). Nothing is broadcast (see the module doc). ``metrics``: as in ``publish``.
    """
    metrics = metrics if metrics is not None else metrics_of(r)
    results: list[ApplyResult] = []
    parsed: list[tuple[int, WireMessage, bytes]] = []  # (index in results, message, raw)

    def flush() -> None:
        applied = store.apply_many_isolated(
            r, keys, [m for _, m, _ in parsed], chunk=chunk, origin=Origin(actor, source, client)
        )
        rejected: list[tuple[bytes, str]] = []
        if metrics is not None:
            metrics.results(source, applied)
        for (idx, _, raw), res in zip(parsed, applied, strict=True):
            results[idx] = res
            if res.outcome is Outcome.ERROR:
                rejected.append((raw, res.detail))
        for raw, reason in rejected:
            store.dead_letter(r, keys, raw, reason, source)
        parsed.clear()

    for payload in payloads:
        try:
            raw = _raw(payload)
        except WireError as exc:
            results.append(ApplyResult(Outcome.ERROR, "", detail=exc.reason))
            if metrics is not None:
                metrics.reject(source, exc.reason)
            store.dead_letter(r, keys, repr(payload), exc.reason, source)
            continue
        try:
            msg = _parse_in_area(raw, area, now, max_future_s, source_crs)
        except WireError as exc:
            results.append(ApplyResult(Outcome.ERROR, "", detail=exc.reason))
            if metrics is not None:
                metrics.reject(source, exc.reason)
            store.dead_letter(r, keys, raw, exc.reason, source)
            continue
        results.append(ApplyResult(Outcome.ERROR, msg.id, detail="not applied"))  # placeholder, set by flush
        parsed.append((len(results) - 1, msg, raw))
        if len(parsed) >= chunk:
            flush()
    if parsed:
        flush()
    return results
