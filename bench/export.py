"""The work list's exports: ``GET /api/incidents.csv|.xlsx`` for a 10,000-incident list, without the HTTP hop.

What is timed is what the route does after the gate: the filter (``dashboard.worklist.work_list``), the display rows
(``records``: names, labels, masking, Beijing time) and the file (``csv_bytes`` / ``xlsx_bytes``). The baseline
is ``pandas.DataFrame.to_csv`` of the same rows' raw columns (ids and epoch seconds, nothing a person can read):
the cost of a naive dump, so the ratio says what readable, masked output costs on top. Best of a few runs each.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np

from bench.env import BenchEnv, demo_path, layers
from bench.report import Measurement, failed, ratio
from dashboard.export_api import csv_bytes, xlsx_bytes
from dashboard.worklist import Directory, headers, records, work_list
from geo.areas import AreaTree, build_area_tree
from geo.index import SpatialIndex
from incidents.model import CATEGORIES, Incident, Priority, Status
from incidents.situation import Situation
from incidents.worklist import WorkFilter

FAMILY = "export"
ROWS = 10_000
CSV_BUDGET_S = 1.0
XLSX_BUDGET_S = 3.0


def situation_of(n: int, seed: int = 11) -> tuple[Situation, Directory, AreaTree]:
    """A Situation holding ``n`` incidents at demo members' positions, a spread of statuses over three days."""
    lay = layers(demo_path())
    tree = build_area_tree(lay)
    index = SpatialIndex(lay)
    rng = np.random.default_rng(seed)
    pts = lay.members.geometry
    pick = rng.integers(0, len(pts), n)
    now = time.time()
    statuses = list(Status)
    cats = list(CATEGORIES)
    members = lay.members["member_id"].astype(str).to_numpy()
    situation = Situation(index.locate)
    situation.apply_many(
        Incident(
            id=f"SIM-{i:06d}",
            status=statuses[int(rng.integers(0, len(statuses)))],
            ts=now - float(rng.random()) * 3600,
            lon=float(pts.x.iloc[int(p)]),
            lat=float(pts.y.iloc[int(p)]),
            category=cats[int(rng.integers(0, len(cats)))],
            created_ts=now - float(rng.random()) * 3 * 86400,
            title=f"{i}号楼 楼道堆物 联系电话1381234{i % 10000:04d}",
            priority=Priority.URGENT if i % 17 == 0 else Priority.NORMAL,
            assignee=str(members[int(p)]) if i % 3 else "",
            source="12345",
        )
        for i, p in enumerate(pick)
    )
    return situation, Directory.of(tree, lay.members), tree


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(n: int, runs: int) -> list[Measurement]:
    situation, directory, tree = situation_of(n)
    now = time.time()
    view = situation.view(now)
    flt = WorkFilter()
    rows = work_list(view.incidents, flt, now=now, tree=tree, directory=directory)

    def export(write: Callable[[list[dict[str, str]]], bytes]) -> bytes:
        got = work_list(view.incidents, flt, now=now, tree=tree, directory=directory)
        return write(records(got, directory, lang="zh", masked=True))

    head = headers("zh", with_zone=True)
    about = [("条数", str(len(rows)))]
    t_csv = _best(lambda: export(lambda r: csv_bytes(head, r)), runs)
    t_xlsx = _best(lambda: export(lambda r: xlsx_bytes(head, r, about, "zh")), runs)
    t_base = _best(lambda: view.incidents.to_csv(io.StringIO(), index=False), runs)
    size_csv = len(export(lambda r: csv_bytes(head, r)))
    out = []
    for name, took, budget in (("CSV", t_csv, CSV_BUDGET_S), ("Excel .xlsx", t_xlsx, XLSX_BUDGET_S)):
        out.append(
            Measurement(
                FAMILY,
                f"work list → {name}, {len(rows):,} rows (masked, names, Beijing time)",
                took,
                "s",
                baseline=t_base,
                baseline_name="pandas to_csv raw",
                ratio=ratio(took, t_base),
                budget=f"≤ {budget:g} s",
                passed=took <= budget,
                note=f"best of {runs}; ratio = ours/raw dump; CSV {size_csv / 1e6:.1f} MB",
                extra={"rows": len(rows), "seconds": took, "baseline_s": t_base},
            )
        )
    return out


def run(env: BenchEnv) -> list[Measurement]:
    try:
        return measure(2_000 if env.quick else ROWS, 2 if env.quick else 3)
    except Exception as exc:
        return [failed(FAMILY, "work list export", exc)]
