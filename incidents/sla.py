"""SLA policy: accept and resolve deadlines per category and priority; overdue (超时) and on-time (按期办结).

Pure. Rules (defaults below are a typical street office's 时限; every number is configurable):

* **Clock start** of an incident's current cycle: ``created_ts`` (群众点单); after a rework (返工: a
  ``dispatched`` that follows a ``resolved``/``closed`` in the history) the ts of that re-dispatch.
* **Accept deadline** (接单时限) = cycle start + ``accept_minutes[category]`` (default 30 min, fire 5 min);
  priority caps it: urgent ≤ 10 min, high ≤ 20 min. It covers both 派单 and 接单: an incident still
  ``reported`` or ``dispatched`` (not accepted in this cycle) after it is overdue.
* **Resolve deadline** (办结时限) = an explicit ``due`` on the incident if set, else cycle start +
  ``resolve_hours[category]`` × ``priority_resolve_factor[priority]`` (urgent 0.5, high 0.75).
* **Overdue** (``is_overdue``): open (reported/dispatched/accepted) and past the accept deadline while not
  accepted in this cycle, or past the resolve deadline. Resolved/closed/cancelled incidents are never overdue.
* **超时倍数** (``overdue_multiple``): how far past the breached deadline, in units of the allowed time:
  ``(now - deadline) / allowed``; the larger of the two deadlines' values; 0.0 when not overdue.
* **On time** (``on_time``): for resolved/closed, whether the (latest) resolution met the resolve
  deadline; ``None`` for open or cancelled ones.

``SlaPolicy.from_dict(config)`` builds one from a config mapping (missing keys keep the defaults)::

    {"accept_minutes": {"default": 30, "fire": 5},
     "resolve_hours": {"default": 72, "fire": 2, "environment": 48},
     "priority_accept_cap_minutes": {"urgent": 10, "high": 20},
     "priority_resolve_factor": {"urgent": 0.5, "high": 0.75}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from incidents.model import CATEGORIES, OPEN_STATUSES, Incident, Status

DEFAULT = "default"

DEFAULT_ACCEPT_MINUTES: Mapping[str, float] = MappingProxyType({DEFAULT: 30.0, "fire": 5.0})
DEFAULT_RESOLVE_HOURS: Mapping[str, float] = MappingProxyType(
    {
        DEFAULT: 72.0,
        "fire": 2.0,
        "safety_hazard": 24.0,
        "environment": 48.0,
        "dispute": 72.0,
        "public_service": 72.0,
        "rental_housing": 72.0,
        "traffic": 24.0,
        "infrastructure": 72.0,
        "elderly_care": 24.0,
        "other": 72.0,
    }
)
DEFAULT_PRIORITY_ACCEPT_CAP_MINUTES: Mapping[str, float] = MappingProxyType({"urgent": 10.0, "high": 20.0})
DEFAULT_PRIORITY_RESOLVE_FACTOR: Mapping[str, float] = MappingProxyType(
    {"low": 1.0, "normal": 1.0, "high": 0.75, "urgent": 0.5}
)

_UNACCEPTED = (Status.REPORTED, Status.DISPATCHED)
_DONE = (Status.RESOLVED, Status.CLOSED)
INF = math.inf


def _frozen(m: Mapping[str, Any]) -> Mapping[str, float]:
    return MappingProxyType({str(k): float(v) for k, v in m.items()})


@dataclass(frozen=True)
class SlaPolicy:
    """Allowed times per category and priority: accept within minutes, resolve within hours.

    Each mapping is category (or priority) → a positive number and is frozen; ``accept_minutes`` and
    ``resolve_hours`` need a ``DEFAULT`` entry. ``ValueError`` otherwise. ``from_dict`` builds one from config.
    """

    accept_minutes: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ACCEPT_MINUTES)
    resolve_hours: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RESOLVE_HOURS)
    priority_accept_cap_minutes: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_PRIORITY_ACCEPT_CAP_MINUTES
    )
    priority_resolve_factor: Mapping[str, float] = field(default_factory=lambda: DEFAULT_PRIORITY_RESOLVE_FACTOR)

    def __post_init__(self) -> None:
        for name in (
            "accept_minutes",
            "resolve_hours",
            "priority_accept_cap_minutes",
            "priority_resolve_factor",
        ):
            m = getattr(self, name)
            for k, v in m.items():
                if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
                    raise ValueError(f"SlaPolicy.{name}[{k!r}] must be a positive number, got {v!r}")
            object.__setattr__(self, name, _frozen(m))
        for name in ("accept_minutes", "resolve_hours"):
            if DEFAULT not in getattr(self, name):
                raise ValueError(f"SlaPolicy.{name} needs a {DEFAULT!r} entry")

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None = None) -> SlaPolicy:
        """Defaults overlaid with ``config`` (per key, per category). Unknown top-level keys are an error."""
        config = dict(config or {})
        known = {
            "accept_minutes": DEFAULT_ACCEPT_MINUTES,
            "resolve_hours": DEFAULT_RESOLVE_HOURS,
            "priority_accept_cap_minutes": DEFAULT_PRIORITY_ACCEPT_CAP_MINUTES,
            "priority_resolve_factor": DEFAULT_PRIORITY_RESOLVE_FACTOR,
        }
        unknown = set(config) - set(known)
        if unknown:
            raise ValueError(f"unknown SLA config key(s): {', '.join(sorted(unknown))}")
        kw: dict[str, Mapping[str, float]] = {}
        for name, default in known.items():
            merged = dict(default)
            merged.update(config.get(name) or {})
            kw[name] = merged
        return cls(**kw)

    def to_dict(self) -> dict[str, dict[str, float]]:
        """The four mappings as plain dicts (``from_dict`` takes this back)."""
        return {
            "accept_minutes": dict(self.accept_minutes),
            "resolve_hours": dict(self.resolve_hours),
            "priority_accept_cap_minutes": dict(self.priority_accept_cap_minutes),
            "priority_resolve_factor": dict(self.priority_resolve_factor),
        }

    # ------------------------------------------------------------------ allowed times (seconds)

    def accept_within_s(self, category: str, priority: str) -> float:
        """Seconds from ``cycle_start`` to accept: the category's minutes, capped by the priority's cap."""
        minutes = self.accept_minutes.get(category, self.accept_minutes[DEFAULT])
        cap = self.priority_accept_cap_minutes.get(str(priority))
        if cap is not None:
            minutes = min(minutes, cap)
        return minutes * 60.0

    def resolve_within_s(self, category: str, priority: str) -> float:
        """Seconds allowed to resolve: the category's hours times the priority's factor (1.0 if none)."""
        hours = self.resolve_hours.get(category, self.resolve_hours[DEFAULT])
        return hours * 3600.0 * self.priority_resolve_factor.get(str(priority), 1.0)

    # ------------------------------------------------------------------ per incident

    @staticmethod
    def cycle_start(incident: Incident) -> float:
        """Start of the current cycle: created_ts, or the re-dispatch after the latest resolution (返工)."""
        start = incident.created_ts
        done_seen = False
        for s, t in incident.history:
            if s in _DONE:
                done_seen = True
            elif done_seen and s == Status.DISPATCHED:
                start = t
                done_seen = False
        return start

    def accept_due(self, incident: Incident) -> float:
        """Accept (接单) deadline of the current cycle, epoch seconds."""
        return self.cycle_start(incident) + self.accept_within_s(incident.category, incident.priority)

    def resolve_due(self, incident: Incident) -> float:
        """Resolve (办结) deadline: the incident's explicit ``due`` if set, else from the policy."""
        if incident.due is not None:
            return incident.due
        return self.cycle_start(incident) + self.resolve_within_s(incident.category, incident.priority)

    def _accepted_in_cycle(self, incident: Incident, start: float) -> bool:
        return any(s == Status.ACCEPTED and t >= start for s, t in incident.history)

    def overdue_at(self, incident: Incident) -> float:
        """Epoch seconds after which the incident, *as it stands now*, is overdue (``inf``: never).

        ``is_overdue(inc, now) == (now > overdue_at(inc))``; the Situation stores this per incident and
        compares it with the clock on every view, so overdue appears as time passes without new messages.
        """
        if incident.status not in OPEN_STATUSES:
            return INF
        start = self.cycle_start(incident)
        resolve = self.resolve_due(incident)
        if incident.status in _UNACCEPTED and not self._accepted_in_cycle(incident, start):
            return min(start + self.accept_within_s(incident.category, incident.priority), resolve)
        return resolve

    def is_overdue(self, incident: Incident, now: float) -> bool:
        """Whether ``incident`` is overdue at ``now`` (epoch seconds): ``now > overdue_at(incident)``."""
        return now > self.overdue_at(incident)

    def overdue_multiple(self, incident: Incident, now: float) -> float:
        """超时倍数: (now − breached deadline) / allowed time, the larger of the two; 0.0 if on time.

        For resolved/closed incidents it is measured at the resolution time instead of ``now``.
        """
        if incident.status == Status.CANCELLED:
            return 0.0
        start = self.cycle_start(incident)
        at = now
        if incident.status in _DONE:
            at = self._resolution_ts(incident)
        worst = 0.0
        resolve = self.resolve_due(incident)
        allowed_r = max(resolve - start, 60.0)
        if at > resolve:
            worst = (at - resolve) / allowed_r
        if incident.status in _UNACCEPTED and not self._accepted_in_cycle(incident, start):
            allowed_a = self.accept_within_s(incident.category, incident.priority)
            accept = start + allowed_a
            if at > accept:
                worst = max(worst, (at - accept) / allowed_a)
        return worst

    @staticmethod
    def _resolution_ts(incident: Incident) -> float:
        r = incident.resolved_ts
        if r is None:  # closed without a recorded resolution (outside system skipped a step)
            r = incident.last_ts(Status.CLOSED)
        return incident.ts if r is None else r

    def on_time(self, incident: Incident) -> bool | None:
        """按期办结: resolved/closed by the resolve deadline (latest resolution counts); None otherwise."""
        if incident.status not in _DONE:
            return None
        return self._resolution_ts(incident) <= self.resolve_due(incident)

    def describe(self) -> dict[str, dict[str, float]]:
        """Effective accept minutes / resolve hours (normal priority) per category, for screens/docs."""
        return {
            code: {
                "accept_min": self.accept_within_s(code, "normal") / 60.0,
                "resolve_h": self.resolve_within_s(code, "normal") / 3600.0,
            }
            for code in CATEGORIES
        }
