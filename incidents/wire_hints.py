"""What a publisher most likely did wrong, recognised from what it sent (pure; used by ``incidents.wire``).

Every function returns a short clause for a dead-letter reason, or ``None`` when nothing is recognised (the reason
then says only what is wrong). They look at a message that has already failed; none of them decides whether a
message is accepted. The mistakes recognised are the ones integrations make again and again:

* an object sent without serialising it: JavaScript's ``String(obj)`` (``[object Object]``), Python's
  ``repr``/``str`` (``{'id': 'x'}``, ``b'…'``, ``True``/``None``), Ruby's ``Hash#inspect`` (``=>``), PHP's
  ``print_r``/``var_export``/``serialize``, Go's ``fmt`` (``map[…]``, ``&{…}``), a Java/Kotlin/.NET/Python
  object's default ``toString()``/``repr`` (``Incident{…}``, ``Incident@1b6d3586``, ``Incident(id=…)``), a
  JavaScript object literal (``{id: 'x'}``), form encoding (``id=x&status=…``), XML;
* serialised too often or wrapped: a JSON string holding JSON, base64 of JSON, an array of messages;
* a codec in front: gzip/zlib, UTF-16 (BOM or NULs), GBK/GB18030 instead of UTF-8, MessagePack, a Python pickle,
  Java serialization;
* units and systems: epoch milliseconds/microseconds/nanoseconds, epoch seconds as text, degrees × 10⁷ integers,
  projected metres (Web/Baidu Mercator, Gauss-Krüger, UTM) in ``lon``/``lat``, numbers in quotes, degrees-minutes-
  seconds text, ``/``-separated dates;
* other vocabularies: field names (``lng``, ``latitude``, ``timestamp`` …) and statuses (``open``, ``done`` …).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

# --------------------------------------------------------------------------------------------- bytes

_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\x1f\x8b", "gzip-compressed data (magic 1f 8b): send the JSON text itself, uncompressed"),
    (b"\xac\xed\x00\x05", "a Java serialization stream (ObjectOutputStream, magic ac ed): serialise to JSON instead"),
    (b"\xff\xfe", "UTF-16 LE text (byte-order mark ff fe): encode the JSON as UTF-8"),
    (b"\xfe\xff", "UTF-16 BE text (byte-order mark fe ff): encode the JSON as UTF-8"),
)


def binary_hint(data: bytes) -> str | None:
    """Why bytes that are not UTF-8 are what they are: a codec's magic number, a Python pickle, MessagePack, or
    JSON written in GBK/GB18030 (a Chinese Windows default)."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if len(data) > 2 and data[0] == 0x78 and data[1] in (0x01, 0x5E, 0x9C, 0xDA):
        return "zlib-compressed data (header 78 xx): send the JSON text itself, uncompressed"
    if len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return f"a Python pickle (protocol {data[1]}): send json.dumps(obj).encode() instead"
    if data[:1] and (0x80 <= data[0] <= 0x8F or data[0] in (0xDE, 0xDF)):
        return "MessagePack (a map header byte first): the wire takes JSON text"
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    if text.lstrip().startswith("{"):
        return "it is JSON encoded as GBK/GB18030, not UTF-8: encode the text as UTF-8"
    return None


# --------------------------------------------------------------------------------------------- text

_JS_OBJECT_STRING: Final = re.compile(r"\[object [A-Za-z]+\]")
_FORM: Final = re.compile(r"^[\w.\-]+=[^&=]*(&[\w.\-]+=[^&=]*)+$")
_TO_STRING: Final = re.compile(r"^[A-Za-z_][\w.$]*(\{|\(|@[0-9a-fA-F]{4,}\s*$)")
_DOTNET: Final = re.compile(r"^System\.[\w.`\[\], ]+$")
_PY_WRAPPERS: Final = ("OrderedDict(", "defaultdict(", "Namespace(", "mappingproxy(", "dict(")


def text_hint(text: str) -> str | None:
    """What a message that does not start with ``{`` is (``text`` already stripped): see the module doc."""
    if _JS_OBJECT_STRING.match(text):
        return (
            f"{text[:40].strip()!r} is JavaScript's default text for an object, not JSON: the publisher sent the "
            "object itself instead of JSON.stringify(object)"
        )
    if text[:2] in ("b'", 'b"'):
        return "a Python bytes repr (b'…'): the publisher sent str(data); send the bytes themselves"
    if text.startswith("["):
        return _array_hint(text)
    if text.startswith('"'):
        return _string_hint(text)
    if text.startswith("<"):
        return "XML/HTML, not JSON (an Open311 XML client posts to /open311/v2/requests.xml instead)"
    if text.startswith("eyJ"):
        return _base64_hint(text)
    return _language_hint(text)


def _array_hint(text: str) -> str:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return "an array (and not valid JSON either)"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"an array of {len(value)} objects: publish one message per incident (one JSON object each)"
    return "an array"


def _string_hint(text: str) -> str:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return "a string"
    if isinstance(value, str) and value.lstrip().startswith("{"):
        return (
            "a JSON string holding JSON: serialised twice (JSON.stringify/json.dumps of text that already was "
            "JSON); send the inner object"
        )
    return "a string"


def _base64_hint(text: str) -> str | None:
    try:
        inner = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None
    return "base64-encoded JSON: send the JSON text itself" if inner.startswith(b"{") else None


def _language_hint(text: str) -> str | None:
    """A language's default printing of a value (see the module doc)."""
    if text.startswith("map["):
        return "Go's fmt printing of a map (map[…]), not JSON: use json.Marshal"
    if text.startswith("&{"):
        return "Go's fmt printing of a struct pointer (&{…}), not JSON: use json.Marshal"
    if text.startswith(("Array\n", "Array\r\n", "Array (", "Array(")) or text == "Array":
        return "PHP's print_r/echo of an array, not JSON: use json_encode"
    if text.startswith(("array (", "array(")):
        return "PHP's var_export of an array, not JSON: use json_encode"
    if re.match(r"^a:\d+:\{", text):
        return "PHP's serialize() format (a:N:{…}), not JSON: use json_encode"
    if text.startswith("#<"):
        return "Ruby's inspect of an object (#<…>), not JSON: use to_json"
    if text.startswith(_PY_WRAPPERS):
        return f"a Python repr ({text.split('(', 1)[0]}(…)), not JSON: send json.dumps(obj)"
    if _FORM.match(text):
        return "form-encoded (key=value&…), not JSON: send a JSON object (or POST the form to the HTTP API)"
    if _DOTNET.match(text):
        return f"a .NET object's default ToString() ({text[:40]!r}), not JSON: serialise with System.Text.Json"
    if _TO_STRING.match(text):
        return (
            f"an object's default text ({text[:40]!r}: Java/Kotlin toString(), a Python repr …), not JSON: "
            "serialise it (Jackson/Gson, json.dumps …)"
        )
    return None


def json_error_hint(text: str, err: json.JSONDecodeError) -> str | None:
    """Why text that starts with ``{`` is not JSON: a language's printing of a dict, UTF-16, several objects, a
    message cut off."""
    if "\x00" in text:
        return "NUL bytes between the characters: UTF-16 text; encode the JSON as UTF-8"
    if text.startswith("{'") or re.match(r"^\{\s*'", text):
        return "a Python dict's repr (single quotes; str(dict) or print), not JSON: send json.dumps(obj)"
    if re.match(r"^\{\s*(\"[^\"]*\"|:[A-Za-z_]\w*)\s*=>", text):
        return "Ruby's Hash#inspect/to_s (=>), not JSON: send hash.to_json"
    if re.match(r"^\{\s*[A-Za-z_$][\w$]*\s*:", text):
        return (
            "a JavaScript object literal (unquoted keys, as console.log/util.inspect print it), not JSON: "
            "send JSON.stringify(object)"
        )
    word = text[err.pos : err.pos + 5]
    if word.startswith(("True", "False", "None")):
        literal = word.rstrip(",} ]")
        return f"Python's {literal} where JSON has true/false/null: the dict was str()-ed; send json.dumps(obj)"
    if err.msg == "Extra data":
        return f"more than one JSON value (another starts at character {err.pos}): publish one object per message"
    if err.pos >= len(text.rstrip()) - 1:
        return f"the JSON ends early, after {len(text.encode('utf-8'))} bytes: the message was cut off"
    return None


# --------------------------------------------------------------------------------------------- fields

# Other systems' names for our fields.
FIELD_ALIASES: Final[dict[str, str]] = {
    "lng": "lon", "long": "lon", "longitude": "lon", "x": "lon", "经度": "lon",
    "latitude": "lat", "y": "lat", "纬度": "lat",
    "timestamp": "ts", "time": "ts", "created_at": "ts", "updated_at": "ts", "updated_datetime": "ts",
    "requested_datetime": "ts", "datetime": "ts", "date": "ts",
    "state": "status", "type": "category", "service_code": "category", "category_id": "category",
    "service_request_id": "id", "incident_id": "id", "uuid": "id",
    "coordtype": "crs", "coord_type": "crs", "coordinate_system": "crs", "srs": "crs",
    "name": "title", "subject": "title", "summary": "title", "desc": "description", "details": "description",
    "level": "priority", "severity": "priority", "grid": "grid_id", "gridid": "grid_id", "gridId": "grid_id",
}  # fmt: skip


def field_alias_hint(unknown: list[str]) -> str:
    """``" (did you mean 'lon' for 'lng', …?)"`` for unknown field names other systems use for ours, else ``""``."""
    pairs = [f"{FIELD_ALIASES[k]!r} for {k!r}" for k in unknown if k in FIELD_ALIASES]
    return f" (did you mean {', '.join(pairs[:4])}?)" if pairs else ""


# Statuses of other systems → ours (a hint only: the wire takes ours).
STATUS_SYNONYMS: Final[dict[str, str]] = {
    "open": "reported", "new": "reported", "pending": "reported", "submitted": "reported", "created": "reported",
    "assigned": "dispatched", "acknowledged": "dispatched", "in_progress": "accepted", "processing": "accepted",
    "investigating": "accepted", "done": "resolved", "fixed": "resolved", "completed": "resolved",
    "finished": "resolved", "solved": "resolved", "archived": "closed", "canceled": "cancelled",
    "rejected": "cancelled", "duplicate": "cancelled",
}  # fmt: skip


def status_hint(value: str) -> str:
    """``" ('done' is 'resolved' here)"`` for another system's status (any case), else ``""``."""
    ours = STATUS_SYNONYMS.get(value.strip().lower().replace(" ", "_").replace("-", "_"))
    return f" ({value[:20]!r} is {ours!r} here)" if ours else ""


_DMS: Final = re.compile(r"""^\s*-?\d{1,3}\s*[°度d]\s*\d{1,2}\s*['′分m]""")


def number_text_hint(value: str) -> str:
    """Why a string was sent where a number belongs: a number in quotes, or degrees-minutes-seconds text."""
    try:
        number = float(value.strip())
    except ValueError:
        if _DMS.match(value):
            return " (degrees-minutes-seconds text: send decimal degrees as a number, e.g. 120.30161)"
        return ""
    return f" (a number in quotes: send {number:g} without quotes)"


def coordinate_hint(name: str, value: float, other: Any) -> str:
    """Why ``lon``/``lat`` is out of range: degrees × 10⁷ integers, or projected metres (with which system)."""
    lon, lat = (value, other) if name == "lon" else (other, value)
    for scale in (1e7, 1e6):  # integers of scaled degrees (GPS/AIS/protobuf E7, some SDKs E6), judged in China
        if (
            isinstance(lon, int | float)
            and 72 <= lon / scale <= 138
            and 0.8 <= lat / scale <= 56
            and value == int(value)
        ):
            n = f"{int(scale):,}"
            return f" (degrees × {n} integers? {value:.0f} / {n} = {value / scale:g}; send degrees)"
    if abs(value) >= 1e4:
        system = ""
        if name == "lon" and 1.1e7 <= abs(value) <= 1.55e7:
            system = ": Web Mercator (EPSG:3857) or Baidu Mercator (BD-09MC) x in China"
        elif name == "lon" and 1.3e7 <= abs(value) <= 4.6e7:
            system = f": a Gauss-Krüger easting with zone number {int(abs(value) // 1e6)} in front"
        elif name == "lon" and 1.6e5 <= abs(value) <= 8.4e5:
            system = ": a Gauss-Krüger or UTM easting"
        elif name == "lat" and 2e5 <= abs(value) <= 6.5e6:
            system = ": a northing in China (Gauss-Krüger/UTM/Mercator)"
        return f" (projected metres, not degrees{system}; send WGS-84 longitude/latitude)"
    return ""


def epoch_hint(t: float) -> str:
    """Which unit a far-future epoch number is in (milliseconds, microseconds, nanoseconds), with the fix."""
    for scale, unit, source in ((1e3, "milliseconds", "Date.now(), System.currentTimeMillis()"),
                                (1e6, "microseconds", "time.time_ns() // 1000"),
                                (1e9, "nanoseconds", "time.time_ns(), Go's UnixNano()")):  # fmt: skip
        if 946684800.0 <= t / scale <= 4102444800.0:
            return f" (epoch {unit}, as {source} give: send seconds, {t:.0f} / {int(scale):,})"
    return ""
