"""Tiny hand-made, deterministic sample inputs with the documented columns.

For figure tests and previews (``python -m dashboard.figures.sample out.png``) without the geo/incidents
packages or the demo GeoPackage. Not used at runtime.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from incidents.model import CATEGORIES, OPEN_STATUS_VALUES, GridState

from .incident_map import MapBase

LON0, LAT0 = 120.150, 30.270  # a street in Hangzhou
CELL = 0.0055  # ~530 m east-west, ~610 m north-south
COLS, ROWS = 5, 4
COMMUNITY_NAMES = ("翠苑一区", "翠苑二区", "文华社区", "学院路社区")


def _square(x0: float, y0: float, dx: float, dy: float) -> list[list[list[float]]]:
    ring = [[x0, y0], [x0 + dx, y0], [x0 + dx, y0 + dy], [x0, y0 + dy], [x0, y0]]
    return [[[round(x, 5), round(y, 5)] for x, y in ring]]


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def sample_geojson() -> tuple[dict[str, Any], list[str], dict[str, Any], dict[str, Any]]:
    """(grids, grid names, micro-grids, communities) as compact GeoJSON."""
    grids, names, micro, comm = [], [], [], []
    for r in range(ROWS):
        for c in range(COLS):
            gid = f"G{r * COLS + c + 1:03d}"
            x0, y0 = LON0 + c * CELL, LAT0 + r * CELL
            # wobble one corner so the grids don't look like graph paper
            poly = _square(x0, y0, CELL, CELL)
            grids.append(
                {
                    "type": "Feature",
                    "id": gid,
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": poly},
                }
            )
            names.append(f"{COMMUNITY_NAMES[(r // 2) * 2 + (c >= 3)]}第{r * COLS + c + 1}网格")
            for k in range(4):
                mx, my = x0 + (k % 2) * CELL / 2, y0 + (k // 2) * CELL / 2
                micro.append(
                    {
                        "type": "Feature",
                        "id": f"{gid}-M{k + 1}",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": _square(mx, my, CELL / 2, CELL / 2)},
                    }
                )
    for i in range(4):
        c0, c1 = (0, 3) if i % 2 == 0 else (3, COLS)
        r0 = (i // 2) * 2
        comm.append(
            {
                "type": "Feature",
                "id": f"C{i + 1}",
                "properties": {"name": COMMUNITY_NAMES[i]},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": _square(LON0 + c0 * CELL, LAT0 + r0 * CELL, (c1 - c0) * CELL, 2 * CELL),
                },
            }
        )
    return _fc(grids), names, _fc(micro), _fc(comm)


def sample_members(n: int = 60, seed: int = 7) -> pd.DataFrame:
    """``n`` grid members with the documented member columns, placed inside the sample grids."""
    rng = np.random.default_rng(seed)
    roles = np.array(["网格长", "网格员", "党小组长", "党员", "志愿者"])
    return pd.DataFrame(
        {
            "member_id": [f"M{i:04d}" for i in range(n)],
            "name": [f"张{'小大'[i % 2]}明" for i in range(n)],
            "phone": ["13812341234"] * n,
            "lon": LON0 + rng.uniform(0, COLS * CELL, n),
            "lat": LAT0 + rng.uniform(0, ROWS * CELL, n),
            "role": roles[rng.integers(0, len(roles), n)],
            "on_duty": rng.uniform(size=n) < 0.7,
        }
    )


def sample_base() -> MapBase:
    """A ``MapBase`` of the sample grids, micro-grids, communities and members."""
    grids, names, micro, comm = sample_geojson()
    return MapBase.from_geojson(
        grids, grid_names=names, members=sample_members(), micro_geojson=micro, community_geojson=comm
    )


TITLES = {
    "environment": "小区垃圾堆放未清运",
    "dispute": "邻里噪音纠纷",
    "safety_hazard": "楼道电动车充电",
    "public_service": "路灯不亮",
    "rental_housing": "出租房人员未登记",
    "fire": "消防通道被占用",
    "traffic": "共享单车乱停放",
    "infrastructure": "人行道破损",
    "elderly_care": "独居老人需上门探访",
    "other": "群众咨询",
}


def sample_incidents(n: int = 40, now: float | None = None, seed: int = 11) -> pd.DataFrame:
    """Incidents with the SituationView columns."""
    now = time.time() if now is None else now
    rng = np.random.default_rng(seed)
    statuses = rng.choice(
        ["reported", "dispatched", "accepted", "resolved", "closed", "cancelled"],
        size=n,
        p=[0.2, 0.15, 0.25, 0.2, 0.15, 0.05],
    )
    cats = rng.choice(list(CATEGORIES), size=n)
    lon = LON0 + rng.uniform(0.0003, COLS * CELL - 0.0003, n)
    lat = LAT0 + rng.uniform(0.0003, ROWS * CELL - 0.0003, n)
    col = np.clip(((lon - LON0) / CELL).astype(int), 0, COLS - 1)
    row = np.clip(((lat - LAT0) / CELL).astype(int), 0, ROWS - 1)
    created = now - rng.uniform(60, 20 * 3600, n)
    is_open = np.isin(statuses, OPEN_STATUS_VALUES)
    overdue = is_open & (rng.uniform(size=n) < 0.3)
    priority = rng.choice(["low", "normal", "high", "urgent"], size=n, p=[0.1, 0.6, 0.2, 0.1])
    return pd.DataFrame(
        {
            "id": [f"E{1000 + i}" for i in range(n)],
            "status": statuses,
            "lon": lon,
            "lat": lat,
            "category": cats,
            "category_label": [CATEGORIES[c] for c in cats],
            "priority": priority,
            "grid_id": [f"G{r * COLS + c + 1:03d}" for r, c in zip(row, col, strict=True)],
            "micro_grid_id": [f"G{r * COLS + c + 1:03d}-M1" for r, c in zip(row, col, strict=True)],
            "community_id": [f"C{(r // 2) * 2 + (c >= 3) + 1}" for r, c in zip(row, col, strict=True)],
            "created_ts": created,
            "ts": np.minimum(created + rng.uniform(0, 3600, n), now),
            "overdue": overdue,
            "urgent": is_open & (priority == "urgent"),
            "title": [TITLES[c] for c in cats],
            "assignee": [f"M{i:04d}" for i in range(n)],
        }
    ).sort_values("ts", ascending=False, ignore_index=True)


def sample_grid_states(incidents: pd.DataFrame, grid_ids: list[str]) -> dict[str, GridState]:
    """Worst open state per grid (what incidents.situation computes)."""
    states = dict.fromkeys(grid_ids, GridState.CLEAR)
    rank = {GridState.CLEAR: 0, GridState.IN_PROGRESS: 1, GridState.UNASSIGNED: 2, GridState.OVERDUE: 3}
    for row in incidents.itertuples():
        if row.status not in OPEN_STATUS_VALUES:
            continue
        s = (
            GridState.OVERDUE
            if row.overdue
            else GridState.UNASSIGNED
            if row.status == "reported"
            else GridState.IN_PROGRESS
        )
        if rank[s] > rank[states.get(str(row.grid_id), GridState.CLEAR)]:
            states[str(row.grid_id)] = s
    return states


@dataclass
class SampleKpis:
    """Duck-typed like incidents.situation's KPI object."""

    today_reported: int = 128
    open: int = 37
    overdue: int = 5
    on_time_rate: float = 0.953
    mean_accept_min: float = 6.4
    mean_resolve_min: float = 142.0
    rework: int = 2
    rework_rate: float = 0.021
    satisfaction: float = 4.6
    satisfied_share: float = 0.89
    median_accept_min: float = 4.8
    median_resolve_min: float = 96.0
    by_category: dict[str, int] = field(default_factory=dict)
    by_community: dict[str, int] = field(default_factory=dict)
    trend_24h: list[int] = field(default_factory=list)
    trend_start: float | None = None


def sample_kpis(incidents: pd.DataFrame | None = None) -> SampleKpis:
    """KPIs for ``incidents`` (default ``sample_incidents()``): counts from them, a fixed-seed 24 h trend."""
    inc = sample_incidents() if incidents is None else incidents
    rng = np.random.default_rng(3)
    trend = (
        np.array([2, 1, 1, 0, 0, 1, 3, 6, 9, 11, 10, 8, 7, 9, 10, 8, 7, 6, 8, 5, 4, 3, 2, 3]) + rng.integers(0, 3, 24)
    ).tolist()
    return SampleKpis(
        by_category={str(k): int(v) for k, v in inc["category"].value_counts().items()},
        by_community={str(k): int(v) for k, v in inc["community_id"].value_counts().items()},
        trend_24h=[int(v) for v in trend],
    )


if __name__ == "__main__":  # preview: python -m dashboard.figures.sample [out.png]
    from dashboard.figures.briefing import build_briefing
    from dashboard.figures.incident_map import grid_fill_z
    from dashboard.snapshot import render_png

    base = sample_base()
    inc = sample_incidents()
    fig = build_briefing(
        base,
        grid_fill_z(base.grid_ids, sample_grid_states(inc, base.grid_ids)),
        inc,
        sample_kpis(inc),
        street_name="翠苑街道",
    )
    out = sys.argv[1] if len(sys.argv) > 1 else "briefing_sample.png"
    print(out, len(render_png(fig, out)), "bytes")
