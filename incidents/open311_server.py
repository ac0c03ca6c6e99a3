"""Open311 GeoReport v2, serving side: our categories as services, POSTed requests → wire messages, incidents →
Open311 requests, query filters, JSON/XML rendering. Pure (no Redis, no web framework): ``dashboard.ingest``
does the HTTP and ``dashboard.http_body`` reads request bodies (form, JSON, multipart) into the ``Fields`` that
``post_to_wire`` maps.

Status mapping (ours → Open311): reported, dispatched, accepted → ``open``; resolved, closed, cancelled →
``closed``; our own status goes into ``status_notes`` (``已派单 dispatched``).

Personal fields of a POST (``first_name``, ``last_name``, ``phone``, ``email``, ``device_id``, ``account_id``)
are never read into the message and never stored, not even masked; rejected input is dead-lettered without them
(``redact``).
"""

from __future__ import annotations

import io
import json
import math
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from incidents.model import CATEGORIES, OPEN_STATUSES, Incident, Status
from incidents.open311 import (
    ID_PREFIX,
    SERVICE_INFO,
    SOURCE,
    Open311Error,
    category_for,
    clean_text,
    clip,
    join_description,
    title_from,
)
from incidents.timeutil import SHANGHAI, format_ts

PERSONAL_FIELDS: Final = frozenset(("first_name", "last_name", "phone", "email", "device_id", "account_id"))
MAX_ATTRIBUTES: Final = 20
DEFAULT_PAGE_SIZE: Final = 1000
WINDOW: Final = timedelta(days=90)
SERVICE_NOTICE: Final = "已受理，将派至所在网格处理 Received; it will be dispatched to the grid it lies in."

STATUS_NOTES: Final[dict[Status, str]] = {
    Status.REPORTED: "已上报 reported",
    Status.DISPATCHED: "已派单 dispatched",
    Status.ACCEPTED: "已接单 accepted",
    Status.RESOLVED: "已办结 resolved",
    Status.CLOSED: "已评价关闭 closed",
    Status.CANCELLED: "已撤销 cancelled",
}


def open311_status(status: Status | str) -> str:
    """``open`` for reported/dispatched/accepted, ``closed`` for resolved/closed/cancelled."""
    return "open" if Status(status) in OPEN_STATUSES else "closed"


# --------------------------------------------------------------------------------------------- services


def services() -> list[dict[str, Any]]:
    """Our categories as Open311 services (``GET services``): code, zh name, English in the description."""
    out: list[dict[str, Any]] = []
    for code, label in CATEGORIES.items():
        en, group, keywords = SERVICE_INFO[code]
        out.append(
            {
                "service_code": code,
                "service_name": label,
                "description": f"{en} ({label})",
                "metadata": False,
                "type": "realtime",
                "keywords": ", ".join(keywords),
                "group": group,
            }
        )
    return out


# --------------------------------------------------------------------------------------------- POST requests

Fields = list[tuple[str, str]]


def redact(fields: Fields) -> str:
    """The fields as JSON without personal data: what a rejected POST leaves in the dead-letter stream."""
    kept = [(k, v) for k, v in fields if k not in PERSONAL_FIELDS]
    dropped = sorted({k for k, _ in fields if k in PERSONAL_FIELDS})
    return json.dumps({"open311_post": kept, "personal_fields_dropped": dropped}, ensure_ascii=False)


_ATTR_RE = re.compile(r"^attribute\[([^\]]{1,64})\](?:\[\])?$")


def _coordinate(fields: Mapping[str, str], name: str, limit: float) -> float:
    raw = fields.get(name, "").strip()
    try:
        v = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number: {raw[:40]!r}") from None
    if not math.isfinite(v) or not -limit <= v <= limit:
        raise Open311Error(400, f"{name} {raw[:40]!r} is out of range -{limit:g}..{limit:g}")
    return v


def new_request_id() -> str:
    """A fresh, unique service_request_id: ``ID_PREFIX`` + 32 hex digits (uuid4)."""
    return f"{ID_PREFIX}{uuid.uuid4().hex}"


def with_query(body: Fields, query: Iterable[tuple[str, str]]) -> Fields:
    """A POST's fields: the body's, then the URL query's (some vendors' clients, Accela-style adapters among them,
    put every parameter in the query string and send an empty body). The body wins where both give a field
    (``post_to_wire`` takes each field's first value)."""
    return [*body, *((str(k), str(v)) for k, v in query)]


def post_to_wire(fields: Fields, *, now: float, request_id: str | None = None) -> dict[str, Any]:
    """A ``POST requests`` form → a wire message (``reported``, ts ``now``, ``source`` open311).

    Category from ``service_code`` (ours, a zh label, or an alias; else ``other`` with the code in the
    description); lon/lat from ``long``/``lat`` (required: addresses are not geocoded); title = the
    description's first line; address_string, media_url and ``attribute[...]`` become description lines.
    Personal fields are never read. Raises ``Open311Error`` 400 with the reason.
    """
    first: dict[str, str] = {}
    attributes: list[tuple[str, str]] = []
    for k, v in fields:
        m = _ATTR_RE.match(k)
        if m and len(attributes) < MAX_ATTRIBUTES:
            attributes.append((m.group(1), v))
        elif k not in PERSONAL_FIELDS:
            first.setdefault(k, v)
    code = first.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if not first.get("lat", "").strip() or not first.get("long", "").strip():
        has_address = first.get("address_string", "").strip() or first.get("address_id", "").strip()
        why = " (address_string/address_id are not geocoded here)" if has_address else ""
        raise Open311Error(400, f"lat and long are required{why}")
    lat = _coordinate(first, "lat", 90.0)
    lon = _coordinate(first, "long", 180.0)
    if lat == 0 and lon == 0:
        raise Open311Error(400, "lat/long 0,0 is not a location")
    category = category_for(code)
    notes = [] if category else [f"Open311 service_code: {clip(clean_text(code, newlines=False), 100)}"]
    category = category or "other"
    address = first.get("address_string", "").strip()
    media = first.get("media_url", "").strip()
    notes += [
        f"Address: {clip(address, 500)}" if address else "",
        f"Media: {clip(media, 1000)}" if media.lower().startswith(("http://", "https://")) else "",
        *(f"Attribute {clip(a, 64)}: {clip(v, 200)}" for a, v in attributes),
    ]
    description = first.get("description", "")
    return {
        "id": request_id or new_request_id(),
        "status": str(Status.REPORTED),
        "ts": now,
        "lon": lon,
        "lat": lat,
        "category": category,
        "title": title_from(description, CATEGORIES[category] + (f" {code}" if category == "other" else "")),
        "description": join_description(description, notes),
        "source": SOURCE,
    }


# --------------------------------------------------------------------------------------------- GET requests


def incident_to_request(inc: Incident, *, grid_id: str = "") -> dict[str, Any]:
    """One incident as an Open311 request (times ISO 8601 +08:00; ``agency_responsible`` = its grid)."""
    title, desc = inc.title.strip(), inc.description.strip()
    text = desc if not title or desc.startswith(title) else f"{title}\n{desc}".strip()
    notes = STATUS_NOTES[inc.status] + (f"；返工 {inc.reopened} 次 reworked" if inc.reopened else "")
    return {
        "service_request_id": inc.id,
        "status": open311_status(inc.status),
        "status_notes": notes,
        "service_name": CATEGORIES.get(inc.category, inc.category),
        "service_code": inc.category,
        "description": text or None,
        "agency_responsible": grid_id or inc.grid_id or None,
        "service_notice": None,
        "requested_datetime": format_ts(inc.created_ts),
        "updated_datetime": format_ts(inc.ts),
        "expected_datetime": None if inc.due is None else format_ts(inc.due),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": inc.lat,
        "long": inc.lon,
        "media_url": None,
    }


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """``GET requests`` filters. ``ids`` overrides all others (spec); times are epoch seconds."""

    ids: tuple[str, ...] = ()
    categories: frozenset[str] | None = None
    statuses: frozenset[str] | None = None  # open / closed
    start: float = 0.0
    end: float = math.inf
    page_size: int = DEFAULT_PAGE_SIZE
    page: int = 1


def _date(name: str, value: str) -> float:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(400, f"{name} is not an ISO 8601 date-time: {value[:40]!r}") from None
    if dt.utcoffset() is None:
        dt = dt.replace(tzinfo=SHANGHAI)  # no zone: ours (+08:00)
    return dt.timestamp()


def _positive(name: str, value: str, maximum: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be an integer: {value[:20]!r}") from None
    if not 1 <= n <= maximum:
        raise Open311Error(400, f"{name} must be 1..{maximum}")
    return n


def _csv(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def parse_query(params: Mapping[str, str], *, now: float) -> RequestQuery:
    """Query parameters → filters. Without dates: the last 90 days; a range may not span more than 90 days.

    Dates without a zone are +08:00. ``service_code`` and ``status`` take comma lists; ``page_size`` (≤ 1000,
    default 1000) and ``page`` page through the newest-first list. Raises ``Open311Error`` 400.
    """
    ids = tuple(_csv(params.get("service_request_id", "")))
    statuses = {s.lower() for s in _csv(params.get("status", ""))}
    bad = statuses - {"open", "closed"}
    if bad:
        raise Open311Error(400, f"status must be open or closed, got {sorted(bad)[0][:20]!r}")
    codes = _csv(params.get("service_code", ""))
    categories = {category_for(c) or c for c in codes}
    start_s, end_s = params.get("start_date", "").strip(), params.get("end_date", "").strip()
    window = WINDOW.total_seconds()
    start = _date("start_date", start_s) if start_s else None
    end = _date("end_date", end_s) if end_s else None
    if start is None:
        start = (now if end is None else end) - window
    if end is None:
        end = start + window if start < now - window else math.inf
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if math.isfinite(end) and end - start > window:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return RequestQuery(
        ids=ids,
        categories=frozenset(categories) if categories else None,
        statuses=frozenset(statuses) if statuses else None,
        start=start,
        end=end,
        page_size=_positive("page_size", params["page_size"], DEFAULT_PAGE_SIZE)
        if "page_size" in params
        else DEFAULT_PAGE_SIZE,
        page=_positive("page", params["page"], 1_000_000) if "page" in params else 1,
    )


def select(incidents: Iterable[Incident], q: RequestQuery) -> list[Incident]:
    """The incidents ``q`` asks for, newest request first, one page."""
    if q.ids:
        wanted = set(q.ids)
        found = {inc.id: inc for inc in incidents if inc.id in wanted}
        return [found[i] for i in dict.fromkeys(q.ids) if i in found]
    rows = [
        inc
        for inc in incidents
        if q.start <= inc.created_ts <= q.end
        and (q.categories is None or inc.category in q.categories)
        and (q.statuses is None or open311_status(inc.status) in q.statuses)
    ]
    rows.sort(key=lambda inc: (-inc.created_ts, inc.id))
    first = (q.page - 1) * q.page_size
    return rows[first : first + q.page_size]


# --------------------------------------------------------------------------------------------- rendering

_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_json(doc: Any) -> bytes:
    """Compact UTF-8 JSON (not ASCII-escaped); ``ValueError`` for NaN/infinity."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _xml_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return _XML_BAD.sub("", str(v))


def to_xml(root: str, item: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``<root><item><field>text</field>…</item>…</root>``; ``None`` is an empty element. Escaped by ElementTree."""
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item)
        for k, v in row.items():
            ET.SubElement(el, k).text = _xml_text(v)
    # What ET.tostring does for a byte encoding, whose result typeshed can only type as Any.
    out = io.BytesIO()
    ET.ElementTree(top).write(out, encoding="utf-8", xml_declaration=True)
    return out.getvalue()


def errors(code: int, description: str) -> list[dict[str, Any]]:
    """A GeoReport v2 error list: ``[{"code": code, "description": description}]``."""
    return [{"code": code, "description": description}]


def render(fmt: str, root: str, item: str, rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, str]:
    """(body, media type) for ``fmt`` ``json`` or ``xml``."""
    if fmt == "xml":
        return to_xml(root, item, rows), "text/xml; charset=utf-8"
    return to_json(list(rows)), "application/json"
