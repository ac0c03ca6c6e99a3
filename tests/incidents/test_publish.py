"""publish(): the durable path (state + log first, then PUBLISH), with no feed running."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from incidents import store
from incidents.keys import Keys
from incidents.publish import publish, publish_many
from incidents.store import Outcome
from incidents.wire import WireError

T0 = 1_732_600_000.0


def wire(iid: str, ts: float = T0, status: str = "reported", **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": iid, "status": status, "ts": ts}
    if status == "reported":
        msg.update(lon=120.15, lat=30.27, category="环境卫生")
    msg.update(extra)
    return msg


@pytest.fixture
def listener(r: redis.Redis, keys: Keys) -> Iterator[redis.client.PubSub]:
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(keys.channel)
    assert ps.get_message(timeout=1.0) is None  # consume the subscribe confirmation
    yield ps
    ps.close()


def received(ps: redis.client.PubSub, wait: float = 0.3) -> list[bytes]:
    out: list[bytes] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        m = ps.get_message(timeout=0.05)
        if m is not None:
            out.append(m["data"])
    return out


def test_durable_without_any_feed(r: redis.Redis, keys: Keys, listener: redis.client.PubSub) -> None:
    res = publish(r, keys, wire("d1", title="井盖缺失"))
    assert res.applied and res.log_id
    inc = store.get_incident(r, keys, "d1")
    assert inc is not None and inc.category == "environment" and inc.title == "井盖缺失"
    assert r.xlen(keys.log) == 1
    (msg,) = received(listener)
    assert json.loads(msg)["id"] == "d1"  # the raw JSON, for other systems listening


@pytest.mark.parametrize("kind", ["dict", "str", "bytes"])
def test_payload_forms(r: redis.Redis, keys: Keys, kind: str) -> None:
    d = wire("f1", ts="2024-11-26T14:00:00+08:00")  # type: ignore[arg-type]
    payload: Any = {"dict": d, "str": json.dumps(d), "bytes": json.dumps(d).encode()}[kind]
    assert publish(r, keys, payload).applied
    inc = store.get_incident(r, keys, "f1")
    assert inc is not None and inc.ts == 1_732_600_800.0


def test_duplicate_and_stale_are_not_broadcast(r: redis.Redis, keys: Keys, listener: redis.client.PubSub) -> None:
    publish(r, keys, wire("d1", T0 + 10))
    assert publish(r, keys, wire("d1", T0 + 10)).outcome is Outcome.DUPLICATE
    assert publish(r, keys, wire("d1", T0 + 5, "closed")).outcome is Outcome.STALE
    assert len(received(listener)) == 1
    assert r.xlen(keys.log) == 1


def test_invalid_raises_and_is_dead_lettered(r: redis.Redis, keys: Keys, listener: redis.client.PubSub) -> None:
    with pytest.raises(WireError) as err:
        publish(r, keys, {"id": "x", "status": "exploded", "ts": T0}, source="http")
    assert "status" in err.value.reason
    with pytest.raises(WireError, match="needs lon, lat and category"):
        publish(r, keys, {"id": "y", "status": "accepted", "ts": T0}, source="http")
    with pytest.raises(WireError):
        publish(r, keys, b"\xff not json")
    with pytest.raises(WireError):
        publish(r, keys, {"id": "z", "status": "reported", "ts": float("nan")})
    letters = store.recent_dead_letters(r, keys)
    assert len(letters) == 4
    assert [d.source for d in letters][-2:] == ["http", "http"]
    assert letters[-2].reason == "first message for id y needs lon, lat and category"
    assert store.read_stats(r, keys)["rejected"] == 4
    assert r.hlen(keys.state) == 0 and r.xlen(keys.log) == 0
    assert received(listener) == []


def test_invalid_without_dead_letter(r: redis.Redis, keys: Keys) -> None:
    with pytest.raises(WireError):
        publish(r, keys, {"id": "x"}, dead_letter_invalid=False)
    assert r.xlen(keys.deadletter) == 0


def test_gcj02_input_is_stored_as_wgs84(r: redis.Redis, keys: Keys) -> None:
    publish(r, keys, wire("g1", lon=120.16, lat=30.27, crs="gcj02"))
    inc = store.get_incident(r, keys, "g1")
    assert inc is not None
    assert 0.001 < abs(inc.lon - 120.16) < 0.01  # shifted by the GCJ-02 offset (a few hundred metres)


def test_publish_many(r: redis.Redis, keys: Keys, listener: redis.client.PubSub) -> None:
    payloads: list[Any] = [
        wire("m1"),
        "{broken",
        wire("m2"),
        wire("m1", T0 + 1, "dispatched"),
        {"id": "m3", "status": "accepted", "ts": T0},  # first without lon/lat
        wire("m1", T0 + 1, "dispatched"),
        object(),
    ]
    res = publish_many(r, keys, payloads, source="import", chunk=2)
    assert [x.outcome for x in res] == [
        Outcome.APPLIED,
        Outcome.ERROR,
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.ERROR,
        Outcome.DUPLICATE,
        Outcome.ERROR,
    ]
    assert r.xlen(keys.log) == 3
    assert len(received(listener)) == 3
    assert {d.source for d in store.recent_dead_letters(r, keys)} == {"import"}
    assert r.xlen(keys.deadletter) == 3
