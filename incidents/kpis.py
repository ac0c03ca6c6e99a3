"""The key figures (KPIs), defined once: the screens' tiles, ``GET /api/summary`` and the briefing PNG all read
``compute``'s ``Kpis``. Pure (numpy only: no Dash, no Redis).

The definitions follow the 数字城管 (eGova-style) assessment conventions (GB/T 30428.3 城市市政综合监管信息系统
绩效评价; the 按期结案率 / 返工率 of the monthly 考评): a rate is over the cases that *ended* in its window, and
open cases past their deadline are counted apart (``overdue``) rather than hidden in, or left out of, the rate.
Every window ends at ``now``; "24 h" is rolling (so a rate means something right after midnight), "today" is
the local day (Asia/Shanghai). A rate or mean over nothing is ``None`` (the tiles show "—", never 100 %).

``KPI_DEFINITIONS`` carries each figure's names, formula, window and source; the README's "Key figures" table
documents each of them (a test holds it to that).

Input: column arrays over one set of incidents (``incidents.situation`` column store), all of one length:
``created_ts``, ``accepted_ts``, ``resolved_ts``, ``closed_ts`` (epoch seconds, NaN = never), ``on_time``
(1.0/0.0 = the latest resolution met / missed its resolve deadline, NaN = not resolved), ``rating`` (1–5,
NaN = none), ``reopened`` (times reopened), ``ts`` (last change), ``category``, ``community_id``, ``status``;
plus ``is_open`` and ``overdue`` (boolean, the view's own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from incidents.timeutil import local_hour_start, local_midnight

DAY_S: Final = 86400.0
SATISFIED_MIN: Final = 4.0  # a rating ≥ 4 of 5 counts as satisfied (满意)


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """One figure's documentation: ``key`` (the ``Kpis`` field), names, formula, window and the standard."""

    key: str
    zh: str
    en: str
    formula: str
    window: str
    source: str


KPI_DEFINITIONS: Final[tuple[KpiDefinition, ...]] = (
    KpiDefinition(
        "today_reported",
        "今日上报",
        "Reported today",
        "incidents created since local midnight",
        "today (00:00 Asia/Shanghai → now)",
        "数字城管 立案数（当日）",
    ),
    KpiDefinition(
        "open",
        "办理中",
        "Open",
        "incidents in reported / dispatched / accepted",
        "now",
        "数字城管 在办案件数",
    ),
    KpiDefinition(
        "overdue",
        "超期",
        "Overdue (open)",
        "open incidents past an SLA deadline (accept or resolve), counted apart from the on-time rate",
        "now",
        "数字城管 超期案件（在办）",
    ),
    KpiDefinition(
        "on_time_rate",
        "按期办结率",
        "On-time resolution rate",
        "resolved/closed in the window by their resolve deadline ÷ resolved/closed in the window "
        "(the latest resolution counts; nothing resolved → —)",
        "rolling 24 h",
        "GB/T 30428.3 按期结案率",
    ),
    KpiDefinition(
        "mean_accept_min",
        "平均响应时长",
        "Mean time to accept",
        "mean of (first accept − created), minutes, over incidents first accepted in the window",
        "rolling 24 h",
        "数字城管 响应时间",
    ),
    KpiDefinition(
        "median_accept_min",
        "响应时长中位数",
        "Median time to accept",
        "median of the same",
        "rolling 24 h",
        "数字城管 响应时间",
    ),
    KpiDefinition(
        "mean_resolve_min",
        "平均办结时长",
        "Mean time to resolve",
        "mean of (latest resolution − created), minutes, over incidents resolved in the window",
        "rolling 24 h",
        "数字城管 处置时间",
    ),
    KpiDefinition(
        "median_resolve_min",
        "办结时长中位数",
        "Median time to resolve",
        "median of the same",
        "rolling 24 h",
        "数字城管 处置时间",
    ),
    KpiDefinition(
        "rework_rate",
        "返工率",
        "Rework rate",
        "resolved/closed in the window that had been reopened (返工) at least once ÷ resolved/closed in the window",
        "rolling 24 h",
        "GB/T 30428.3 返工率",
    ),
    KpiDefinition(
        "rework",
        "返工",
        "Rework (count)",
        "incidents reopened at least once that are open or changed in the window",
        "rolling 24 h",
        "数字城管 返工数",
    ),
    KpiDefinition(
        "satisfaction",
        "满意度",
        "Satisfaction",
        "mean 评单 rating (1–5) over incidents closed with a rating in the window",
        "rolling 24 h",
        "12345 / 数字城管 回访满意度",
    ),
    KpiDefinition(
        "satisfied_share",
        "满意率",
        "Satisfied share",
        "closed with a rating ≥ 4 in the window ÷ closed with a rating in the window",
        "rolling 24 h",
        "12345 / 数字城管 满意率",
    ),
)


# key → the window it is over, as ``GET /api/summary`` states it beside the numbers (``kpi_windows``).
WINDOWS: Final[dict[str, str]] = {d.key: d.window for d in KPI_DEFINITIONS}


@dataclass(frozen=True, slots=True)
class Kpis:
    """The key figures over one set of incidents at ``now`` (see ``KPI_DEFINITIONS``; rates are 0–1, times are
    minutes, ``None`` = nothing in the window). ``resolved_24h``, ``accepted_24h``, ``rated_24h``: the
    denominators. ``by_*``: counts per key; ``trend_24h``: reported per local hour, 24 buckets, oldest first, the
    last being the current hour (bucket 0 starts at ``trend_start``, epoch s)."""

    today_reported: int
    open: int
    overdue: int
    on_time_rate: float | None
    resolved_24h: int
    mean_accept_min: float | None
    mean_resolve_min: float | None
    rework: int
    satisfaction: float | None
    rated_24h: int
    by_category: dict[str, int]
    by_category_24h: dict[str, int]
    by_community: dict[str, int]
    by_status: dict[str, int]
    trend_24h: list[int]
    trend_start: float
    median_accept_min: float | None = None
    median_resolve_min: float | None = None
    accepted_24h: int = 0
    rework_rate: float | None = None
    satisfied_share: float | None = None


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if len(x) else None


def _median(x: np.ndarray) -> float | None:
    return float(np.median(x)) if len(x) else None


def _counts(keys: np.ndarray) -> dict[str, int]:
    return dict(Counter(keys.tolist()))


def _in(t: np.ndarray, start: float, now: float) -> np.ndarray:
    return (t >= start) & (t <= now)  # NaN compares False: "never" is in no window


def compute(a: Mapping[str, np.ndarray], now: float, is_open: np.ndarray, overdue: np.ndarray) -> Kpis:
    """The ``Kpis`` of the rows of ``a`` at ``now`` (epoch s). Raises ``KeyError`` for a missing column."""
    created = a["created_ts"]
    w24 = now - DAY_S
    today_reported = int(np.count_nonzero(_in(created, local_midnight(now), now)))

    res = a["resolved_ts"]
    r24 = _in(res, w24, now)
    on_time = a["on_time"][r24]
    on_time = on_time[~np.isnan(on_time)]
    acc = a["accepted_ts"]
    a24 = _in(acc, w24, now)
    rating = a["rating"]
    rated = _in(a["closed_ts"], w24, now) & ~np.isnan(rating)
    reopened = a["reopened"] > 0
    rework = int(np.count_nonzero(reopened & (is_open | (a["ts"] >= w24))))
    n_resolved = int(np.count_nonzero(r24))

    rep24 = _in(created, w24, now)
    hour0 = local_hour_start(now) - 23 * 3600.0
    b = np.floor((created[created <= now] - hour0) / 3600.0)
    b = b[(b >= 0) & (b < 24)].astype(np.int64)
    trend = np.bincount(b, minlength=24)[:24]
    accept_min = (acc[a24] - created[a24]) / 60.0
    resolve_min = (res[r24] - created[r24]) / 60.0
    ratings = rating[rated]

    return Kpis(
        today_reported=today_reported,
        open=int(np.count_nonzero(is_open)),
        overdue=int(np.count_nonzero(overdue)),
        on_time_rate=_mean(on_time),
        resolved_24h=n_resolved,
        mean_accept_min=_mean(accept_min),
        mean_resolve_min=_mean(resolve_min),
        rework=rework,
        satisfaction=_mean(ratings),
        rated_24h=int(np.count_nonzero(rated)),
        by_category=_counts(a["category"][is_open]),
        by_category_24h=_counts(a["category"][rep24]),
        by_community=_counts(a["community_id"][is_open]),
        by_status=_counts(a["status"]),
        trend_24h=[int(x) for x in trend],
        trend_start=hour0,
        median_accept_min=_median(accept_min),
        median_resolve_min=_median(resolve_min),
        accepted_24h=int(np.count_nonzero(a24)),
        rework_rate=float(np.count_nonzero(reopened & r24)) / n_resolved if n_resolved else None,
        satisfied_share=_mean((ratings >= SATISFIED_MIN).astype(float)),
    )
