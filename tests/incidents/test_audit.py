"""Who made each change: the actor in an incident's history and the audit stream, written by apply.lua in the same
atomic step as the change (real Redis); reading the stream (incidents.audit) with filters, pages and CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import redis

from incidents import audit, store
from incidents.keys import Keys
from incidents.model import Incident
from incidents.publish import publish
from incidents.store import Origin, Outcome

T0 = 1_732_600_000.0


def msg(iid: str, status: str, ts: float, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": iid, "status": status, "ts": ts}
    if status == "reported":
        out |= {"lon": 120.1551, "lat": 30.2741, "category": "environment", "title": "垃圾堆放"}
    return out | extra


def entries(r: redis.Redis, keys: Keys) -> list[audit.AuditEntry]:
    return list(audit.scan(r, keys, scan_max=None))


def test_each_applied_change_carries_its_actor_into_history_and_audit(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, msg("a1", "reported", T0), origin=Origin("publisher", "pubsub"))
    store.apply(
        r, keys, msg("a1", "dispatched", T0 + 1, assignee="P1"), origin=Origin("user:wang", "console", "10.0.0.7")
    )
    store.apply(
        r, keys, msg("a1", "dispatched", T0 + 2, assignee="P2"), origin=Origin("user:zhao", "console", "10.0.0.8")
    )
    state = json.loads(r.hget(keys.state, "a1") or b"{}")
    assert state["history"] == [["reported", T0, "publisher"], ["dispatched", T0 + 1, "user:wang"]]
    got = [(e.actor, e.via, e.client, e.incident, e.what, e.from_status, e.to_status, e.ts, e.assignee)
           for e in entries(r, keys)]  # fmt: skip
    assert got == [
        ("publisher", "pubsub", "", "a1", "created", "", "reported", T0, ""),
        ("user:wang", "console", "10.0.0.7", "a1", "status", "reported", "dispatched", T0 + 1, "P1"),
        ("user:zhao", "console", "10.0.0.8", "a1", "update", "dispatched", "dispatched", T0 + 2, "P2"),  # 改派
    ]
    inc = Incident.from_dict(state)
    assert inc.history == [("reported", T0), ("dispatched", T0 + 1)]  # (status, ts) as everything reads it
    assert [inc.actor_at(i) for i in range(2)] == ["publisher", "user:wang"]
    assert inc.to_dict()["history"] == state["history"]


def test_nothing_is_audited_for_what_did_not_change(r: redis.Redis, keys: Keys) -> None:
    who = Origin("user:wang", "console")
    store.apply(r, keys, msg("a2", "reported", T0), origin=who)
    assert store.apply(r, keys, msg("a2", "reported", T0), origin=who).outcome is Outcome.DUPLICATE
    assert store.apply(r, keys, msg("a2", "reported", T0 - 5), origin=who).outcome is Outcome.STALE
    assert store.apply(r, keys, msg("a2", "closed", T0 + 1), origin=who).outcome is Outcome.ERROR  # illegal
    assert [e.what for e in entries(r, keys)] == ["created"]


def test_old_two_element_history_entries_are_still_read_and_kept(r: redis.Redis, keys: Keys) -> None:
    old = {"id": "a3", "status": "reported", "ts": T0, "lon": 120.1, "lat": 30.2, "category": "fire",
           "created_ts": T0, "history": [["reported", T0]]}  # fmt: skip
    r.hset(keys.state, "a3", json.dumps(old))
    store.apply(r, keys, msg("a3", "accepted", T0 + 3), origin=Origin("key:erp", "http", "10.1.1.1"))
    state = json.loads(r.hget(keys.state, "a3") or b"{}")
    assert state["history"] == [["reported", T0], ["accepted", T0 + 3, "key:erp"]]
    inc = Incident.from_dict(state)
    assert inc.actor_at(0) == "" and inc.actor_at(1) == "key:erp" and inc.actor_at(7) == ""
    assert inc.to_dict()["history"] == [["reported", T0], ["accepted", T0 + 3, "key:erp"]]


def test_the_durable_publish_path_records_its_actor_and_client(r: redis.Redis, keys: Keys) -> None:
    publish(r, keys, msg("a4", "reported", T0), source="http", actor="user:li", client="192.0.2.4", now=T0)
    publish(r, keys, msg("a5", "reported", T0), source="cli", now=T0)  # the publish API: a publisher
    got = {e.incident: (e.actor, e.via, e.client) for e in entries(r, keys)}
    assert got == {"a4": ("user:li", "http", "192.0.2.4"), "a5": ("publisher", "cli", "")}


def test_audit_pages_filter_and_export(r: redis.Redis, keys: Keys) -> None:
    for i in range(7):
        who = Origin("user:wang" if i % 2 else "user:zhao", "console", "10.0.0.1")
        store.apply(r, keys, msg(f"p{i}", "reported", T0 + i), origin=who)
    first, cursor = audit.page(r, keys, limit=3)
    assert [e.incident for e in first] == ["p0", "p1", "p2"] and cursor == first[-1].entry
    rest, end = audit.page(r, keys, after=cursor, limit=10)
    assert [e.incident for e in rest] == ["p3", "p4", "p5", "p6"] and end is None
    wang, _ = audit.page(r, keys, actor="user:wang")
    assert [e.incident for e in wang] == ["p1", "p3", "p5"]
    assert [e.incident for e in audit.page(r, keys, incident="p4")[0]] == ["p4"]
    assert audit.page(r, keys, since=first[0].at + 3600)[0] == []
    rows = list(csv.DictReader(io.StringIO("".join(audit.csv_rows(audit.scan(r, keys, actor="user:zhao"))))))
    assert [row["incident"] for row in rows] == ["p0", "p2", "p4", "p6"]
    assert set(rows[0]) == set(audit.CSV_FIELDS) and rows[0]["actor"] == "user:zhao"


def test_csv_cells_never_start_a_formula(r: redis.Redis, keys: Keys) -> None:
    store.apply(r, keys, msg("=HYPERLINK(1)", "reported", T0), origin=Origin("user:wang", "http"))
    text = "".join(audit.csv_rows(audit.scan(r, keys)))
    assert "'=HYPERLINK(1)" in text
