from __future__ import annotations

import itertools
import json
import threading
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from incidents.model import CATEGORIES, TRANSITIONS, Incident, MergeOutcome, Status, merge_message
from incidents.simulator import MAX_LIFE_H, TITLES, Simulator, lifecycle_ok, local_hour
from incidents.situation import Situation
from incidents.sla import SlaPolicy
from incidents.wire import parse_message

NOW = 1714525200.0  # 2024-05-01T09:00:00+08:00
RNG = np.random.default_rng(0)
POINTS = np.column_stack([120.10 + RNG.uniform(0, 0.05, 40), 30.20 + RNG.uniform(0, 0.05, 40)])


def one_grid(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    n = len(lon)
    return pd.DataFrame({"micro_grid_id": ["M1"] * n, "grid_id": ["G1"] * n, "community_id": ["C1"] * n})


def fold(msgs: list[dict[str, Any]], now: float) -> dict[str, Incident]:
    """Validate every message on the wire and merge it like the store does."""
    state: dict[str, Incident] = {}
    for m in msgs:
        w = parse_message(json.dumps(m, ensure_ascii=False).encode("utf-8"), now=now)
        inc, outcome = merge_message(state.get(w.id), w)
        assert outcome in (MergeOutcome.CREATED, MergeOutcome.UPDATED), (outcome, m)
        assert inc is not None
        state[w.id] = inc
    return state


def check_lifecycles(msgs: list[dict[str, Any]], now: float) -> dict[str, list[dict[str, Any]]]:
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in msgs:
        per[m["id"]].append(m)
    for iid, ms in per.items():
        ts = [parse_message(json.dumps(m), now=now).ts for m in ms]
        assert all(b > a for a, b in itertools.pairwise(ts)), (iid, ts)
        statuses = [m["status"] for m in ms]
        assert lifecycle_ok(statuses), (iid, statuses)
        first = ms[0]
        assert {"lon", "lat", "category", "title", "source", "priority"} <= set(first)
        assert first["title"] in TITLES[first["category"]]
        for i, m in enumerate(ms):
            if "rating" in m:
                assert m["status"] == "closed" and 1 <= m["rating"] <= 5
            if m["status"] == "dispatched" and i > 0 and statuses[i - 1] in ("resolved", "closed"):
                assert m.get("reopened", 0) >= 1, (iid, ms)  # rework is counted
    return per


def test_backfill_messages_are_valid_ordered_lifecycles() -> None:
    sim = Simulator(POINTS, seed=1)
    msgs = sim.backfill(24, NOW)
    assert len(msgs) > 200
    ts = [parse_message(json.dumps(m), now=NOW).ts for m in msgs]
    assert ts == sorted(ts) and ts[0] >= NOW - 24 * 3600 and ts[-1] <= NOW
    assert all(m["ts"].endswith("+08:00") for m in msgs)
    per = check_lifecycles(msgs, NOW)
    statuses = Counter(ms[-1]["status"] for ms in per.values())
    # all outcomes appear
    assert {"closed", "cancelled", "accepted", "reported"} <= set(statuses)
    assert any(m.get("reopened") for m in msgs)  # some rework
    cats = Counter(ms[0]["category"] for ms in per.values())
    assert cats.most_common(1)[0][0] == "environment" and set(cats) <= set(CATEGORIES)
    prios = Counter(ms[0]["priority"] for ms in per.values())
    assert prios["normal"] > prios["high"] > prios["urgent"] > 0
    sources = {ms[0]["source"] for ms in per.values()}
    assert sources == {"网格员巡查", "12345热线", "居民随手拍", "浙里办"}
    # located near the given points
    lons = np.array([ms[0]["lon"] for ms in per.values()])
    assert lons.min() > POINTS[:, 0].min() - 0.01 and lons.max() < POINTS[:, 0].max() + 0.01


def test_backfill_yields_realistic_kpis_and_some_overdue() -> None:
    sim = Simulator(POINTS, seed=2)
    state = fold(sim.backfill(24, NOW), NOW)
    sla = SlaPolicy()
    overdue = [i for i in state.values() if sla.is_overdue(i, NOW)]
    assert len(overdue) >= 3
    s = Situation(one_grid, sla, clock=lambda: NOW)  # retention is judged at NOW, not the wall clock
    s.replace_all(state.values())
    k = s.view(NOW).kpis
    assert k.overdue == len(overdue) and k.open > k.overdue
    assert k.on_time_rate is not None and 0.8 <= k.on_time_rate <= 1.0
    assert k.mean_accept_min is not None and 3 < k.mean_accept_min < 60
    assert k.satisfaction is not None and 3.5 < k.satisfaction <= 5
    assert k.today_reported > 0 and sum(k.trend_24h) > 100
    assert s.view(NOW).grid_states["G1"].value == "overdue"


def test_deterministic_with_a_seed() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        sim = Simulator(POINTS, seed=seed, rate_per_s=0.5)
        out = sim.backfill(6, NOW)
        for k in range(0, 300, 7):
            out += sim.step(NOW + k)
        return out

    a, b = run(5), run(5)
    assert a == b and len(a) > 50
    assert run(6) != a


def test_step_emits_due_messages_and_publishes() -> None:
    got: list[dict[str, Any]] = []
    sim = Simulator(POINTS, seed=3, rate_per_s=1.0, publish=got.append, time_scale=120)
    assert sim.backfill(1, NOW - 1, publish=False) and not got  # publish=False: returned only
    sim = Simulator(POINTS, seed=3, rate_per_s=1.0, publish=got.append, time_scale=120)
    first = sim.step(NOW)
    assert len(first) == 1 and first[0]["status"] == "reported"  # an arrival right at start
    out = list(first)
    for k in range(1, 1200):
        msgs = sim.step(NOW + k)
        for m in msgs:
            assert parse_message(json.dumps(m), now=NOW + k).ts <= NOW + k
        out += msgs
    assert got == out and sim.emitted == len(out)
    per = check_lifecycles(out, NOW + 1200)
    assert 1000 < len(per) < 1400  # ~1 arrival per second
    finals = Counter(ms[-1]["status"] for ms in per.values())
    assert finals["closed"] > 0  # compressed delays let lifecycles finish within the demo
    assert sim.pending() > 0


def test_assignees_and_sampler() -> None:
    calls: list[int] = []

    def sampler(rng: np.random.Generator, n: int) -> np.ndarray:
        calls.append(n)
        return np.column_stack([rng.uniform(121.0, 121.01, n), rng.uniform(31.0, 31.01, n)])

    sim = Simulator(sampler, seed=4, assignees=["W001", "W002"], jitter_deg=0)
    msgs = sim.backfill(12, NOW)
    assert calls and all(121.0 <= m["lon"] <= 121.01 for m in msgs if "lon" in m)
    assert {m["assignee"] for m in msgs if "assignee" in m} == {"W001", "W002"}
    sim2 = Simulator(POINTS, seed=4, assignees=lambda lon, lat: f"near-{lon:.1f}")
    assert {m["assignee"] for m in sim2.backfill(6, NOW) if "assignee" in m} == {"near-120.1"}


def test_transitions_table_is_respected_by_lifecycle_ok() -> None:
    assert lifecycle_ok(["reported", "dispatched", "accepted", "resolved", "closed"])
    assert lifecycle_ok(["reported", "accepted", "resolved", "dispatched", "accepted", "resolved", "closed"])
    assert lifecycle_ok(["reported", "resolved", "closed"])  # 即知即办: fixed on the spot
    assert not lifecycle_ok(["reported", "closed"])
    assert not lifecycle_ok(["reported", "cancelled", "reported"])
    assert not lifecycle_ok(["dispatched"])
    assert not lifecycle_ok([])
    assert TRANSITIONS[Status.CANCELLED] == frozenset()


def test_run_loops_until_stopped() -> None:
    clock = [NOW]
    got: list[dict[str, Any]] = []

    def fake_now() -> float:
        clock[0] += 5.0
        return clock[0]

    sim = Simulator(POINTS, seed=7, rate_per_s=2.0, publish=got.append, now=fake_now)
    stop = threading.Event()
    history = sim.backfill(3)  # uses the injected clock and publishes
    assert got == history and history
    got.clear()
    t = threading.Thread(target=sim.run, args=(stop,), kwargs={"tick_s": 0.001})
    t.start()
    while len(got) < 20:
        stop.wait(0.01)
    stop.set()
    t.join(30)
    assert not t.is_alive()
    # run() goes on with the incidents backfill opened: a lifecycle is judged over the whole stream, not only
    # what run() published (how far it got before stop is a matter of machine speed)
    check_lifecycles(history + got, clock[0])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="points"):
        Simulator(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="points"):
        Simulator(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        Simulator(POINTS, time_scale=0)


def test_publish_errors_do_not_stop_the_simulator() -> None:
    def boom(m: dict[str, Any]) -> None:
        raise ConnectionError("redis down")

    sim = Simulator(POINTS, seed=8, rate_per_s=1.0, publish=boom)
    assert len(sim.backfill(2, NOW - 10)) > 0
    assert len(sim.step(NOW)) >= 1
    assert len(sim.step(NOW + 10)) >= 1
    assert sim.emitted > 0


def test_a_demo_day_is_steady_and_live_follows_the_backfills_daily_curve() -> None:
    """``daily=True`` (the demo): after a backfill as long as the longest lifecycle, four days of live steps on an
    injected clock keep the open count within a band around its level (no climb), and the live arrivals per
    6-hour block of the local day agree with the backfill's."""
    per_hour, h = 12.0, 3600.0
    sim = Simulator(POINTS, seed=11, daily=True, backfill_per_hour=per_hour)
    status: dict[str, str] = {}

    def fold_status(msgs: list[dict[str, Any]]) -> list[float]:
        for m in msgs:
            status[m["id"]] = m["status"]
        return [parse_message(json.dumps(m), now=NOW + 400 * h).ts for m in msgs if m["status"] == "reported"]

    def open_now() -> int:
        return sum(1 for s in status.values() if s in ("reported", "dispatched", "accepted"))

    backfill_h, live_h = float(MAX_LIFE_H), 96
    backfilled = fold_status(sim.backfill(backfill_h, NOW))
    opens = [open_now()]
    live: list[float] = []
    for k in range(1, live_h * 30 + 1):  # a step every 2 minutes
        live += fold_status(sim.step(NOW + k * 120.0))
        if k % 30 == 0:
            opens.append(open_now())

    level = float(np.mean(opens))
    assert 0.6 * level <= min(opens) and max(opens) <= 1.4 * level, opens  # a daily swing, not a crisis
    first, last = np.mean(opens[1:49]), np.mean(opens[-48:])
    assert abs(last - first) <= 0.15 * level, (first, last)  # no drift: the steady state
    assert abs(opens[0] - level) <= 0.3 * level  # the backfill ends where live goes on

    def per_block(ts: list[float], hours: float) -> np.ndarray:
        blocks = np.bincount([local_hour(t) // 6 for t in ts], minlength=4)
        return blocks / (hours / 24.0)  # arrivals per day in each 6-hour block

    b, lv = per_block(backfilled, backfill_h), per_block(live, live_h)
    assert len(live) / live_h == pytest.approx(per_hour, rel=0.15)
    assert len(backfilled) / backfill_h == pytest.approx(per_hour, rel=0.15)
    assert np.all(np.abs(lv - b) <= 0.3 * b + 3), (b, lv)
    assert b[0] < b[2] / 3 and lv[0] < lv[2] / 3  # quiet nights, busy days in both


def test_a_restarted_demo_carries_on_the_open_incidents_and_numbers_after_them() -> None:
    """``adopt``: a second simulator on the first one's state (no backfill) ends what was left open and does not
    reuse its ids."""
    first = Simulator(POINTS, seed=12, daily=True, backfill_per_hour=12.0)
    state = fold(first.backfill(48, NOW), NOW)
    left_open = {i for i, inc in state.items() if inc.status in ("reported", "dispatched", "accepted")}
    assert len(left_open) > 20

    again = Simulator(POINTS, seed=13, daily=True, backfill_per_hour=12.0)
    assert again.adopt(state.values(), NOW) == len(left_open)
    later = NOW + 10 * 24 * 3600.0
    msgs = [m for k in range(1, 241) for m in again.step(NOW + k * 3600.0)]
    state2 = dict(state)
    for m in msgs:  # the whole story of each incident stays a legal lifecycle, merged onto the old state
        w = parse_message(json.dumps(m, ensure_ascii=False).encode("utf-8"), now=later)
        inc, outcome = merge_message(state2.get(w.id), w)
        assert outcome in (MergeOutcome.CREATED, MergeOutcome.UPDATED), (outcome, m)
        assert inc is not None
        state2[w.id] = inc
    assert all(state2[i].status not in ("reported", "dispatched", "accepted") for i in left_open)
    new = {m["id"] for m in msgs if m["status"] == "reported"}
    assert new and not (new & set(state))  # fresh ids, after the old ones
