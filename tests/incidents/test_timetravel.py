"""Time travel: rebuild the situation at past moments from the log, against a real Redis."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis

from incidents.keys import Keys
from incidents.model import GridState, Status
from incidents.publish import publish
from incidents.timetravel import (
    Timeline,
    at_history,
    incidents_at,
    oldest_entry_ts,
    parse_at,
    refresh_timeline,
    situation_at,
)

H = 3600.0
# six hours ago, on a whole minute, so every ts below is in the wire's past
T0 = float(int(time.time() - 6 * H) // 60 * 60)


def locator(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    grid = np.where(lon < 120.2, "G1", "G2").astype(object)
    return pd.DataFrame({"micro_grid_id": grid + "-m", "grid_id": grid, "community_id": np.full(len(lon), "C1")})


def msg(iid: str, status: str, dt: float, **extra: Any) -> dict[str, Any]:
    return {"id": iid, "status": status, "ts": T0 + dt, **extra}


SEQUENCE: list[dict[str, Any]] = [
    # A in G1: the whole lifecycle
    msg("A", "reported", 0, lon=120.15, lat=30.27, category="environment", title="垃圾堆放"),
    msg("A", "dispatched", 600, assignee="M0001"),
    msg("A", "accepted", 1200),
    msg("A", "resolved", 2 * H),
    msg("A", "closed", 3 * H, rating=4),
    # B in G2: a fire report nobody accepts (accept deadline 5 min)
    msg("B", "reported", 1800, lon=120.25, lat=30.27, category="fire", priority="urgent"),
    # C in G1: cancelled
    msg("C", "reported", H, lon=120.16, lat=30.27, category="dispute"),
    msg("C", "cancelled", 1.5 * H),
    # D in G1: reported late
    msg("D", "reported", 4 * H, lon=120.17, lat=30.27, category="traffic"),
]


@pytest.fixture
def published(r: redis.Redis, keys: Keys) -> redis.Redis:
    # published out of ts order (by id), as independent systems would
    for m in SEQUENCE:
        assert publish(r, keys, m).applied
    return r


def statuses(r: redis.Redis, keys: Keys, at: float) -> dict[str, str]:
    return {i.id: str(i.status) for i in incidents_at(r, keys, at).incidents}


def test_statuses_at_several_moments(published: redis.Redis, keys: Keys) -> None:
    r = published
    assert statuses(r, keys, T0 - 60) == {}
    assert statuses(r, keys, T0) == {"A": "reported"}
    assert statuses(r, keys, T0 + 900) == {"A": "dispatched"}
    assert statuses(r, keys, T0 + 2700) == {"A": "accepted", "B": "reported"}
    assert statuses(r, keys, T0 + 2.5 * H) == {"A": "resolved", "B": "reported", "C": "cancelled"}
    assert statuses(r, keys, T0 + 5 * H) == {"A": "closed", "B": "reported", "C": "cancelled", "D": "reported"}
    rb = incidents_at(r, keys, T0 + 900)
    (a,) = rb.incidents
    assert a.assignee == "M0001" and a.history == [("reported", T0), ("dispatched", T0 + 600)]
    assert (rb.from_log, rb.from_state, rb.approximate, rb.log_entries) == (1, 0, 0, len(SEQUENCE))
    assert rb.log_oldest_ts == T0


def test_grid_states_and_kpis_at_several_moments(published: redis.Redis, keys: Keys) -> None:
    r = published
    view, _ = situation_at(r, keys, T0 + 900, locator)
    assert view.now == T0 + 900
    assert view.grid_states == {"G1": GridState.IN_PROGRESS}
    assert (view.kpis.open, view.kpis.overdue) == (1, 0)

    view, _ = situation_at(r, keys, T0 + 2700, locator)  # B is 15 min old: past its 5-min accept deadline
    assert view.grid_states == {"G1": GridState.IN_PROGRESS, "G2": GridState.OVERDUE}
    assert (view.kpis.open, view.kpis.overdue) == (2, 1)
    assert view.kpis.mean_accept_min == pytest.approx(20.0)
    assert view.kpis.on_time_rate is None

    view, _ = situation_at(r, keys, T0 + 1.25 * H, locator)  # C reported, not yet cancelled
    assert view.grid_states == {"G1": GridState.UNASSIGNED, "G2": GridState.OVERDUE}

    view, _ = situation_at(r, keys, T0 + 4.25 * H, locator)  # D 15 min old: unassigned, within 30 min
    assert view.grid_states == {"G1": GridState.UNASSIGNED, "G2": GridState.OVERDUE}
    view, _ = situation_at(r, keys, T0 + 5 * H, locator)  # D an hour old: overdue too
    assert view.grid_states == {"G1": GridState.OVERDUE, "G2": GridState.OVERDUE}
    k = view.kpis
    assert (k.open, k.overdue, k.resolved_24h, k.rated_24h) == (2, 2, 1, 1)
    assert k.on_time_rate == 1.0 and k.satisfaction == 4.0
    assert k.mean_resolve_min == pytest.approx(120.0)
    assert k.by_status == {"closed": 1, "reported": 2, "cancelled": 1}
    assert sum(k.trend_24h) == 4


def test_trimmed_log_falls_back_to_the_state_history(published: redis.Redis, keys: Keys) -> None:
    r = published
    r.xtrim(keys.log, maxlen=2, approximate=False)  # keeps the last two written: C cancelled, D reported
    rb = incidents_at(r, keys, T0 + 2700)
    by_id = {i.id: i for i in rb.incidents}
    assert {k: str(v.status) for k, v in by_id.items()} == {"A": "accepted", "B": "reported"}
    # A changed after T: rebuilt from its history; B unchanged since: its state is exact
    assert (rb.from_log, rb.from_state, rb.approximate) == (0, 1, 1)
    assert by_id["A"].ts == T0 + 1200 and by_id["A"].rating is None
    assert by_id["A"].history[-1] == ("accepted", T0 + 1200)
    rb = incidents_at(r, keys, T0 + 5 * H)
    assert rb.from_log == 2 and rb.log_oldest_ts == T0 + 1.5 * H


def test_at_history_counts_reworks_up_to_the_moment() -> None:
    from incidents.model import Incident

    hist = [("reported", 0.0), ("dispatched", 1.0), ("resolved", 2.0), ("dispatched", 3.0), ("resolved", 4.0)]
    inc = Incident("X", Status.RESOLVED, 4.0, 120.0, 30.0, "other", 0.0, reopened=1, history=hist)
    assert at_history(inc, -1.0) is None
    assert at_history(inc, 10.0) is inc
    past = at_history(inc, 2.5)
    assert past is not None and past.status is Status.RESOLVED and past.reopened == 0
    past = at_history(inc, 3.5)
    assert past is not None and past.status is Status.DISPATCHED and past.reopened == 1


def test_parse_at() -> None:
    now = 1_800_000_000.0
    assert parse_at("-2h", now) == now - 7200
    assert parse_at("-1h30m", now) == now - 5400
    assert parse_at("- 90 m", now) == now - 5400
    assert parse_at("-1d", now) == now - 86400
    assert parse_at("-45s", now) == now - 45
    assert parse_at("2026-11-26T09:00+08:00") == parse_at("2026-11-26T01:00:00Z")
    assert parse_at("2026-11-26T09:00") == parse_at("2026-11-26T09:00+08:00")  # naive = Beijing time
    assert parse_at("1764118800") == 1764118800.0
    with pytest.raises(ValueError, match="not a time"):
        parse_at("yesterday")


# ---- the timeline: a scrubber's warm rebuild equals the cold one ----------------------------------------------


def same_rebuild(a: Any, b: Any) -> None:
    assert (a.at, a.from_log, a.from_state, a.approximate, a.log_entries, a.log_oldest_ts) == (
        b.at,
        b.from_log,
        b.from_state,
        b.approximate,
        b.log_entries,
        b.log_oldest_ts,
    )
    assert sorted(a.incidents, key=lambda i: i.id) == sorted(b.incidents, key=lambda i: i.id)


def same_view(r: redis.Redis, keys: Keys, at: float, timeline: Timeline) -> None:
    """The warm timeline's view at ``at`` is the cold full rebuild's (``situation_at`` without a timeline)."""
    cold, cold_rb = situation_at(r, keys, at, locator)
    warm, warm_rb = situation_at(r, keys, at, locator, timeline=timeline)
    same_rebuild(warm_rb, cold_rb)
    assert warm.kpis == cold.kpis and warm.grid_states == cold.grid_states
    cols = ["id", "status", "ts", "grid_id", "overdue"]
    a = warm.incidents[cols].sort_values("id").reset_index(drop=True)
    b = cold.incidents[cols].sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


MOMENTS = [-60.0, 0.0, 900.0, 2700.0, 1.25 * H, 2.5 * H, 4.25 * H, 5 * H]


def test_timeline_view_equals_the_full_rebuild_at_every_moment(published: redis.Redis, keys: Keys) -> None:
    tl = Timeline()
    for dt in MOMENTS:
        same_view(published, keys, T0 + dt, tl)
    assert refresh_timeline(published, keys, tl) == 0  # warm: nothing new to read


def test_timeline_follows_new_entries_and_trims(published: redis.Redis, keys: Keys) -> None:
    r = published
    tl = Timeline()
    same_view(r, keys, T0 + 2700, tl)
    # new changes after the timeline was warm: read incrementally
    assert publish(r, keys, msg("B", "dispatched", 4.5 * H, assignee="M0002")).applied
    assert publish(r, keys, msg("E", "reported", 4.6 * H, lon=120.25, lat=30.27, category="fire")).applied
    assert refresh_timeline(r, keys, tl) == 2
    for dt in [*MOMENTS, 4.55 * H, 4.7 * H]:
        same_view(r, keys, T0 + dt, tl)
    # the log trimmed under a warm timeline: the approximate cases come out as a cold rebuild's
    r.xtrim(keys.log, maxlen=3, approximate=False)
    for dt in [*MOMENTS, 4.55 * H, 4.7 * H]:
        same_view(r, keys, T0 + dt, tl)
    rb = tl.rebuild(T0 + 2700)
    assert rb.approximate >= 1 and len(tl) == 3
    assert oldest_entry_ts(r, keys) == tl.oldest_ts == rb.log_oldest_ts  # what a page's scrubber starts from, cold
    # B's reported state is gone from the log (created at T0+1800, first surviving entry at 4.5 h)
    assert tl.exact_since() == T0 + 4.5 * H
    # the log deleted and rewritten (another run on the same prefix): read again from scratch
    r.delete(keys.log, keys.state)
    assert publish(r, keys, msg("Z", "reported", H, lon=120.15, lat=30.27, category="dispute")).applied
    same_view(r, keys, T0 + 2 * H, tl)
    assert {i.id for i in tl.rebuild(T0 + 2 * H).incidents} == {"Z"}


def test_exact_since_is_the_oldest_entry_of_an_untrimmed_log(published: redis.Redis, keys: Keys) -> None:
    tl = Timeline()
    refresh_timeline(published, keys, tl)
    assert tl.exact_since() == T0 and tl.oldest_ts == T0
    assert Timeline().exact_since() is None
    assert oldest_entry_ts(published, Keys("nothing-here")) is None
