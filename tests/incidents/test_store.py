"""store.apply / apply.lua semantics against a real Redis."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
import redis

from incidents import store
from incidents.keys import DEADLETTER_RAW_MAX, Keys
from incidents.model import OVERLAY_FIELDS, Incident, Status
from incidents.store import Outcome

T0 = 1_732_600_000.0


def first(iid: str = "e1", ts: float = T0, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "id": iid,
        "status": "reported",
        "ts": ts,
        "lon": 120.1551,
        "lat": 30.2741,
        "category": "environment",
        "title": "垃圾堆放",
    }
    msg.update(extra)
    return msg


def stored(r: redis.Redis, keys: Keys, iid: str) -> dict[str, Any]:
    raw = r.hget(keys.state, iid)
    assert raw is not None
    state: dict[str, Any] = json.loads(raw)
    return state


def test_first_message_needs_lon_lat_category(r: redis.Redis, keys: Keys) -> None:
    res = store.apply(r, keys, {"id": "x1", "status": "reported", "ts": T0, "lon": 120.0})
    assert res.outcome is Outcome.ERROR
    assert res.reason == "first message for id x1 needs lon, lat and category"
    assert not res.applied
    assert r.hlen(keys.state) == 0
    assert r.xlen(keys.log) == 0
    assert store.read_stats(r, keys)["invalid"] == 1


def test_first_message_creates_incident_and_log_entry(r: redis.Redis, keys: Keys) -> None:
    res = store.apply(r, keys, first())
    assert res.applied and res.outcome is Outcome.APPLIED
    assert res.log_id is not None
    d = stored(r, keys, "e1")
    assert d["created_ts"] == T0
    assert d["history"] == [["reported", T0]]
    assert d["title"] == "垃圾堆放"
    entries: Any = r.xrange(keys.log)
    assert len(entries) == 1
    entry_id, fields = entries[0]
    assert entry_id.decode() == res.log_id
    assert fields[b"id"] == b"e1"
    assert json.loads(fields[b"data"]) == d
    inc = store.get_incident(r, keys, "e1")
    assert inc is not None and inc.status is Status.REPORTED and inc.lon == 120.1551


def test_newer_wins_and_merge_keeps_previous_fields(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first(priority="high", assignee="m-1"))
    res = store.apply(r, keys, {"id": "e1", "status": "dispatched", "ts": T0 + 60, "assignee": "m-2"})
    assert res.applied
    d = stored(r, keys, "e1")
    assert d["status"] == "dispatched"
    assert d["assignee"] == "m-2"
    assert d["title"] == "垃圾堆放"  # absent = keep
    assert d["priority"] == "high"
    assert d["lon"] == 120.1551 and d["category"] == "environment"
    assert d["created_ts"] == T0
    assert d["ts"] == T0 + 60
    assert r.xlen(keys.log) == 2


def test_stale_and_duplicate_write_nothing(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first(ts=T0 + 10))
    before = r.hget(keys.state, "e1")
    dup = store.apply(r, keys, {"id": "e1", "status": "accepted", "ts": T0 + 10})
    stale = store.apply(r, keys, {"id": "e1", "status": "closed", "ts": T0 + 5})
    assert dup.outcome is Outcome.DUPLICATE and float(dup.detail) == T0 + 10
    assert stale.outcome is Outcome.STALE and float(stale.detail) == T0 + 10
    assert r.hget(keys.state, "e1") == before
    assert r.xlen(keys.log) == 1
    stats = store.read_stats(r, keys)
    assert (stats["accepted"], stats["duplicate"], stats["stale"]) == (1, 1, 1)


def test_history_grows_only_on_status_change(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first())
    store.apply(r, keys, {"id": "e1", "status": "reported", "ts": T0 + 1, "title": "更新"})
    store.apply(r, keys, {"id": "e1", "status": "dispatched", "ts": T0 + 2})
    store.apply(r, keys, {"id": "e1", "status": "dispatched", "ts": T0 + 3, "assignee": "m-9"})
    store.apply(r, keys, {"id": "e1", "status": "accepted", "ts": T0 + 4})
    d = stored(r, keys, "e1")
    assert d["history"] == [["reported", T0], ["dispatched", T0 + 2], ["accepted", T0 + 4]]
    assert d["title"] == "更新" and d["assignee"] == "m-9"
    assert r.xlen(keys.log) == 5
    inc = store.get_incident(r, keys, "e1")
    assert inc is not None and inc.first_ts(Status.DISPATCHED) == T0 + 2


def test_history_is_capped_keeping_creation(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first())
    for i in range(1, store.HISTORY_MAX + 20):
        status = "dispatched" if i % 2 else "accepted"
        store.apply(r, keys, {"id": "e1", "status": status, "ts": T0 + i})
    h = stored(r, keys, "e1")["history"]
    assert len(h) == store.HISTORY_MAX
    assert h[0] == ["reported", T0]
    assert h[-1][1] == T0 + store.HISTORY_MAX + 19


def test_numbers_round_trip_exactly(r: redis.Redis, keys: Keys) -> None:
    # Redis' cjson would write 14 significant digits; the script's encoder must not lose precision.
    ts = 1_732_600_000.123456
    store.apply(r, keys, first(ts=ts, lon=120.123456789012, lat=30.987654321098, rating=5, due=ts + 86400.5))
    d = stored(r, keys, "e1")
    assert d["ts"] == ts and d["created_ts"] == ts
    assert d["lon"] == 120.123456789012 and d["lat"] == 30.987654321098
    assert d["rating"] == 5 and isinstance(d["rating"], int)
    assert d["due"] == ts + 86400.5
    assert d["history"] == [["reported", ts]]
    assert store.apply(r, keys, {"id": "e1", "status": "reported", "ts": ts}).outcome is Outcome.DUPLICATE


def test_strings_are_escaped(r: redis.Redis, keys: Keys) -> None:
    title = 'quote " backslash \\ newline \n tab \t 中文 emoji 🚒 / </script>'
    store.apply(r, keys, first(title=title, description="\u0000\u001f"))
    d = stored(r, keys, "e1")
    assert d["title"] == title and d["description"] == "\u0000\u001f"


def test_none_means_absent_and_unknown_fields_are_dropped(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first(assignee="m-1", crs="gcj02", history=[["closed", 1.0]], created_ts=5.0))
    store.apply(r, keys, {"id": "e1", "status": Status.DISPATCHED, "ts": T0 + 1, "assignee": None})
    d = stored(r, keys, "e1")
    assert d["assignee"] == "m-1"
    assert "crs" not in d
    assert d["created_ts"] == T0
    assert d["history"] == [["reported", T0], ["dispatched", T0 + 1]]


def test_corrupt_stored_entry_is_repaired_by_a_complete_message(r: redis.Redis, keys: Keys) -> None:
    r.hset(keys.state, "e1", b"{not json")
    assert store.apply(r, keys, {"id": "e1", "status": "accepted", "ts": T0}).outcome is Outcome.ERROR
    assert store.apply(r, keys, first()).applied
    assert stored(r, keys, "e1")["status"] == "reported"


def test_message_without_id_is_a_value_error(r: redis.Redis, keys: Keys) -> None:
    with pytest.raises(ValueError, match="no id"):
        store.apply(r, keys, {"status": "reported", "ts": T0})
    res = store.apply(r, keys, {"id": "e1", "status": "reported"})
    assert res.outcome is Outcome.ERROR and "ts" in res.reason


def test_apply_many_keeps_order_and_same_id_twice(r: redis.Redis, keys: Keys) -> None:
    msgs: list[Any] = [
        first("a"),
        {"id": "a", "status": "dispatched", "ts": T0 + 1},
        {"id": "a", "status": "dispatched", "ts": T0 + 1},
        {"status": "reported"},  # cannot be encoded: error in place
        {"id": "b", "status": "reported", "ts": T0},  # first without lon/lat
        first("c"),
        {"id": "a", "status": "accepted", "ts": T0 - 1},
    ]
    res = store.apply_many(r, keys, msgs, chunk=2)
    assert [x.outcome for x in res] == [
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.ERROR,
        Outcome.ERROR,
        Outcome.APPLIED,
        Outcome.STALE,
    ]
    assert [x.id for x in res] == ["a", "a", "a", "", "b", "c", "a"]
    assert r.xlen(keys.log) == 3


def _messages(n_ids: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n_ids):
        out.append(first(f"c{i}", ts=T0 + i))
        for step, status in enumerate(("dispatched", "accepted", "resolved"), start=1):
            out.append({"id": f"c{i}", "status": status, "ts": T0 + i + step * 0.001})
    return out


def test_exactly_once_under_concurrency(r: redis.Redis, keys: Keys, redis_url: str) -> None:
    msgs = _messages(250)
    assert len(msgs) == 1000
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    outcomes: list[list[store.ApplyResult]] = []

    def worker(batched: bool) -> None:
        client = redis.Redis.from_url(redis_url)
        try:
            barrier.wait()
            if batched:
                outcomes.append(store.apply_many(client, keys, msgs, chunk=50))
            else:
                outcomes.append([store.apply(client, keys, m) for m in msgs])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert r.xlen(keys.log) == 1000
    applied = sum(res.applied for run in outcomes for res in run)
    assert applied == 1000
    stats = store.read_stats(r, keys)
    assert stats["accepted"] == 1000
    assert stats["duplicate"] + stats["stale"] == 3000
    log_entries: Any = r.xrange(keys.log)
    logged = [f[b"id"].decode() for _, f in log_entries]
    assert sorted(logged) == sorted(m["id"] for m in msgs)
    for inc in store.load_state(r, keys):
        assert inc.status is Status.RESOLVED
        assert [s for s, _ in inc.history] == ["reported", "dispatched", "accepted", "resolved"]


def test_script_survives_script_flush(redis_server_factory: Any) -> None:
    # A private server: SCRIPT FLUSH on the shared one would disturb parallel runs.
    server = redis_server_factory("flush")
    client = server.client()
    keys = Keys("flush")
    assert store.apply(client, keys, first("a")).applied
    client.script_flush()
    assert store.apply(client, keys, first("b")).applied
    client.script_flush()
    assert [x.outcome for x in store.apply_many(client, keys, [first("c"), first("a")])] == [
        Outcome.APPLIED,
        Outcome.DUPLICATE,
    ]
    client.close()


def test_dead_letter_text_binary_and_truncation(r: redis.Redis, keys: Keys) -> None:
    id1 = store.dead_letter(r, keys, b'{"id": 1}', "id must be a string", "pubsub")
    big = ("火" * 3000).encode()  # 9,000 bytes; the 4 KiB cut falls inside a 3-byte character
    store.dead_letter(r, keys, big, "too long", "api")
    store.dead_letter(r, keys, b"\xff\xfe garbage", "not UTF-8", "pubsub")
    assert id1
    assert store.read_stats(r, keys)["rejected"] == 3
    newest, middle, oldest = store.recent_dead_letters(r, keys)
    assert (oldest.raw, oldest.encoding, oldest.reason, oldest.source) == (
        '{"id": 1}',
        "utf-8",
        "id must be a string",
        "pubsub",
    )
    assert oldest.ts > 0
    assert middle.encoding == "utf-8" and middle.size == 9000
    assert middle.raw == "火" * (DEADLETTER_RAW_MAX // 3)
    assert newest.encoding == "base64"
    assert base64.b64decode(newest.raw) == b"\xff\xfe garbage"


def test_load_state_many_and_corrupt(r: redis.Redis, keys: Keys) -> None:
    res = store.apply_many(r, keys, (first(f"i{i}", ts=T0 + i) for i in range(2500)))
    assert all(x.applied for x in res)
    r.hset(keys.state, "bad1", b"{oops")
    r.hset(keys.state, "bad2", json.dumps({"id": "bad2", "status": "nope"}))
    errors: list[tuple[str, str]] = []
    incidents = store.load_state(r, keys, errors=errors)
    assert len(incidents) == 2500
    assert all(isinstance(i, Incident) for i in incidents)
    assert sorted(e[0] for e in errors) == ["bad1", "bad2"]
    assert store.get_incident(r, keys, "missing") is None
    with pytest.raises(ValueError):
        store.get_incident(r, keys, "bad2")


def test_keys_names() -> None:
    k = Keys()
    assert (k.channel, k.state, k.log, k.deadletter, k.stats) == (
        "onescreen:incidents",
        "onescreen:state",
        "onescreen:log",
        "onescreen:deadletter",
        "onescreen:stats",
    )
    assert Keys("city2").state == "city2:state"


def test_keys_channel_carries_the_db() -> None:
    """Pub/sub ignores the db number: the channel name must carry it, db 0 keeping the documented name."""
    assert Keys("onescreen", db=0).channel == "onescreen:incidents"
    assert Keys("onescreen", db=3).channel == "onescreen:db3:incidents"
    assert Keys("onescreen", db=3).state == "onescreen:state"  # keys are per db already
    assert Keys.for_redis_url("p", "redis://127.0.0.1:6379/3") == Keys("p", db=3)
    assert Keys.for_redis_url("p", "redis://127.0.0.1:6379") == Keys("p", db=0)
    assert Keys.for_redis_url("p", "rediss://:secret@h:6380/0?db=7").db == 7
    assert Keys.for_redis_url("p", "unix:///run/redis.sock?db=2").channel == "p:db2:incidents"
    with pytest.raises(ValueError, match="Redis URL") as err:
        Keys.for_redis_url("p", "http://user:secret@h/1")
    assert "secret" not in str(err.value)
    with pytest.raises(ValueError, match="db"):
        Keys("p", db=-1)
    with pytest.raises(ValueError):
        Keys("")
    with pytest.raises(ValueError):
        Keys("a b")


def test_script_matches_the_pure_reference_merge(r: redis.Redis, keys: Keys) -> None:
    """Random message sequences: the Lua merge and model.merge_message agree on every outcome, reason and state."""
    import random

    from incidents.model import MergeOutcome, allowed_next, merge_message, transition_reason

    rng = random.Random(7)
    expected: dict[str, Incident] = {}
    statuses = [s.value for s in Status]
    # Every overlay field except the ones drawn separately above (status, position, category).
    fields = [f for f in OVERLAY_FIELDS if f not in ("status", "lon", "lat", "category")]
    to_outcome = {
        MergeOutcome.CREATED: Outcome.APPLIED,
        MergeOutcome.UPDATED: Outcome.APPLIED,
        MergeOutcome.STALE: Outcome.STALE,
        MergeOutcome.DUPLICATE: Outcome.DUPLICATE,
        MergeOutcome.INCOMPLETE: Outcome.ERROR,
        MergeOutcome.ILLEGAL: Outcome.ERROR,
    }
    seen: set[MergeOutcome] = set()
    reworks = 0
    for _ in range(1500):
        iid = f"p{rng.randrange(20)}"
        prev = expected.get(iid)
        # half the time a legal next step (so lifecycles get far, reworks happen), else anything
        if prev is not None and rng.random() < 0.5 and allowed_next(prev.status):
            status = str(rng.choice(allowed_next(prev.status)))
        else:
            status = rng.choice(statuses)
        msg: dict[str, Any] = {
            "id": iid,
            "status": status,
            "ts": (prev.ts if prev and rng.random() < 0.7 else T0)
            + rng.randrange(-3, 40)
            + rng.choice([0.0, 0.25, 0.123456]),
        }
        if rng.random() < 0.6:
            msg.update(lon=120 + rng.random(), lat=30 + rng.random())
        if rng.random() < 0.6:
            msg["category"] = rng.choice(["fire", "dispute", "environment"])
        for f in rng.sample(fields, rng.randrange(3)):
            msg[f] = {
                "priority": rng.choice(["low", "high"]),
                "due": T0 + 1000.5,
                "rating": rng.randrange(1, 6),
                "reopened": rng.choice([0, 1, 2, True, False]),
                "escalated": rng.choice([True, False]),
            }.get(f, f"{f}-{rng.randrange(100)}")
        new, merge_outcome = merge_message(prev, msg)
        seen.add(merge_outcome)
        res = store.apply(r, keys, msg)
        assert res.outcome is to_outcome[merge_outcome], (msg, res)
        if merge_outcome is MergeOutcome.ILLEGAL:
            assert prev is not None
            assert res.reason == transition_reason(iid, prev.status, msg["status"])
        if new is not None:
            if prev is not None and new.reopened > prev.reopened:
                reworks += 1
            expected[iid] = new
    assert seen == set(MergeOutcome)
    assert reworks > 5
    for iid, inc in expected.items():
        assert store.get_incident(r, keys, iid) == inc


def test_apply_many_isolated_applies_all_but_the_message_that_raises(r: redis.Redis, keys: Keys) -> None:
    """A hand-built message the wire would refuse (a lone surrogate Redis cannot encode) makes the pipelined
    batch raise; the isolated apply redoes it one by one: the others land, the culprit gets the error."""
    msgs = [first(f"g{i}", ts=T0 + i) for i in range(20)]
    msgs.insert(7, first("poison", title="cut \ud83d"))
    with pytest.raises(UnicodeEncodeError):
        store.apply_many(r, keys, msgs)  # what the feed used to meet: the whole batch lost
    assert r.hlen(keys.state) == 0
    results = store.apply_many_isolated(r, keys, msgs, chunk=8)
    assert [x.id for x in results] == [str(m["id"]) for m in msgs]
    assert [x.outcome for x in results].count(Outcome.APPLIED) == 20
    bad = results[7]
    assert bad.outcome is Outcome.ERROR and bad.id == "poison"
    assert bad.reason.startswith("cannot apply message for id 'poison': UnicodeEncodeError")
    assert r.hlen(keys.state) == 20 and r.xlen(keys.log) == 20
    # and again: every good one is now a duplicate, nothing written twice
    again = store.apply_many_isolated(r, keys, msgs)
    assert [x.outcome for x in again].count(Outcome.DUPLICATE) == 20
    assert r.xlen(keys.log) == 20


def test_dead_letter_reason_quoting_a_surrogate_is_stored(r: redis.Redis, keys: Keys) -> None:
    store.dead_letter(r, keys, '{"title":"\ud83d"}', "bad text \ud83d here", "pubsub:\ud83d")
    (letter,) = store.recent_dead_letters(r, keys)
    assert letter.reason == "bad text \\ud83d here" and letter.source == "pubsub:\\ud83d"
    assert letter.encoding == "base64"  # the raw str itself is not UTF-8: kept byte for byte
