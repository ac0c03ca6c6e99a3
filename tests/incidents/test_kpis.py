"""The KPI definitions (``incidents.kpis``) with hand-made incidents at a fixed clock: one test per figure, and
the edge cases an official would catch (nothing resolved → no rate, not 100 %; overdue open counted apart)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.figures.kpi import BRIEFING_KPIS, KPI_KINDS, WALL_KPIS, kpi_tile, kpi_tiles
from incidents.kpis import KPI_DEFINITIONS, Kpis
from incidents.model import Incident
from incidents.situation import Situation
from tests.incidents.test_situation import MIN, NOW, H, at_now, fake_locator, mk


def kpis(*incidents: Incident, now: float = NOW) -> Kpis:
    s = Situation(fake_locator, clock=at_now)
    s.replace_all(incidents)
    return s.view(now).kpis


def test_nothing_resolved_in_the_window_gives_no_rate_and_the_tile_shows_a_dash() -> None:
    k = kpis(
        mk("o1", ("reported", -5 * H)),  # open and overdue (accept deadline 30 min)
        mk("old", ("reported", -50 * H), ("accepted", -49 * H), ("resolved", -45 * H)),  # resolved > 24 h ago
    )
    assert k.resolved_24h == 0
    assert k.on_time_rate is None and k.rework_rate is None
    assert k.mean_resolve_min is None and k.median_resolve_min is None
    assert k.overdue == 1  # counted apart, not hidden
    tile = kpi_tile(k, "on_time_rate")
    assert tile.value == "—" and tile.raw is None


def test_on_time_rate_is_over_resolutions_in_the_window_and_overdue_open_counted_apart() -> None:
    k = kpis(
        mk("a", ("reported", -10 * H), ("accepted", -10 * H + 5 * MIN), ("resolved", -9 * H)),  # on time
        mk("b", ("reported", -6 * H), ("accepted", -6 * H + 1 * MIN), ("resolved", -2 * H), category="fire"),  # late
        mk("c", ("reported", -20 * H), ("accepted", -20 * H + 5 * MIN), ("resolved", -19 * H), ("closed", -18 * H)),
        mk("o1", ("reported", -3 * H)),  # overdue open: not in the rate
        mk("o2", ("reported", -4 * H)),
    )
    assert k.resolved_24h == 3
    assert k.on_time_rate == pytest.approx(2 / 3)
    assert k.overdue == 2 and k.open == 2


def test_times_to_accept_and_resolve_mean_and_median() -> None:
    k = kpis(
        mk("a", ("reported", -10 * H), ("accepted", -10 * H + 2 * MIN), ("resolved", -9 * H)),
        mk("b", ("reported", -10 * H), ("accepted", -10 * H + 4 * MIN), ("resolved", -8 * H)),
        mk("c", ("reported", -10 * H), ("accepted", -10 * H + 30 * MIN), ("resolved", -4 * H)),
        mk("old", ("reported", -40 * H), ("accepted", -30 * H)),  # first accepted > 24 h ago: not counted
    )
    assert k.accepted_24h == 3
    assert k.mean_accept_min == pytest.approx(12.0) and k.median_accept_min == pytest.approx(4.0)
    assert k.mean_resolve_min == pytest.approx((60 + 120 + 360) / 3) and k.median_resolve_min == pytest.approx(120.0)


def test_rework_rate_over_resolutions_in_the_window() -> None:
    k = kpis(
        mk("a", ("reported", -10 * H), ("accepted", -10 * H + 2 * MIN), ("resolved", -9 * H), reopened=1),
        mk("b", ("reported", -10 * H), ("accepted", -10 * H + 2 * MIN), ("resolved", -9 * H)),
        mk("c", ("reported", -10 * H), ("accepted", -10 * H + 2 * MIN), ("resolved", -9 * H)),
        mk("d", ("reported", -10 * H), ("accepted", -10 * H + 2 * MIN), ("resolved", -9 * H)),
        mk("open", ("reported", -3 * H), ("accepted", -170 * MIN), reopened=2),  # reworked, still open: count only
    )
    assert k.rework_rate == pytest.approx(1 / 4)
    assert k.rework == 2


def test_satisfaction_mean_and_share_of_four_or_more() -> None:
    def closed(id: str, rating: int | None, at: float = -2 * H) -> Incident:
        return mk(
            id, ("reported", -5 * H), ("accepted", -5 * H + MIN), ("resolved", -3 * H), ("closed", at), rating=rating
        )

    k = kpis(closed("a", 5), closed("b", 4), closed("c", 2), closed("d", None), closed("e", 1, at=-30 * H))
    assert k.rated_24h == 3
    assert k.satisfaction == pytest.approx(11 / 3)
    assert k.satisfied_share == pytest.approx(2 / 3)
    assert kpis(closed("d", None)).satisfied_share is None


def test_today_reported_is_the_local_day() -> None:
    # NOW is 09:00 Asia/Shanghai: midnight was 9 h ago
    k = kpis(mk("y", ("reported", -10 * H)), mk("t", ("reported", -8 * H)), mk("n", ("reported", -1 * MIN)))
    assert k.today_reported == 2


def test_every_defined_kpi_is_a_field_and_every_tile_is_defined() -> None:
    fields = set(Kpis.__dataclass_fields__)
    keys = [d.key for d in KPI_DEFINITIONS]
    assert len(keys) == len(set(keys)) and set(keys) <= fields
    assert set(WALL_KPIS) | set(BRIEFING_KPIS) <= set(keys) and set(KPI_KINDS) <= set(keys)
    for d in KPI_DEFINITIONS:
        assert d.zh and d.en and d.formula and d.window and d.source


def test_english_tiles_have_english_units_and_windows() -> None:
    k = kpis(
        mk(
            "a",
            ("reported", -2 * H),
            ("accepted", -2 * H + 3 * MIN),
            ("resolved", -1 * H),
            ("closed", -1 * H),
            rating=5,
        ),
        mk("o", ("reported", -3 * H)),
    )
    for tile in kpi_tiles(k, BRIEFING_KPIS, "en"):
        assert tile.unit.isascii() and tile.label.isascii() and tile.window.isascii(), tile
    zh = {t.key: t for t in kpi_tiles(k, BRIEFING_KPIS, "zh")}
    assert zh["today_reported"].unit == "件" and zh["on_time_rate"].window == "近24小时"


def test_compute_is_pure_over_arrays() -> None:
    """``compute`` needs no Situation: column arrays in, ``Kpis`` out (the module imports no Dash / Redis)."""
    import sys

    from incidents import kpis as module

    nan = np.nan
    a = {
        "created_ts": np.array([NOW - H]),
        "accepted_ts": np.array([nan]),
        "resolved_ts": np.array([nan]),
        "closed_ts": np.array([nan]),
        "on_time": np.array([nan]),
        "rating": np.array([nan]),
        "reopened": np.array([0]),
        "ts": np.array([NOW - H]),
        "category": np.array(["fire"], dtype=object),
        "community_id": np.array(["C0"], dtype=object),
        "status": np.array(["reported"], dtype=object),
    }
    k = module.compute(a, NOW, np.array([True]), np.array([True]))
    assert (k.open, k.overdue, k.on_time_rate, k.satisfaction) == (1, 1, None, None)
    assert "dash" not in vars(module) and "redis" not in vars(module)
    assert sys.modules["incidents.kpis"] is module


def test_summary_json_and_the_frames_tiles_show_the_same_numbers() -> None:
    """``GET /api/summary`` serves ``asdict(Kpis)`` as JSON; a frame's tiles are ``kpi_tiles(Kpis)``: drawn from
    either, every tile is the same (one definition, no second arithmetic)."""
    import json
    from dataclasses import asdict

    k = kpis(
        mk(
            "a",
            ("reported", -2 * H),
            ("accepted", -2 * H + 3 * MIN),
            ("resolved", -1 * H),
            ("closed", -1 * H),
            rating=4,
        ),
        mk("b", ("reported", -30 * H), ("accepted", -29 * H), ("resolved", -3 * H), reopened=1),
        mk("o", ("reported", -3 * H)),
    )
    served = json.loads(json.dumps(asdict(k)))
    for lang in ("zh", "en"):
        assert kpi_tiles(served, BRIEFING_KPIS, lang) == kpi_tiles(k, BRIEFING_KPIS, lang)
        assert kpi_tiles(served, WALL_KPIS, lang) == kpi_tiles(k, WALL_KPIS, lang)
    assert served["on_time_rate"] == 1.0 and served["rework_rate"] == pytest.approx(0.5) and served["overdue"] == 1


def test_the_readme_documents_every_kpi() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Key figures (KPIs)") :]
    table = table[: table.index("\n## ")]
    for d in KPI_DEFINITIONS:
        assert f"`{d.key}`" in table and d.zh in table, d.key


def test_every_kpi_has_its_window_for_the_api() -> None:
    from incidents.kpis import WINDOWS

    assert set(WINDOWS) == {d.key for d in KPI_DEFINITIONS}
    assert WINDOWS["on_time_rate"] == "rolling 24 h" and WINDOWS["overdue"] == "now"
