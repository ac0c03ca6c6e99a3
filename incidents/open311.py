"""Open311 GeoReport v2, reading side: other cities' responses → our wire messages. Pure (no Redis, no web).

Spec: http://wiki.open311.org/GeoReport_v2. ``parse_requests_json`` / ``parse_requests_xml`` read a
``GET requests`` response into ``Open311Request`` records; ``parse_services_json`` / ``parse_services_xml`` read
a ``GET services`` response into ``Open311Service`` records; ``to_wire(request, now=...)`` turns one request into
a wire message (``incidents.wire`` contract) or says why it cannot be one.

Real responses are sloppy (tests use the ones in ``../shared/realdata/open311``), and the parsers accept:

* ``lat``/``long`` as numbers, strings, ``null``, empty elements or ``xsi:nil``; ``0,0`` is kept as parsed, and
  ``to_wire`` calls it "no location" (a placeholder, not a point in the Gulf of Guinea);
* datetimes with or without ``T``, with fractional seconds, with or without a zone (``2012-05-22 23:57:23.97``).
  A time without a zone is the city's *local* time: pass the city's zone as ``tz`` (default **UTC**; e.g.
  ``zoneinfo.ZoneInfo("America/Los_Angeles")`` for San Francisco). ``Open311Request.naive_times`` says it happened;
* statuses in any case (``Open``/``Closed``), numbers where strings belong (``service_code``, ``zipcode``), empty
  strings for missing values, missing keys, XML namespaces and any child order (``<long>`` before ``<lat>``),
  a ``<services is_array="true">`` root, and JSON wrapped as ``{"service_requests": [...]}``.

A response that is an Open311 error list raises ``Open311Error`` (the remote's code and description); a
document that is not a GeoReport response at all raises ``Open311FormatError``. XML with a DOCTYPE is refused
(no entity expansion from untrusted input).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, NamedTuple

from incidents.model import CATEGORIES, CATEGORY_BY_LABEL, Status
from incidents.wire import ID_MAX, WireError, parse_object

SOURCE: Final = "open311"
ID_PREFIX: Final = "O311-"
TITLE_MAX: Final = 200
DESCRIPTION_MAX: Final = 4000

# --------------------------------------------------------------------------------------------- categories

# Our categories as Open311 services: English name, group, keywords (code → ...). The zh label is the name.
SERVICE_INFO: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "environment": ("Sanitation", "城市管理 City management", ("litter", "garbage", "graffiti", "dumping")),
    "dispute": ("Dispute", "社会治理 Social governance", ("noise", "neighbour", "mediation")),
    "safety_hazard": ("Safety hazard", "安全生产 Safety", ("hazard", "unsafe building", "gas")),
    "public_service": ("Public service", "民生服务 Public services", ("permit", "information", "feedback")),
    "rental_housing": ("Rental housing", "社会治理 Social governance", ("rental", "tenant", "landlord")),
    "fire": ("Fire safety", "安全生产 Safety", ("fire", "smoke", "blocked fire exit")),
    "traffic": ("Traffic", "城市管理 City management", ("parking", "traffic signal", "abandoned vehicle")),
    "infrastructure": ("Infrastructure", "城市管理 City management", ("pothole", "streetlight", "sewer", "tree")),
    "elderly_care": ("Elderly care", "民生服务 Public services", ("elderly", "senior", "care")),
    "other": ("Other", "其他 Other", ()),
}

# Keywords of other systems' service names → our category, tried in this order (first match wins). A keyword
# matches whole words (plural "s"/"es" allowed); one ending in "*", and any non-ASCII one (Chinese, German
# compounds such as "Sperrmüll"), matches anywhere in the name.
_ALIASES: Final[tuple[tuple[str, str], ...]] = (
    ("fire", "fire|smoke|hydrant|消防|火灾"),
    ("safety_hazard", "hazard|unsafe|dangerous|building violation|structural|gas leak|collapse|隐患"),
    (
        "environment",
        "graffiti|litter|garbage|trash|rubbish|dumping|dumped|sanitation|cleaning|sweeping|weed|"
        "grass|overgrown|animal|dead animal|rodent|rat|recycling|leaf|brush|bulky|junk|waste|odor|"
        "odour|landscaping|environmental|cans left out|垃圾|卫生|保洁|müll|grünfläche*|spielpl*",
    ),
    (
        "traffic",
        "traffic|signal|parking|parked|abandoned vehicle|vehicle|bicycle|bike|biking|taxi|transit|"
        "bus|muni|sfmta|ampel*|schrottauto*|交通|停车",
    ),
    (
        "infrastructure",
        "pothole|pot hole|streetlight|street light|light out|lamp|sidewalk|curb|pavement|road|"
        "street repair|snow|sewer|sewage|water|drain|manhole|sign|tree|pipe|bridge|wasser*|laterne*|"
        "straßen*|gehweg*|verkehrsschild*|路灯|井盖|道路|设施",
    ),
    ("dispute", "noise|neighbor|neighbour|dispute|噪音|纠纷"),
    ("rental_housing", "rental|landlord|tenant|出租"),
    ("elderly_care", "elderly|senior|养老"),
    ("public_service", "city performance|feedback|information|permit|公共服务"),
)


def _alias_regex(keywords: str) -> re.Pattern[str]:
    words = keywords.split("|")
    whole = [w for w in words if w.isascii() and not w.endswith("*")]
    anywhere = [w.rstrip("*") for w in words if not w.isascii() or w.endswith("*")]
    parts = [r"\b(?:" + "|".join(re.escape(w) for w in whole) + r")(?:s|es)?\b"] if whole else []
    parts += [re.escape(w) for w in anywhere]
    return re.compile("|".join(parts))


_ALIAS_RES: Final = tuple((code, _alias_regex(words)) for code, words in _ALIASES)
_EN_TO_CODE: Final = {en.lower(): code for code, (en, _, _) in SERVICE_INFO.items()}


def _normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-/,.;:()]+", " ", name.lower()).strip()


def category_for(*names: str | None) -> str | None:
    """Our category code for an Open311 ``service_code``/``service_name`` (tried in the order given), or None.

    Our own codes, zh labels and English names match exactly; other systems' names match by keyword
    (``Illegal_Dumping`` → environment, ``Road - Pot hole`` → infrastructure, ``Abandoned Vehicle`` → traffic).
    """
    cleaned = [n.strip() for n in names if n and n.strip()]
    for n in cleaned:
        if n in CATEGORIES:
            return n
        if n in CATEGORY_BY_LABEL:
            return CATEGORY_BY_LABEL[n]
        if n.lower() in _EN_TO_CODE:
            return _EN_TO_CODE[n.lower()]
    for n in cleaned:
        text = _normalise_name(n)
        for code, rx in _ALIAS_RES:
            if rx.search(text):
                return code
    return None


# --------------------------------------------------------------------------------------------- records


class Open311Error(Exception):
    """An Open311 error: ``code`` (HTTP-style, e.g. 400/404) and ``description`` (spec: ``errors`` list)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class Open311FormatError(ValueError):
    """The document is not a GeoReport v2 response (not JSON/XML, wrong shape)."""


@dataclass(frozen=True, slots=True)
class Open311Request:
    """One service request as another system reported it, normalised (``None`` = missing/empty/nil).

    ``status`` is lower-cased; datetimes are aware (zone-less input got the parser's ``tz``, and
    ``naive_times`` is True); ``problems`` lists values that were present but unreadable.
    """

    service_request_id: str | None
    status: str | None
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: datetime | None = None
    updated_datetime: datetime | None = None
    expected_datetime: datetime | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None
    naive_times: bool = False
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Open311Service:
    """One service of a GeoReport v2 ``services`` list (fields as the spec names them; ``keywords`` split)."""

    service_code: str
    service_name: str | None = None
    description: str | None = None
    metadata: bool = False
    type: str | None = None
    keywords: tuple[str, ...] = ()
    group: str | None = None


class Conversion(NamedTuple):
    """``to_wire``'s answer: the wire message, or ``None`` and the reason it is unusable."""

    message: dict[str, Any] | None
    reason: str = ""


@dataclass
class ImportReport:
    """What ``convert_all`` made of a response: messages to publish, and the unusable requests with reasons."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (service_request_id, reason)


# --------------------------------------------------------------------------------------------- scalars


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, dict | list):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _float(name: str, v: Any, problems: list[str]) -> float | None:
    if v is None or isinstance(v, bool) or (isinstance(v, str) and not v.strip()):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        problems.append(f"{name}: not a number: {str(v)[:40]!r}")
        return None
    if not math.isfinite(f):
        problems.append(f"{name}: not finite")
        return None
    return f


def _datetime(name: str, v: Any, tz: tzinfo, problems: list[str]) -> tuple[datetime | None, bool]:
    """(aware datetime or None, whether the input had no zone)."""
    s = _text(v)
    if s is None:
        return None, False
    try:
        dt = datetime.fromisoformat(s) if len(s) <= 64 else None
    except ValueError:
        dt = None
    if dt is None:
        problems.append(f"{name}: not an ISO 8601 date-time: {s[:40]!r}")
        return None, False
    if dt.utcoffset() is None:
        return dt.replace(tzinfo=tz), True
    return dt, False


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return str(v).strip().lower() in ("true", "1", "yes")


def _keywords(v: Any) -> tuple[str, ...]:
    items = [_text(x) for x in v] if isinstance(v, list) else (_text(v) or "").split(",")
    return tuple(s.strip() for s in items if s and s.strip())


def request_from_mapping(d: Mapping[str, Any], *, tz: tzinfo = UTC) -> Open311Request:
    """One request from a JSON object or the children of an XML ``<request>`` (values already nil-checked)."""
    problems: list[str] = []
    times: dict[str, datetime | None] = {}
    naive = False
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        times[name], was_naive = _datetime(name, d.get(name), tz, problems)
        naive = naive or was_naive
    status = _text(d.get("status"))
    return Open311Request(
        service_request_id=_text(d.get("service_request_id")),
        status=status.lower() if status else None,
        status_notes=_text(d.get("status_notes")),
        service_name=_text(d.get("service_name")),
        service_code=_text(d.get("service_code")),
        description=_text(d.get("description")),
        agency_responsible=_text(d.get("agency_responsible")),
        service_notice=_text(d.get("service_notice")),
        requested_datetime=times["requested_datetime"],
        updated_datetime=times["updated_datetime"],
        expected_datetime=times["expected_datetime"],
        address=_text(d.get("address")),
        address_id=_text(d.get("address_id")),
        zipcode=_text(d.get("zipcode")),
        lat=_float("lat", d.get("lat"), problems),
        long=_float("long", d.get("long"), problems),
        media_url=_text(d.get("media_url")),
        naive_times=naive,
        problems=tuple(problems),
    )


def service_from_mapping(d: Mapping[str, Any]) -> Open311Service:
    """An ``Open311Service`` from one decoded JSON/XML service; ``Open311FormatError`` without ``service_code``."""
    code = _text(d.get("service_code"))
    if code is None:
        raise Open311FormatError("a service has no service_code")
    return Open311Service(
        service_code=code,
        service_name=_text(d.get("service_name")),
        description=_text(d.get("description")),
        metadata=_bool(d.get("metadata")),
        type=_text(d.get("type")),
        keywords=_keywords(d.get("keywords")),
        group=_text(d.get("group")),
    )


# --------------------------------------------------------------------------------------------- JSON


def _json_items(data: bytes | str, wrapper: str) -> list[Mapping[str, Any]]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise Open311FormatError(f"not JSON: {exc}") from None
    if isinstance(doc, dict):
        if isinstance(doc.get(wrapper), list):
            doc = doc[wrapper]
        elif "code" in doc and "description" in doc:
            doc = [doc]
        else:
            raise Open311FormatError(f"expected a JSON array (or {{{wrapper!r}: [...]}}), got an object")
    if not isinstance(doc, list):
        raise Open311FormatError(f"expected a JSON array, got {type(doc).__name__}")
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise Open311FormatError(f"item {i} is not an object")
    if doc and all(set(item) <= {"code", "description"} and "code" in item for item in doc):
        first = doc[0]
        raise Open311Error(_int_code(first.get("code")), str(first.get("description") or ""))
    return doc


def _int_code(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def parse_requests_json(data: bytes | str, *, tz: tzinfo = UTC) -> list[Open311Request]:
    """``GET requests.json`` response → requests (see the module doc for ``tz``)."""
    return [request_from_mapping(item, tz=tz) for item in _json_items(data, "service_requests")]


def parse_services_json(data: bytes | str) -> list[Open311Service]:
    """``GET services.json`` response → services."""
    return [service_from_mapping(item) for item in _json_items(data, "services")]


# --------------------------------------------------------------------------------------------- XML

_XSI_NIL: Final = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_root(data: bytes | str) -> ET.Element:
    head = data[:4096].lower() if isinstance(data, str) else data[:4096].lower().decode("latin-1")
    if "<!doctype" in head or "<!entity" in head:
        raise Open311FormatError("XML with a DOCTYPE/ENTITY is refused")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise Open311FormatError(f"not XML: {exc}") from None
    if _local(root.tag) == "errors":
        err = next(iter(root), None)
        fields = _xml_fields(err) if err is not None else {}
        raise Open311Error(_int_code(fields.get("code")), str(fields.get("description") or ""))
    return root


def _xml_fields(el: ET.Element) -> dict[str, str | None]:
    """Children of a record as name → text (``None`` for empty and ``xsi:nil="true"``); namespaces dropped."""
    out: dict[str, str | None] = {}
    for child in el:
        name = _local(child.tag)
        nil = child.get(_XSI_NIL, "").strip().lower() == "true"
        out[name] = None if nil else (child.text or "").strip() or None
    return out


def _xml_records(data: bytes | str, root_name: str, item_name: str) -> list[dict[str, str | None]]:
    root = _xml_root(data)
    if _local(root.tag) != root_name:
        raise Open311FormatError(f"expected <{root_name}>, got <{_local(root.tag)}>")
    return [_xml_fields(el) for el in root if _local(el.tag) == item_name]


def parse_requests_xml(data: bytes | str, *, tz: tzinfo = UTC) -> list[Open311Request]:
    """``GET requests.xml`` response → requests (see the module doc for ``tz``)."""
    return [request_from_mapping(d, tz=tz) for d in _xml_records(data, "service_requests", "request")]


def parse_services_xml(data: bytes | str) -> list[Open311Service]:
    """``GET services.xml`` response → services (also with the ``is_array="true"`` root some servers send)."""
    out: list[Open311Service] = []
    root = _xml_root(data)
    if _local(root.tag) != "services":
        raise Open311FormatError(f"expected <services>, got <{_local(root.tag)}>")
    for el in root:
        if _local(el.tag) != "service":
            continue
        d: dict[str, Any] = dict(_xml_fields(el))
        kw = el.find("keywords")
        if kw is not None and len(kw):  # <keywords><keyword>a</keyword>...</keywords>
            d["keywords"] = [(k.text or "").strip() for k in kw]
        out.append(service_from_mapping(d))
    return out


# --------------------------------------------------------------------------------------------- to the wire

# Open311 statuses → ours. GeoReport v2 itself has only open/closed; the servers in use send their own vocabulary
# (keys normalised by ``status_key``: lower case, spaces and hyphens as ``_``):
# * FixMyStreet (mySociety; UK councils, and forks elsewhere): its report states as Open311 extended statuses
#   (perllib/Open311/Endpoint, FixMyStreet::DB::Result::Problem): confirmed, investigating, in_progress,
#   action_scheduled, planned, fixed, fixed_user, fixed_council, closed, not_councils_responsibility, duplicate,
#   unable_to_fix, internal_referral, no_further_action, reopened, for_triage, unconfirmed, hidden;
# * SeeClickFix: open, acknowledged, closed, archived; Mark-a-Spot/Drupal and US city servers: new, submitted,
#   pending, assigned, in_progress, completed, resolved, cancelled/canceled, rejected.
# A city's "closed"/"fixed" means the work is done; 街道评单 (our closed, with a rating) is the street's own step,
# and mapping them to resolved keeps open → closed feeds legal (reported → closed is not a transition).
STATUS_FROM_OPEN311: Final[dict[str, Status]] = {
    # reported: received, not yet handled
    "open": Status.REPORTED,
    "new": Status.REPORTED,
    "submitted": Status.REPORTED,
    "pending": Status.REPORTED,
    "confirmed": Status.REPORTED,
    "unconfirmed": Status.REPORTED,
    "for_triage": Status.REPORTED,
    # dispatched: handed to someone
    "acknowledged": Status.DISPATCHED,
    "assigned": Status.DISPATCHED,
    "internal_referral": Status.DISPATCHED,
    "reopened": Status.DISPATCHED,  # rework: resolved → dispatched is the lifecycle's reopening
    # accepted: someone is on it
    "in_progress": Status.ACCEPTED,
    "investigating": Status.ACCEPTED,
    "action_scheduled": Status.ACCEPTED,
    "planned": Status.ACCEPTED,
    # resolved: done
    "resolved": Status.RESOLVED,
    "completed": Status.RESOLVED,
    "fixed": Status.RESOLVED,
    "fixed_user": Status.RESOLVED,
    "fixed_council": Status.RESOLVED,
    "closed": Status.RESOLVED,
    "archived": Status.RESOLVED,
    # cancelled: not for us, or nothing will be done
    "cancelled": Status.CANCELLED,
    "canceled": Status.CANCELLED,
    "rejected": Status.CANCELLED,
    "duplicate": Status.CANCELLED,
    "not_councils_responsibility": Status.CANCELLED,
    "not_responsible": Status.CANCELLED,
    "unable_to_fix": Status.CANCELLED,
    "no_further_action": Status.CANCELLED,
    "hidden": Status.CANCELLED,
}
# An unknown status is kept as an open request (its original in the description): losing a resident's request
# because of a word we do not know is worse than showing it as new.
UNKNOWN_STATUS_AS: Final = Status.REPORTED


def status_key(status: str) -> str:
    """A status as ``STATUS_FROM_OPEN311`` keys it: ``"Action Scheduled"``/``"ACTION-SCHEDULED"`` →
    ``"action_scheduled"``."""
    return re.sub(r"[\s\-]+", "_", status.strip().lower())


def map_status(status: str) -> tuple[Status, bool]:
    """Our status for an Open311 one, and whether it was known (``False``: ``UNKNOWN_STATUS_AS``)."""
    ours = STATUS_FROM_OPEN311.get(status_key(status))
    return (ours, True) if ours is not None else (UNKNOWN_STATUS_AS, False)


_ID_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.:\-]")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_WS = re.compile(r"\s+")


def wire_id(service_request_id: str, prefix: str = ID_PREFIX) -> str:
    """A wire id for a foreign request: ``prefix`` + the id with odd characters as ``_`` (hashed if too long)."""
    rid = _ID_BAD_CHARS.sub("_", service_request_id)
    if len(prefix) + len(rid) > ID_MAX:
        rid = hashlib.sha1(service_request_id.encode("utf-8")).hexdigest()[:24]
    return prefix + rid


def clean_text(s: str, *, newlines: bool = True) -> str:
    """Control characters out (they break the wire), ``\\r\\n`` → ``\\n``; one line when ``newlines`` is False."""
    s = _CTRL.sub(" ", s.replace("\r\n", "\n").replace("\r", "\n"))
    return s.strip() if newlines else _WS.sub(" ", s).strip()


def clip(s: str, n: int) -> str:
    """``s`` cut to at most ``n`` characters, ending in … when cut (``n`` >= 1)."""
    return s if len(s) <= n else s[: n - 1] + "…"


def title_from(description: str | None, fallback: str) -> str:
    """The first non-empty line of the description (one line, ≤ 200 chars), else ``fallback``."""
    for raw in clean_text(description or "").split("\n"):
        line = clean_text(raw, newlines=False)
        if line:
            return clip(line, TITLE_MAX)
    return clip(clean_text(fallback, newlines=False), TITLE_MAX)


def join_description(body: str | None, notes: Iterable[str]) -> str:
    """Description text and extra lines (service, address, ...), cleaned, within the wire's 4000 chars."""
    tail = "\n".join(clean_text(n, newlines=False) for n in notes if n)
    text = clean_text(body or "")
    if tail:
        room = DESCRIPTION_MAX - len(tail) - 2
        text = f"{clip(text, room)}\n\n{tail}" if text and room > 20 else tail
    return clip(text, DESCRIPTION_MAX)


def to_wire(req: Open311Request, *, now: float, id_prefix: str = ID_PREFIX, source: str = SOURCE) -> Conversion:
    """One foreign request → a wire message (validated against the contract), or ``None`` with the reason.

    id = ``id_prefix`` + ``service_request_id``; status via ``map_status`` (an unknown one kept as reported, the
    original in the description, as is any status that says more than ours); ts = ``updated_datetime``,
    else ``requested_datetime``; category from the service code/name (``category_for``; ``other`` if none fits);
    title = the description's first line (else the service name); the service, address, status notes, agency
    and media URL are kept as lines of the description. Unusable: no id, no status, no time, no location
    (``null`` or ``0,0``), or anything the wire contract rejects (e.g. a time more than 10 minutes after ``now``).
    """
    if not req.service_request_id:
        return Conversion(None, "no service_request_id")
    if req.status is None:
        return Conversion(None, "no status")
    status, known = map_status(req.status)
    when = req.updated_datetime or req.requested_datetime
    if when is None:
        return Conversion(None, "no requested_datetime or updated_datetime")
    if req.lat is None or req.long is None:
        return Conversion(None, "no location (lat/long missing)")
    if req.lat == 0 and req.long == 0:
        return Conversion(None, "no location (lat/long 0,0 is a placeholder)")
    category = category_for(req.service_code, req.service_name) or "other"
    service = " ".join(p for p in (req.service_name, f"({req.service_code})" if req.service_code else "") if p)
    notes = [
        f"Open311 {req.service_request_id}: {service}" if service else f"Open311 {req.service_request_id}",
        f"Address: {req.address}" if req.address else "",
        _status_line(req.status, status, known),
        f"Status notes: {req.status_notes}" if req.status_notes else "",
        f"Agency: {req.agency_responsible}" if req.agency_responsible else "",
        f"Media: {req.media_url}" if req.media_url else "",
    ]
    msg: dict[str, Any] = {
        "id": wire_id(req.service_request_id, id_prefix),
        "status": str(status),
        "ts": when.timestamp(),
        "lon": req.long,
        "lat": req.lat,
        "category": category,
        "title": title_from(req.description, req.service_name or CATEGORIES[category]),
        "description": join_description(req.description, notes),
        "source": source,
    }
    if req.expected_datetime is not None:
        msg["due"] = req.expected_datetime.timestamp()
    return _validated(msg, now)


def _status_line(original: str, ours: Status, known: bool) -> str:
    """The foreign status kept in the record when it says more than ours (or is unknown)."""
    if not known:
        return f"Open311 status: {original[:40]} (unknown here: kept as {ours})"
    return f"Open311 status: {original[:40]}" if status_key(original) not in ("open", str(ours)) else ""


def _validated(msg: dict[str, Any], now: float) -> Conversion:
    try:
        parse_object(msg, now=now)
    except WireError as exc:
        if "due" in msg and exc.reason.startswith("field 'due'"):  # a silly expected date must not cost the incident
            return _validated({k: v for k, v in msg.items() if k != "due"}, now)
        return Conversion(None, exc.reason)
    return Conversion(msg)


def convert_all(
    requests: Iterable[Open311Request], *, now: float, id_prefix: str = ID_PREFIX, source: str = SOURCE
) -> ImportReport:
    """``to_wire`` for a whole response: messages to publish (``publish_many``) and unusable rows with reasons."""
    report = ImportReport()
    for req in requests:
        message, reason = to_wire(req, now=now, id_prefix=id_prefix, source=source)
        if message is None:
            report.unusable.append((req.service_request_id or "", reason))
        else:
            report.messages.append(message)
    return report
