"""The in-memory situation every server process keeps: incidents, per-grid overlay states, KPIs, live feed.

Pure (no Redis, no Dash) and thread-safe. Rebuilt from Redis ``state`` on start / reconnect
(``replace_all``) and kept current from the ``log`` by the feed (``apply`` / ``apply_many``). Readers call
``view(now)`` for an immutable snapshot.

Storage is a column store (numpy arrays indexed by a slot per incident) updated in place on every change,
so ``view(now)`` only copies arrays (once per version) and evaluates the clock-dependent parts (overdue,
KPI windows) vectorised — ~10 ms at 10,000 open incidents. Overdue is a per-incident *deadline*
(``SlaPolicy.overdue_at``) compared with ``now`` at every view, so incidents turn overdue as the clock runs,
without any new message.

Bounded memory: closed and cancelled incidents whose last change (``ts``) is older than ``retention_s``
(default 7 days) are dropped — on ``replace_all`` and, as the clock runs, by a prune at most once per
``prune_interval_s`` (default 60 s) from ``apply_many``/``view``, which compacts the column store so the arrays
shrink too. Open and resolved incidents are never dropped; Redis ``state`` and time travel keep everything.
The clock is a parameter (``clock``), so a test can run days of traffic without sleeping.

Versioning: ``version`` increases by one per accepted change batch (``apply``/``apply_many``/``replace_all``);
``version_token`` = ``f"{boot_id}:{version}"`` tells a client whether its cached state belongs to this
process; waiters use ``wait_for_change(version)`` (the frame hub).

KPI definitions: ``incidents.kpis`` (one module owns them; ``Kpis`` is re-exported here).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from incidents.kpis import Kpis as Kpis  # re-exported: the view carries it
from incidents.kpis import compute as compute_kpis
from incidents.model import (
    CATEGORIES,
    ENDED_STATUSES,
    OPEN_STATUSES,
    STATUS_ORDER,
    GridState,
    Incident,
    Priority,
    Status,
)
from incidents.sla import SlaPolicy
from incidents.timeutil import local_midnight

log = logging.getLogger(__name__)

Locator = Callable[[np.ndarray, np.ndarray], pd.DataFrame]

DAY_S: Final = 86400.0
# How long an ended (closed/cancelled) incident stays in memory after its last change, and how often to look.
RETENTION_S: Final = 7 * DAY_S
PRUNE_INTERVAL_S: Final = 60.0
MIN_CAPACITY: Final = 1024
STATUS_CODE: Final = {s: i for i, s in enumerate(STATUS_ORDER)}
_REPORTED = STATUS_CODE[Status.REPORTED]
_OPEN_CODES: Final = np.array(sorted(STATUS_CODE[s] for s in OPEN_STATUSES), dtype=np.int64)
_ENDED_CODES: Final = np.array(sorted(STATUS_CODE[s] for s in ENDED_STATUSES), dtype=np.int64)
_GRID_STATE_BY_RANK: Final = (GridState.CLEAR, GridState.IN_PROGRESS, GridState.UNASSIGNED, GridState.OVERDUE)

# Columns of SituationView.incidents, in order.
COLUMNS: Final = (
    "id",
    "status",
    "lon",
    "lat",
    "category",
    "category_label",
    "priority",
    "grid_id",
    "micro_grid_id",
    "community_id",
    "created_ts",
    "ts",
    "overdue",
    "urgent",
    "title",
    "description",  # free text as sent (the simulator's and Open311's address is in it): the work list searches it
    "assignee",
    "source",
    "reopened",
    "escalated",
    "rating",
    "overdue_at",
    "resolve_due",
)

_FLOAT_COLS = (
    "lon",
    "lat",
    "created_ts",
    "ts",
    "overdue_at",
    "resolve_due",
    "dispatched_ts",
    "accepted_ts",
    "resolved_ts",
    "closed_ts",
    "on_time",
    "rating",
)
_INT_COLS = ("status_code", "reopened", "seq")
_BOOL_COLS = ("urgent", "escalated")
_OBJ_COLS = (
    "id",
    "status",
    "category",
    "category_label",
    "priority",
    "grid_id",
    "micro_grid_id",
    "community_id",
    "title",
    "description",
    "assignee",
    "source",
    "located_grid_id",  # the grid the point lies in (differs from grid_id when the message's grid_id says else)
)


FUNNEL_STAGES: Final = ("reported", "dispatched", "accepted", "resolved", "rated")  # 点单 派单 接单 办结 评单


@dataclass(frozen=True, slots=True)
class Funnel:
    """The loop 群众点单 → 社区派单 → 党员接单 → 办结 → 街道评单 for one day.

    ``today``: per stage of ``FUNNEL_STAGES``, the incidents that reached it since local midnight (Asia/Shanghai).
    ``median_min``: per step (``"reported→dispatched"``, …), the median minutes between the two stages over the
    incidents that took that step today; None when none did.
    """

    today: dict[str, int]
    median_min: dict[str, float | None]


def _funnel(a: Mapping[str, np.ndarray], now: float) -> Funnel:
    day0 = local_midnight(now)
    rated_at = np.where(np.isnan(a["rating"]), np.nan, a["closed_ts"])
    at = [a["created_ts"], a["dispatched_ts"], a["accepted_ts"], a["resolved_ts"], rated_at]
    today = {s: int(np.count_nonzero((t >= day0) & (t <= now))) for s, t in zip(FUNNEL_STAGES, at, strict=True)}
    median: dict[str, float | None] = {}
    for k in range(len(FUNNEL_STAGES) - 1):
        s0, s1, t0, t1 = FUNNEL_STAGES[k], FUNNEL_STAGES[k + 1], at[k], at[k + 1]
        took = (t1 >= day0) & (t1 <= now) & ~np.isnan(t0)
        minutes = (t1[took] - t0[took]) / 60.0
        median[f"{s0}→{s1}"] = round(float(np.median(minutes)), 1) if len(minutes) else None
    return Funnel(today, median)


@dataclass(frozen=True)
class SituationView:
    """An immutable snapshot (treat the DataFrame as read-only; it may be shared between callers)."""

    version: int
    boot_id: str
    now: float
    incidents: pd.DataFrame
    grid_states: dict[str, GridState]
    micro_grid_states: dict[str, GridState]
    community_states: dict[str, GridState]
    kpis: Kpis
    _seq: np.ndarray = field(repr=False)
    _arrays: Mapping[str, np.ndarray] = field(repr=False, default_factory=dict)
    _open: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def version_token(self) -> str:
        """``{boot_id}:{version}``: whether a client's cached state belongs to this process and version."""
        return f"{self.boot_id}:{self.version}"

    def latest(self, n: int = 20) -> pd.DataFrame:
        """The ``n`` most recently changed incidents (most recent first), for the live feed."""
        if n <= 0 or len(self.incidents) == 0:
            return self.incidents.iloc[:0]
        n = min(n, len(self.incidents))
        idx = np.argpartition(-self._seq, n - 1)[:n] if n < len(self._seq) else np.arange(len(self._seq))
        idx = idx[np.argsort(-self._seq[idx], kind="stable")]
        return self.incidents.iloc[idx]

    def grid_state(self, grid_id: str) -> GridState:
        """The grid's state; ``CLEAR`` for a grid not in ``grid_states``."""
        return self.grid_states.get(grid_id, GridState.CLEAR)

    def kpis_for(self, rows: np.ndarray) -> Kpis:
        """The key figures over the incidents selected by ``rows`` (a boolean array over ``incidents``, e.g.
        ``geo.areas.AreaTree.mask``): the same arithmetic as ``kpis``, for one area."""
        if len(rows) != len(self.incidents):
            raise ValueError(f"row selection has {len(rows)} entries for {len(self.incidents)} incidents")
        a = {name: column[rows] for name, column in self._arrays.items()}
        return compute_kpis(a, self.now, self._open[rows], self.incidents["overdue"].to_numpy()[rows])

    def funnel_for(self, rows: np.ndarray | None = None) -> Funnel:
        """Today's loop (``Funnel``) over the incidents selected by ``rows`` (default: all)."""
        a = self._arrays if rows is None else {name: column[rows] for name, column in self._arrays.items()}
        return _funnel(a, self.now)

    def overdue_ids(self) -> list[str]:
        """Ids of the overdue incidents, in the order of ``incidents``."""
        df = self.incidents
        return df["id"][df["overdue"].to_numpy()].tolist()


class Situation:
    """Thread-safe in-memory view of all incidents (see module docstring)."""

    def __init__(
        self,
        locator: Locator,
        sla: SlaPolicy | None = None,
        boot_id: str | None = None,
        *,
        grid_communities: Mapping[str, str] | None = None,
        retention_s: float = RETENTION_S,
        prune_interval_s: float = PRUNE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``retention_s``: seconds an ended incident is kept after its last change (``math.inf``: forever);
        ``prune_interval_s``: at most one prune per this many seconds of ``clock`` (epoch seconds)."""
        if not retention_s > 0 or not prune_interval_s >= 0:
            raise ValueError(
                f"retention_s must be > 0 and prune_interval_s >= 0, got {retention_s}, {prune_interval_s}"
            )
        self.retention_s = float(retention_s)
        self.prune_interval_s = float(prune_interval_s)
        self._clock = clock
        self._last_prune = clock()
        self._locator = locator
        self.sla = sla or SlaPolicy()
        self.boot_id = boot_id or uuid.uuid4().hex[:12]
        self._grid_communities = dict(grid_communities or {})
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._version = 0
        self._view_cache: tuple[int, float, SituationView] | None = None
        self._base_cache: tuple[int, dict[str, np.ndarray], pd.DataFrame] | None = None
        self._reset_store(MIN_CAPACITY)

    # ------------------------------------------------------------------ store

    def _reset_store(self, capacity: int) -> None:
        self._slots: dict[str, int] = {}
        self._items: list[Incident] = []
        self._located: list[tuple[float, float, str]] = []  # (lon, lat, given grid_id) the loc was computed for
        self._cap = max(capacity, 16)
        cols: dict[str, np.ndarray] = {}
        for c in _FLOAT_COLS:
            cols[c] = np.full(self._cap, np.nan)
        for c in _INT_COLS:
            cols[c] = np.zeros(self._cap, dtype=np.int64)
        for c in _BOOL_COLS:
            cols[c] = np.zeros(self._cap, dtype=bool)
        for c in _OBJ_COLS:
            cols[c] = np.full(self._cap, "", dtype=object)
        self._cols = cols
        self._seq_counter = itertools.count(1)

    def _grow(self) -> None:
        new_cap = self._cap * 2
        for c, a in self._cols.items():
            b = np.empty(new_cap, dtype=a.dtype)
            b[: self._cap] = a
            if a.dtype == object:
                b[self._cap :] = ""
            elif a.dtype.kind == "f":
                b[self._cap :] = np.nan
            else:
                b[self._cap :] = 0
            self._cols[c] = b
        self._cap = new_cap

    @property
    def capacity(self) -> int:
        """Rows allocated in the column store (≥ ``len(self)``; shrinks again after a prune)."""
        return self._cap

    def _expired(self, inc: Incident, now: float) -> bool:
        return inc.ts < now - self.retention_s and Status(inc.status) in ENDED_STATUSES

    def _maybe_prune(self) -> None:
        """Prune if ``prune_interval_s`` passed since the last one. Caller holds the lock."""
        now = self._clock()
        if now - self._last_prune >= self.prune_interval_s:
            self.prune(now)

    def prune(self, now: float | None = None) -> int:
        """Drop ended incidents older than the retention (at ``now``, default ``clock()``) and compact the store.

        Returns how many were dropped. A drop is a change: the version goes up (the dropped ids are then absent
        from the view).
        """
        with self._lock:
            now = self._clock() if now is None else now
            self._last_prune = now
            n = len(self._items)
            c = self._cols
            drop = np.isin(c["status_code"][:n], _ENDED_CODES) & (c["ts"][:n] < now - self.retention_s)
            if not drop.any():
                return 0
            dropped = [self._items[i].id for i in np.flatnonzero(drop).tolist()]
            keep = np.flatnonzero(~drop)
            self._compact(keep)
            self._bump(dropped)
            log.info(
                "situation: dropped %d ended incident(s) older than %.0f s; %d kept",
                len(dropped),
                self.retention_s,
                len(keep),
            )
            return len(dropped)

    def _compact(self, keep: np.ndarray) -> None:
        """Keep only the rows ``keep`` (in order), in arrays sized for them. Caller holds the lock."""
        n = len(keep)
        cap = max(MIN_CAPACITY, 1 << max(n, 1).bit_length())  # > n, at most 2n: room to grow before doubling
        for name, a in self._cols.items():
            b = np.empty(cap, dtype=a.dtype)
            b[:n] = a[keep]
            if a.dtype == object:
                b[n:] = ""
            elif a.dtype.kind == "f":
                b[n:] = np.nan
            else:
                b[n:] = 0
            self._cols[name] = b
        idx = keep.tolist()
        self._items = [self._items[i] for i in idx]
        self._located = [self._located[i] for i in idx]
        self._slots = {inc.id: i for i, inc in enumerate(self._items)}
        self._cap = cap

    def _locate(self, incs: list[Incident], slots: list[int]) -> None:
        """Fill grid/micro-grid/community of the slots that moved, with one locator call."""
        todo: list[int] = []
        for inc, slot in zip(incs, slots, strict=True):
            key = (inc.lon, inc.lat, inc.grid_id)
            if self._located[slot] == key:
                continue
            todo.append(slot)
        if not todo:
            return
        lon = np.fromiter((self._items[s].lon for s in todo), dtype=float, count=len(todo))
        lat = np.fromiter((self._items[s].lat for s in todo), dtype=float, count=len(todo))
        try:
            loc = self._locator(lon, lat)
            micro = loc["micro_grid_id"].to_numpy(dtype=object)
            grid = loc["grid_id"].to_numpy(dtype=object)
            comm = loc["community_id"].to_numpy(dtype=object)
            if len(grid) != len(todo):
                raise ValueError(f"locator returned {len(grid)} rows for {len(todo)} points")
        except Exception:
            log.exception("locator failed for %d incident(s); leaving them unlocated", len(todo))
            micro = grid = comm = np.full(len(todo), "", dtype=object)
        c = self._cols
        for i, slot in enumerate(todo):
            inc = self._items[slot]
            g_loc = str(grid[i] or "")
            c["located_grid_id"][slot] = g_loc
            if inc.grid_id and inc.grid_id != g_loc:
                # Explicit grid on the incident wins (a dispatcher's decision); the located micro-grid then does not
                # belong to it. A point in another grid is flagged (``grid_conflicts``): one of the two is wrong.
                if g_loc and self._located[slot][2] != inc.grid_id:
                    log.warning(
                        "incident %s: grid_id %r but its point lies in grid %r",
                        inc.id,
                        inc.grid_id,
                        g_loc,
                        extra={"incident_id": inc.id},
                    )
                c["grid_id"][slot] = inc.grid_id
                c["micro_grid_id"][slot] = ""
                c["community_id"][slot] = self._grid_communities.get(inc.grid_id, "")
            else:
                c["grid_id"][slot] = g_loc
                c["micro_grid_id"][slot] = str(micro[i] or "")
                c["community_id"][slot] = str(comm[i] or "") or self._grid_communities.get(g_loc, "")
            self._located[slot] = (inc.lon, inc.lat, inc.grid_id)

    def _put(self, inc: Incident, now: float | None = None) -> int | None:
        """Store one incident (no locate). Returns its slot, or None if not newer than the stored one, or (with
        ``now``) a new incident that is already past the retention."""
        slot = self._slots.get(inc.id)
        if slot is not None:
            if inc.ts <= self._items[slot].ts:
                return None
            self._items[slot] = inc
        elif now is not None and self._expired(inc, now):
            return None  # ended long ago and not held: nothing to show (e.g. a log replay of old history)
        else:
            slot = len(self._items)
            if slot >= self._cap:
                self._grow()
            self._slots[inc.id] = slot
            self._items.append(inc)
            self._located.append((np.nan, np.nan, ""))
        sla = self.sla
        c = self._cols
        status = Status(inc.status)
        c["id"][slot] = inc.id
        c["status"][slot] = str(status)
        c["status_code"][slot] = STATUS_CODE[status]
        c["lon"][slot] = inc.lon
        c["lat"][slot] = inc.lat
        c["category"][slot] = inc.category
        c["category_label"][slot] = CATEGORIES.get(inc.category, inc.category)
        c["priority"][slot] = str(inc.priority)
        c["urgent"][slot] = inc.priority == Priority.URGENT
        c["created_ts"][slot] = inc.created_ts
        c["ts"][slot] = inc.ts
        c["title"][slot] = inc.title
        c["description"][slot] = inc.description
        c["assignee"][slot] = inc.assignee
        c["source"][slot] = inc.source
        c["reopened"][slot] = inc.reopened
        c["escalated"][slot] = inc.escalated
        c["rating"][slot] = np.nan if inc.rating is None else float(inc.rating)
        c["overdue_at"][slot] = sla.overdue_at(inc)
        c["resolve_due"][slot] = sla.resolve_due(inc)
        dispatched = inc.first_ts(Status.DISPATCHED)
        c["dispatched_ts"][slot] = np.nan if dispatched is None else dispatched
        acc = inc.accepted_ts
        c["accepted_ts"][slot] = np.nan if acc is None else acc
        done = status in (Status.RESOLVED, Status.CLOSED)
        res = inc.resolved_ts if done else None
        if done and res is None:
            res = inc.last_ts(Status.CLOSED) or inc.ts
        c["resolved_ts"][slot] = np.nan if res is None else res
        closed = inc.last_ts(Status.CLOSED) if status == Status.CLOSED else None
        c["closed_ts"][slot] = np.nan if closed is None else closed
        ot = sla.on_time(inc)
        c["on_time"][slot] = np.nan if ot is None else float(ot)
        c["seq"][slot] = next(self._seq_counter)
        return slot

    def _bump(self, ids: Iterable[str]) -> None:
        self._version += 1
        self._cond.notify_all()

    # ------------------------------------------------------------------ writers

    def replace_all(self, incidents: Iterable[Incident]) -> None:
        """Replace everything (rebuild from Redis state). Locates all incidents in one batch call."""
        now = self._clock()
        # Sorted so "latest" order follows ts after a rebuild; ended incidents past the retention are left out.
        items = sorted((i for i in incidents if not self._expired(i, now)), key=lambda i: i.ts)
        with self._lock:
            self._last_prune = now
            self._reset_store(max(MIN_CAPACITY, 1 << (len(items) + 1).bit_length()))
            slots = [s for s in (self._put(inc) for inc in items) if s is not None]
            self._locate([self._items[s] for s in slots], slots)
            self._version += 1
            self._cond.notify_all()

    def apply(self, incident: Incident) -> bool:
        """Upsert one incident (newer ``ts`` wins). Returns whether anything changed."""
        return self.apply_many((incident,)) > 0

    def apply_many(self, incidents: Iterable[Incident]) -> int:
        """Upsert a batch (one version bump, one locate call). Returns how many were applied.

        Also prunes ended incidents past the retention, at most once per ``prune_interval_s``.
        """
        with self._lock:
            self._maybe_prune()
            now = self._clock()
            slots: list[int] = []
            for inc in incidents:
                s = self._put(inc, now)
                if s is not None:
                    slots.append(s)
            if not slots:
                return 0
            self._locate([self._items[s] for s in slots], slots)
            self._bump(self._items[s].id for s in slots)
            return len(slots)

    # ------------------------------------------------------------------ readers

    @property
    def version(self) -> int:
        """+1 per accepted change batch (``apply``/``apply_many``/``replace_all``)."""
        return self._version

    @property
    def version_token(self) -> str:
        """``{boot_id}:{version}``: whether a client's cached state belongs to this process and version."""
        return f"{self.boot_id}:{self._version}"

    def __len__(self) -> int:
        return len(self._items)

    def get(self, incident_id: str) -> Incident | None:
        """The incident held under ``incident_id``, or ``None``."""
        with self._lock:
            slot = self._slots.get(incident_id)
            return None if slot is None else self._items[slot]

    def grid_conflicts(self) -> dict[str, tuple[str, str]]:
        """Incidents whose message's ``grid_id`` disagrees with the grid their point lies in: id → (grid_id given,
        grid located). The given one is used (a dispatcher's decision); this says one of the two is wrong (a
        point in another coordinate system, a stale grid list …). Points in no grid are not conflicts."""
        with self._lock:
            n = len(self._items)
            c = self._cols
            given, located = c["grid_id"][:n], c["located_grid_id"][:n]
            hit = np.flatnonzero((located != "") & (given != located))
            return {str(c["id"][i]): (str(given[i]), str(located[i])) for i in hit}

    def location(self, incident_id: str) -> tuple[str, str, str] | None:
        """(micro_grid_id, grid_id, community_id) of an incident, or None if unknown."""
        with self._lock:
            slot = self._slots.get(incident_id)
            if slot is None:
                return None
            c = self._cols
            return (str(c["micro_grid_id"][slot]), str(c["grid_id"][slot]), str(c["community_id"][slot]))

    def wait_for_change(self, version: int, timeout: float | None = None) -> bool:
        """Block until ``self.version != version`` (True) or the timeout passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._version != version, timeout)

    def _base(self) -> tuple[int, dict[str, np.ndarray], pd.DataFrame]:
        """Arrays + static part of the DataFrame for the current version (cached). Caller holds the lock."""
        bc = self._base_cache
        if bc is not None and bc[0] == self._version:
            return bc
        n = len(self._items)
        arrs = {c: a[:n].copy() for c, a in self._cols.items()}
        data: dict[str, Any] = {}
        for c in COLUMNS:
            if c == "overdue":
                data[c] = np.zeros(n, dtype=bool)
            else:
                data[c] = arrs[c]
        df = pd.DataFrame(data, copy=False)
        bc = (self._version, arrs, df)
        self._base_cache = bc
        return bc

    def view(self, now: float | None = None) -> SituationView:
        """Snapshot at ``now`` (default: wall clock). Cached per (version, now)."""
        if now is None:
            now = time.time()
        with self._lock:
            self._maybe_prune()
            vc = self._view_cache
            if vc is not None and vc[0] == self._version and vc[1] == now:
                return vc[2]
            version, a, base = self._base()
            boot = self.boot_id
        sv = _build_view(version, boot, now, a, base)
        with self._lock:
            if self._version == version:
                self._view_cache = (version, now, sv)
        return sv


# ---------------------------------------------------------------------------------------------- view maths


def _states(keys: np.ndarray, rank: np.ndarray) -> dict[str, GridState]:
    """Worst rank per key (keys "" skipped), as GridState; ranks are >= 1 (clear grids are absent)."""
    m = keys != ""
    if not m.any():
        return {}
    codes, uniques = pd.factorize(keys[m])
    worst = np.zeros(len(uniques), dtype=np.int64)
    np.maximum.at(worst, codes, rank[m])
    states = _GRID_STATE_BY_RANK
    return {str(k): states[r] for k, r in zip(uniques.tolist(), worst.tolist(), strict=True)}


def _build_view(version: int, boot: str, now: float, a: dict[str, np.ndarray], base: pd.DataFrame) -> SituationView:
    code = a["status_code"]
    is_open = np.isin(code, _OPEN_CODES)
    overdue = is_open & (now > a["overdue_at"])
    df = base.assign(overdue=overdue)

    # overlay states: overdue (3) > unassigned = reported (2) > in progress (1); only open incidents count
    rank = np.where(overdue, 3, np.where(code == _REPORTED, 2, 1))[is_open]
    grid_states = _states(a["grid_id"][is_open], rank)
    micro_states = _states(a["micro_grid_id"][is_open], rank)
    community_states = _states(a["community_id"][is_open], rank)
    kpis = compute_kpis(a, now, is_open, overdue)
    return SituationView(
        version=version,
        boot_id=boot,
        now=now,
        incidents=df,
        grid_states=grid_states,
        micro_grid_states=micro_states,
        community_states=community_states,
        kpis=kpis,
        _seq=a["seq"],
        _arrays=a,
        _open=is_open,
    )
