"""HTTP request bodies, read for the ingest routes (``dashboard.ingest``): size limits, JSON arrays, Open311 forms.

The web layer's half of ingest: what arrives over HTTP (bytes, content types, Content-Length) becomes plain
values here; ``incidents`` only maps those values (``incidents.wire``, ``incidents.open311_server.post_to_wire``).

* ``read_body(request, limit)`` — the body, refused (``BodyTooLarge``) by Content-Length or by the bytes read.
* ``split_json_array(body)`` — the raw text of each element of a JSON array (``WireError`` if not one).
* ``parse_open311_body(body, content_type)`` — an Open311 POST as ``(name, value)`` pairs: form-urlencoded (the
  spec's), JSON object or multipart/form-data; ``Open311Error`` 400 (unreadable, or another content type: the
  spec's clients expect 400, not 415).
"""

from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import Request

from incidents.open311 import Open311Error
from incidents.open311_server import Fields
from incidents.wire import WireError

BATCH_MAX_ITEMS: Final = 1000
# At most this many fields in one Open311 POST (form, JSON or multipart).
MAX_FIELDS: Final = 200


class BodyTooLarge(Exception):
    """A request body over its limit; ``reason`` is the text to answer and dead-letter."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"body too large: {size} bytes > {limit}")
        self.reason = str(self)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (``BodyTooLarge``) by its Content-Length or once more than ``limit`` bytes came."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit)
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise BodyTooLarge(len(buf), limit)
    return bytes(buf)


def split_json_array(body: bytes) -> list[str]:
    """The raw text of each element of a JSON array, so each is parsed by the wire exactly as if sent alone.

    Raises ``WireError`` when the body is not a JSON array (or is not UTF-8).
    """
    try:
        text = body.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise WireError(f"body is not valid UTF-8 (byte {exc.start})") from None
    scanner = json.JSONDecoder(object_pairs_hook=lambda _pairs: None, parse_constant=lambda _c: None)
    ws = " \t\r\n"
    i = len(text) - len(text.lstrip(ws))
    if text[i : i + 1] != "[":
        raise WireError("batch body must be a JSON array of messages")
    items: list[str] = []
    i += 1
    while True:
        i += len(text[i:]) - len(text[i:].lstrip(ws))
        if text[i : i + 1] == "]" and not items:
            break
        try:
            _, end = scanner.raw_decode(text, i)
        except RecursionError:
            raise WireError(f"invalid JSON: nested too deeply (element {len(items)})") from None
        except json.JSONDecodeError as exc:
            raise WireError(f"invalid JSON in the array: {exc.msg} at char {exc.pos}") from None
        items.append(text[i:end])
        if len(items) > BATCH_MAX_ITEMS:
            raise WireError(f"too many messages in one batch (> {BATCH_MAX_ITEMS})")
        i = end + len(text[end:]) - len(text[end:].lstrip(ws))
        if text[i : i + 1] == ",":
            i += 1
            continue
        if text[i : i + 1] == "]":
            break
        raise WireError(f"invalid JSON in the array: expected ',' or ']' at char {i}")
    if text[i + 1 :].strip(ws):
        raise WireError("invalid JSON: extra data after the array")
    return items


def parse_open311_body(body: bytes, content_type: str) -> Fields:
    """A POST body as (name, value) pairs: form-urlencoded (the spec's), multipart/form-data, or a JSON object.

    Raises ``Open311Error`` 400 (unreadable, or another content type).
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("", "application/x-www-form-urlencoded"):
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except UnicodeDecodeError:
            raise Open311Error(400, "the form is not valid UTF-8") from None
        except ValueError as exc:
            raise Open311Error(400, f"unreadable form: {exc}") from None
    if kind == "application/json":
        return _json_fields(body)
    if kind == "multipart/form-data":
        return _multipart_fields(body, content_type)
    raise Open311Error(400, f"unsupported content type {kind!r}: send application/x-www-form-urlencoded")


def _json_fields(body: bytes) -> Fields:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise Open311Error(400, "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise Open311Error(400, "the JSON body must be an object")
    out: Fields = []
    for k, v in doc.items():
        if k == "attribute" and isinstance(v, dict):
            out += [(f"attribute[{a}]", _scalar(x)) for a, x in v.items()]
        elif isinstance(v, list):
            out += [(k, _scalar(x)) for x in v]
        else:
            out.append((k, _scalar(v)))
    if len(out) > MAX_FIELDS:
        raise Open311Error(400, f"too many fields (> {MAX_FIELDS})")
    return out


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _multipart_fields(body: bytes, content_type: str) -> Fields:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise Open311Error(400, "unreadable multipart/form-data body")
    out: Fields = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():  # file uploads: media goes by media_url
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        try:
            out.append((name, data.decode(part.get_content_charset() or "utf-8")))
        except (UnicodeDecodeError, LookupError):
            raise Open311Error(400, f"field {name!r} is not valid UTF-8") from None
        if len(out) > MAX_FIELDS:
            raise Open311Error(400, f"too many fields (> {MAX_FIELDS})")
    return out
