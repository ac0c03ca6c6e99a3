"""Feed end to end against a real Redis: pub/sub ingress, log follower, dead letters, reconnects."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from redis.connection import parse_url

from incidents import store
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.model import Incident
from incidents.publish import publish, publish_many
from incidents.redis_server import EmbeddedRedis, free_port
from incidents.situation import Situation
from tests.support.keyspace import delete_prefix
from tests.support.wait import seconds_until

T0 = 1_732_600_000.0


def no_grid(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    blank = np.full(len(lon), "", dtype=object)
    return pd.DataFrame({"micro_grid_id": blank, "grid_id": blank, "community_id": blank})


def wire(iid: str, ts: float = T0, status: str = "reported", **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": iid, "status": status, "ts": ts}
    if status == "reported":
        msg.update(lon=120.15, lat=30.27, category="environment", title="路灯不亮")
    msg.update(extra)
    return msg


def raw(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, ensure_ascii=False).encode()


@pytest.fixture
def make_feed() -> Iterator[Callable[..., Feed]]:
    feeds: list[Feed] = []

    def make(url: str, keys: Keys, situation: Situation, **kwargs: Any) -> Feed:
        feed = Feed(url, keys, situation, **kwargs).start()
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        feed.stop()


def connected(feed: Feed) -> Callable[[], bool]:
    return lambda: feed.health().connected


def test_bare_publish_reaches_the_situation(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit)
    seconds_until(connected(feed))
    r.publish(keys.channel, raw(wire("a1")))
    took = seconds_until(lambda: sit.get("a1") is not None, timeout=1.0)
    assert took < 1.0
    r.publish(keys.channel, raw(wire("a1", T0 + 5, "dispatched", assignee="m-7")))
    seconds_until(lambda: (inc := sit.get("a1")) is not None and inc.status == "dispatched", timeout=1.0)
    inc = sit.get("a1")
    assert inc is not None and inc.assignee == "m-7" and inc.title == "路灯不亮"
    h = feed.health()
    assert (h.accepted, h.rejected, h.duplicates) == (2, 0, 0)
    assert h.connected and h.ingress_connected and h.follower_connected
    assert h.lag_s < 1.0
    assert store.get_incident(r, keys, "a1") == inc


def test_malformed_input_is_dead_lettered_and_the_feed_goes_on(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit)
    seconds_until(connected(feed))
    r.publish(keys.channel, b"{not json")
    r.publish(keys.channel, b"\xff\xfe")
    r.publish(keys.channel, raw({"id": "b1", "status": "exploded", "ts": T0}))
    r.publish(keys.channel, raw({"id": "b2", "status": "reported", "ts": T0}))  # first without lon/lat
    r.publish(keys.channel, raw(wire("b3")))
    seconds_until(lambda: sit.get("b3") is not None, timeout=1.0)
    seconds_until(lambda: r.xlen(keys.deadletter) == 4, timeout=1.0)
    letters = {d.raw: d for d in store.recent_dead_letters(r, keys)}
    assert "{not json" in letters and letters["{not json"].reason
    assert any(d.encoding == "base64" for d in letters.values())
    status_reason = next(d.reason for d in letters.values() if "exploded" in d.raw)
    assert "status" in status_reason
    b2 = next(d for d in letters.values() if '"b2"' in d.raw)
    assert b2.reason == "first message for id b2 needs lon, lat and category"
    assert b2.source.startswith("pubsub")
    h = feed.health()
    assert h.rejected == 4 and h.accepted == 1 and h.connected
    assert "b2" in h.last_error or "rejected" in h.last_error
    assert store.read_stats(r, keys)["rejected"] == 4
    assert sit.get("b2") is None


def test_poison_messages_in_a_burst_cost_nothing_else(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    """A JS/Java publisher cuts a string mid-emoji (``"\\ud83d"``), or sends a noncharacter: such messages,
    mixed into a burst of good ones, are dead-lettered with the field and code point; every good one is
    applied and the subscription is never dropped."""
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit)
    seconds_until(connected(feed))
    now = time.time()
    good = [wire(f"p{i}", now - 60 + i * 0.01) for i in range(300)]
    head = b'{"status":"reported","ts":%d,"lon":120.15,"lat":30.27,"category":"fire",'
    poison = {
        40: head + b'"id":"bad-1","title":"\\ud83d"}',
        150: head + b'"id":"bad-2","source":"a\\uffff"}',
        151: head + b'"id":"bad-3","ti\\udc00":1}',
    }
    pipe = r.pipeline(transaction=False)
    for i, msg in enumerate(good):
        if i in poison:
            pipe.publish(keys.channel, poison[i] % int(now))
        pipe.publish(keys.channel, raw(msg))
    pipe.execute()
    seconds_until(lambda: len(sit) == len(good), timeout=5.0)
    seconds_until(lambda: r.xlen(keys.deadletter) == 3, timeout=2.0)
    letters = {json.loads(d.raw)["id"]: d.reason for d in store.recent_dead_letters(r, keys)}
    assert set(letters) == {"bad-1", "bad-2", "bad-3"}
    assert "field 'title': U+D83D (lone surrogate)" in letters["bad-1"]
    assert "field 'source': U+FFFF (noncharacter)" in letters["bad-2"]
    assert "field name" in letters["bad-3"] and "U+DC00 (lone surrogate)" in letters["bad-3"]
    seconds_until(lambda: feed.health().rejected == 3, timeout=2.0)  # counted after the batch's dead letters
    h = feed.health()
    assert (h.accepted, h.rejected, h.ingress_drops) == (len(good), 3, 0)
    assert h.connected and r.hlen(keys.state) == len(good)


def test_future_ts_is_judged_against_the_feeds_clock(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    """``clock`` and ``max_future_s`` are the feed's: a ts 23 h ahead of it is dead-lettered with the reason."""
    clock = T0 + 86400
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit, clock=lambda: clock, max_future_s=300)
    seconds_until(connected(feed))
    r.publish(keys.channel, raw(wire("f1", clock + 23 * 3600)))
    r.publish(keys.channel, raw(wire("f2", clock + 400)))  # beyond this feed's 5 minutes
    r.publish(keys.channel, raw(wire("f3", clock + 200)))
    seconds_until(lambda: sit.get("f3") is not None and feed.health().rejected == 2, timeout=2.0)
    reasons = sorted(d.reason for d in store.recent_dead_letters(r, keys))
    assert reasons == [
        "field 'ts': ts 2024-11-27T13:53:20+08:00 is 6.7 min in the future (allowed skew 5 min)",
        "field 'ts': ts 2024-11-28T12:46:40+08:00 is 23.0 h in the future (allowed skew 5 min)",
    ]
    assert sit.get("f1") is None and sit.get("f2") is None


def test_rebuilds_from_state_on_start(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    for i in range(50):
        publish(r, keys, wire(f"s{i}", T0 + i))
    publish(r, keys, wire("s0", T0 + 100, "accepted"))
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit)
    seconds_until(lambda: len(sit) == 50, timeout=2.0)
    s0 = sit.get("s0")
    assert s0 is not None and s0.status == "accepted"
    assert feed.health().rebuilds == 1
    # A durable publish after start: applied once, reaching the situation through the log alone.
    res = publish(r, keys, wire("s50", T0 + 200))
    assert res.applied
    seconds_until(lambda: sit.get("s50") is not None, timeout=1.0)
    assert r.xlen(keys.log) == 52
    h = feed.health()
    assert (h.accepted, h.duplicates, h.stale) == (0, 0, 0)


def test_two_feeds_apply_each_message_once(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    a, b = Situation(no_grid), Situation(no_grid)
    fa = make_feed(redis_url, keys, a, name="a")
    fb = make_feed(redis_url, keys, b, name="b")
    seconds_until(lambda: fa.health().connected and fb.health().connected)
    n = 500
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.publish(keys.channel, raw(wire(f"t{i}", T0 + i)))
    pipe.execute()
    seconds_until(lambda: len(a) == n and len(b) == n, timeout=5.0)
    assert r.xlen(keys.log) == n
    # Each ingress saw every message: one of the two applied it, the other found a duplicate.
    seconds_until(lambda: fa.health().duplicates + fb.health().duplicates == n, timeout=5.0)
    ha, hb = fa.health(), fb.health()
    assert ha.accepted + hb.accepted == n
    assert ha.accepted + ha.duplicates == n and hb.accepted + hb.duplicates == n


def test_durable_publishes_are_ingested_once_however_many_servers_follow(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    """The durable path writes state + log once and broadcasts nothing: two servers both get all of it from
    the log, and neither re-parses or re-applies it (no duplicates anywhere)."""
    a, b = Situation(no_grid), Situation(no_grid)
    fa = make_feed(redis_url, keys, a, name="a")
    fb = make_feed(redis_url, keys, b, name="b")
    seconds_until(lambda: fa.health().connected and fb.health().connected)
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(keys.channel)
    try:
        seconds_until(lambda: r.pubsub_numsub(keys.channel)[0][1] == 3)  # both feeds and this listener
        for i in range(5):
            assert publish(r, keys, wire(f"d{i}", T0 + i)).applied
        assert all(x.applied for x in publish_many(r, keys, [wire(f"d{i}", T0 + i) for i in range(5, 10)]))
        seconds_until(lambda: len(a) == 10 and len(b) == 10, timeout=3.0)
        assert ps.get_message(timeout=0.2) is None  # nothing went over the channel
    finally:
        ps.close()
    # ``applied`` is counted just after the situation got the batch
    seconds_until(lambda: fa.health().applied >= 10 and fb.health().applied >= 10)
    for feed in (fa, fb):
        h = feed.health()
        assert (h.accepted, h.duplicates, h.stale, h.rejected) == (0, 0, 0, 0)
    stats = store.read_stats(r, keys)
    assert (stats["accepted"], stats["duplicate"]) == (10, 0)


def test_deployments_on_two_dbs_of_one_redis_do_not_hear_each_other(
    redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    """Same prefix, dbs 14 and 15 of the test Redis: a bare PUBLISH reaches only its own deployment."""
    params = parse_url(redis_url)
    prefix = f"onescreen-test-db-{uuid.uuid4().hex[:8]}"
    if "path" in params:  # the tests' own redis-server listens on a unix socket
        urls = {db: f"unix://{params['path']}?db={db}" for db in (14, 15)}
    else:
        urls = {db: f"redis://{params.get('host', '127.0.0.1')}:{params.get('port', 6379)}/{db}" for db in (14, 15)}
    clients = {db: redis.Redis.from_url(url) for db, url in urls.items()}
    try:
        for client in clients.values():
            delete_prefix(client, prefix)
        keys = {db: Keys.for_redis_url(prefix, url) for db, url in urls.items()}
        assert keys[14].channel == f"{prefix}:db14:incidents" != keys[15].channel
        sits = {db: Situation(no_grid) for db in urls}
        feeds = {db: make_feed(urls[db], keys[db], sits[db], name=f"db{db}") for db in urls}
        seconds_until(lambda: all(f.health().connected for f in feeds.values()))
        assert {f.health().channel for f in feeds.values()} == {keys[14].channel, keys[15].channel}
        pub = clients[14]  # channels are server-wide: any connection reaches both
        for i in range(20):
            pub.publish(keys[14].channel, raw(wire(f"a{i}", T0 + i)))
            pub.publish(keys[15].channel, raw(wire(f"b{i}", T0 + i)))
        pub.publish(keys[14].channel, b"{broken for 14")
        seconds_until(lambda: len(sits[14]) == 20 and len(sits[15]) == 20, timeout=3.0)
        seconds_until(lambda: feeds[14].health().rejected == 1, timeout=2.0)
        assert {str(i)[0] for i in sits[14].view().incidents["id"].tolist()} == {"a"}
        assert {str(i)[0] for i in sits[15].view().incidents["id"].tolist()} == {"b"}
        for db, mine in ((14, "a"), (15, "b")):
            ids = {k.decode() for k in clients[db].hkeys(keys[db].state)}  # type: ignore[union-attr]
            assert ids == {f"{mine}{i}" for i in range(20)}
        assert clients[14].xlen(keys[14].deadletter) == 1 and clients[15].xlen(keys[15].deadletter) == 0
        assert feeds[15].health().rejected == 0
    finally:
        for client in clients.values():
            delete_prefix(client, prefix)
            client.close()


class BlockingSituation(Situation):
    """The real Situation, but the first log batch blocks until released: a follower that falls behind."""

    def __init__(self) -> None:
        super().__init__(no_grid)
        self.release = threading.Event()
        self.blocked = threading.Event()

    def apply_many(self, incidents: Iterable[Incident]) -> int:
        if not self.release.is_set():
            self.blocked.set()
            self.release.wait(10)
        return super().apply_many(incidents)


def test_follower_rebuilds_when_the_log_was_trimmed_past_it(
    r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]
) -> None:
    sit = BlockingSituation()
    feed = make_feed(redis_url, keys, sit, ingress=False, batch=5)
    seconds_until(connected(feed))
    publish(r, keys, wire("x0", T0))
    assert sit.blocked.wait(3)
    # While the follower is stuck, more happens than the log still holds when it resumes.
    publish_many(r, keys, [wire(f"x{i}", T0 + i) for i in range(1, 30)])
    r.xtrim(keys.log, maxlen=0, approximate=False)
    publish_many(r, keys, [wire(f"y{i}", T0 + i) for i in range(10)])
    sit.release.set()
    seconds_until(lambda: len(sit) == 40, timeout=3.0)
    assert feed.health().rebuilds == 2
    x29 = sit.get("x29")
    assert x29 is not None


def test_trim_detection_mid_stream(r: redis.Redis, keys: Keys, redis_url: str) -> None:
    from incidents.feed import _id_tuple

    publish_many(r, keys, [wire(f"z{i}", T0 + i) for i in range(10)])
    entries: Any = r.xrange(keys.log)
    old = entries[2][0].decode()
    feed = Feed(redis_url, keys, Situation(no_grid))
    client = redis.Redis.from_url(redis_url)
    assert not feed._trimmed_past(client, old)
    r.xtrim(keys.log, maxlen=3, approximate=False)
    assert feed._trimmed_past(client, old)
    assert not feed._trimmed_past(client, "0-0")
    assert _id_tuple("5-3") > _id_tuple("5-2") > _id_tuple("4-99")
    client.close()


@pytest.mark.slow
def test_redis_killed_and_restarted(
    redis_server_factory: Callable[..., EmbeddedRedis], make_feed: Callable[..., Feed]
) -> None:
    # appendfsync always: what was acknowledged before the kill -9 is on disk (the test is about the feed).
    server = redis_server_factory("fault", extra_args=["--appendfsync", "always"])
    keys = Keys("fault")
    client = server.client(socket_timeout=1.0)
    sit = Situation(no_grid)
    feed = make_feed(server.url, keys, sit)
    seconds_until(connected(feed))
    publish(client, keys, wire("k0"))
    seconds_until(lambda: sit.get("k0") is not None)

    server.kill()
    lost_after = seconds_until(lambda: not feed.health().connected, timeout=3.0)
    h = feed.health()
    assert not h.connected and "Redis" in h.last_error
    assert lost_after < 2.0

    killed_at = time.monotonic()
    server.start()  # same port, same AOF
    publish(client, keys, wire("k1", T0 + 1))  # durable, possibly before the feed has reconnected
    r_bare = server.client()
    seconds_until(connected(feed), timeout=5.0)
    reconnect_s = time.monotonic() - killed_at
    publish(client, keys, wire("k2", T0 + 2))
    r_bare.publish(keys.channel, raw(wire("k3", T0 + 3)))  # bare, after reconnect: ingress must be back
    seconds_until(lambda: all(sit.get(f"k{i}") is not None for i in range(4)), timeout=3.0)
    h = feed.health()
    assert h.connected and h.rebuilds >= 2
    assert reconnect_s < 5.0
    client.close()
    r_bare.close()


@pytest.mark.slow
def test_hung_redis_is_noticed(redis_server_factory: Callable[..., EmbeddedRedis], keys: Keys) -> None:
    """A Redis that stops answering (SIGSTOP: connections stay open, nothing errors) must still show as lost
    within ~1.5 s, so the wall can say "feed lost" within 3 s."""
    server = redis_server_factory("hang")
    pid = server.pid
    assert pid is not None
    feed = Feed(server.url, keys, Situation(no_grid)).start()
    try:
        seconds_until(connected(feed))
        time.sleep(1.2)  # state-free: idle long enough for the health-check paths to be the ones in use
        os.kill(pid, signal.SIGSTOP)
        try:
            lost_after = seconds_until(lambda: not feed.health().connected, timeout=3.0)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert lost_after < 2.0
        assert "Timeout" in feed.health().last_error or "PONG" in feed.health().last_error
        seconds_until(connected(feed), timeout=3.0)
    finally:
        feed.stop()


def test_stop_is_quick_even_while_disconnected(redis_server_factory: Callable[..., EmbeddedRedis], keys: Keys) -> None:
    server = redis_server_factory("stop")
    feed = Feed(server.url, keys, Situation(no_grid)).start()
    seconds_until(connected(feed))
    server.kill()
    seconds_until(lambda: not feed.health().connected, timeout=3.0)
    t = time.monotonic()
    feed.stop()
    assert time.monotonic() - t < 2.0
    assert not feed.health().connected


def test_feed_without_redis_keeps_trying(keys: Keys) -> None:
    feed = Feed(f"redis://127.0.0.1:{free_port()}/0", keys, Situation(no_grid)).start()
    try:
        time.sleep(0.5)  # state-free: the feed gets half a second to (fail to) connect
        h = feed.health()
        assert not h.connected
        assert "Redis" in h.last_error
    finally:
        t = time.monotonic()
        feed.stop()
        assert time.monotonic() - t < 2.0


@pytest.mark.slow
def test_throughput_bare_publish(r: redis.Redis, keys: Keys, redis_url: str, make_feed: Callable[..., Feed]) -> None:
    n = 20_000
    payloads = [raw(wire(f"p{i}", T0 + i)) for i in range(n)]
    sit = Situation(no_grid)
    feed = make_feed(redis_url, keys, sit)
    seconds_until(connected(feed))
    t = time.monotonic()
    for i in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for p in payloads[i : i + 1000]:
            pipe.publish(keys.channel, p)
        pipe.execute()
    seconds_until(lambda: len(sit) == n, timeout=30.0)
    elapsed = time.monotonic() - t
    print(f"\nfeed: {n} bare PUBLISH → Situation in {elapsed:.2f} s = {n / elapsed:,.0f}/s")
    assert r.xlen(keys.log) == n
    # The ingress counts a batch after Redis applied it (the follower may show it first).
    seconds_until(lambda: feed.health().accepted == n, timeout=2.0)
    assert n / elapsed > 2000  # budget is 5,000/s on the bench machine; keep CI headroom
