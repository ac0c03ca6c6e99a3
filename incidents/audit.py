"""Reading the audit stream (``Keys.audit``): one entry per applied change, written by ``apply.lua`` in the same
atomic step as the change (so no change goes unrecorded, and nothing is recorded that did not happen).

Entry fields: ``actor`` (``user:alice``, ``key:erp``, ``publisher``; "" when not known), ``via`` (``console``,
``http``, ``open311``, ``pubsub``, ``simulator`` …), ``client`` (the client's address, "" off the network),
``incident``, ``what`` (``created`` / ``status`` / ``update``), ``from`` and ``to`` (statuses), ``ts`` (the change's
own time, epoch s), ``assignee`` (when the change named one), ``log`` (the log entry of the change). ``at``: when
Redis recorded it (the stream entry id's milliseconds).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Final

import redis

from incidents.keys import Keys
from incidents.store import as_text

PAGE_MAX: Final = 1000
SCAN_CHUNK: Final = 1000
SCAN_MAX: Final = 100_000  # entries looked at per request at most; the cursor continues from there
CSV_FIELDS: Final = ("entry", "at", "actor", "via", "client", "incident", "what", "from", "to", "ts", "assignee")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit entry (see the module doc); ``entry``: its stream id, ``at``: epoch s."""

    entry: str
    at: float
    actor: str
    via: str
    client: str
    incident: str
    what: str
    from_status: str
    to_status: str
    ts: float
    assignee: str

    def as_json(self) -> dict[str, Any]:
        """``{"entry", "at", "actor", "via", "client", "incident", "what", "from", "to", "ts", "assignee"}``."""
        d = asdict(self)
        d["from"] = d.pop("from_status")
        d["to"] = d.pop("to_status")
        return d


def _entry(entry_id: Any, fields: Any) -> AuditEntry:
    f = {as_text(k): as_text(v) for k, v in fields.items()}
    eid = as_text(entry_id)
    try:
        ts = float(f.get("ts") or 0.0)
    except ValueError:
        ts = 0.0
    return AuditEntry(
        entry=eid,
        at=int(eid.split("-")[0]) / 1000.0,
        actor=f.get("actor", ""),
        via=f.get("via", ""),
        client=f.get("client", ""),
        incident=f.get("incident", ""),
        what=f.get("what", ""),
        from_status=f.get("from", ""),
        to_status=f.get("to", ""),
        ts=ts,
        assignee=f.get("assignee", ""),
    )


def _start(since: float | None, after: str | None) -> str:
    if after:
        return "(" + after
    if since is not None and since > 0:
        return f"{int(since * 1000)}-0"
    return "-"


def scan(
    r: redis.Redis,
    keys: Keys,
    *,
    since: float | None = None,
    after: str | None = None,
    actor: str | None = None,
    incident: str | None = None,
    scan_max: int | None = SCAN_MAX,
) -> Iterator[AuditEntry]:
    """Matching entries, oldest first: recorded at or after ``since`` (epoch s), after entry id ``after`` (a
    paging cursor), by exactly ``actor`` (a label), on exactly ``incident``. Looks at no more than ``scan_max``
    entries (None: all)."""
    start = _start(since, after)
    seen = 0
    while scan_max is None or seen < scan_max:
        chunk: Any = r.xrange(keys.audit, min=start, max="+", count=SCAN_CHUNK)
        if not chunk:
            return
        for entry_id, fields in chunk:
            seen += 1
            e = _entry(entry_id, fields)
            if (actor is None or e.actor == actor) and (incident is None or e.incident == incident):
                yield e
        start = "(" + as_text(chunk[-1][0])
        if len(chunk) < SCAN_CHUNK:
            return


def page(
    r: redis.Redis,
    keys: Keys,
    *,
    since: float | None = None,
    after: str | None = None,
    actor: str | None = None,
    incident: str | None = None,
    limit: int = 100,
) -> tuple[list[AuditEntry], str | None]:
    """One page of ``scan``: at most ``limit`` (1..``PAGE_MAX``) entries and the cursor of the next page (pass it as
    ``after``), None at the end of the stream."""
    limit = max(1, min(PAGE_MAX, limit))
    out: list[AuditEntry] = []
    last = after
    start = _start(since, after)
    looked = 0
    while len(out) < limit and looked < SCAN_MAX:
        chunk: Any = r.xrange(keys.audit, min=start, max="+", count=SCAN_CHUNK)
        if not chunk:
            return out, None
        for entry_id, fields in chunk:
            looked += 1
            e = _entry(entry_id, fields)
            last = e.entry
            if (actor is None or e.actor == actor) and (incident is None or e.incident == incident):
                out.append(e)
                if len(out) >= limit:
                    break
        start = "(" + (last or "0-0")
        if len(chunk) < SCAN_CHUNK and len(out) < limit:
            return out, None
    more: Any = r.xrange(keys.audit, min="(" + last, max="+", count=1) if last else []
    return out, (last if more else None)


def csv_rows(entries: Iterator[AuditEntry]) -> Iterator[str]:
    """CSV text (header first, then one line per entry; RFC 4180, UTF-8) of ``entries``, line by line."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for e in entries:
        d = e.as_json()
        writer.writerow([_csv_safe(d[k]) for k in CSV_FIELDS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection: ``= + - @`` and tab/CR first)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
