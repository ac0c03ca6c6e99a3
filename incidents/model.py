"""The incident domain: statuses, categories, priorities and the Incident record.

Pure: no Redis, no Dash. Times are epoch seconds (UTC floats) everywhere inside the program;
only the wire and the screens speak ISO 8601 / Asia/Shanghai.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Lifecycle: 群众点单 → 社区派单 → 接单 → 办结 → 评单 (closed), or cancelled."""

    REPORTED = "reported"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        """Still needs someone to act (待办): one of ``OPEN_STATUSES``."""
        return self in OPEN_STATUSES


# The one definition of "open" (待办: still needs someone to act). Everything else imports this.
OPEN_STATUSES = frozenset({Status.REPORTED, Status.DISPATCHED, Status.ACCEPTED})
# Done for good unless reworked: what an in-memory view may forget after a retention period (Redis keeps them).
ENDED_STATUSES = frozenset({Status.CLOSED, Status.CANCELLED})
# Order in which statuses are drawn and listed (legend, filters).
STATUS_ORDER: tuple[Status, ...] = (
    Status.REPORTED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.RESOLVED,
    Status.CLOSED,
    Status.CANCELLED,
)
# OPEN_STATUSES as plain strings in lifecycle order, for pandas/numpy columns of status values.
OPEN_STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in STATUS_ORDER if s in OPEN_STATUSES)


class Priority(StrEnum):
    """Urgency of an incident; high and urgent shorten its SLA (``incidents.sla``)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# Category code → zh label. The wire accepts the code or the zh label.
CATEGORIES: dict[str, str] = {
    "environment": "环境卫生",
    "dispute": "矛盾纠纷",
    "safety_hazard": "安全隐患",
    "public_service": "公共服务",
    "rental_housing": "出租房管理",
    "fire": "消防",
    "traffic": "交通出行",
    "infrastructure": "市政设施",
    "elderly_care": "养老助老",
    "other": "其他",
}
CATEGORY_BY_LABEL: dict[str, str] = {label: code for code, label in CATEGORIES.items()}


class GridState(StrEnum):
    """A grid's overlay state: the worst open incident inside it (DESIGN.md 'Response-status overlays')."""

    CLEAR = "clear"
    IN_PROGRESS = "in_progress"
    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"


# Severity rank used to pick the worst state in a grid.
GRID_STATE_RANK: dict[GridState, int] = {
    GridState.CLEAR: 0,
    GridState.IN_PROGRESS: 1,
    GridState.UNASSIGNED: 2,
    GridState.OVERDUE: 3,
}


@dataclass(slots=True)
class Incident:
    """The current state of one incident (upserted by id; newer ``ts`` wins).

    ``history`` holds ``(status, ts)`` pairs, oldest first; ``actors[i]`` is who made ``history[i]`` (an
    ``Actor.label()``: ``user:alice``, ``key:erp``, ``publisher``; "" when not recorded — entries written before
    actors were, or with no actor known; ``actor_at``). Stored and served as ``[[status, ts, actor], …]`` (two
    elements when the actor is not known). ``created_ts`` is the ts of the first message.
    ``lon``/``lat`` are WGS-84 (GCJ-02 input is converted at the wire).
    """

    id: str
    status: Status
    ts: float
    lon: float
    lat: float
    category: str
    created_ts: float
    title: str = ""
    description: str = ""
    priority: Priority = Priority.NORMAL
    source: str = ""
    assignee: str = ""
    grid_id: str = ""
    due: float | None = None
    rating: int | None = None
    reopened: int = 0
    escalated: bool = False
    history: list[tuple[str, float]] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)

    def actor_at(self, i: int) -> str:
        """Who made ``history[i]`` ("" when not recorded)."""
        return self.actors[i] if 0 <= i < len(self.actors) else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field; enums as their values, ``history`` as ``[[status, ts, actor], ...]``
        (``[status, ts]`` where the actor is not known); no separate ``actors``."""
        d = asdict(self)
        d.pop("actors", None)
        d["status"] = str(self.status)
        d["priority"] = str(self.priority)
        d["history"] = [[s, t, a] if a else [s, t] for (s, t), a in zip(self.history, self._actors(), strict=True)]
        return d

    def _actors(self) -> list[str]:
        return [self.actor_at(i) for i in range(len(self.history))]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incident:
        """The inverse of ``to_dict``; tolerant of missing optional fields (``None``/absent → default).

        ``KeyError`` without id, status, ts, lon, lat or category; ``ValueError`` for an unknown status or
        priority or a ts/lon/lat that is not a number.
        """
        return cls(
            id=str(d["id"]),
            status=Status(d["status"]),
            ts=float(d["ts"]),
            lon=float(d["lon"]),
            lat=float(d["lat"]),
            category=str(d["category"]),
            created_ts=float(d.get("created_ts") or d["ts"]),
            title=str(d.get("title") or ""),
            description=str(d.get("description") or ""),
            priority=Priority(d.get("priority") or Priority.NORMAL),
            source=str(d.get("source") or ""),
            assignee=str(d.get("assignee") or ""),
            grid_id=str(d.get("grid_id") or ""),
            due=None if d.get("due") is None else float(d["due"]),
            rating=None if d.get("rating") is None else int(d["rating"]),
            reopened=int(d.get("reopened") or 0),
            escalated=bool(d.get("escalated") or False),
            # Every change re-reads the incident with its whole history: statuses and actors interned, so an entry
            # costs a tuple and a float, not two new strings (~100 of ~220 bytes; an incident moved on for hours).
            history=[(sys.intern(str(h[0])), float(h[1])) for h in (d.get("history") or [])],
            actors=[sys.intern(str(h[2])) if len(h) > 2 and h[2] else "" for h in (d.get("history") or [])],
        )

    def first_ts(self, status: Status) -> float | None:
        """When the incident first entered ``status`` (None if never)."""
        for s, t in self.history:
            if s == status:
                return t
        return None

    # --- additions (helpers; no new fields) ---
    @property
    def is_open(self) -> bool:
        """Whether the incident's status is open (``Status.is_open``)."""
        return self.status in OPEN_STATUSES

    def last_ts(self, status: Status) -> float | None:
        """When the incident last entered ``status`` (None if never), e.g. the accept after a rework."""
        for s, t in reversed(self.history):
            if s == status:
                return t
        return None

    @property
    def accepted_ts(self) -> float | None:
        """First time it was accepted (None if never)."""
        return self.first_ts(Status.ACCEPTED)

    @property
    def resolved_ts(self) -> float | None:
        """Last time it was resolved (办结): after a rework the latest resolution counts."""
        return self.last_ts(Status.RESOLVED)


# ------------------------------------------------------------------------------------------------------------
# Additions (compatible): lifecycle transitions, category labels and a pure reference merge.

# The lifecycle graph (a change to the same status is no transition and always allowed: a field update, a
# re-dispatch to another member 改派, a later rating). Enforced atomically by apply.lua, which is generated from
# this table (store.py), and by merge_message below. A message older than the stored state is STALE before any
# transition is judged, so out-of-order delivery never turns into a rejection.
#   reported   → dispatched 社区派单 · accepted (a 网格员 takes their own report) · resolved (即知即办: fixed on the
#                spot) · cancelled
#   dispatched → accepted 接单 · resolved (many offices skip the explicit 接单) · reported (退回: sent back
#                unassigned) · cancelled
#   accepted   → resolved 办结 · dispatched (改派/退单: handed to someone else) · cancelled
#   resolved   → closed 评单 (rating 1-5) · dispatched (返工 rework: reopened + 1)
#   closed     → dispatched (返工 after 评单: reopened + 1); nothing else
#   cancelled  → nothing (final)
# An incident's first message may carry any status (it may be first seen mid-lifecycle, e.g. from an import).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.REPORTED: frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.RESOLVED, Status.CANCELLED}),
    Status.DISPATCHED: frozenset({Status.ACCEPTED, Status.RESOLVED, Status.REPORTED, Status.CANCELLED}),
    Status.ACCEPTED: frozenset({Status.RESOLVED, Status.DISPATCHED, Status.CANCELLED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.DISPATCHED}),
    Status.CLOSED: frozenset({Status.DISPATCHED}),
    Status.CANCELLED: frozenset(),
}
# 返工: a change from one of these to REWORK_TO counts one rework (``reopened`` + 1).
REWORK_FROM: frozenset[Status] = frozenset({Status.RESOLVED, Status.CLOSED})
REWORK_TO: Status = Status.DISPATCHED


def allowed_next(status: Status | str) -> list[Status]:
    """Statuses reachable from ``status`` in one transition, in lifecycle order (for reasons and buttons)."""
    nxt = TRANSITIONS.get(Status(status), frozenset())
    return [s for s in STATUS_ORDER if s in nxt]


def is_transition_allowed(prev: Status | str, new: Status | str) -> bool:
    """Whether an incident in ``prev`` may move to ``new`` (same status: always)."""
    p, n = Status(prev), Status(new)
    return p == n or n in TRANSITIONS.get(p, frozenset())


def is_rework(prev: Status | str, new: Status | str) -> bool:
    """Whether ``prev`` → ``new`` sends finished work back (返工: resolved/closed → dispatched)."""
    return Status(prev) in REWORK_FROM and Status(new) == REWORK_TO


def transition_reason(incident_id: str, prev: Status | str, new: Status | str) -> str:
    """The rejection reason for an illegal transition, word for word what apply.lua returns."""
    p = Status(prev)
    nxt = allowed_next(p)
    allowed = f"from {p} only: {', '.join(str(s) for s in nxt)}" if nxt else f"{p} is final"
    return f"illegal transition for id {incident_id}: {p} -> {Status(new)} ({allowed})"


# Keys of a normalised wire message that overlay an Incident field of the same name.
OVERLAY_FIELDS: tuple[str, ...] = (
    "status",
    "lon",
    "lat",
    "category",
    "title",
    "description",
    "priority",
    "source",
    "assignee",
    "grid_id",
    "due",
    "rating",
    "reopened",
    "escalated",
)


def category_label(code: str) -> str:
    """zh label of a category code (the code itself if unknown)."""
    return CATEGORIES.get(code, code)


class MergeOutcome(StrEnum):
    """What ``merge_message`` did with one message."""

    CREATED = "created"
    UPDATED = "updated"
    STALE = "stale"  # older ts than stored: ignored
    DUPLICATE = "duplicate"  # equal ts: ignored
    INCOMPLETE = "incomplete"  # first message lacks lon/lat or category
    ILLEGAL = "illegal"  # a status change TRANSITIONS does not allow (see transition_reason)


def merge_message(prev: Incident | None, msg: Mapping[str, Any]) -> tuple[Incident | None, MergeOutcome]:
    """Pure reference of the merge the Redis script performs (``store.apply``), for tests and the simulator.

    ``msg`` is a normalised wire message (``incidents.wire.WireMessage``): present keys overlay, absent keep.
    Newer ``ts`` wins; an older one is ``STALE``, an equal one ``DUPLICATE`` (both return ``prev`` unchanged).
    A first message needs ``lon``, ``lat`` and ``category``. ``history`` gains ``(status, ts)`` when the
    status changes (and on creation); ``created_ts`` is the first message's ts. A status change that
    ``TRANSITIONS`` does not allow is ``ILLEGAL`` (``prev`` unchanged; reason: ``transition_reason``), judged
    only after the ts checks. ``reopened`` counts reworks: +1 on resolved/closed → dispatched, and never less
    than a ``reopened`` the message carries (a publisher's own count; ``true`` = 1).
    """
    ts = float(msg["ts"])
    status = Status(msg["status"])
    if prev is None:
        if msg.get("lon") is None or msg.get("lat") is None or msg.get("category") is None:
            return None, MergeOutcome.INCOMPLETE
        d: dict[str, Any] = {k: msg[k] for k in OVERLAY_FIELDS if msg.get(k) is not None}
        d.update(id=str(msg["id"]), ts=ts, created_ts=ts, history=[(str(status), ts)])
        return Incident.from_dict(d), MergeOutcome.CREATED
    if ts < prev.ts:
        return prev, MergeOutcome.STALE
    if ts == prev.ts:
        return prev, MergeOutcome.DUPLICATE
    if not is_transition_allowed(prev.status, status):
        return prev, MergeOutcome.ILLEGAL
    d = prev.to_dict()
    for k in OVERLAY_FIELDS:
        v = msg.get(k)
        if v is not None:
            d[k] = v
    rework = is_rework(prev.status, status)
    if rework or msg.get("reopened") is not None:
        # a monotonic counter: +1 per rework, never below what the message says (a publisher's own count)
        d["reopened"] = max(prev.reopened + (1 if rework else 0), int(msg.get("reopened") or 0))
    d["ts"] = ts
    hist = [(s, t) for s, t in prev.history]
    if status != prev.status or not hist:
        hist.append((str(status), ts))
    d["history"] = hist
    return Incident.from_dict(d), MergeOutcome.UPDATED
