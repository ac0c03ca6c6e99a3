"""The lifecycle graph (model.TRANSITIONS) as apply.lua enforces it, against a real Redis."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from incidents import store
from incidents.keys import Keys
from incidents.model import (
    TRANSITIONS,
    Incident,
    MergeOutcome,
    Status,
    allowed_next,
    is_transition_allowed,
    merge_message,
    transition_reason,
)
from incidents.publish import publish
from incidents.store import Outcome
from incidents.wire import WireError, parse_message

T0 = 1_764_118_800.0  # 2025-11-26T09:00:00+08:00


def first(iid: str = "L1", ts: float = T0, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "id": iid,
        "status": "reported",
        "ts": ts,
        "lon": 120.1551,
        "lat": 30.2741,
        "category": "dispute",
    }
    msg.update(extra)
    return msg


def step(r: redis.Redis, keys: Keys, status: str, dt: float, iid: str = "L1", **extra: Any) -> store.ApplyResult:
    return store.apply(r, keys, {"id": iid, "status": status, "ts": T0 + dt, **extra})


def current(r: redis.Redis, keys: Keys, iid: str = "L1") -> Incident:
    inc = store.get_incident(r, keys, iid)
    assert inc is not None
    return inc


def test_the_graph() -> None:
    # cancelled is final; closed only reopens; cancel from every open state; nothing skips to closed
    assert TRANSITIONS[Status.CANCELLED] == frozenset()
    assert TRANSITIONS[Status.CLOSED] == frozenset({Status.DISPATCHED})
    for s in (Status.REPORTED, Status.DISPATCHED, Status.ACCEPTED):
        assert Status.CANCELLED in TRANSITIONS[s]
        assert Status.CLOSED not in TRANSITIONS[s]
    assert is_transition_allowed("dispatched", "resolved")  # 接单 skipped
    assert is_transition_allowed("reported", "resolved")  # 即知即办
    assert is_transition_allowed("cancelled", "cancelled")  # same status: a field update, no transition
    assert not is_transition_allowed("resolved", "cancelled")
    assert allowed_next("resolved") == [Status.DISPATCHED, Status.CLOSED]
    assert transition_reason("X", "cancelled", "reported") == (
        "illegal transition for id X: cancelled -> reported (cancelled is final)"
    )


def test_full_lifecycle_timestamps_every_transition(r: redis.Redis, keys: Keys) -> None:
    assert store.apply(r, keys, first()).applied
    assert step(r, keys, "dispatched", 60, assignee="M0001").applied
    assert step(r, keys, "accepted", 120).applied
    assert step(r, keys, "resolved", 3600).applied
    assert step(r, keys, "closed", 7200, rating=5).applied
    inc = current(r, keys)
    assert inc.status is Status.CLOSED and inc.rating == 5 and inc.assignee == "M0001"
    assert inc.history == [
        ("reported", T0),
        ("dispatched", T0 + 60),
        ("accepted", T0 + 120),
        ("resolved", T0 + 3600),
        ("closed", T0 + 7200),
    ]
    assert inc.reopened == 0
    # a later rating correction is a same-status update, not a transition
    assert step(r, keys, "closed", 7300, rating=4).applied
    assert current(r, keys).rating == 4 and len(current(r, keys).history) == 5


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (["reported"], "closed"),
        (["reported", "dispatched"], "closed"),
        (["reported", "accepted"], "reported"),
        (["reported", "accepted", "resolved"], "cancelled"),
        (["reported", "accepted", "resolved"], "accepted"),
        (["reported", "resolved", "closed"], "resolved"),
        (["reported", "resolved", "closed"], "cancelled"),
        (["reported", "cancelled"], "reported"),
        (["reported", "cancelled"], "dispatched"),
    ],
)
def test_illegal_transitions_are_rejected_atomically(r: redis.Redis, keys: Keys, path: list[str], bad: str) -> None:
    store.apply(r, keys, first())
    for i, s in enumerate(path[1:], start=1):
        assert step(r, keys, s, i).applied
    before = r.hget(keys.state, "L1")
    log_len = r.xlen(keys.log)
    res = step(r, keys, bad, 100)
    assert res.outcome is Outcome.ERROR
    assert res.reason == transition_reason("L1", path[-1], bad)
    assert res.reason.startswith(f"illegal transition for id L1: {path[-1]} -> {bad} (")
    assert r.hget(keys.state, "L1") == before
    assert r.xlen(keys.log) == log_len
    assert store.read_stats(r, keys)["invalid"] == 1


def test_stale_stays_stale_even_when_it_would_be_illegal(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first())
    for i, s in enumerate(("dispatched", "accepted", "resolved", "closed"), start=1):
        assert step(r, keys, s, i * 10).applied
    # late arrivals of the earlier steps (and an old cancel) are stale, not "closed -> accepted"
    assert step(r, keys, "accepted", 20).outcome is Outcome.STALE
    assert step(r, keys, "cancelled", 5).outcome is Outcome.STALE
    # a repeat of the newest is a duplicate
    assert step(r, keys, "closed", 40).outcome is Outcome.DUPLICATE
    assert store.read_stats(r, keys)["invalid"] == 0
    # the reference merge says the same
    inc = current(r, keys)
    assert merge_message(inc, {"id": "L1", "status": "accepted", "ts": T0 + 20})[1] is MergeOutcome.STALE


def test_rework_counts_and_does_not_double_count_a_publisher_count(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, first())
    assert step(r, keys, "dispatched", 1).applied
    assert step(r, keys, "resolved", 2).applied  # 接单 skipped
    assert step(r, keys, "dispatched", 3, reopened=1).applied  # rework; the simulator also says 1
    assert current(r, keys).reopened == 1
    assert step(r, keys, "accepted", 4).applied
    assert step(r, keys, "resolved", 5).applied
    assert step(r, keys, "closed", 6, rating=2).applied
    assert step(r, keys, "dispatched", 7).applied  # 返工 after 评单
    inc = current(r, keys)
    assert inc.reopened == 2
    assert [s for s, _ in inc.history] == [
        "reported",
        "dispatched",
        "resolved",
        "dispatched",
        "accepted",
        "resolved",
        "closed",
        "dispatched",
    ]
    # the count never goes down, and a larger publisher count wins
    assert step(r, keys, "dispatched", 8, reopened=0).applied
    assert current(r, keys).reopened == 2
    assert step(r, keys, "dispatched", 9, reopened=5).applied
    assert current(r, keys).reopened == 5


def test_escalated_flag(r: redis.Redis, keys: Keys) -> None:
    msg = parse_message(json.dumps(first(ts=T0, escalated=True)), now=T0)
    assert msg["escalated"] is True
    store.apply(r, keys, msg)
    assert current(r, keys).escalated is True
    assert json.loads(r.hget(keys.state, "L1") or b"{}")["escalated"] is True
    assert step(r, keys, "dispatched", 1).applied
    assert current(r, keys).escalated is True  # absent = keep
    assert step(r, keys, "dispatched", 2, escalated=False).applied
    assert current(r, keys).escalated is False
    with pytest.raises(WireError, match="'escalated': expected a boolean"):
        parse_message(json.dumps(first(escalated="yes")), now=T0)


def test_publish_raises_and_dead_letters_an_illegal_transition(r: redis.Redis, keys: Keys) -> None:
    publish(r, keys, first(ts=T0))
    publish(r, keys, {"id": "L1", "status": "cancelled", "ts": T0 + 1})
    with pytest.raises(WireError) as err:
        publish(r, keys, {"id": "L1", "status": "dispatched", "ts": T0 + 2}, source="test")
    assert err.value.reason == "illegal transition for id L1: cancelled -> dispatched (cancelled is final)"
    (dl,) = store.recent_dead_letters(r, keys)
    assert dl.reason == err.value.reason and dl.source == "test"
    assert current(r, keys).status is Status.CANCELLED
