"""Time travel: the situation as it was at a past moment, rebuilt from the Redis log (and state).

Every accepted change appends the incident's *full merged state* to ``keys.log`` (``apply.lua``), and the
states of one incident are appended in increasing ``ts`` order (the script only writes a newer ts). So the
incident's state at a moment ``T`` is its last logged state with ``ts <= T``.

``T`` is **event time** (the messages' ``ts``), not the time the log entry was written: a backfilled day or a
late message is placed where it happened, and KPIs (which are all defined on event times) come out as they
were. The whole log is scanned (not only ``XRANGE - <id of T>``) because a change with ``ts <= T`` may have
been written after ``T``.

Per incident (``Rebuild`` counts which rule answered):

* **exact from the log** — its last logged state with ``ts <= T``;
* **exact from the state hash** — nothing logged at or before ``T`` but its current state has ``ts <= T``
  (unchanged since);
* **approximate** — its log entries up to ``T`` were trimmed and it changed after ``T``: the status at ``T``
  comes from the current state's ``history`` (every status change with its ts, so status, 接单/办结/评单 times
  and the rework count at ``T`` are right), the other fields (assignee, rating, priority, escalated, place)
  are as they are *now*;
* **absent** — created after ``T`` (``created_ts > T``).

Limits: the log is capped at ``keys.LOG_MAXLEN`` (200,000) entries, trimmed approximately (``MAXLEN ~``), so
it reaches back ``200,000 / rate`` seconds of accepted changes: ~46 h at 1.2 changes/s (the demo simulator at
0.3 new incidents/s), ~4 days for a busy street (10,000 incidents/day, ~5 changes each), ~5.5 h at 10
changes/s, ~40 s at the 5,000 events/s ingest budget. Beyond it the "approximate" rule applies. ``history``
keeps the creation and the newest 99 status changes (``store.HISTORY_MAX``): an incident that flip-flopped
more than that can show a wrong status at ``T`` once its log entries are gone. The scan reads every log
entry (~2-3 s for a full 200,000-entry log): fine for ``snapshot --at`` and a scrubber that caches a rebuild,
not for a per-frame call.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from incidents.keys import Keys
from incidents.model import Incident, Status, is_rework
from incidents.situation import Locator, Situation, SituationView
from incidents.sla import SlaPolicy
from incidents.store import as_text, load_state
from incidents.timeutil import SHANGHAI

_RELATIVE_RE = re.compile(r"^-\s*((?:\d+(?:\.\d+)?\s*[smhd]\s*)+)$")
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Rebuild:
    """The incidents as they were ``at`` and how each was found (see module doc)."""

    at: float
    incidents: list[Incident]
    from_log: int
    from_state: int
    approximate: int
    log_entries: int
    log_oldest_ts: float | None  # ts of the oldest surviving log entry (how far back the log reaches)


def parse_at(text: str, now: float | None = None) -> float:
    """A moment from the command line: ISO 8601 (``2026-11-26T09:00+08:00``; without an offset it is Beijing
    time), epoch seconds, or relative to ``now`` (``-2h``, ``-90m``, ``-1d``, ``-1h30m``, ``-45s``)."""
    now = time.time() if now is None else now
    s = text.strip()
    m = _RELATIVE_RE.fullmatch(s)
    if m:
        return now - sum(float(v) * _UNIT_S[u] for v, u in _PART_RE.findall(m.group(1)))
    try:
        return float(s)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (ISO 8601 like 2026-11-26T09:00+08:00, epoch, or -2h)") from None
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.timestamp()


def _field(fields: Mapping[Any, Any], name: str) -> Any:
    return fields.get(name.encode()) if name.encode() in fields else fields.get(name)


def at_history(inc: Incident, at: float) -> Incident | None:
    """The incident at ``at`` reconstructed from its status history (None if created after ``at``).

    Status, ts, history and the rework count are as they were; other fields are the current ones, except a
    rating, which only a closed incident has.
    """
    if inc.created_ts > at:
        return None
    if inc.ts <= at:
        return inc
    hist = [(s, t) for s, t in inc.history if t <= at]
    if not hist:
        hist = [(str(Status.REPORTED), inc.created_ts)]
    status = Status(hist[-1][0])
    reworks = sum(1 for (a, _), (b, _) in itertools.pairwise(hist) if is_rework(a, b))
    return dataclasses.replace(
        inc,
        status=status,
        ts=hist[-1][1],
        history=hist,
        actors=inc.actors[: len(hist)],  # the history is oldest first: the kept entries are a prefix
        reopened=reworks,
        rating=inc.rating if status == Status.CLOSED else None,
    )


def _scan_log(r: redis.Redis, keys: Keys, at: float, chunk: int) -> tuple[dict[str, dict[str, Any]], int, float | None]:
    """Best logged state per id with ts <= at; entries scanned; ts of the oldest entry."""
    best: dict[str, dict[str, Any]] = {}
    n = 0
    oldest: float | None = None
    start = "-"
    while True:
        entries: Any = r.xrange(keys.log, min=start, max="+", count=chunk)
        if not entries:
            break
        for _entry_id, fields in entries:
            n += 1
            data = _field(fields, "data")
            if data is None:
                continue
            try:
                d = json.loads(data)
                ts = float(d["ts"])
            except (ValueError, KeyError, TypeError):
                continue
            if oldest is None:
                oldest = ts
            if ts > at:
                continue
            iid = str(d.get("id") or as_text(_field(fields, "id") or b""))
            prev = best.get(iid)
            if prev is None or ts >= float(prev["ts"]):
                best[iid] = d
        if len(entries) < chunk:
            break
        start = "(" + as_text(entries[-1][0])
    return best, n, oldest


def incidents_at(r: redis.Redis, keys: Keys, at: float, *, chunk: int = _CHUNK) -> Rebuild:
    """Every incident as it was at ``at`` (epoch seconds), from the log and the state hash."""
    current = {inc.id: inc for inc in load_state(r, keys)}
    logged, n, oldest = _scan_log(r, keys, at, chunk)
    out: list[Incident] = []
    from_log = from_state = approx = 0
    for d in logged.values():
        try:
            out.append(Incident.from_dict(d))
            from_log += 1
        except (ValueError, KeyError, TypeError):
            continue
    for iid, inc in current.items():
        if iid in logged:
            continue
        past = at_history(inc, at)
        if past is None:
            continue
        out.append(past)
        if past is inc:
            from_state += 1
        else:
            approx += 1
    out.sort(key=lambda i: i.ts)
    return Rebuild(at, out, from_log, from_state, approx, n, oldest)


def situation_at(
    r: redis.Redis,
    keys: Keys,
    at: float,
    locator: Locator,
    sla: SlaPolicy | None = None,
    *,
    grid_communities: Mapping[str, str] | None = None,
) -> tuple[SituationView, Rebuild]:
    """The ``SituationView`` at ``at``: grid states, overdue and KPIs evaluated with the clock at ``at``."""
    rebuild = incidents_at(r, keys, at)
    # No retention: the past view needs every incident it rebuilt (the 24 h KPI windows end at ``at``, not now).
    situation = Situation(locator, sla, grid_communities=grid_communities, retention_s=math.inf)
    situation.replace_all(rebuild.incidents)
    return situation.view(at), rebuild
