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
    assert received(listener) == []  # servers follow the log: nothing is broadcast, nothing ingested twice


@pytest.mark.parametrize("kind", ["dict", "str", "bytes"])
def test_payload_forms(r: redis.Redis, keys: Keys, kind: str) -> None:
    d = wire("f1", ts="2024-11-26T14:00:00+08:00")  # type: ignore[arg-type]
    payload: Any = {"dict": d, "str": json.dumps(d), "bytes": json.dumps(d).encode()}[kind]
    assert publish(r, keys, payload).applied
    inc = store.get_incident(r, keys, "f1")
    assert inc is not None and inc.ts == 1_732_600_800.0


def test_duplicate_and_stale_write_nothing(r: redis.Redis, keys: Keys, listener: redis.client.PubSub) -> None:
    publish(r, keys, wire("d1", T0 + 10))
    assert publish(r, keys, wire("d1", T0 + 10)).outcome is Outcome.DUPLICATE
    assert publish(r, keys, wire("d1", T0 + 5, "closed")).outcome is Outcome.STALE
    assert received(listener) == []
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
    assert received(listener) == []
    assert {d.source for d in store.recent_dead_letters(r, keys)} == {"import"}
    assert r.xlen(keys.deadletter) == 3


def test_future_ts_is_refused_beyond_the_allowed_skew(r: redis.Redis, keys: Keys) -> None:
    """A ts far ahead would make every real update "stale" until the clock catches up: refused at the door."""
    now = T0 + 3600
    with pytest.raises(WireError) as err:
        publish(r, keys, wire("fut", now + 23 * 3600), now=now, source="http")
    assert err.value.reason.endswith("is 23.0 h in the future (allowed skew 10 min)")
    assert publish(r, keys, wire("fut", now + 500), now=now).applied  # within 10 min of clock skew
    assert publish(r, keys, wire("wide", now + 3000), now=now, max_future_s=3600).applied
    res = publish_many(r, keys, [wire("m1", now), wire("m2", now + 7200)], now=now)
    assert [x.outcome for x in res] == [Outcome.APPLIED, Outcome.ERROR]
    assert "in the future (allowed skew 10 min)" in res[1].reason
    assert {d.reason.rsplit("(", 1)[1] for d in store.recent_dead_letters(r, keys)} == {"allowed skew 10 min)"}
    assert r.hlen(keys.state) == 3


def test_unstorable_text_in_a_dict_payload_is_a_wire_error(r: redis.Redis, keys: Keys) -> None:
    """A dict with a lone surrogate (a Python caller relaying a cut JS string) is refused with the field."""
    with pytest.raises(WireError, match=r"field 'title': U\+D83D \(lone surrogate\)"):
        publish(r, keys, wire("s1", title="好\ud83d"))
    (letter,) = store.recent_dead_letters(r, keys)
    assert letter.encoding == "utf-8" and "\\ud83d" in letter.raw  # kept, \u-escaped
    assert publish_many(r, keys, [wire("s2", title="好\udc00"), wire("s3")])[0].outcome is Outcome.ERROR
    assert r.hlen(keys.state) == 1
