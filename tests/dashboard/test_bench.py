"""Smoke test of the benchmark harness (``python -m bench``, ``make bench``) driven as the program it is: the tests
never import ``bench`` (it is not part of the product). The cheapest families run and report sane numbers.

No timing assertions: the budgets live in the bench, not here (a FAIL verdict is the bench's business).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

REPO = Path(__file__).resolve().parents[2]


def run_bench(*args: str, redis_url: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env={**os.environ, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _sane(row: dict[str, Any]) -> None:
    assert not row["error"], row["error"]
    assert row["value"] is not None and math.isfinite(row["value"]) and row["value"] > 0, row
    assert row["verdict"] in ("PASS", "FAIL", "info")


@pytest.mark.slow
def test_quick_run_of_the_cheap_families_writes_sane_results(redis_url: str, tmp_path: Path) -> None:
    done = run_bench("--quick", "--only", "pointgrid,patchsize", "--out", str(tmp_path), redis_url=redis_url)
    assert done.returncode in (0, 1), f"exit {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    doc = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert doc["mode"] == "quick" and set(doc["family_seconds"]) == {"pointgrid", "patchsize"}
    assert sum(doc["summary"].values()) == len(doc["results"]) and doc["summary"]["ERROR"] == 0
    assert done.returncode == (0 if doc["summary"]["FAIL"] == 0 else 1)
    rows = {(r["family"], r["unit"]): r for r in doc["results"]}

    burst = rows["point→grid", "ms"]
    _sane(burst)
    assert burst["baseline"] > 0 and burst["ratio"] == pytest.approx(burst["value"] / burst["baseline"])
    join = rows["point→grid", "pts/s"]
    _sane(join)
    assert join["extra"]["n"] == 3000 and join["passed"] is not None

    tick = rows["live size", "B"]
    _sane(tick)
    figure, ticks, maps = tick["baseline"], tick["extra"]["tick_bytes"], tick["extra"]["map_bytes"]
    assert figure > 50_000  # geometry, members, every marker
    assert 0 < tick["extra"]["fresh_bytes"] < figure  # values only on connect: no geometry
    assert ticks and all(0 < b < figure / 4 for b in ticks)
    assert all(0 < m <= t for m, t in zip(maps, ticks, strict=True))
    assert tick["ratio"] == pytest.approx(figure / max(ticks))

    # the table on stdout shows every row with its verdict; the run's keys are gone afterwards
    for row in doc["results"]:
        assert row["name"] in done.stdout
    assert f"wrote {tmp_path / 'latest.json'}" in done.stdout
    client = redis.Redis.from_url(redis_url)
    try:
        assert not list(client.scan_iter(match=f"bench-{doc['run_id']}-*", count=1000))
    finally:
        client.close()


def test_an_unknown_family_is_refused_by_name(redis_url: str, tmp_path: Path) -> None:
    done = run_bench("--quick", "--only", "pointgrid,nosuch", "--out", str(tmp_path), redis_url=redis_url)
    assert done.returncode == 2
    assert "unknown bench families: nosuch" in done.stdout and "pointgrid" in done.stdout
    assert not (tmp_path / "latest.json").exists()


def test_the_product_command_line_has_no_bench() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "invalid choice: 'bench'" in done.stderr, done.stderr
