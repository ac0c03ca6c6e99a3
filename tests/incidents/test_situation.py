from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque

import numpy as np
import pandas as pd
import pytest

from incidents.model import CATEGORIES, GridState, Incident, Priority, Status
from incidents.situation import COLUMNS, Situation
from incidents.sla import SlaPolicy
from incidents.timeutil import parse_ts

# 2024-05-01T09:00:00+08:00
NOW = parse_ts("2024-05-01T09:00:00+08:00")


def at_now() -> float:
    """The situation's clock in these tests (its retention is judged against it, not the wall clock)."""
    return NOW


MIN = 60.0
H = 3600.0


def fake_locator(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Grids are 0.01° cells G<i>-<j>; micro-grids halve each cell by longitude; a community per 0.1°.

    Points west of 120.0 are outside every grid.
    """
    i = np.floor((lon - 120.0) * 100).astype(int)
    j = np.floor((lat - 30.0) * 100).astype(int)
    half = (np.floor((lon - 120.0) * 200).astype(int) % 2).astype(str)
    inside = lon >= 120.0
    grid = np.where(inside, np.char.add(np.char.add("G", i.astype(str)), np.char.add("-", j.astype(str))), "")
    micro = np.where(inside, np.char.add(np.char.add(grid, "-m"), half), "")
    comm = np.where(inside, np.char.add("C", (i // 10).astype(str)), "")
    return pd.DataFrame(
        {
            "micro_grid_id": micro.astype(object),
            "grid_id": grid.astype(object),
            "community_id": comm.astype(object),
        }
    )


def mk(
    id: str,
    *steps: tuple[str, float],
    lon: float = 120.005,
    lat: float = 30.005,
    category: str = "environment",
    priority: Priority = Priority.NORMAL,
    grid_id: str = "",
    reopened: int = 0,
    rating: int | None = None,
) -> Incident:
    """steps: (status, ts offset from NOW)."""
    hist = [(s, NOW + dt) for s, dt in steps]
    return Incident(
        id=id,
        status=Status(hist[-1][0]),
        ts=hist[-1][1],
        lon=lon,
        lat=lat,
        category=category,
        created_ts=hist[0][1],
        priority=priority,
        grid_id=grid_id,
        reopened=reopened,
        rating=rating,
        title="楼道堆放杂物",
        history=hist,
    )


def test_incident_table_columns_and_location() -> None:
    s = Situation(fake_locator, SlaPolicy(), clock=at_now)
    s.apply(mk("a", ("reported", -60), lon=120.012, lat=30.034, priority=Priority.URGENT))
    s.apply(mk("b", ("reported", -60), lon=119.5, lat=30.0))  # outside every grid
    s.apply(mk("c", ("reported", -60), lon=120.012, lat=30.034, grid_id="G9-9"))  # explicit grid wins
    df = s.view(NOW).incidents
    assert tuple(df.columns) == COLUMNS
    row = df.set_index("id").loc["a"]
    assert (row["grid_id"], row["micro_grid_id"], row["community_id"]) == ("G1-3", "G1-3-m0", "C0")
    assert row["category_label"] == CATEGORIES["environment"] == "环境卫生"
    assert bool(row["urgent"]) and not bool(row["overdue"])
    assert s.location("b") == ("", "", "")
    assert s.location("c") == ("", "G9-9", "")
    assert s.get("a") is not None and s.get("zzz") is None


def test_grid_worst_state_rules() -> None:
    s = Situation(fake_locator, clock=at_now)
    lon_a, lon_b, lon_c, lon_d = 120.005, 120.015, 120.025, 120.035  # grids G0-0, G1-0, G2-0, G3-0
    s.apply_many(
        [
            # G0-0: in progress + unassigned + overdue → overdue
            mk("a1", ("reported", -10 * MIN), ("dispatched", -9 * MIN), lon=lon_a),
            mk("a2", ("reported", -5 * MIN), lon=lon_a),
            mk("a3", ("reported", -2 * H), lon=lon_a),  # unaccepted 2 h > 30 min
            # G1-0: in progress + unassigned → unassigned
            mk("b1", ("reported", -10 * MIN), ("dispatched", -9 * MIN), ("accepted", -8 * MIN), lon=lon_b),
            mk("b2", ("reported", -5 * MIN), lon=lon_b),
            # G2-0: dispatched/accepted only → in progress
            mk("c1", ("reported", -10 * MIN), ("dispatched", -9 * MIN), lon=lon_c),
            # G3-0: only done/cancelled → clear (absent)
            mk("d1", ("reported", -5 * H), ("accepted", -4 * H), ("resolved", -1 * H), lon=lon_d),
            mk("d2", ("reported", -5 * H), ("cancelled", -4 * H), lon=lon_d),
            mk(
                "d3",
                ("reported", -9 * H),
                ("accepted", -8 * H),
                ("resolved", -6 * H),
                ("closed", -5 * H),
                lon=lon_d,
            ),
        ]
    )
    v = s.view(NOW)
    assert v.grid_states == {
        "G0-0": GridState.OVERDUE,
        "G1-0": GridState.UNASSIGNED,
        "G2-0": GridState.IN_PROGRESS,
    }
    assert v.grid_state("G3-0") is GridState.CLEAR
    assert v.grid_state("nope") is GridState.CLEAR
    assert v.micro_grid_states["G0-0-m0"] is GridState.OVERDUE
    assert v.community_states == {"C0": GridState.OVERDUE}
    assert v.overdue_ids() == ["a3"]


def test_overdue_appears_as_the_clock_advances_without_messages() -> None:
    s = Situation(fake_locator, clock=at_now)
    s.apply(mk("x", ("reported", 0)))
    version = s.version
    assert s.view(NOW + 29 * MIN).kpis.overdue == 0
    v = s.view(NOW + 31 * MIN)
    assert v.kpis.overdue == 1 and v.grid_states["G0-0"] is GridState.OVERDUE
    assert bool(v.incidents["overdue"].iloc[0])
    assert s.version == version  # no change needed
    # accepting later clears the accept breach; the resolve deadline (48 h) is far away
    s.apply(mk("x", ("reported", 0), ("accepted", 40 * MIN)))
    v = s.view(NOW + 41 * MIN)
    assert v.kpis.overdue == 0 and v.grid_states["G0-0"] is GridState.IN_PROGRESS
    assert s.view(NOW + 48 * H + 1).kpis.overdue == 1


def test_kpis_with_a_fixed_clock() -> None:
    s = Situation(fake_locator, clock=at_now)
    midnight = parse_ts("2024-05-01T00:00:00+08:00") - NOW  # offset of local midnight (-9 h)
    s.replace_all(
        [
            # yesterday (before local midnight, within 24 h), resolved on time in 2 h, accepted after 10 min
            mk(
                "y1",
                ("reported", -20 * H),
                ("accepted", -20 * H + 10 * MIN),
                ("resolved", -18 * H),
                category="dispute",
            ),
            # resolved late: fire must be resolved within 2 h; accepted after 4 min; closed with rating 3
            mk(
                "f1",
                ("reported", -5 * H),
                ("accepted", -5 * H + 4 * MIN),
                ("resolved", -2 * H),
                ("closed", -1 * H),
                category="fire",
                rating=3,
            ),
            # today, open, reported 1 h ago, not accepted → overdue
            mk("t1", ("reported", -1 * H)),
            # today, open, reworked
            mk(
                "t2",
                ("reported", -3 * H),
                ("accepted", -3 * H + 20 * MIN),
                ("resolved", -2 * H),
                ("dispatched", -1 * H),
                ("accepted", -50 * MIN),
                reopened=1,
                lon=120.2,
                lat=30.1,
            ),
            # closed yesterday-ish with rating 5 (closed 10 h ago)
            mk(
                "c1",
                ("reported", -30 * H),
                ("accepted", -30 * H + 30 * MIN),
                ("resolved", -12 * H),
                ("closed", -10 * H),
                rating=5,
            ),
            # older than 24 h entirely
            mk("old", ("reported", -50 * H), ("accepted", -49 * H), ("resolved", -45 * H)),
        ]
    )
    k = s.view(NOW).kpis
    assert k.today_reported == 3  # f1 (-5 h), t1, t2 — y1 is before local midnight (-9 h)
    assert midnight == -9 * H
    assert k.open == 2 and k.overdue == 1
    # resolved in the last 24 h: y1 (on time), f1 (late: 3 h > 2 h), c1 (on time)
    assert k.resolved_24h == 3
    assert k.on_time_rate == pytest.approx(2 / 3)
    assert k.mean_resolve_min == pytest.approx((2 * 60 + 3 * 60 + 18 * 60) / 3)
    # first accepts in the last 24 h: y1 10 min, f1 4 min, t2 20 min (c1's was 29.5 h ago)
    assert k.mean_accept_min == pytest.approx((10 + 4 + 20) / 3)
    assert k.rework == 1
    assert k.satisfaction == pytest.approx(4.0) and k.rated_24h == 2
    assert k.by_category == {"environment": 2}
    assert k.by_category_24h == {"dispute": 1, "fire": 1, "environment": 2}
    assert k.by_community == {"C0": 1, "C2": 1}
    assert k.by_status == {"resolved": 2, "closed": 2, "reported": 1, "accepted": 1}
    assert len(k.trend_24h) == 24 and sum(k.trend_24h) == 4  # y1, f1, t1, t2 within the last 24 h
    assert k.trend_24h[-1] == 0 and k.trend_24h[-2] == 1  # t1 at 08:00 local, in the hour before 09:00
    assert k.trend_24h[-4] == 1  # t2 at 06:00
    assert k.trend_start == NOW - 23 * H


def test_empty_situation_view() -> None:
    v = Situation(fake_locator, clock=at_now).view(NOW)
    assert len(v.incidents) == 0 and tuple(v.incidents.columns) == COLUMNS
    assert v.grid_states == {} and v.kpis.open == 0 and v.kpis.on_time_rate is None
    assert v.kpis.trend_24h == [0] * 24
    assert len(v.latest(5)) == 0


def test_newer_ts_wins_and_latest_order() -> None:
    s = Situation(fake_locator, clock=at_now)
    assert s.apply(mk("a", ("reported", -100)))
    assert s.apply(mk("b", ("reported", -90)))
    assert s.apply(mk("a", ("reported", -100), ("dispatched", -50)))
    assert not s.apply(mk("a", ("reported", -100), ("dispatched", -60)))  # older
    assert not s.apply(mk("a", ("reported", -100), ("dispatched", -50)))  # duplicate
    a = s.get("a")
    assert a is not None and a.status is Status.DISPATCHED
    v = s.view(NOW)
    assert v.latest(5)["id"].tolist() == ["a", "b"]
    assert v.latest(1)["id"].tolist() == ["a"]


def test_version_token_and_view_cache() -> None:
    s = Situation(fake_locator, boot_id="boot1")
    assert s.version == 0 and s.version_token == "boot1:0"
    s.apply(mk("a", ("reported", -100)))
    assert s.version_token == "boot1:1"
    v1 = s.view(NOW)
    assert s.view(NOW) is v1 and v1.version_token == "boot1:1"
    assert s.view(NOW + 1) is not v1
    assert s.apply_many([]) == 0 and s.version == 1
    s.apply_many([mk("b", ("reported", -1)), mk("c", ("reported", -1))])
    assert s.version == 2  # one bump per batch
    assert len(s) == 3
    # the earlier snapshot is not affected by later changes
    assert len(v1.incidents) == 1


def test_wait_for_change_across_threads() -> None:
    s = Situation(fake_locator, clock=at_now)
    v0 = s.version
    assert not s.wait_for_change(v0, timeout=0.01)
    woke: list[bool] = []

    def waiter() -> None:
        woke.append(s.wait_for_change(v0, timeout=5))

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    assert not woke
    s.apply(mk("a", ("reported", -1)))
    t.join(2)
    assert woke == [True]
    assert s.wait_for_change(v0, timeout=0)  # already different: immediate


def test_concurrent_writers_and_readers() -> None:
    s = Situation(fake_locator, clock=at_now)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(200):
                s.apply(mk(f"w{k}-{i}", ("reported", -i), lon=120.0 + i * 0.001))
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    def reader() -> None:
        try:
            for _ in range(50):
                v = s.view(NOW)
                assert v.kpis.open == len(v.incidents)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(s) == 800 and s.version == 800
    assert s.view(NOW).kpis.open == 800


def test_replace_all_relocates_in_one_batch_and_resets() -> None:
    calls: list[int] = []

    def counting(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        calls.append(len(lon))
        return fake_locator(lon, lat)

    s = Situation(counting, clock=at_now)
    s.apply(mk("gone", ("reported", -1)))
    s.replace_all(mk(f"i{i}", ("reported", -i), lon=120.0 + i * 0.01) for i in range(50))
    assert calls == [1, 50]
    assert s.get("gone") is None and len(s) == 50
    # a status change at the same place does not call the locator again
    s.apply(mk("i3", ("reported", -3), ("dispatched", 0), lon=120.03))
    assert calls == [1, 50]
    s.apply(mk("i3", ("reported", -3), ("dispatched", 0), ("accepted", 1), lon=120.5))
    assert calls == [1, 50, 1]
    assert s.location("i3") == ("G50-0-m0", "G50-0", "C5")


def test_locator_failure_does_not_break_apply() -> None:
    def broken(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        raise RuntimeError("index not loaded")

    s = Situation(broken, clock=at_now)
    assert s.apply(mk("a", ("reported", -1)))
    assert s.location("a") == ("", "", "")
    assert s.view(NOW).kpis.open == 1


def _city(n: int, rng: np.random.Generator) -> list[Incident]:
    cats = list(CATEGORIES)
    out = []
    for i in range(n):
        t = NOW - float(rng.uniform(0, 3 * 86400))
        steps = [("reported", t - NOW)]
        if i % 3:
            steps.append(("dispatched", t - NOW + 60))
        if i % 3 == 2:
            steps.append(("accepted", t - NOW + 600))
        out.append(
            mk(
                f"I{i}",
                *steps,
                lon=120.0 + float(rng.uniform(0, 1)),
                lat=30.0 + float(rng.uniform(0, 1)),
                category=cats[i % len(cats)],
                priority=Priority.URGENT if i % 50 == 0 else Priority.NORMAL,
            )
        )
    return out


def test_view_at_10k_open_incidents_timing() -> None:
    s = Situation(fake_locator, clock=at_now)
    incs = _city(10_000, np.random.default_rng(7))
    t0 = time.perf_counter()
    s.replace_all(incs)
    t_rebuild = time.perf_counter() - t0
    t0 = time.perf_counter()
    v = s.view(NOW)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(10):
        s.view(NOW + 1 + k)
    t_same_version = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    for k in range(10):
        s.apply(mk(f"I{k}", ("reported", -1 * H), ("dispatched", 100 + k)))
        s.view(NOW + 100 + k)
    t_new_version = (time.perf_counter() - t0) / 10
    print(
        f"\n10k open: replace_all {t_rebuild * 1e3:.0f} ms, first view {t_first * 1e3:.1f} ms, "
        f"view (same version) {t_same_version * 1e3:.1f} ms, "
        f"apply+view (new version) {t_new_version * 1e3:.1f} ms"
    )
    assert v.kpis.open == 10_000 and len(v.incidents) == 10_000
    assert 0 < v.kpis.overdue < 10_000


def one_cell(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Every point in grid G1 (the retention tests are about memory, not places)."""
    g = np.full(len(lon), "G1", dtype=object)
    return pd.DataFrame({"micro_grid_id": g, "grid_id": g, "community_id": g})


def test_memory_stays_bounded_over_24_virtual_hours_and_open_incidents_stay() -> None:
    """50,000 incidents created and closed over 24 virtual hours (retention 1 h, the clock injected, no sleep):
    the situation's size and its arrays' capacity stay bounded; open ones are never dropped."""
    t = NOW
    # A prune every 5 virtual minutes (1 in production): 288 prunes instead of 1,440 keep the test quick.
    prune_s = 5 * MIN
    s = Situation(one_cell, clock=lambda: t, retention_s=H, prune_interval_s=prune_s)
    n, step_s, life_s = 50_000, 60.0, 30 * MIN
    steps = int(24 * H / step_s)
    per_step = n / steps
    pending: deque[tuple[float, Incident]] = deque()  # (when to close, incident)
    open_ids: set[str] = set()
    made = 0
    max_len = max_cap = 0
    for k in range(steps):
        t = NOW + k * step_s
        batch: list[Incident] = []
        while made < (k + 1) * per_step:
            iid = f"R{made}"
            status = Status.ACCEPTED if made % 50 == 0 else Status.REPORTED  # 2 % stay open all day
            inc = Incident(iid, status, t, 120.0, 30.0, "environment", t, history=[(str(status), t)])
            batch.append(inc)
            if status is Status.ACCEPTED:
                open_ids.add(iid)
            else:
                pending.append((t + life_s, inc))
            made += 1
        while pending and pending[0][0] <= t:
            _, inc = pending.popleft()
            end = Status.CANCELLED if inc.id.endswith("7") else Status.CLOSED
            batch.append(dataclasses.replace(inc, status=end, ts=t, history=[*inc.history, (str(end), t)]))
        s.apply_many(batch)
        if k % 10 == 0:  # a screen looks every 10 virtual minutes
            s.view(t)
        max_len, max_cap = max(max_len, len(s)), max(max_cap, s.capacity)
        if k % 60 == 0:
            assert all(s.get(i) is not None for i in open_ids)
    assert made == n and len(open_ids) == n // 50
    # In memory: the open ones, those not yet closed (30 min of arrivals) and those closed within the last
    # retention + one prune interval: ~2,083 incidents arrive per virtual hour.
    per_h = n / 24
    bound = len(open_ids) + per_h * (life_s + H + prune_s + step_s) / H
    assert max_len <= bound, (max_len, bound)
    assert max_cap <= 2 * bound and max_cap < n / 4, max_cap  # without retention: 65,536 rows
    assert all(s.get(i) is not None for i in open_ids)
    view = s.view(t)
    assert view.kpis.open == len(open_ids) + len(pending)
    assert len(view.incidents) == len(s) < bound
    print(f"\nretention: {n} incidents over 24 virtual h → at most {max_len} in memory, capacity {max_cap}")


def test_replace_all_and_prune_drop_only_ended_incidents_past_the_retention() -> None:
    t = NOW
    s = Situation(fake_locator, clock=lambda: t, retention_s=2 * H, prune_interval_s=MIN)
    s.replace_all(
        [
            mk("old-closed", ("reported", -10 * H), ("closed", -3 * H)),
            mk("old-cancelled", ("reported", -10 * H), ("cancelled", -3 * H)),
            mk("old-resolved", ("reported", -10 * H), ("resolved", -3 * H)),  # awaits 评单: kept
            mk("old-open", ("reported", -10 * H)),
            mk("new-closed", ("reported", -2 * H), ("closed", -1 * H)),
        ]
    )
    assert sorted(s.view(t).incidents["id"]) == ["new-closed", "old-open", "old-resolved"]
    v0 = s.version
    t = NOW + 30.0  # within the prune interval: nothing is looked at yet
    s.view(t)
    assert len(s) == 3 and s.version == v0
    t = NOW + H + MIN  # new-closed is now 2 h + 1 min old
    s.view(t)
    assert sorted(s.view(t).incidents["id"]) == ["old-open", "old-resolved"]
    assert s.version > v0  # a drop is a change
    # an ended incident from long ago arriving late is not taken in; a rework brings one back
    assert not s.apply(mk("late", ("reported", -20 * H), ("closed", -19 * H)))
    assert s.apply(mk("new-closed", ("reported", -2 * H), ("closed", -1 * H), ("dispatched", H + 2 * MIN)))
    assert s.get("new-closed") is not None and len(s) == 3


def test_retention_is_validated() -> None:
    with pytest.raises(ValueError, match="retention_s"):
        Situation(fake_locator, retention_s=0)
