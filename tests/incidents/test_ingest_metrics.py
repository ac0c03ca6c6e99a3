"""The ingest side's metrics (``incidents.metrics``): free-form rejection texts map to the bounded reasons, the id of
a message that failed to parse is found for the log, and the counting Redis client counts round trips (real Redis)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from incidents import store, wire
from incidents.area import AreaGuard
from incidents.connection import connect
from incidents.keys import Keys
from incidents.metrics import IngestMetrics, RejectReason, reject_reason
from incidents.publish import publish_many

NOW = time.time()
GOOD: dict[str, Any] = {
    "id": "R-1",
    "status": "reported",
    "ts": NOW,
    "lon": 120.29,
    "lat": 30.31,
    "category": "环境卫生",
}


def wire_reason(raw: bytes | str) -> str:
    with pytest.raises(wire.WireError) as caught:
        wire.parse_message(raw, now=NOW)
    return caught.value.reason


def dumps(**changes: Any) -> str:
    import json

    return json.dumps({**GOOD, **changes}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"x" * (wire.MAX_BYTES + 1), RejectReason.TOO_LARGE),
        (b"\xff\xfe", RejectReason.NOT_JSON),
        (b"{not json", RejectReason.NOT_JSON),
        (b"[1, 2]", RejectReason.NOT_JSON),
        (b"", RejectReason.NOT_JSON),
        (b'{"id": "a", "id": "b"}', RejectReason.NOT_JSON),
        (dumps(colour="red"), RejectReason.UNKNOWN_FIELD),
        ('{"id": "R-1", "ts": 1700000000}', RejectReason.MISSING_FIELD),
        (dumps(lat=None), RejectReason.MISSING_FIELD),  # lon without lat
        (dumps(ts="2026-01-01 08:00"), RejectReason.BAD_TIME),  # no offset
        (dumps(ts=NOW + 86400), RejectReason.BAD_TIME),  # a day ahead
        (dumps(due="yesterday"), RejectReason.BAD_TIME),
        (dumps(status="lost"), RejectReason.INVALID_FIELD),
        (dumps(lat=123.0), RejectReason.INVALID_FIELD),
        (dumps(title="x" * 500), RejectReason.INVALID_FIELD),
        (dumps(id="has space"), RejectReason.INVALID_FIELD),
        (dumps(priority=3), RejectReason.INVALID_FIELD),
    ],
)
def test_wire_errors_map_to_their_reason(raw: bytes | str, expected: RejectReason) -> None:
    text = wire_reason(raw)
    assert reject_reason(text) is expected, text


def test_store_and_area_texts_map_to_their_reason() -> None:
    guard = AreaGuard.of((120.2, 30.2, 120.4, 30.4))
    far = wire.parse_message(dumps(lon=116.39, lat=39.91), now=NOW)
    swapped = wire.parse_message(dumps(lon=30.31, lat=120.29 - 90), now=NOW)
    texts = {
        guard.check([far])[0] or "": RejectReason.OUTSIDE_AREA,
        "point (lon 120.3, lat 30.3) is outside every grid": RejectReason.OUTSIDE_AREA,
        "first message for id R-9 needs lon, lat and category": RejectReason.MISSING_FIELD,
        "illegal transition for id R-1: closed -> dispatched (allowed: none)": RejectReason.TRANSITION,
        "redis error: OOM command not allowed": RejectReason.STORE_ERROR,
        "cannot apply message for id 'R-1': ValueError()": RejectReason.STORE_ERROR,
        "something nobody wrote a rule for": RejectReason.OTHER,
    }
    assert guard.check([swapped])[0] is not None
    for text, expected in texts.items():
        assert reject_reason(text) is expected, text


def test_id_hint_names_only_well_formed_ids() -> None:
    assert wire.id_hint(dumps(colour="red")) == "R-1"
    assert wire.id_hint(b'{"id": "A-2", "status": "lost"}') == "A-2"
    assert wire.id_hint(b"{not json") == ""
    assert wire.id_hint(b'{"id": "two words"}') == ""  # not an id: never a free text in a log field
    assert wire.id_hint(b'{"id": 7}') == ""
    assert wire.id_hint(b"[]") == ""
    assert wire.id_hint(b"x" * (wire.MAX_BYTES + 1)) == ""


def test_counting_client_counts_round_trips_and_outcomes(redis_url: str, r: redis.Redis, keys: Keys) -> None:
    metrics = IngestMetrics(CollectorRegistry())
    client = connect(redis_url, redis_class=metrics.redis_class())  # as the Runtime and the feed make theirs
    assert isinstance(client, metrics.redis_class())
    try:
        client.ping()
        client.hlen(keys.state)
        results = publish_many(
            client, keys, [GOOD, GOOD, {**GOOD, "id": "R-2", "status": "lost"}], source="http", metrics=metrics
        )
        assert [res.outcome for res in results] == [store.Outcome.APPLIED, store.Outcome.DUPLICATE, store.Outcome.ERROR]
    finally:
        client.close()
    reg = metrics.registry

    def get(name: str, **labels: str) -> float:
        return reg.get_sample_value(name, labels) or 0.0

    assert get("onescreen_redis_round_trips_total", command="PING") == 1
    assert get("onescreen_redis_round_trips_total", command="HLEN") == 1
    # one pipelined apply of the two good ones, one dead-letter transaction for the bad one
    assert get("onescreen_redis_round_trips_total", command="PIPELINE") == 2
    assert get("onescreen_messages_total", via="http", outcome="accepted") == 1
    assert get("onescreen_messages_total", via="http", outcome="duplicate") == 1
    assert get("onescreen_messages_total", via="http", outcome="rejected") == 1
    assert get("onescreen_messages_rejected_total", via="http", reason="invalid_field") == 1
    assert int(r.xlen(keys.deadletter)) == 1


def test_unknown_ways_in_are_counted_as_other() -> None:
    metrics = IngestMetrics(CollectorRegistry())
    metrics.reject("somebody's-import", "field 'status': bad")
    metrics.outcome("erp", "accepted")
    reg = metrics.registry
    assert reg.get_sample_value("onescreen_messages_rejected_total", {"via": "other", "reason": "invalid_field"}) == 1
    assert reg.get_sample_value("onescreen_messages_total", {"via": "other", "outcome": "accepted"}) == 1


def test_a_runtime_client_counts_what_is_published_through_it(redis_url: str, r: redis.Redis, keys: Keys) -> None:
    """The officials' actions publish with the Runtime's client and pass no metrics: the client's own count them."""
    from incidents.publish import publish

    metrics = IngestMetrics(CollectorRegistry())
    client = metrics.redis_class().from_url(redis_url)
    try:
        publish(client, keys, GOOD, source="console")
        with pytest.raises(wire.WireError):
            publish(client, keys, {**GOOD, "status": "lost"}, source="console")
        publish(r, keys, {**GOOD, "id": "R-3"}, source="console")  # a plain client: nothing to count in
    finally:
        client.close()
    get = metrics.registry.get_sample_value
    assert get("onescreen_messages_total", {"via": "console", "outcome": "accepted"}) == 1
    assert get("onescreen_messages_rejected_total", {"via": "console", "reason": "invalid_field"}) == 1
