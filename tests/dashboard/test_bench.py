"""Smoke test of `onescreen bench`: the cheapest measurements run and report sane numbers.

No timing assertions: the budgets live in the bench, not here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dashboard.bench import patchsize, pointgrid
from dashboard.bench.env import BenchEnv, demo_path
from dashboard.bench.report import Measurement, table, write_json


@pytest.fixture
def bench_env(redis_url: str, tmp_path: Path):
    env = BenchEnv(quick=True, redis_url=redis_url, out_dir=tmp_path)
    yield env
    env.cleanup()


def _sane(m: Measurement) -> None:
    assert not m.error, m.error
    assert m.value is not None and math.isfinite(m.value) and m.value > 0
    assert m.verdict in ("PASS", "FAIL", "info")


def test_point_to_grid_burst_and_full_join_on_demo_data() -> None:
    burst = pointgrid.measure_burst(demo_path(), repeats=3, n=200)
    _sane(burst)
    assert burst.unit == "ms" and burst.baseline is not None and burst.baseline > 0
    assert burst.value is not None and burst.ratio == pytest.approx(burst.value / burst.baseline)
    (join,) = pointgrid.measure_full_join(demo_path(), "demo", repeats=1)
    _sane(join)
    assert join.unit == "pts/s" and join.extra["n"] == 3000
    assert join.passed is not None


def test_live_tick_is_smaller_than_the_whole_figure(bench_env: BenchEnv) -> None:
    result = patchsize.measure_sizes(bench_env, demo_path(), label="smoke", ticks=2)
    assert result.figure_bytes > 50_000  # geometry, members, every marker
    assert 0 < result.fresh_bytes < result.figure_bytes  # values only on connect: no geometry
    assert len(result.tick_bytes) == 2
    assert all(0 < b < result.figure_bytes / 4 for b in result.tick_bytes)
    assert all(0 < m <= t for m, t in zip(result.map_bytes, result.tick_bytes, strict=True))
    (row,) = patchsize.rows(result, "smoke")
    _sane(row)
    assert row.unit == "B" and row.ratio is not None and row.ratio > 1


def test_results_are_written_as_json_and_a_table(tmp_path: Path) -> None:
    rows = [
        Measurement("f", "a", 1.5, "ms", baseline=3.0, baseline_name="b", ratio=0.5, budget="≤ 2 ms", passed=True),
        Measurement("f", "b", None, "", passed=False, error="boom"),
    ]
    text = table(rows)
    assert "PASS" in text and "ERROR" in text and "boom" in text
    doc = json.loads(write_json(rows, tmp_path / "latest.json", meta={"mode": "test"}).read_text())
    assert doc["mode"] == "test" and doc["summary"]["PASS"] == 1 and doc["summary"]["ERROR"] == 1
    assert doc["results"][0]["ratio"] == 0.5 and doc["results"][1]["verdict"] == "ERROR"
