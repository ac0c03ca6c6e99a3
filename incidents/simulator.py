"""A realistic incident simulator for demos and benchmarks.

Pure (no Redis): every message is handed to ``publish(dict)`` (e.g. ``incidents.publish.publish`` bound to
a Redis client) and is a wire-contract dict (ISO ts with +08:00 and milliseconds, WGS-84 lon/lat, category
code).

* **Where**: incidents are placed at points drawn from ``points`` (an ``(N, 2)`` array of lon/lat inside the
  grids, e.g. representative points of micro-grids from ``geo``) plus a small gaussian jitter, or from a
  sampler callable ``(rng, n) -> (n, 2) array``.
* **What**: categories with a street office's mix (环境卫生 most, 消防 rare), zh titles per category,
  sources 网格员巡查 / 居民随手拍 / 12345热线 / 浙里办, priorities mostly normal, some high, few urgent.
* **Lifecycle** (``incidents.model.TRANSITIONS``): reported → dispatched (社区派单; a 网格员 may take their
  own report directly: reported → accepted) → accepted → resolved → closed with a rating. About 4 % are
  cancelled (duplicate reports), ~4 % are accepted only long after their deadline (1.5–24 h late) and ~3 % get
  stuck in progress (resolved at 1.2–2× the resolve window): they turn overdue, and end — every lifecycle ends
  within ``MAX_LIFE_H``, so the open count has a steady state. ~5 % are reworked (返工: resolved → dispatched
  with ``reopened`` + 1, then again to closed).
  Delays are drawn from log-normal distributions around realistic medians (dispatch ~5 min, accept ~8 min,
  resolve ~20 % of the category's SLA window with 12 % hard cases drawn around the deadline, 评单 ~3 h),
  so a few miss their deadlines.
* **Time**: ``backfill(hours)`` generates the past ``hours`` at real speed: ``backfill_per_hour`` arrivals on
  average over a day, shaped by ``HOURLY_PROFILE`` (quiet nights, busy days); its incidents still open at
  ``now`` continue in real time. Live incidents (``step``/``run``) then come one of two ways:

  - ``daily=True`` (the demo, "a normal day"): the same process goes on — arrivals at the same daily curve,
    delays at real speed. Backfill and live are one stationary process: the open count stays around its
    steady level (arrivals × mean time to resolve) and the 24 h trend keeps its daily rhythm.
    ``rate_per_s`` and ``time_scale`` are unused.
  - ``daily=False`` (load and benchmarks): a constant ``rate_per_s`` with delays divided by ``time_scale``
    (default 60: a real minute passes in a demo second) — far busier than any real street.
* **Restart**: ``adopt(incidents)`` carries on the lifecycles a previous run left open (the demo restarted on
  its own Redis) and numbers new incidents after the old ones.
* **Deterministic**: the same ``seed`` and the same sequence of ``now`` values give the same messages.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from incidents.model import OPEN_STATUSES, TRANSITIONS, Incident, Priority, Status
from incidents.sla import SlaPolicy
from incidents.timeutil import SHANGHAI, format_ts

log = logging.getLogger(__name__)

PointSampler = Callable[[np.random.Generator, int], np.ndarray]
AssigneePicker = Callable[[float, float], str]

TITLES: dict[str, tuple[str, ...]] = {
    "environment": (
        "楼道堆放杂物",
        "垃圾桶满溢",
        "绿化带垃圾堆积",
        "建筑垃圾乱倒",
        "路面油污未清理",
        "河道漂浮物",
        "垃圾分类投放不规范",
    ),
    "dispute": (
        "邻里噪音纠纷",
        "楼上漏水引发纠纷",
        "停车位占用纠纷",
        "装修扰民",
        "宠物扰民纠纷",
        "物业服务纠纷",
    ),
    "safety_hazard": (
        "电动车楼道充电",
        "飞线充电",
        "高空抛物隐患",
        "外墙瓷砖脱落",
        "燃气管道老化",
        "井盖缺失",
    ),
    "public_service": ("居住证办理咨询", "医保政策咨询", "老年证办理", "就业帮扶需求", "社保卡补办咨询"),
    "rental_housing": (
        "群租房消防通道堵塞",
        "出租房人员信息未登记",
        "出租房违规隔断",
        "出租房电线私拉乱接",
    ),
    "fire": ("楼道杂物起火", "电动车起火冒烟", "垃圾房起火", "商铺电线短路冒烟"),
    "traffic": ("非机动车乱停放", "占道经营", "路口信号灯故障", "车辆违停堵塞消防通道"),
    "infrastructure": ("路灯不亮", "道路坑洼破损", "下水道堵塞", "窨井盖松动", "健身器材损坏"),
    "elderly_care": ("独居老人需要送餐", "高龄老人就医陪护", "空巢老人探访", "老人走失求助"),
    "other": ("小广告乱贴", "流浪猫狗扰民", "其他求助"),
}
CATEGORY_WEIGHTS: dict[str, float] = {
    "environment": 0.28,
    "dispute": 0.12,
    "safety_hazard": 0.14,
    "public_service": 0.11,
    "rental_housing": 0.08,
    "fire": 0.02,
    "traffic": 0.08,
    "infrastructure": 0.10,
    "elderly_care": 0.05,
    "other": 0.02,
}
SOURCES: dict[str, float] = {"网格员巡查": 0.40, "居民随手拍": 0.25, "12345热线": 0.20, "浙里办": 0.15}
PRIORITY_WEIGHTS: dict[str, float] = {"low": 0.03, "normal": 0.80, "high": 0.13, "urgent": 0.04}
RATING_WEIGHTS: dict[int, float] = {5: 0.68, 4: 0.21, 3: 0.07, 2: 0.03, 1: 0.01}
# Fates: share of incidents per outcome.
FATES: dict[str, float] = {
    "normal": 0.84,
    "rework": 0.05,
    "cancelled": 0.04,
    "never_accepted": 0.04,
    "stuck": 0.03,
}
# Share of resolutions drawn around/after the deadline (the rest: log-normal around 20 % of the window).
LATE_SHARE = 0.12
# Hourly arrival profile (local hour → relative rate) used by backfill: quiet nights, busy days.
HOURLY_PROFILE: tuple[float, ...] = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.9, 1.4, 1.6, 1.6, 1.4,
    1.1, 1.2, 1.5, 1.6, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.35, 0.2,
)  # fmt: skip
PROFILE_PEAK = max(HOURLY_PROFILE)
PROFILE_MEAN = sum(HOURLY_PROFILE) / len(HOURLY_PROFILE)
# Every lifecycle ends within this (the stuck ones: 2× the longest default resolve window, 72 h).
MAX_LIFE_H = 2 * 72 + 24
_BUILDING_PARTS = ("号楼", "幢")


def local_hour(ts: float) -> int:
    """The Asia/Shanghai (UTC+8, no DST) hour of ``ts`` (epoch s), 0–23."""
    return int((ts // 3600 + 8) % 24)


def arrivals_per_hour(per_hour: float, ts: float) -> float:
    """The arrival rate (incidents per hour) at ``ts`` of a simulator averaging ``per_hour`` over a day:
    ``per_hour × HOURLY_PROFILE[local hour] / PROFILE_MEAN``."""
    return per_hour * HOURLY_PROFILE[local_hour(ts)] / PROFILE_MEAN


def _keys_probs(d: dict[Any, float]) -> tuple[list[Any], np.ndarray]:
    keys = list(d)
    p = np.array([d[k] for k in keys], dtype=float)
    return keys, p / p.sum()


@dataclass(order=True)
class _Event:
    ts: float
    seq: int
    msg: dict[str, Any]


class Simulator:
    """Generates and publishes realistic incident lifecycles (see the module doc for the model).

    ``daily=True``: live arrivals follow the backfill's daily curve at real speed (the demo); otherwise a constant
    ``rate_per_s`` with delays compressed by ``time_scale``.

    ``points``: an ``(N, 2)`` lon/lat array or a sampler; ``ValueError`` for a bad shape or negative rates.
    """

    def __init__(
        self,
        points: np.ndarray | PointSampler,
        *,
        seed: int = 0,
        rate_per_s: float = 0.2,
        publish: Callable[[dict[str, Any]], object] | None = None,
        now: Callable[[], float] = time.time,
        time_scale: float = 60.0,
        backfill_per_hour: float = 12.0,
        assignees: Sequence[str] | AssigneePicker | None = None,
        sla: SlaPolicy | None = None,
        id_prefix: str = "SIM",
        jitter_deg: float = 0.0002,
        daily: bool = False,
    ) -> None:
        if callable(points):
            self._sampler: PointSampler | None = points
            self._points: np.ndarray | None = None
        else:
            pts = np.asarray(points, dtype=float)
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
                raise ValueError(f"points must be a non-empty (N, 2) lon/lat array, got shape {pts.shape}")
            self._sampler = None
            self._points = pts
        if rate_per_s < 0 or time_scale <= 0 or backfill_per_hour < 0:
            raise ValueError("rate_per_s and backfill_per_hour must be >= 0, time_scale > 0")
        self.rate_per_s = rate_per_s
        self.time_scale = time_scale
        self.backfill_per_hour = backfill_per_hour
        self.daily = daily
        self.publish = publish
        self.now = now
        self.sla = sla or SlaPolicy()
        self.id_prefix = id_prefix
        self.jitter_deg = jitter_deg
        self._assignees = assignees
        self._rng = np.random.default_rng(seed)
        self._heap: list[_Event] = []
        self._seq = itertools.count()
        self._n_created = 0
        self._next_arrival: float | None = None
        self._cats, self._cat_p = _keys_probs(CATEGORY_WEIGHTS)
        self._srcs, self._src_p = _keys_probs(SOURCES)
        self._prios, self._prio_p = _keys_probs(PRIORITY_WEIGHTS)
        self._ratings, self._rating_p = _keys_probs(RATING_WEIGHTS)
        self._fates, self._fate_p = _keys_probs(FATES)
        self.emitted = 0

    # ------------------------------------------------------------------ random helpers

    def _choice(self, keys: list[Any], p: np.ndarray) -> Any:
        return keys[int(self._rng.choice(len(keys), p=p))]

    def _lognormal(self, median: float, sigma: float) -> float:
        return float(self._rng.lognormal(math.log(median), sigma))

    def _point(self) -> tuple[float, float]:
        if self._sampler is not None:
            p = np.asarray(self._sampler(self._rng, 1), dtype=float).reshape(-1, 2)[0]
        else:
            assert self._points is not None
            p = self._points[int(self._rng.integers(len(self._points)))]
        jitter = self._rng.normal(0.0, self.jitter_deg, 2) if self.jitter_deg > 0 else np.zeros(2)
        lon = float(np.clip(p[0] + jitter[0], -180.0, 180.0))
        lat = float(np.clip(p[1] + jitter[1], -90.0, 90.0))
        return round(lon, 6), round(lat, 6)

    def _assignee(self, lon: float, lat: float) -> str:
        a = self._assignees
        if a is None:
            return f"M{int(self._rng.integers(1, 400)):04d}"
        if callable(a):
            return str(a(lon, lat))
        if len(a) == 0:
            return ""
        return str(a[int(self._rng.integers(len(a)))])

    # ------------------------------------------------------------------ incident plans

    def _new_incident(self, t0: float, scale: float) -> None:
        """Draw one incident's whole life up front and schedule its messages (deterministic draws)."""
        self._n_created += 1
        day = format_ts(t0)[:10].replace("-", "")
        iid = f"{self.id_prefix}-{day}-{self._n_created:05d}"
        cat = self._choice(self._cats, self._cat_p)
        src = self._choice(self._srcs, self._src_p)
        prio = self._choice(self._prios, self._prio_p)
        if cat == "fire":
            prio = "urgent" if self._rng.random() < 0.5 else "high"
        fate = self._choice(self._fates, self._fate_p)
        title = TITLES[cat][int(self._rng.integers(len(TITLES[cat])))]
        lon, lat = self._point()
        building = int(self._rng.integers(1, 40))
        unit = int(self._rng.integers(1, 6))
        part = _BUILDING_PARTS[int(self._rng.integers(len(_BUILDING_PARTS)))]
        first: dict[str, Any] = {
            "id": iid,
            "status": "reported",
            "lon": lon,
            "lat": lat,
            "category": cat,
            "title": title,
            "description": f"{building}{part}{unit}单元附近：{title}（{src}上报）",
            "priority": prio,
            "source": src,
        }
        accept_s = self.sla.accept_within_s(cat, prio)
        resolve_s = self.sla.resolve_within_s(cat, prio)
        urgent = prio in (Priority.URGENT, Priority.HIGH) or cat == "fire"
        steps: list[tuple[float, dict[str, Any]]] = [(0.0, first)]
        assignee = self._assignee(lon, lat)

        def add(delay_real_s: float, msg: dict[str, Any]) -> None:
            steps.append((delay_real_s, {"id": iid, **msg}))

        # 网格员 reports are often taken on the spot (reported → accepted).
        self_handled = src == "网格员巡查" and self._rng.random() < 0.4 and fate not in ("never_accepted",)
        dispatch_delay = self._lognormal(accept_s * (0.05 if urgent else 0.15), 0.6)
        accept_delay = self._lognormal(accept_s * (0.12 if urgent else 0.25), 0.8)

        if fate == "cancelled":
            if self._rng.random() < 0.5:
                add(dispatch_delay, {"status": "dispatched", "assignee": assignee})
            add(self._lognormal(900.0, 0.7), {"status": "cancelled"})
        else:
            if fate == "never_accepted":  # accepted only long after the deadline (超时接单), 1.5–24 h late
                late = float(self._rng.uniform(1.5, 24.0)) * 3600.0
                if self._rng.random() < 0.6:
                    add(dispatch_delay, {"status": "dispatched", "assignee": assignee})
                    add(accept_s + late, {"status": "accepted"})
                else:
                    add(accept_s + late, {"status": "accepted", "assignee": assignee})
            elif self_handled:
                add(self._lognormal(120.0, 0.5), {"status": "accepted", "assignee": assignee})
            else:
                add(dispatch_delay, {"status": "dispatched", "assignee": assignee})
                add(accept_delay, {"status": "accepted"})
            if fate == "stuck":  # stuck in progress, resolved at last at 1.2–2× the window
                resolve_delay = resolve_s * float(self._rng.uniform(1.2, 2.0))
            elif self._rng.random() < LATE_SHARE:  # the hard cases: around or past the deadline
                resolve_delay = resolve_s * float(self._rng.uniform(0.85, 1.5))
            else:
                resolve_delay = min(self._lognormal(0.2 * resolve_s, 0.8), 1.5 * resolve_s)
            add(resolve_delay, {"status": "resolved"})
            rating_bias = 0
            if fate == "rework":
                add(self._lognormal(2 * 3600.0, 0.6), {"status": "dispatched", "reopened": 1})
                add(self._lognormal(accept_s * 0.3, 0.6), {"status": "accepted"})
                add(self._lognormal(0.15 * resolve_s, 0.6), {"status": "resolved"})
                rating_bias = 1
            rating = int(self._choice(self._ratings, self._rating_p))
            add(
                self._lognormal(3 * 3600.0, 0.8),
                {"status": "closed", "rating": max(1, rating - rating_bias)},
            )

        t = t0
        for i, (delay, msg) in enumerate(steps):
            if i:
                t = t + max(delay / scale, 1.0)
            t = round(t, 3)
            self._push(t, msg)

    def _push(self, ts: float, msg: dict[str, Any]) -> None:
        heapq.heappush(self._heap, _Event(ts, next(self._seq), msg))

    def _pop_due(self, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._heap and self._heap[0].ts <= now:
            ev = heapq.heappop(self._heap)
            msg = dict(ev.msg)
            # ts right after id/status for readability; ISO with +08:00 and milliseconds
            out.append({"id": msg.pop("id"), "status": msg.pop("status"), "ts": _iso(ev.ts), **msg})
        return out

    # ------------------------------------------------------------------ public API

    def backfill(self, hours: float = 24.0, now: float | None = None, *, publish: bool = True) -> list[dict[str, Any]]:
        """Emit the past ``hours`` (ts order, all ts <= now) at real speed; later messages stay scheduled.

        Like ``step``, the messages are handed to ``publish`` (if one was given and ``publish=True``) and
        returned. Arrivals: ``arrivals_per_hour(backfill_per_hour, t)`` (local time).
        """
        if now is None:
            now = self.now()
        t = self._daily_arrivals(now - hours * 3600.0 + self._candidate_gap(), now)
        msgs = self._pop_due(now)
        if self._next_arrival is None or self._next_arrival < now:
            self._next_arrival = t if self.daily else now
        if publish:
            self._emit(msgs)
        else:
            self.emitted += len(msgs)
        return msgs

    def _candidate_gap(self) -> float:
        """The gap (s) to the next candidate arrival of the daily process (at the peak rate, thinned after)."""
        lam = self.backfill_per_hour * PROFILE_PEAK / PROFILE_MEAN / 3600.0
        return float(self._rng.exponential(1.0 / lam)) if lam > 0 else math.inf

    def _daily_arrivals(self, t: float, end: float) -> float:
        """Create the arrivals of the daily process from the candidate at ``t`` up to ``end`` at real speed: a
        Poisson process at the peak rate thinned by ``HOURLY_PROFILE``, i.e. ``arrivals_per_hour
        (backfill_per_hour, t)``. Returns the first candidate after ``end`` (where the next call starts)."""
        while t <= end:
            if self._rng.random() < HOURLY_PROFILE[local_hour(t)] / PROFILE_PEAK:
                self._new_incident(round(t, 3), 1.0)
            t += self._candidate_gap()
        return t

    def adopt(self, incidents: Iterable[Incident], now: float | None = None) -> int:
        """Carry on where a previous run stopped (a demo restarted on its own Redis, ``backfill`` not called):
        number new incidents after this prefix's existing ids, and schedule the rest of the lifecycle of each
        of its incidents still open (else they would stay open, and turn overdue, for ever). Delays as a new
        incident's, from ``now`` (compressed by ``time_scale`` unless ``daily``). Returns how many were adopted.
        """
        if now is None:
            now = self.now()
        scale = 1.0 if self.daily else self.time_scale
        ours = re.compile(rf"{re.escape(self.id_prefix)}-\d{{8}}-(\d+)")
        adopted = 0
        for inc in incidents:
            m = ours.fullmatch(inc.id)
            if m is None:
                continue
            self._n_created = max(self._n_created, int(m.group(1)))
            if inc.status not in OPEN_STATUSES:
                continue
            accept_s = self.sla.accept_within_s(inc.category, inc.priority)
            resolve_s = self.sla.resolve_within_s(inc.category, inc.priority)
            steps: list[tuple[float, dict[str, Any]]] = []
            if inc.status == Status.REPORTED:
                steps.append((self._lognormal(accept_s * 0.15, 0.6), {"status": "dispatched"}))
                steps[-1][1]["assignee"] = inc.assignee or self._assignee(inc.lon, inc.lat)
            if inc.status in (Status.REPORTED, Status.DISPATCHED):
                steps.append((self._lognormal(accept_s * 0.25, 0.8), {"status": "accepted"}))
            steps.append((min(self._lognormal(0.2 * resolve_s, 0.8), 1.5 * resolve_s), {"status": "resolved"}))
            rating = int(self._choice(self._ratings, self._rating_p))
            steps.append((self._lognormal(3 * 3600.0, 0.8), {"status": "closed", "rating": rating}))
            t = max(now, inc.ts)
            for delay, msg in steps:
                t = round(t + max(delay / scale, 1.0), 3)
                self._push(t, {"id": inc.id, **msg})
            adopted += 1
        return adopted

    def step(self, now: float | None = None) -> list[dict[str, Any]]:
        """Create live arrivals up to ``now``, then emit (publish + return) every message due by ``now``."""
        if now is None:
            now = self.now()
        if self._next_arrival is None:
            self._next_arrival = now
        if self.daily:
            self._next_arrival = self._daily_arrivals(self._next_arrival, now)
        elif self.rate_per_s > 0:
            while self._next_arrival <= now:
                self._new_incident(round(self._next_arrival, 3), self.time_scale)
                self._next_arrival += float(self._rng.exponential(1.0 / self.rate_per_s))
        msgs = self._pop_due(now)
        self._emit(msgs)
        return msgs

    def _emit(self, msgs: list[dict[str, Any]]) -> None:
        self.emitted += len(msgs)
        if self.publish is None:
            return
        for m in msgs:
            try:
                self.publish(m)
            except Exception as exc:  # keep going: the next messages may get through
                log.warning(
                    "simulator: publish failed for %s: %r", m.get("id"), exc, extra={"incident_id": m.get("id")}
                )

    def pending(self) -> int:
        """Messages scheduled but not yet emitted."""
        return len(self._heap)

    def run(self, stop_event: threading.Event, tick_s: float | None = None) -> None:
        """Call ``step`` until ``stop_event`` is set (tick: half the mean arrival gap, within 0.05-1 s)."""
        if tick_s is None:
            gap = 1.0 / self.rate_per_s if self.rate_per_s > 0 and not self.daily else 1.0
            tick_s = min(1.0, max(0.05, gap / 2))
        while not stop_event.is_set():
            try:
                self.step(self.now())
            except Exception:  # keep the demo running
                log.exception("simulator step failed")
            stop_event.wait(tick_s)


def _iso(ts: float) -> str:
    return format_ts(ts, SHANGHAI, timespec="milliseconds")


def lifecycle_ok(statuses: Sequence[str]) -> bool:
    """Whether a sequence of statuses follows ``incidents.model.TRANSITIONS`` from ``reported``."""
    if not statuses or statuses[0] != Status.REPORTED:
        return False
    return all(Status(b) in TRANSITIONS[Status(a)] for a, b in itertools.pairwise(statuses))
