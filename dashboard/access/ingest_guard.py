"""What the ingest routes ask about the API key posting (``dashboard.ingest``): its rate limit for a batch, and
whether an area-scoped key's incidents lie in its areas (``machine.outside_areas``). Blocking (Redis): run off the
event loop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from dashboard.access.actor import Actor
from dashboard.access.machine import Point, area_label, outside_areas
from incidents.wire import WireError, parse_message

if TYPE_CHECKING:
    from dashboard.runtime import Runtime


def charge(runtime: Runtime, actor: Actor, units: int) -> int:
    """Count ``units`` against ``actor``'s key (0 for any other actor); the ``Retry-After`` seconds when over
    the limit, else 0."""
    if actor.kind != "key":
        return 0
    try:
        return runtime.access.apikeys.charge(actor.name, units)
    except redis.RedisError:  # Redis away: the write itself answers 503, nothing to protect meanwhile
        return 0


def _message(item: bytes | str | dict[str, Any], runtime: Runtime) -> dict[str, Any] | None:
    if isinstance(item, dict):
        return item
    feed = runtime.feed
    try:
        return dict(parse_message(item, max_future_s=feed.max_future_s, source_crs=feed.source_crs))
    except WireError:
        return None  # the wire contract answers it (422 / the item's reason)


def refusals(runtime: Runtime, actor: Actor, items: Sequence[bytes | str | dict[str, Any]]) -> list[str | None]:
    """Per item (raw wire JSON, or an already-mapped message with WGS-84 ``lon``/``lat``): None, or why an
    area-scoped key may not post it (naming the key's areas). All None for an unscoped key or another actor."""
    if actor.kind != "key" or not actor.areas:
        return [None] * len(items)
    messages = [_message(item, runtime) for item in items]
    ids = [str(m.get("id", "")) if m else "" for m in messages]
    stored = runtime.redis.hmget(runtime.keys.state, ids) if any(ids) else [None] * len(ids)
    points: list[list[Point]] = []
    for msg, before in zip(messages, stored, strict=True):
        pts: list[Point] = []
        if msg and msg.get("lon") is not None and msg.get("lat") is not None:
            pts.append((float(msg["lon"]), float(msg["lat"])))
        if before:
            old = json.loads(before)
            if old.get("lon") is not None and old.get("lat") is not None:
                pts.append((float(old["lon"]), float(old["lat"])))
        points.append(pts)
    tree = runtime.geo.areas
    outside = outside_areas(points, actor.areas, tree, runtime.index.locate)
    where = area_label(tree, actor.areas)
    return [
        f"API key {actor.name!r} may post incidents in {where} only: incident {ident!r} lies outside" if out else None
        for ident, out in zip(ids, outside, strict=True)
    ]
