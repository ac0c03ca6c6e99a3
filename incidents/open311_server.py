"""Open311 GeoReport v2, serving side: our categories as services, POSTed requests → wire messages, incidents →
Open311 requests, query filters, JSON/XML rendering. Pure (no Redis, no web framework): ``dashboard.ingest``
does the HTTP and ``dashboard.http_body`` reads request bodies (form, JSON, multipart) into the ``Fields`` that
``post_to_wire`` maps.

Conformance (GeoReport v2, http://wiki.open311.org/GeoReport_v2, and the open311/schema-validation swagger):
``Content-Type`` with ``charset=utf-8``; the XML declaration ``<?xml version="1.0" encoding="utf-8"?>``; a null
datetime (or coordinate) is left out of XML (an empty element is no ``xs:dateTime``) and ``null`` in JSON; a
description is at most 4,000 characters; ``address``, ``address_id`` and ``media_url`` given to a POST come back
in ``GET requests``; an unknown ``service_code`` is 404; every error is an ``errors`` list.

Status mapping (ours → Open311): reported, dispatched, accepted → ``open``; resolved, closed, cancelled →
``closed``; our own status goes into ``status_notes`` (``已派单 dispatched``).

Personal fields of a POST (``first_name``, ``last_name``, ``phone``, ``email``, ``device_id``, ``account_id``)
are never read into the message and never stored, not even masked; rejected input is dead-lettered without them
(``redact``).
"""

from __future__ import annotations

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
    DESCRIPTION_MAX,
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
from incidents.open311_places import Gazetteer
from incidents.timeutil import SHANGHAI, format_ts

PERSONAL_FIELDS: Final = frozenset(("first_name", "last_name", "phone", "email", "device_id", "account_id"))
MAX_ATTRIBUTES: Final = 20
DEFAULT_PAGE_SIZE: Final = 1000
WINDOW: Final = timedelta(days=90)
SERVICE_NOTICE: Final = "已受理，将派至所在网格处理 Received; it will be dispatched to the grid it lies in."
SPECIFICATION: Final = "http://wiki.open311.org/GeoReport_v2"
JSON_TYPE: Final = "application/json; charset=utf-8"
XML_TYPE: Final = "text/xml; charset=utf-8"
XML_DECLARATION: Final = b'<?xml version="1.0" encoding="utf-8"?>\n'
# The description lines a POST's location and media are kept in (also written by ``open311.to_wire``), read back
# into ``address`` / ``address_id`` / ``media_url`` by ``incident_to_request``.
NOTE_ADDRESS: Final = "Address: "
NOTE_ADDRESS_ID: Final = "Address ID: "
NOTE_MEDIA: Final = "Media: "
NOTE_LOCATION: Final = "Location: "

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


def service_definition(code: str) -> dict[str, Any]:
    """``GET services/{code}``: our categories take no attributes, so ``{"service_code": code, "attributes": []}``;
    ``Open311Error`` 404 for a code that is not in ``services()`` (exactly as listed)."""
    if code not in CATEGORIES:
        raise Open311Error(404, f"service_code {clip(code, 60)!r} not found (GET services lists ours)")
    return {"service_code": code, "attributes": []}


def discovery(endpoint_url: str, changeset: str) -> dict[str, Any]:
    """The service discovery document (http://wiki.open311.org/Service_Discovery) for the GeoReport v2 endpoint at
    ``endpoint_url`` (absolute, without a trailing ``/``); ``changeset`` a W3C datetime."""
    return {
        "changeset": changeset,
        "contact": "街道网格化治理中心 — the street's grid governance centre (the onescreen operators)",
        "key_service": "API keys are issued by the onescreen administrators of this street",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


# --------------------------------------------------------------------------------------------- POST requests

Fields = list[tuple[str, str]]


def redact(fields: Fields) -> str:
    """The fields as JSON without personal data and without the client's ``api_key`` (a credential): what a
    rejected POST leaves in the dead-letter stream."""
    kept = [(k, v) for k, v in fields if k not in PERSONAL_FIELDS and k != "api_key"]
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


def post_to_wire(
    fields: Fields, *, now: float, request_id: str | None = None, places: Gazetteer | None = None
) -> dict[str, Any]:
    """A ``POST requests`` form → a wire message (``reported``, ts ``now``, ``source`` open311).

    Category from ``service_code`` (ours, a zh label, or an alias: ``category_for``); a code none of these know is
    ``Open311Error`` 404, as the spec says. Location: ``lat``/``long`` (both), else ``address_id`` or
    ``address_string`` placed by ``places`` (``incidents.open311_places``: names and ids of the street's data).
    Title = the description's first line; ``address_string``, ``address_id``, the placement, ``media_url`` and
    ``attribute[...]`` become description lines (``NOTE_*``). Personal fields are never read. Raises
    ``Open311Error`` 400 (or 404) with the reason.
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
    category = category_for(code)
    if category is None:
        raise Open311Error(404, f"service_code {clip(clean_text(code, newlines=False), 60)!r} not found (GET services)")
    description = first.get("description", "")
    if len(description) > DESCRIPTION_MAX:
        raise Open311Error(400, f"description is {len(description)} characters; at most {DESCRIPTION_MAX}")
    media = first.get("media_url", "").strip()
    if media and not media.lower().startswith(("http://", "https://")):
        raise Open311Error(400, f"media_url must be an http(s) URL, got {clip(media, 40)!r}")
    address = clean_text(first.get("address_string", ""), newlines=False)
    address_id = clean_text(first.get("address_id", ""), newlines=False)
    lon, lat, placed = _location(first, address_id, address, places)
    notes = [
        f"{NOTE_ADDRESS}{clip(address, 500)}" if address else "",
        f"{NOTE_ADDRESS_ID}{clip(address_id, 100)}" if address_id else "",
        placed,
        f"{NOTE_MEDIA}{clip(media, 1000)}" if media else "",
        *(f"Attribute {clip(a, 64)}: {clip(v, 200)}" for a, v in attributes),
    ]
    return {
        "id": request_id or new_request_id(),
        "status": str(Status.REPORTED),
        "ts": now,
        "lon": lon,
        "lat": lat,
        "category": category,
        "title": title_from(description, CATEGORIES[category]),
        "description": join_description(description, notes),
        "source": SOURCE,
    }


def _location(
    first: Mapping[str, str], address_id: str, address: str, places: Gazetteer | None
) -> tuple[float, float, str]:
    """(lon, lat, the placement's description line or "") of a POST: lat/long when given, else its address."""
    if first.get("lat", "").strip() or first.get("long", "").strip():
        if not first.get("lat", "").strip() or not first.get("long", "").strip():
            raise Open311Error(400, "lat and long must be sent together")
        lat = _coordinate(first, "lat", 90.0)
        lon = _coordinate(first, "long", 180.0)
        if lat == 0 and lon == 0:
            raise Open311Error(400, "lat/long 0,0 is not a location")
        return lon, lat, ""
    if not address and not address_id:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    if places is None:
        raise Open311Error(
            400, "address_string/address_id cannot be placed here (no place names loaded): send lat/long"
        )
    placement = places.place(address_id, address)
    return placement.place.lon, placement.place.lat, placement.note()


# --------------------------------------------------------------------------------------------- GET requests


def split_notes(description: str) -> tuple[str, dict[str, str]]:
    """A stored description → (the text without the address/media lines, ``{"address", "address_id",
    "media_url"}`` found in its last paragraph, where ``post_to_wire`` and ``open311.to_wire`` put them)."""
    head, sep, last = description.rpartition("\n\n")
    if not sep:
        head, last = "", description
    found: dict[str, str] = {}
    kept: list[str] = []
    for line in last.split("\n"):
        for field_name, prefix in (
            ("address", NOTE_ADDRESS),
            ("address_id", NOTE_ADDRESS_ID),
            ("media_url", NOTE_MEDIA),
        ):
            if line.startswith(prefix) and field_name not in found and line[len(prefix) :].strip():
                found[field_name] = line[len(prefix) :].strip()
                break
        else:
            kept.append(line)
    rest = "\n".join(kept).strip()
    return (f"{head}\n\n{rest}" if head and rest else head or rest), found


def incident_to_request(inc: Incident, *, grid_id: str = "") -> dict[str, Any]:
    """One incident as an Open311 request, the spec's fields in the spec's order (times W3C ``+08:00``;
    ``agency_responsible`` = its grid; ``description`` at most 4,000 characters; ``address``, ``address_id``,
    ``media_url`` from the description lines a POST left)."""
    title, desc = inc.title.strip(), inc.description.strip()
    body, found = split_notes(desc)
    text = body if not title or body.startswith(title.rstrip("…")) else f"{title}\n{body}".strip()
    notes = STATUS_NOTES[inc.status] + (f"；返工 {inc.reopened} 次 reworked" if inc.reopened else "")
    return {
        "service_request_id": inc.id,
        "status": open311_status(inc.status),
        "status_notes": notes,
        "service_name": CATEGORIES.get(inc.category, inc.category),
        "service_code": inc.category,
        "description": clip(text, DESCRIPTION_MAX) if text else None,
        "agency_responsible": grid_id or inc.grid_id or None,
        "service_notice": None,
        "requested_datetime": format_ts(inc.created_ts),
        "updated_datetime": format_ts(inc.ts),
        "expected_datetime": None if inc.due is None else format_ts(inc.due),
        "address": found.get("address"),
        "address_id": found.get("address_id"),
        "zipcode": None,
        "lat": inc.lat,
        "long": inc.lon,
        "media_url": found.get("media_url"),
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

    An empty parameter means the same as an absent one (the spec's "optional"). Dates without a zone are +08:00.
    ``service_code`` and ``status`` take comma lists; ``page_size`` (≤ 1000, default 1000) and ``page`` page
    through the newest-first list. Raises ``Open311Error`` 400.
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
    page_size, page = params.get("page_size", "").strip(), params.get("page", "").strip()  # empty = absent (spec)
    return RequestQuery(
        ids=ids,
        categories=frozenset(categories) if categories else None,
        statuses=frozenset(statuses) if statuses else None,
        start=start,
        end=end,
        page_size=_positive("page_size", page_size, DEFAULT_PAGE_SIZE) if page_size else DEFAULT_PAGE_SIZE,
        page=_positive("page", page, 1_000_000) if page else 1,
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


# Typed fields left out of XML when null: an empty element is no xs:dateTime / xs:decimal for a strict parser.
XML_OMIT_NULL: Final = frozenset(("requested_datetime", "updated_datetime", "expected_datetime", "lat", "long"))


def _xml_children(parent: ET.Element, doc: Mapping[str, Any]) -> None:
    for k, v in doc.items():
        if v is None and k in XML_OMIT_NULL:
            continue
        el = ET.SubElement(parent, k)
        if isinstance(v, Mapping):
            _xml_children(el, v)
        elif isinstance(v, list):  # the spec's plural containers: attributes/attribute, formats/format, ...
            item = _XML_ITEMS.get(k, k.removesuffix("s"))
            for x in v:
                if isinstance(x, Mapping):
                    _xml_children(ET.SubElement(el, item), x)
                else:
                    ET.SubElement(el, item).text = _xml_text(x)
        else:
            el.text = _xml_text(v)


_XML_ITEMS: Final = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def _xml_bytes(top: ET.Element) -> bytes:
    """The document after the spec's declaration (double quotes, as its examples and strict tools expect)."""
    return XML_DECLARATION + ET.tostring(top, encoding="unicode").encode("utf-8")


def to_xml(root: str, item: str, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """``<root><item><field>text</field>…</item>…</root>`` after ``XML_DECLARATION``. A null is an empty element,
    except in ``XML_OMIT_NULL`` fields (left out). Lists and mappings nest (``_XML_ITEMS``). Escaped by
    ElementTree."""
    top = ET.Element(root)
    for row in rows:
        _xml_children(ET.SubElement(top, item), row)
    return _xml_bytes(top)


def to_xml_document(root: str, doc: Mapping[str, Any]) -> bytes:
    """One object as ``<root>…</root>`` (service definition, discovery), as ``to_xml`` writes fields."""
    top = ET.Element(root)
    _xml_children(top, doc)
    return _xml_bytes(top)


def errors(code: int, description: str) -> list[dict[str, Any]]:
    """A GeoReport v2 error list: ``[{"code": code, "description": description}]``."""
    return [{"code": code, "description": description}]


def render(fmt: str, root: str, item: str, rows: Sequence[Mapping[str, Any]]) -> tuple[bytes, str]:
    """(body, media type with ``charset=utf-8``) of a list for ``fmt`` ``json`` or ``xml``."""
    if fmt == "xml":
        return to_xml(root, item, rows), XML_TYPE
    return to_json(list(rows)), JSON_TYPE


def render_document(fmt: str, root: str, doc: Mapping[str, Any]) -> tuple[bytes, str]:
    """(body, media type) of one object (``service_definition``, ``discovery``): a JSON object, or ``<root>``."""
    if fmt == "xml":
        return to_xml_document(root, doc), XML_TYPE
    return to_json(doc), JSON_TYPE
