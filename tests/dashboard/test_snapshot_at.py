"""`onescreen snapshot --at`: the briefing of a past moment (time travel), figure and one CLI run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
import redis

from dashboard import briefing_export, i18n, snapshot_cli
from dashboard.figures.briefing import build_briefing
from dashboard.figures.incident_map import grid_fill_z
from dashboard.figures.sample import sample_base, sample_grid_states, sample_incidents, sample_kpis
from dashboard.settings import DEFAULT_DATA, Settings
from geo.layers import read_layers
from incidents.keys import Keys
from incidents.publish import publish

REPO = Path(__file__).resolve().parents[2]
ONESCREEN = Path(sys.executable).with_name("onescreen")
NOW = 1_750_000_000.0
AT = NOW - 2 * 3600.0


def test_briefing_at_names_the_historical_moment() -> None:
    base = sample_base()
    inc = sample_incidents(now=AT)
    fig = build_briefing(
        base,
        grid_fill_z(base.grid_ids, sample_grid_states(inc, base.grid_ids)),
        inc,
        sample_kpis(inc),
        street_name="翠苑街道",
        now=NOW,
        at=AT,
    )
    assert fig.layout.title.text == "<b>翠苑街道态势回溯 · 2025年6月15日 21:06</b>"
    stamp = " ".join(a.text for a in fig.layout.annotations)
    assert "生成时间 2025年6月15日 23:06" in stamp  # generated now, showing 2 h ago
    en = build_briefing(base, [], None, None, street_name="Cuiyuan", now=NOW, at=AT, lang="en")
    assert en.layout.title.text == "<b>Cuiyuan — Situation as of 2025-06-15 21:06</b>"
    plain = build_briefing(base, [], None, None, street_name="Cuiyuan", now=NOW, lang="en")
    assert "as of" not in plain.layout.title.text


def _publish_history(r: redis.Redis, keys: Keys, now: float) -> None:
    grids = read_layers(DEFAULT_DATA).grids
    pts = grids.geometry.representative_point()
    x, y = float(pts.iloc[0].x), float(pts.iloc[0].y)
    t0 = now - 3 * 3600.0
    for m in (
        {"id": "H1", "status": "reported", "ts": t0, "lon": x, "lat": y, "category": "environment"},
        {"id": "H1", "status": "dispatched", "ts": t0 + 600},
        {"id": "H1", "status": "resolved", "ts": t0 + 2 * 3600},  # an hour ago
        {"id": "H2", "status": "reported", "ts": now - 600, "lon": x, "lat": y, "category": "dispute"},
    ):
        publish(r, keys, m)


def test_snapshot_from_redis_at_a_past_moment(
    r: redis.Redis, keys: Keys, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    _publish_history(r, keys, now)
    figures: list[go.Figure] = []
    seen: list[dict[str, Any]] = []
    real_build = build_briefing  # the function snapshot_cli imported, before it is patched there

    def build(*args: Any, **kwargs: Any) -> go.Figure:
        seen.append({"incidents": args[2], "kpis": args[3], "at": kwargs.get("at")})
        return real_build(*args, **kwargs)

    def fake_render(fig: Any, spec: Any, snapshotter: Any = None) -> bytes:
        figures.append(fig)  # the figure is what this test checks: no browser needed
        return b"\x89PNG\r\n\x1a\n"

    monkeypatch.setattr(snapshot_cli, "build_briefing", build)
    monkeypatch.setattr(briefing_export, "render", fake_render)
    settings = Settings.from_env(redis_prefix=keys.prefix)
    at = now - 2 * 3600.0
    snapshot_cli.snapshot_from_redis(settings, redis_url, tmp_path / "b.png", at=at)
    snapshot_cli.snapshot_from_redis(settings, redis_url, tmp_path / "c.png")
    past, current = figures
    assert i18n.fmt_datetime(at, "zh") in past.layout.title.text and "态势回溯" in past.layout.title.text
    assert "态势回溯" not in current.layout.title.text
    # 2 h ago H1 was dispatched (open) and H2 not yet reported; now H1 is resolved and H2 is the one open
    then, later = seen
    assert then["at"] == at and later["at"] is None
    assert dict(zip(then["incidents"]["id"], then["incidents"]["status"], strict=True)) == {"H1": "dispatched"}
    assert dict(zip(later["incidents"]["id"], later["incidents"]["status"], strict=True)) == {
        "H1": "resolved",
        "H2": "reported",
    }
    assert then["kpis"].open == 1 and then["kpis"].resolved_24h == 0
    assert later["kpis"].open == 1 and later["kpis"].resolved_24h == 1


@pytest.mark.slow
def test_cli_snapshot_at_writes_the_png(r: redis.Redis, keys: Keys, redis_url: str, tmp_path: Path) -> None:
    _publish_history(r, keys, time.time())
    out = tmp_path / "at.png"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ONESCREEN_PREFIX")}
    env.update(REDIS_URL=redis_url, ONESCREEN_PREFIX=keys.prefix)
    proc = subprocess.run(
        [str(ONESCREEN), "snapshot", "--at", "-2h", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[16:24] == (1920).to_bytes(4, "big") + (1080).to_bytes(4, "big")
    bad = subprocess.run(
        [str(ONESCREEN), "snapshot", "--at", "tomorrow-ish", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--at" in bad.stderr
