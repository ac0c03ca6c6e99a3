"""The wire contract: parse and validate one message from channel ``onescreen:incidents``.

Pure (no Redis, no Dash). ``parse_message(raw) -> WireMessage`` or raises ``WireError(reason)``; the reason
names the field and what was wrong, and is what the feed writes to the dead-letter stream.

Input (DESIGN.md "Wire contract"; JSON Schema: ``incidents/schema/incident.schema.json``):

* one UTF-8 JSON **object**, at most 64 KiB (65,536 bytes); every value is a scalar (no arrays/objects);
  duplicate keys, ``NaN``/``Infinity`` literals and unknown keys are rejected;
* ``id`` (required): 1-64 chars of ``[A-Za-z0-9_.:-]`` or CJK ideographs (U+3400-U+9FFF), i.e.
  ``ID_PATTERN``; no spaces or control characters;
* ``status`` (required): reported | dispatched | accepted | resolved | closed | cancelled;
* ``ts`` (required): ISO 8601 *with* offset (``Z`` ok) or epoch seconds (number); not before 2000-01-01,
  at most ``max_future_s`` (default ``MAX_FUTURE_S``, 10 minutes: clock skew between publisher and receiver)
  after the receiver's ``now`` — a ts far ahead would make every real update of the incident "stale" until
  the clock catches up;
* text that cannot be stored anywhere (``UNSTORABLE``: lone surrogates U+D800-U+DFFF, what a JS/Java
  publisher sends when it cuts a string mid-emoji, and the Unicode noncharacters U+FDD0-U+FDEF and
  U+xFFFE/U+xFFFF) is rejected in every key and string value, nested ones too, naming the field and the
  code point: it cannot be encoded as UTF-8 for Redis, so letting it through would fail later, far from here;
* ``lon``, ``lat``: finite numbers, lon in [-180, 180], lat in [-90, 90]; both or neither;
  ``crs``: ``"wgs84"`` (default), ``"gcj02"`` (Amap/Tencent) or ``"bd09"`` (Baidu Map), converted to WGS-84
  here (needs lon/lat); without ``crs``, the receiver's ``source_crs`` for the message's ``source`` (a
  publisher that picks points on a Chinese web map and never says so is declared once, not fixed per message);
* ``category``: a code of ``incidents.model.CATEGORIES`` or its zh label (normalised to the code);
* optional: ``title`` (≤ 200 chars), ``description`` (≤ 4000 chars, newlines/tabs allowed), ``priority``
  (low | normal | high | urgent), ``source`` (≤ 64), ``assignee`` (≤ 64), ``grid_id`` (≤ 64), ``due`` (like
  ``ts``; up to 400 days ahead), ``rating`` (integer 1-5, only with status ``closed``), ``reopened``
  (integer ≥ 0, or a boolean meaning 1/0), ``escalated`` (boolean: 升级督办 flag; ``false`` clears it).
* the status *transition* (``incidents.model.TRANSITIONS``) is judged when merging (``store.apply``), not here:
  it needs the stored state.
* ``null`` for an optional field means the same as leaving it out ("keep"). To clear a string, send ``""``.

Output: ``WireMessage``, a ``dict`` subclass holding only the fields that were present (normalised), so
*present = overlay, absent = keep*. ``msg.to_json()`` is the compact UTF-8 JSON handed to the Redis merge
script. Its keys are exactly (any subset of; ``id``, ``status``, ``ts`` always present)::

    id: str            status: str (Status value)     ts: float (epoch seconds UTC)
    lon: float, lat: float (WGS-84, always together)    category: str (code)
    title: str   description: str   priority: str (Priority value)   source: str   assignee: str
    grid_id: str   due: float (epoch s)   rating: int (1-5)   reopened: int (>= 0)   escalated: bool

``crs`` never appears in the output (coordinates are already WGS-84). ``msg.get("title")`` is ``None`` when
absent.

GCJ-02 → WGS-84: done here with a private scalar implementation of the standard transform (iterated inverse,
error < 1 cm inside China); per-message numpy calls into the vectorised ``geo.gcj02`` would cost more than
the whole rest of the parse. Tests check both agree when ``geo.gcj02`` is present.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from incidents.model import CATEGORIES, CATEGORY_BY_LABEL, OVERLAY_FIELDS, Priority, Status
from incidents.timeutil import format_ts
from incidents.wire_hints import (
    binary_hint,
    coordinate_hint,
    epoch_hint,
    field_alias_hint,
    json_error_hint,
    number_text_hint,
    status_hint,
    text_hint,
)

MAX_BYTES: Final = 65536
ID_MAX = 64
ID_PATTERN: Final = r"^[A-Za-z0-9_.:\-\u3400-\u9fff]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)
_ID_CHAR_RE = re.compile(r"[A-Za-z0-9_.:\-\u3400-\u9fff]")
# Min ts: 2000-01-01T00:00:00Z.
TS_MIN: Final = 946684800.0
# Default allowed clock skew: a ts at most this far ahead of the receiver's clock (seconds).
MAX_FUTURE_S: Final = 600.0
DUE_MAX_AHEAD_S: Final = 400 * 86400.0
REOPENED_MAX: Final = 1000

STATUSES: Final = tuple(s.value for s in Status)
PRIORITIES: Final = tuple(p.value for p in Priority)
CRS_VALUES: Final = ("wgs84", "gcj02", "bd09")
# ``source_crs`` key for every message without ``crs`` whose ``source`` is not listed itself.
ANY_SOURCE: Final = "*"
# Free-text string fields: max length, whether \n \r \t are allowed.
STRING_FIELDS: Final[dict[str, tuple[int, bool]]] = {
    "title": (200, False),
    "description": (4000, True),
    "source": (64, False),
    "assignee": (64, False),
    "grid_id": (64, False),
}
REQUIRED: Final = ("id", "status", "ts")
# Every key the wire accepts (input). Output keys = this minus "crs".
FIELDS: Final = (
    "id",
    "status",
    "ts",
    "lon",
    "lat",
    "crs",
    *(f for f in OVERLAY_FIELDS if f not in ("status", "lon", "lat")),
)
OUTPUT_FIELDS: Final = tuple(f for f in FIELDS if f != "crs")
_FIELD_SET: Final = frozenset(FIELDS)

# Code points no string may hold: lone surrogates (not encodable as UTF-8) and the 66 Unicode noncharacters
# (U+FDD0-U+FDEF and the last two of every plane), which are "permanently reserved for internal use".
UNSTORABLE: Final = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF) for p in range(17))
    + "]"
)
_CTRL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CTRL_NO_NL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


class WireError(ValueError):
    """A message that breaks the wire contract. ``reason`` says which field and what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WireMessage(dict[str, Any]):
    """A validated, normalised partial update: only the fields present in the message (see module doc)."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The incident id."""
        return str(self["id"])

    @property
    def status(self) -> Status:
        """The status the message sets."""
        return Status(self["status"])

    @property
    def ts(self) -> float:
        """The message time, epoch seconds UTC."""
        return float(self["ts"])

    def to_json(self) -> str:
        """Compact JSON (UTF-8 text, not ASCII-escaped) for the Redis merge script."""
        return json.dumps(self, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------------------------- JSON layer


def _reject_constant(name: str) -> Any:
    raise WireError(f"invalid JSON: {name} is not allowed (numbers must be finite)")


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise WireError(f"duplicate key {k[:40]!r}")
        d[k] = v
    return d


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook, parse_constant=_reject_constant)


def _decode(raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    if isinstance(raw, str):
        # surrogatepass: a lone surrogate is counted here and reported with its field by ``check_text``.
        nbytes = len(raw.encode("utf-8", "surrogatepass"))
        if nbytes > MAX_BYTES:
            raise WireError(f"message too large: {nbytes} bytes > {MAX_BYTES}")
        text = raw
    elif isinstance(raw, bytes | bytearray | memoryview):
        if len(raw) > MAX_BYTES:
            raise WireError(f"message too large: {len(raw)} bytes > {MAX_BYTES}")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            hint = binary_hint(bytes(raw))
            raise WireError(f"message is not valid UTF-8 (byte {e.start}){': ' + hint if hint else ''}") from None
    else:
        raise WireError(f"message must be bytes or str, got {type(raw).__name__}")
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise WireError("empty message")
    if text[0] != "{":
        # Cheap: anything that is not an object is rejected before parsing; the hint says what it is.
        hint = text_hint(text.rstrip())
        if hint and not hint.startswith(("an array", "a string")):
            raise WireError(f"message is not a JSON object: {hint}")
        kind = hint or {"[": "an array", '"': "a string"}.get(text[0], "not a JSON object")
        raise WireError(f"message must be a JSON object, got {kind}")
    try:
        obj = _DECODER.decode(text)
    except WireError:
        raise
    except RecursionError:
        raise WireError("invalid JSON: nested too deeply") from None
    except json.JSONDecodeError as e:
        hint = json_error_hint(text, e)
        where = f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        raise WireError(f"{where}: {hint}" if hint else where) from None
    if not isinstance(obj, dict):  # pragma: no cover - guarded by the first-char check
        raise WireError("message must be a JSON object")
    return obj


# --------------------------------------------------------------------------------------------- text


def _code_point_name(c: str) -> str:
    cp = ord(c)
    kind = "lone surrogate" if 0xD800 <= cp <= 0xDFFF else "noncharacter"
    return f"U+{cp:04X} ({kind})"


def _path_text(path: str) -> str:
    return ascii(path) if UNSTORABLE.search(path) else repr(path)


def check_text(obj: Any) -> None:
    """Raise ``WireError`` if any key or string value in ``obj`` (nested dicts/lists too) holds a code point
    that cannot be stored (``UNSTORABLE``). The reason names the field path and the code point, e.g.
    ``field 'title': U+D83D (lone surrogate) at character 3 cannot be stored``. Iterative: no recursion limit.
    """
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            bad = UNSTORABLE.search(v)
            if bad:
                where = f"field {_path_text(path)}" if path else "the message"
                raise WireError(
                    f"{where}: {_code_point_name(bad.group())} at character {bad.start()} cannot be stored"
                    " (text cut mid-character?)"
                )
        elif isinstance(v, dict):
            for k, item in v.items():
                key = str(k)
                bad = UNSTORABLE.search(key)
                if bad:
                    raise WireError(
                        f"field name {key[:40]!a}: {_code_point_name(bad.group())} cannot be stored"
                        " (text cut mid-character?)"
                    )
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(v, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(v))


# --------------------------------------------------------------------------------------------- fields


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        hint = number_text_hint(v) if isinstance(v, str) else ""
        raise WireError(f"field {name!r}: expected a number, got {_type_name(v)}{hint}")
    f = float(v)
    if not math.isfinite(f):
        raise WireError(f"field {name!r}: must be finite")
    return f


def _skew_text(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g} day(s)"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _ahead_text(seconds: float) -> str:
    if seconds >= 86400 * 3:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def _time(name: str, v: Any, now: float, max_ahead: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise WireError(f"field {name!r}: expected ISO 8601 string with offset or epoch seconds, got {_type_name(v)}")
    if isinstance(v, str):
        s = v.strip()
        try:
            dt = datetime.fromisoformat(s) if 0 < len(s) <= 64 else None
        except ValueError:
            dt = None
        if dt is None:
            raise WireError(f"field {name!r}: not an ISO 8601 date-time: {s[:40]!r}{_time_text_hint(s)}")
        if dt.utcoffset() is None:
            raise WireError(f"field {name!r}: ISO 8601 time has no UTC offset (add +08:00 or Z): {s[:40]!r}")
        t = dt.timestamp()
    else:
        t = float(v)
        if not math.isfinite(t):
            raise WireError(f"field {name!r}: must be finite")
    if t < TS_MIN:
        raise WireError(f"field {name!r}: {t:.0f} is before 2000-01-01")
    if t > now + max_ahead:
        if t > 1e11:
            unit = epoch_hint(t) or " (milliseconds? send epoch seconds)"
            raise WireError(f"field {name!r}: {t:.0f} is far in the future{unit}")
        shown = format_ts(t) if t < 253402300799.0 else f"{t:.0f}"  # datetime stops at year 9999
        raise WireError(
            f"field {name!r}: {name} {shown} is {_ahead_text(t - now)} in the future"
            f" (allowed skew {_skew_text(max_ahead)})"
        )
    return t


def _time_text_hint(s: str) -> str:
    """Why a ``ts``/``due`` string is not ISO 8601: epoch numbers as text, ``/`` dates, a space-less zone."""
    if re.fullmatch(r"\d{9,19}(\.\d+)?", s):
        unit = epoch_hint(float(s)) if float(s) > 1e11 else ""
        return f" (an epoch number as text{unit}: send it as a number, or ISO 8601 with an offset)"
    if re.match(r"^\d{4}/\d{1,2}/\d{1,2}", s):
        return " ('/' date separators: send 2026-11-30T09:00:00+08:00)"
    if re.match(r"^\d{4}年", s):
        return " (a Chinese date: send 2026-11-30T09:00:00+08:00)"
    return ""


def _string(name: str, v: Any, max_len: int, allow_newlines: bool) -> str:
    if not isinstance(v, str):
        raise WireError(f"field {name!r}: expected a string, got {_type_name(v)}")
    if len(v) > max_len:
        raise WireError(f"field {name!r}: too long ({len(v)} > {max_len} chars)")
    bad = (_CTRL_NO_NL_RE if allow_newlines else _CTRL_RE).search(v)
    if bad:
        raise WireError(f"field {name!r}: control character U+{ord(bad.group()):04X} not allowed")
    return v


def _integer(name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float):
            raise WireError(f"field {name!r}: expected an integer, got {v!r}")
        raise WireError(f"field {name!r}: expected an integer, got {_type_name(v)}")
    if not lo <= v <= hi:
        raise WireError(f"field {name!r}: {v} out of range {lo}..{hi}")
    return v


def _enum(name: str, v: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(v, str):
        raise WireError(f"field {name!r}: expected a string, got {_type_name(v)}")
    if v not in allowed:
        hint = status_hint(v) if name == "status" else ""
        raise WireError(f"field {name!r}: {v[:40]!r} is not one of {', '.join(allowed)}{hint}")
    return v


def id_hint(raw: bytes | str) -> str:
    """The ``id`` of a message that failed to parse, when it has a well-formed one (``ID_PATTERN``), else ``""``:
    so the log line about the rejection can name the incident (``incident_id``). Never raises."""
    if len(raw) > MAX_BYTES:
        return ""
    try:
        obj = json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return ""
    mid = obj.get("id") if isinstance(obj, dict) else None
    return mid if isinstance(mid, str) and _ID_RE.fullmatch(mid) else ""


def parse_message(
    raw: bytes | bytearray | memoryview | str,
    *,
    now: float | None = None,
    max_future_s: float = MAX_FUTURE_S,
    source_crs: Mapping[str, str] | None = None,
) -> WireMessage:
    """Validate and normalise one wire message (see module docstring). Pure; raises ``WireError``.

    ``now`` is the receiver's clock (epoch seconds, default ``time.time()``); ``ts`` may be at most
    ``max_future_s`` seconds after it (default 600: clock skew), ``due`` at most 400 days. ``source_crs``: the
    CRS (``CRS_VALUES``) of publishers that never send ``crs``, by the ``source`` they send (``ANY_SOURCE``,
    ``"*"``, for every other message without ``crs``); a message's own ``crs`` always wins.
    """
    obj = _decode(raw)
    return parse_object(obj, now=now, max_future_s=max_future_s, source_crs=source_crs)


def parse_object(
    obj: Any,
    *,
    now: float | None = None,
    max_future_s: float = MAX_FUTURE_S,
    source_crs: Mapping[str, str] | None = None,
) -> WireMessage:
    """Like ``parse_message`` for an already-decoded JSON value (e.g. from the HTTP API or the simulator)."""
    _check_shape(obj)
    if now is None:
        now = time.time()
    out = WireMessage()
    out["id"] = _message_id(obj["id"])
    status = _enum("status", obj["status"], STATUSES)
    out["status"] = status
    out["ts"] = _time("ts", obj["ts"], now, max_future_s)
    crs = obj.get("crs")
    if crs is None and source_crs and obj.get("lon") is not None:  # the publisher's declared default
        src = obj.get("source")
        crs = source_crs.get(src if isinstance(src, str) else "", source_crs.get(ANY_SOURCE))
    point = _coordinates(obj.get("lon"), obj.get("lat"), crs)
    if point is not None:
        out["lon"], out["lat"] = point
    cat = obj.get("category")
    if cat is not None:
        out["category"] = _category(cat)
    for name, (max_len, nl) in STRING_FIELDS.items():
        v = obj.get(name)
        if v is not None:
            out[name] = _string(name, v, max_len, nl)
    _parse_tail(obj, out, status, now)
    return out


def _check_shape(obj: Any) -> None:
    """A JSON object of storable text, known keys and scalar values, holding every required field."""
    if not isinstance(obj, dict):
        raise WireError(f"message must be a JSON object, got {_type_name(obj)}")
    check_text(obj)
    unknown = [k for k in obj if k not in _FIELD_SET]
    if unknown:
        names = ", ".join(repr(str(k)[:40]) for k in sorted(map(str, unknown))[:5])
        raise WireError(f"unknown field(s): {names}{field_alias_hint(sorted(map(str, unknown)))}")
    for k, v in obj.items():
        if isinstance(v, dict | list):
            raise WireError(f"field {k!r}: expected a scalar, got {_type_name(v)}")
    missing = [k for k in REQUIRED if obj.get(k) is None]
    if missing:
        raise WireError(f"missing required field(s): {', '.join(missing)}")


def _message_id(mid: Any) -> str:
    if not isinstance(mid, str):
        raise WireError(f"field 'id': expected a string, got {_type_name(mid)}")
    if not _ID_RE.fullmatch(mid):
        if not mid:
            raise WireError("field 'id': empty")
        if len(mid) > ID_MAX:
            raise WireError(f"field 'id': too long ({len(mid)} > {ID_MAX} chars)")
        bad = next((c for c in mid if not _ID_CHAR_RE.fullmatch(c)), "?")
        raise WireError(f"field 'id': character U+{ord(bad):04X} not allowed (allowed: A-Z a-z 0-9 _ . : - and CJK)")
    return mid


def _coordinates(lon_v: Any, lat_v: Any, crs: Any) -> tuple[float, float] | None:
    """(lon, lat) in WGS-84 degrees, or ``None`` when neither is given."""
    if crs is not None:
        crs = _enum("crs", crs, CRS_VALUES)
    if (lon_v is None) != (lat_v is None):
        given, other = ("lon", "lat") if lat_v is None else ("lat", "lon")
        raise WireError(f"field {other!r}: required when {given!r} is given")
    if lon_v is None:
        if crs in ("gcj02", "bd09"):
            raise WireError(f"field 'crs': {crs!r} given without lon/lat")
        return None
    lon = _number("lon", lon_v)
    lat = _number("lat", lat_v)
    if not -180.0 <= lon <= 180.0:
        raise WireError(f"field 'lon': {lon:.10g} out of range -180..180{coordinate_hint('lon', lon, lat)}")
    if not -90.0 <= lat <= 90.0 and abs(lat) >= 1e4:
        raise WireError(f"field 'lat': {lat:.10g} out of range -90..90{coordinate_hint('lat', lat, lon)}")
    if not -90.0 <= lat <= 90.0:
        # e.g. Zhejiang sent as (30.27, 120.15): the swapped point would be a valid one.
        hint = " (lat/lon swapped?)" if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0 else ""
        raise WireError(f"field 'lat': {lat} out of range -90..90{hint}")
    if crs == "gcj02":
        return gcj02_to_wgs84_scalar(lon, lat)
    if crs == "bd09":
        return gcj02_to_wgs84_scalar(*bd09_to_gcj02_scalar(lon, lat))
    return lon, lat


def _category(cat: Any) -> str:
    if not isinstance(cat, str):
        raise WireError(f"field 'category': expected a string, got {_type_name(cat)}")
    code = cat if cat in CATEGORIES else CATEGORY_BY_LABEL.get(cat)
    if code is None:
        raise WireError(
            f"field 'category': {cat[:40]!r} is not a known category code or zh label ({', '.join(CATEGORIES)})"
        )
    return code


def _parse_tail(obj: dict[str, Any], out: WireMessage, status: str, now: float) -> None:
    """priority, due, rating, reopened, escalated: each checked and put into ``out`` when given."""
    pr = obj.get("priority")
    if pr is not None:
        out["priority"] = _enum("priority", pr, PRIORITIES)
    due = obj.get("due")
    if due is not None:
        out["due"] = _time("due", due, now, DUE_MAX_AHEAD_S)
    rating = obj.get("rating")
    if rating is not None:
        out["rating"] = _integer("rating", rating, 1, 5)
        if status != Status.CLOSED:
            raise WireError(f"field 'rating': only allowed with status 'closed' (status is {status!r})")
    reo = obj.get("reopened")
    if reo is not None:
        out["reopened"] = int(reo) if isinstance(reo, bool) else _integer("reopened", reo, 0, REOPENED_MAX)
    esc = obj.get("escalated")
    if esc is not None:
        if not isinstance(esc, bool):
            raise WireError(f"field 'escalated': expected a boolean, got {_type_name(esc)}")
        out["escalated"] = esc


# --------------------------------------------------------------------------------------------- GCJ-02

_A = 6378245.0
_EE = 0.00669342162296594323


def _out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    sx = math.sqrt(abs(x))
    pi = math.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * pi)
    return dlon, dlat


def wgs84_to_gcj02_scalar(lon: float, lat: float) -> tuple[float, float]:
    """The standard (forward) WGS-84 → GCJ-02 obfuscation; identity outside China."""
    if _out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09_scalar(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09, the public formula (``geo.bd09`` has the vectorised one and its source)."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02_scalar(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02: the public closed-form inverse refined by fixed-point iteration (error < 1e-9°)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    gx, gy = z * math.cos(theta), z * math.sin(theta)
    for _ in range(5):
        fx, fy = gcj02_to_bd09_scalar(gx, gy)
        gx, gy = gx - (fx - lon), gy - (fy - lat)
        if abs(fx - lon) < 1e-10 and abs(fy - lat) < 1e-10:
            break
    return gx, gy


def gcj02_to_wgs84_scalar(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward transform (error < 1e-7°, ~1 cm)."""
    if _out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(10):
        glon, glat = wgs84_to_gcj02_scalar(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon -= elon
        wlat -= elat
        if abs(elon) < 1e-9 and abs(elat) < 1e-9:
            break
    return wlon, wlat
