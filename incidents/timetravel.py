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
more than that can show a wrong status at ``T`` once its log entries are gone.

Cost: a ``Timeline`` reads every log entry once (~0.5 s for 32,000 entries, ~3-5 s for a full 200,000-entry log;
what ``snapshot --at`` pays), then only the entries written since (``XRANGE`` from the last id seen, trims
followed); a rebuild from it is answered from memory (~20 ms for 10,000 incidents: one scrubber step). It holds
the log's raw entries (~1-2 KB each with the parse cache: ~60 MB at 32,000 entries), bounded by the log's cap.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import math
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from incidents.keys import Keys
from incidents.model import Incident, Status, is_rework
from incidents.situation import Locator, Situation, SituationView
from incidents.sla import SlaPolicy
from incidents.store import as_text, load_state
from incidents.timeutil import parse_at as parse_at  # re-exported: the CLI and tests read it here

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


EntryId = tuple[int, int]
_NO_ID: EntryId = (-1, -1)


def entry_id(raw: Any) -> EntryId:
    """A stream entry id (``b"1764-3"``) as ``(ms, seq)``, comparable in log order."""
    ms, _, seq = as_text(raw).partition("-")
    return int(ms), int(seq or 0)


def _id_text(eid: EntryId) -> str:
    return f"{eid[0]}-{eid[1]}"


class Timeline:
    """Every surviving log entry indexed by incident and event time, so ``rebuild(at)`` answers any moment without
    reading Redis again (pure: ``refresh_timeline`` feeds it).

    Per incident the logged states are kept as raw JSON sorted by ``ts`` (a later log entry wins a tie, as in a
    scan), parsed only when a rebuild picks one (an LRU of ``parse_cache`` parsed states, so neighbouring moments
    share them). ``current`` is the state hash as read once, kept current by every newer log entry.
    Memory: the raw JSON of the log (bounded by ``keys.LOG_MAXLEN`` entries, ~0.5-1 KB each) plus the parse cache.
    """

    def __init__(self, *, parse_cache: int = 20_000) -> None:
        self._ts: dict[str, list[float]] = {}
        self._raw: dict[str, list[bytes]] = {}
        self._eid: dict[str, list[EntryId]] = {}
        # every entry in log order: (id, incident id or None when unreadable, ts or None)
        self._order: deque[tuple[EntryId, str | None, float | None]] = deque()
        self.current: dict[str, Incident] = {}
        self.last_id: EntryId = _NO_ID
        self.loaded = False
        self.added: int | None = None  # the stream's entries-added when last read (``refresh_timeline``)
        self._parsed: OrderedDict[EntryId, Incident | None] = OrderedDict()
        self._parse_max = parse_cache

    def __len__(self) -> int:
        return len(self._order)

    @property
    def oldest_ts(self) -> float | None:
        """ts of the oldest readable entry (how far back the log reaches), None for an empty log."""
        return next((ts for _, _, ts in self._order if ts is not None), None)

    def reset(self, state: list[Incident]) -> None:
        """Forget every entry; ``state``: the incidents of the state hash as now read."""
        self._ts.clear()
        self._raw.clear()
        self._eid.clear()
        self._order.clear()
        self._parsed.clear()
        self.current = {inc.id: inc for inc in state}
        self.last_id = _NO_ID
        self.loaded = True

    def add(self, raw_id: Any, fields: Mapping[Any, Any]) -> None:
        """Append one log entry (``XRANGE`` item), in log order."""
        eid = entry_id(raw_id)
        self.last_id = eid
        data = _field(fields, "data")
        iid: str | None = None
        ts: float | None = None
        if data is not None:
            try:
                d = json.loads(data)
                ts = float(d["ts"])
                iid = str(d.get("id") or as_text(_field(fields, "id") or b""))
            except (ValueError, KeyError, TypeError):
                iid, ts = None, None
        self._order.append((eid, iid, ts))
        if iid is None or ts is None:
            return
        raw = data if isinstance(data, bytes) else str(data).encode()
        tss = self._ts.setdefault(iid, [])
        k = bisect.bisect_right(tss, ts)
        tss.insert(k, ts)
        self._raw.setdefault(iid, []).insert(k, raw)
        self._eid.setdefault(iid, []).insert(k, eid)
        old = self.current.get(iid)
        if old is None or ts > old.ts:  # newer than the state as read: the state hash holds this now
            inc = self._parse(eid, raw)
            if inc is not None:
                self.current[iid] = inc

    def trim_before(self, first: EntryId) -> int:
        """Drop the entries before ``first`` (the log was trimmed up to it); returns how many."""
        touched: set[str] = set()
        n = 0
        while self._order and self._order[0][0] < first:
            _, iid, _ = self._order.popleft()
            n += 1
            if iid is not None:
                touched.add(iid)
        for iid in touched:
            keep = [k for k, e in enumerate(self._eid.get(iid, ())) if e >= first]
            if not keep:
                self._ts.pop(iid, None)
                self._raw.pop(iid, None)
                self._eid.pop(iid, None)
                continue
            self._ts[iid] = [self._ts[iid][k] for k in keep]
            self._raw[iid] = [self._raw[iid][k] for k in keep]
            self._eid[iid] = [self._eid[iid][k] for k in keep]
        return n

    def _parse(self, eid: EntryId, raw: bytes) -> Incident | None:
        if eid in self._parsed:
            self._parsed.move_to_end(eid)
            return self._parsed[eid]
        try:
            inc: Incident | None = Incident.from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            inc = None
        self._parsed[eid] = inc
        while len(self._parsed) > self._parse_max:
            self._parsed.popitem(last=False)
        return inc

    def rebuild(self, at: float) -> Rebuild:
        """Every incident as it was at ``at`` by the module doc's rules (what a full scan gives)."""
        out: list[Incident] = []
        logged: set[str] = set()
        from_log = from_state = approx = 0
        for iid, tss in self._ts.items():
            k = bisect.bisect_right(tss, at)
            if k == 0:
                continue
            logged.add(iid)
            inc = self._parse(self._eid[iid][k - 1], self._raw[iid][k - 1])
            if inc is not None:
                out.append(inc)
                from_log += 1
        for iid, cur in self.current.items():
            if iid in logged:
                continue
            past = at_history(cur, at)
            if past is None:
                continue
            out.append(past)
            if past is cur:
                from_state += 1
            else:
                approx += 1
        out.sort(key=lambda i: i.ts)
        return Rebuild(at, out, from_log, from_state, approx, len(self._order), self.oldest_ts)

    def exact_since(self) -> float | None:
        """The oldest moment from which every rebuild is exact (no incident "approximate"): the oldest entry, or
        later where an incident's first entries were trimmed (its first surviving state, or its state when no
        entry of it survives). None for an empty log."""
        oldest = self.oldest_ts
        if oldest is None:
            return None
        since = oldest
        for iid, cur in self.current.items():
            tss = self._ts.get(iid)
            first = tss[0] if tss else cur.ts
            if cur.created_ts < first:
                since = max(since, first)
        return since


def refresh_timeline(r: redis.Redis, keys: Keys, timeline: Timeline, *, chunk: int = _CHUNK) -> int:
    """Bring ``timeline`` up to the log: the state hash and the whole log on first use (or when the log was
    replaced), then only the entries after the last one seen (``XRANGE``), dropping those trimmed away. Returns
    the entries read."""
    if not timeline.loaded:
        timeline.reset(load_state(r, keys))
    n = 0
    while True:
        pipe = r.pipeline(transaction=True)
        pipe.xrange(keys.log, min="-", max="+", count=1)
        start = "-" if timeline.last_id == _NO_ID else "(" + _id_text(timeline.last_id)
        pipe.xrange(keys.log, min=start, max="+", count=chunk)
        pipe.xlen(keys.log)
        pipe.xinfo_stream(keys.log)
        head, entries, length, info = pipe.execute(raise_on_error=False)
        for reply in (head, entries, length):
            if isinstance(reply, Exception):
                raise reply
        if head:
            timeline.trim_before(entry_id(head[0][0]))
        for raw_id, fields in entries:
            timeline.add(raw_id, fields)
        n += len(entries)
        if len(entries) < chunk:
            break
    added = _entries_added(info)
    # A stream that was deleted and written anew (its entries-added counter is not ours + what we read), or whose
    # length is not what we hold: read everything again.
    replaced = timeline.added is not None and added is not None and added != timeline.added + n
    if replaced or int(length) != len(timeline):
        timeline.loaded = False
        timeline.added = None
        return n + refresh_timeline(r, keys, timeline, chunk=chunk)
    timeline.added = added
    return n


def oldest_entry_ts(r: redis.Redis, keys: Keys) -> float | None:
    """The ``ts`` of the log's oldest readable entry (how far back it reaches), None for an empty log; reads from
    the head of the log until one is readable (one ``XRANGE`` in practice)."""
    start = "-"
    while True:
        entries: Any = r.xrange(keys.log, min=start, max="+", count=100)
        for _raw_id, fields in entries:
            data = _field(fields, "data")
            if data is None:
                continue
            try:
                return float(json.loads(data)["ts"])
            except (ValueError, KeyError, TypeError):
                continue
        if len(entries) < 100:
            return None
        start = "(" + as_text(entries[-1][0])


def _entries_added(info: Any) -> int | None:
    """``XINFO STREAM``'s entries-added (Redis 7), None for an absent stream or an older Redis."""
    if not isinstance(info, dict):
        return None
    value = info.get("entries-added", info.get(b"entries-added"))
    return None if value is None else int(value)


def incidents_at(
    r: redis.Redis, keys: Keys, at: float, *, chunk: int = _CHUNK, timeline: Timeline | None = None
) -> Rebuild:
    """Every incident as it was at ``at`` (epoch seconds), from the log and the state hash. ``timeline``: one
    kept from earlier calls (only the log's new entries are read); without it the whole log is read."""
    tl = Timeline() if timeline is None else timeline
    refresh_timeline(r, keys, tl, chunk=chunk)
    return tl.rebuild(at)


def situation_at(
    r: redis.Redis,
    keys: Keys,
    at: float,
    locator: Locator,
    sla: SlaPolicy | None = None,
    *,
    grid_communities: Mapping[str, str] | None = None,
    timeline: Timeline | None = None,
) -> tuple[SituationView, Rebuild]:
    """The ``SituationView`` at ``at``: grid states, overdue and KPIs evaluated with the clock at ``at``.

    ``timeline``: a ``Timeline`` kept between calls (a scrubber): only the log's new entries are read, and the
    rebuild is answered from memory; without it the whole log is read (``snapshot --at``). Same rules, same
    result either way."""
    rebuild = incidents_at(r, keys, at, timeline=timeline)
    # No retention: the past view needs every incident it rebuilt (the 24 h KPI windows end at ``at``, not now).
    situation = Situation(locator, sla, grid_communities=grid_communities, retention_s=math.inf)
    situation.replace_all(rebuild.incidents)
    return situation.view(at), rebuild
