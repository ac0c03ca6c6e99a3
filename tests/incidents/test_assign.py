"""incidents.assign: who fits a category, own grid first, then by distance in metres."""

from __future__ import annotations

import dataclasses
from functools import cache

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import Point

from dashboard.settings import DEFAULT_DATA
from geo.index import SpatialIndex
from geo.layers import GeoLayers, read_layers
from incidents.assign import BUSY_OPEN_TASKS, CATEGORY_NEEDS, PENALTY_M_PER_TASK, Assigner, workload

GEOD = Geod(ellps="WGS84")


@cache
def demo() -> GeoLayers:
    return read_layers(DEFAULT_DATA)


def spot() -> tuple[str, float, float]:
    """A point inside the first demo grid."""
    grids = demo().grids
    p = grids.geometry.representative_point().iloc[0]
    return str(grids["grid_id"].iloc[0]), float(p.x), float(p.y)


def with_members(rows: list[tuple[str, str, str, str, bool, float, float]]) -> GeoLayers:
    """The demo layers with a hand-made members layer: (id, role, grid, skills, on_duty, lon, lat)."""
    layers = demo()
    members = gpd.GeoDataFrame(
        {
            "member_id": [r[0] for r in rows],
            "name": [f"张小{r[0][-1]}" for r in rows],
            "phone": ["13800000000"] * len(rows),
            "role": [r[1] for r in rows],
            "grid_id": [r[2] for r in rows],
            "skills": [r[3] for r in rows],
            "on_duty": [r[4] for r in rows],
        },
        geometry=[Point(r[5], r[6]) for r in rows],
        crs=4326,
    )
    return dataclasses.replace(layers, members=members)


def test_skill_and_role_filters_own_grid_first_and_metres() -> None:
    grid, lon, lat = spot()
    dlat = 0.001  # ≈ 111 m
    layers = with_members(
        [
            ("M1", "党员", "OTHER", "消防", True, lon, lat + dlat),  # closest fire member, other grid
            ("M2", "志愿者", grid, "驾驶,消防", True, lon, lat + 5 * dlat),  # own grid, farther
            ("M3", "网格员", grid, "电工", True, lon, lat + 0.5 * dlat),  # own grid, no fire skill
            ("M4", "党员", grid, "消防", False, lon, lat + 0.2 * dlat),  # off duty
            ("M5", "网格长", "OTHER", "调解", True, lon, lat + 2 * dlat),
            ("M6", "党员", grid, "消防", True, lon, lat + 3 * dlat),  # own grid, nearer than M2
        ]
    )
    a = Assigner(layers, SpatialIndex(layers))
    fire = a.suggest(lon, lat, "fire", grid)
    assert [s.member_id for s in fire] == ["M6", "M2", "M1"]  # own grid by distance, then beyond
    assert [s.same_grid for s in fire] == [True, True, False]
    assert all("消防" in s.matched_skills for s in fire)
    assert fire[1].skills == ("驾驶", "消防") and fire[1].role == "志愿者"
    for s, k in zip(fire, (3, 5, 1), strict=True):
        _, _, metres = GEOD.inv(lon, lat, lon, lat + k * dlat)
        assert s.distance_m == pytest.approx(metres, rel=2e-3), s  # UTM vs geodesic
    # dispute: 调解 or 法律咨询; rental housing: 网格员/网格长 whatever their skills
    assert [s.member_id for s in a.suggest(lon, lat, "dispute", grid)] == ["M5"]
    assert [s.member_id for s in a.suggest(lon, lat, "rental_housing", grid)] == ["M3", "M5"]
    # no needs: anyone on duty, own grid first; n and exclude
    assert [s.member_id for s in a.suggest(lon, lat, "environment", grid, n=3)] == ["M3", "M6", "M2"]
    assert [s.member_id for s in a.suggest(lon, lat, "environment", grid, exclude=["M3", "M6"])] == [
        "M2",
        "M1",
        "M5",
    ]
    # unknown grid: pure distance order
    assert [s.member_id for s in a.suggest(lon, lat, "fire")] == ["M1", "M6", "M2"]
    assert a.suggest(lon, lat, "fire", grid, n=0) == []


def test_workload_counts_open_incidents_per_assignee() -> None:
    table = pd.DataFrame(
        {
            "status": ["reported", "dispatched", "accepted", "resolved", "closed", "cancelled", "accepted"],
            "assignee": ["M1", "M1", "M1", "M1", "M2", "M2", ""],
        }
    )
    assert workload(table) == {"M1": 3}  # resolved/closed/cancelled and unassigned rows do not count
    assert workload(pd.DataFrame()) == {}


def test_a_member_with_five_open_tasks_is_not_the_first_suggestion() -> None:
    grid, lon, lat = spot()
    dlat = 0.001  # ≈ 111 m
    layers = with_members(
        [
            ("M1", "网格员", grid, "", True, lon, lat + 0.1 * dlat),  # nearest, own grid, busy
            ("M2", "网格员", "OTHER", "", True, lon, lat + 20 * dlat),  # far, other grid, idle
            ("M3", "网格员", grid, "", True, lon, lat + 2 * dlat),  # own grid, 222 m
            ("M4", "网格员", grid, "", True, lon, lat + 3 * dlat),  # own grid, 333 m
        ]
    )
    a = Assigner(layers, SpatialIndex(layers))
    assert [s.member_id for s in a.suggest(lon, lat, "environment", grid)] == ["M1", "M3", "M4", "M2"]
    busy = {"M1": BUSY_OPEN_TASKS}
    ranked = a.suggest(lon, lat, "environment", grid, workload=busy)
    assert [s.member_id for s in ranked] == ["M3", "M4", "M2", "M1"]  # busy: after everyone, even the far idle
    assert ranked[-1].open_tasks == BUSY_OPEN_TASKS and ranked[0].open_tasks == 0
    # below the busy mark: PENALTY_M_PER_TASK metres per task — M3 (one task, 222 m + 300) drops behind M4 (333 m)
    assert PENALTY_M_PER_TASK == 300.0
    assert [s.member_id for s in a.suggest(lon, lat, "environment", grid, workload={"M3": 1})][:3] == [
        "M1",
        "M4",
        "M3",
    ]
    # only busy members: still suggested, least busy first
    only = with_members([("M1", "网格员", grid, "", True, lon, lat), ("M2", "网格员", grid, "", True, lon, lat + dlat)])
    b = Assigner(only, SpatialIndex(only))
    assert [s.member_id for s in b.suggest(lon, lat, "environment", grid, workload={"M1": 9, "M2": 5})] == ["M2", "M1"]


def test_on_the_demo_data_every_suggestion_fits() -> None:
    layers = demo()
    a = Assigner(layers)
    members = layers.members.set_index("member_id")
    grid, lon, lat = spot()
    for category, need in CATEGORY_NEEDS.items():
        got = a.suggest(lon, lat, category, grid, n=8)
        assert got, category
        same = [s.same_grid for s in got]
        assert same == sorted(same, reverse=True), category  # own grid first
        for flag in (True, False):
            ds = [s.distance_m for s in got if s.same_grid is flag]
            assert ds == sorted(ds), category
        for s in got:
            row = members.loc[s.member_id]
            assert bool(row["on_duty"])
            assert s.same_grid == (row["grid_id"] == grid)
            if need.roles:
                assert s.role in need.roles
            if need.skills:
                assert set(s.matched_skills) & need.skills, (category, s)


def test_actions_offer_only_legal_steps_and_ts_after_the_stored_one() -> None:
    from incidents.actions import action_message, can_dispatch, offered_actions
    from incidents.model import Incident, Status

    assert [str(s) for s in offered_actions("reported")] == ["accepted", "resolved", "cancelled"]
    assert [str(s) for s in offered_actions("dispatched")] == ["accepted", "resolved", "cancelled"]
    assert [str(s) for s in offered_actions("accepted")] == ["resolved", "cancelled"]
    assert offered_actions("resolved") == [] and offered_actions("cancelled") == []
    assert can_dispatch("reported") and can_dispatch("dispatched") and can_dispatch("closed")  # 改派, 返工
    assert not can_dispatch("cancelled")
    inc = Incident("X", Status.REPORTED, 2_000_000_000.1234, 120.0, 30.0, "fire", 2_000_000_000.0)
    msg = action_message(inc, Status.DISPATCHED, assignee="P000001", now=1_900_000_000.0)  # clock behind
    assert msg == {"id": "X", "status": "dispatched", "ts": 2_000_000_000.124, "assignee": "P000001"}
    assert msg["ts"] > inc.ts
    assert action_message(inc, "accepted", now=2_100_000_000.0) == {"id": "X", "status": "accepted", "ts": 2.1e9}
