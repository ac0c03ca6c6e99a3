"""Redis state for incidents: atomic apply (Lua), state loading, dead letters, counters.

Connections are passed in (``redis.Redis``, ``decode_responses`` either way); names come from ``Keys``.
``apply`` is the only writer of ``state`` and ``log``: one Lua script (``apply.lua``) reads the stored
incident, decides (newer ts wins / stale / duplicate / rejected), merges, and writes the state hash and one
log entry in a single atomic step, so any number of server processes can apply the same message: it lands
once.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import redis
from redis.commands.core import Script
from redis.typing import EncodableT, FieldT

from incidents.acl import is_refusal
from incidents.connection import check_replicated, replicas_wanted
from incidents.keys import AUDIT_MAXLEN, DEADLETTER_MAXLEN, DEADLETTER_RAW_MAX, LOG_MAXLEN, Keys
from incidents.model import OVERLAY_FIELDS, REWORK_FROM, REWORK_TO, TRANSITIONS, Incident, allowed_next

log = logging.getLogger(__name__)

LUA_TEMPLATE = (Path(__file__).with_name("apply.lua")).read_text(encoding="utf-8")


def _lua_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_lua(template: str = LUA_TEMPLATE) -> str:
    """apply.lua with the lifecycle tables filled in from ``incidents.model`` (one source of truth)."""
    allowed = ", ".join(
        f"[{_lua_str(str(a))}] = {{{', '.join(f'[{_lua_str(str(b))}] = true' for b in sorted(bs))}}}"
        for a, bs in TRANSITIONS.items()
    )
    text = ", ".join(
        f"[{_lua_str(str(a))}] = {_lua_str(', '.join(str(b) for b in allowed_next(a)))}" for a in TRANSITIONS
    )
    rework = ", ".join(f"[{_lua_str(str(a))}] = true" for a in sorted(REWORK_FROM))
    out = template
    for marker, value in (
        ("--[[@ALLOWED]] {}", f"{{{allowed}}}"),
        ("--[[@ALLOWED_TEXT]] {}", f"{{{text}}}"),
        ("--[[@REWORK_FROM]] {}", f"{{{rework}}}"),
        ("--[[@REWORK_TO]] ''", _lua_str(str(REWORK_TO))),
    ):
        if out.count(marker) != 1:
            raise RuntimeError(f"apply.lua: marker {marker!r} not found exactly once")
        out = out.replace(marker, value)
    return out


LUA_SOURCE = render_lua()
# Keep the creation entry plus the newest changes: a flip-flopping publisher can't grow an incident forever.
HISTORY_MAX = 100
# Fields a message may set; anything else (e.g. a wire-only "crs") is dropped before the script sees it.
MESSAGE_FIELDS: frozenset[str] = frozenset(("id", "ts", *OVERLAY_FIELDS))
_SCRIPT_ATTR = "_onescreen_apply_script"
_HSCAN_COUNT = 1000


class Outcome(StrEnum):
    """What ``apply`` did with one message."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What ``apply`` did. ``log_id`` is the log entry id when applied; ``detail`` is the rejection reason
    (``ERROR``) or the stored ts (``STALE``/``DUPLICATE``)."""

    outcome: Outcome
    id: str
    log_id: str | None = None
    detail: str = ""

    @property
    def applied(self) -> bool:
        """Whether the message changed the stored incident."""
        return self.outcome is Outcome.APPLIED

    @property
    def reason(self) -> str:
        """The rejection reason for ``ERROR``, else ``""``."""
        return self.detail if self.outcome is Outcome.ERROR else ""


@dataclass(frozen=True, slots=True)
class Origin:
    """Who makes a change and how it came in, recorded with it (the incident's history and the audit stream).

    ``actor``: ``Actor.label()`` of a person or key (``user:alice``, ``key:erp``), ``publisher`` for the wire
    channel and the publish API ("" = not known); ``via``: the way in (``http``, ``open311``, ``console``,
    ``pubsub``, ``simulator``, ``api``); ``client``: the client's address ("" when not over the network)."""

    actor: str = ""
    via: str = ""
    client: str = ""


NO_ORIGIN = Origin()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter stream entry, decoded."""

    entry_id: str
    raw: str  # utf-8 text, or base64 when ``encoding == "base64"``
    encoding: str
    size: int  # original size in bytes
    reason: str
    source: str
    ts: float


def as_text(v: bytes | str) -> str:
    """A Redis reply as ``str`` whether the client decodes responses or not (invalid UTF-8 → U+FFFD)."""
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


# Errors that mean "Redis is not there": the caller reconnects. Anything else raised while applying a batch is
# tied to its content and is isolated to the message that caused it (``apply_many_isolated``).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)


def _script(r: redis.Redis) -> Script:
    """The apply script, registered once per client (EVALSHA; redis-py reloads it after NOSCRIPT)."""
    script: Script | None = getattr(r, _SCRIPT_ATTR, None)
    if script is None:
        script = r.register_script(LUA_SOURCE)
        setattr(r, _SCRIPT_ATTR, script)
    return script


def message_json(msg: Mapping[str, Any] | Any) -> tuple[str, str]:
    """(id, JSON) of a WireMessage/dict as the script wants it: known fields only, ``None`` = absent.

    Raises ``ValueError`` for what cannot be a message at all (no id, non-finite numbers); the script checks
    the rest, so a dict built by hand gets the same rules as a parsed one.
    """
    if not isinstance(msg, Mapping):
        to_dict = getattr(msg, "to_dict", None)
        if to_dict is None:
            raise TypeError(f"expected a WireMessage or dict, got {type(msg).__name__}")
        msg = to_dict()
    out: dict[str, Any] = {}
    for k, v in msg.items():
        if k in MESSAGE_FIELDS and v is not None:
            out[k] = str(v) if isinstance(v, StrEnum) else v
    mid = out.get("id")
    if not isinstance(mid, str) or not mid:
        raise ValueError("message has no id")
    # Plain float: json.dumps writes the shortest repr, which the script decodes exactly.
    if "ts" in out and not isinstance(out["ts"], bool) and isinstance(out["ts"], int | float):
        out["ts"] = float(out["ts"])
    return mid, json.dumps(out, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _result(mid: str, reply: Any) -> ApplyResult:
    outcome, detail = as_text(reply[0]), as_text(reply[1])
    if outcome == Outcome.APPLIED:
        return ApplyResult(Outcome.APPLIED, mid, log_id=detail)
    return ApplyResult(Outcome(outcome), mid, detail=detail)


def _args(msg_json: str, origin: Origin) -> list[str | int]:
    return [msg_json, LOG_MAXLEN, HISTORY_MAX, origin.actor, origin.via, origin.client, AUDIT_MAXLEN]


def _keys(keys: Keys) -> list[str]:
    return [keys.state, keys.log, keys.stats, keys.audit]


def apply(r: redis.Redis, keys: Keys, msg: Mapping[str, Any] | Any, *, origin: Origin = NO_ORIGIN) -> ApplyResult:
    """Apply one validated message (a ``WireMessage`` or dict) atomically; see ``apply.lua`` for the rules.
    ``origin``: who and how, recorded in the history and the audit stream with the change."""
    mid, payload = message_json(msg)
    wanted, timeout_ms = replicas_wanted(r)
    if not wanted:
        return _result(mid, _script(r)(keys=_keys(keys), args=_args(payload, origin)))
    pipe = r.pipeline(transaction=False)  # the write and its WAIT on one connection
    _script(r)(keys=_keys(keys), args=_args(payload, origin), client=pipe)
    pipe.wait(wanted, timeout_ms)
    reply, acked = pipe.execute()
    check_replicated(acked, wanted, timeout_ms)
    return _result(mid, reply)


def apply_many(
    r: redis.Redis,
    keys: Keys,
    msgs: Iterable[Mapping[str, Any] | Any],
    *,
    chunk: int = 500,
    origin: Origin = NO_ORIGIN,
) -> list[ApplyResult]:
    """Apply many messages in order, pipelining EVALSHA (no MULTI: each script is atomic on its own).

    One round trip per ``chunk`` instead of per message: the ingest path for bursts. A message that cannot be
    encoded at all comes back as an ``ERROR`` result in its place; order is preserved.
    """
    script = _script(r)
    wanted, timeout_ms = replicas_wanted(r)
    results: list[ApplyResult] = []
    batch: list[tuple[int, str, str]] = []  # (index in results, id, payload)

    def flush() -> None:
        pipe = r.pipeline(transaction=False)
        for _, _, payload in batch:
            script(keys=_keys(keys), args=_args(payload, origin), client=pipe)
        if wanted:
            pipe.wait(wanted, timeout_ms)  # on the batch's own connection: WAIT counts that connection's writes
        replies = pipe.execute(raise_on_error=False)
        if wanted:
            check_replicated(replies.pop(), wanted, timeout_ms)
        for (idx, mid, _), reply in zip(batch, replies, strict=True):
            if isinstance(reply, Exception) and is_refusal(reply):
                raise reply  # an ACL refusal is the deployment's problem, never the message's (incidents.acl)
            if isinstance(reply, Exception):
                results[idx] = ApplyResult(Outcome.ERROR, mid, detail=f"redis error: {reply}")
            else:
                results[idx] = _result(mid, reply)
        batch.clear()

    for msg in msgs:
        try:
            mid, payload = message_json(msg)
        except (TypeError, ValueError) as exc:
            results.append(ApplyResult(Outcome.ERROR, "", detail=str(exc)))
            continue
        results.append(ApplyResult(Outcome.ERROR, mid, detail="not applied"))  # placeholder, set by flush
        batch.append((len(results) - 1, mid, payload))
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return results


def apply_many_isolated(
    r: redis.Redis,
    keys: Keys,
    msgs: Sequence[Mapping[str, Any] | Any],
    *,
    chunk: int = 500,
    origin: Origin = NO_ORIGIN,
) -> list[ApplyResult]:
    """``apply_many`` that one bad message cannot break: results in order, one per message, never raises for
    content.

    If a batch raises (anything but a connection error: e.g. text Redis cannot encode, a script error), the
    batch is applied again one message at a time and the message that raises gets an ``ERROR`` result with
    ``cannot apply message for id X: <error>``; the others are applied. Re-applying is safe: the script
    writes nothing for a message already stored (``DUPLICATE``). Connection errors (``CONNECTION_ERRORS``)
    propagate: nothing is known then, and the caller reconnects.
    """
    try:
        return apply_many(r, keys, msgs, chunk=chunk, origin=origin)
    except CONNECTION_ERRORS:
        raise
    except Exception as exc:
        if is_refusal(exc):  # an ACL refusal: every message would get it; the caller shows it (incidents.acl)
            raise
        log.warning("batch of %d message(s) failed (%r); applying them one by one", len(msgs), exc)
    results: list[ApplyResult] = []
    for msg in msgs:
        try:
            results.append(apply(r, keys, msg, origin=origin))
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:
            if is_refusal(exc):
                raise
            mid = str(msg.get("id") or "") if isinstance(msg, Mapping) else ""
            reason = f"cannot apply message for id {mid!a}: {exc!r}"
            results.append(ApplyResult(Outcome.ERROR, mid, detail=reason))
    return results


def decode_incident(data: bytes | str) -> Incident:
    """Incident from stored/log JSON (raises ValueError/KeyError/TypeError when it isn't one)."""
    return Incident.from_dict(json.loads(data))


def load_state(r: redis.Redis, keys: Keys, *, errors: list[tuple[str, str]] | None = None) -> list[Incident]:
    """Every stored incident, read with HSCAN in batches (never one huge HGETALL blocking Redis).

    Corrupt entries are skipped and logged; pass ``errors`` to collect ``(id, reason)`` for them.
    """
    out: list[Incident] = []
    for raw_id, data in r.hscan_iter(keys.state, count=_HSCAN_COUNT):
        try:
            out.append(decode_incident(data))
        except (ValueError, KeyError, TypeError) as exc:
            iid = as_text(raw_id)
            log.warning("skipping corrupt incident %r in %s: %s", iid, keys.state, exc, extra={"incident_id": iid})
            if errors is not None:
                errors.append((iid, str(exc)))
    return out


def get_incident(r: redis.Redis, keys: Keys, incident_id: str) -> Incident | None:
    """The stored incident, or None if absent (raises ValueError if the stored JSON is corrupt)."""
    data = r.hget(keys.state, incident_id)
    if data is None:
        return None
    try:
        return decode_incident(data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"stored incident {incident_id!r} is corrupt: {exc}") from exc


def _raw_fields(raw: bytes | str) -> tuple[str, str, int]:
    """(text, encoding, size): UTF-8 text cut at a character boundary, or base64 if not UTF-8."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    size = len(data)
    head = data[:DEADLETTER_RAW_MAX]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(head).decode("ascii"), "base64", size
    # Valid as a whole, so "ignore" only drops a multi-byte character cut in half by the limit.
    return head.decode("utf-8", "ignore"), "utf-8", size


def _storable(text: str) -> str:
    """``text`` as valid UTF-8: a lone surrogate (quoted from bad input) becomes ``\\udXXX``, never an error."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter(
    r: redis.Redis, keys: Keys, raw: bytes | str, reason: str, source: str = "", *, ts: float | None = None
) -> str:
    """Record rejected input (capped stream) and count it in ``stats.rejected``; returns the entry id."""
    text, encoding, size = _raw_fields(raw)
    fields: dict[FieldT, EncodableT] = {
        "raw": text,
        "encoding": encoding,
        "size": size,
        "reason": _storable(reason[:1000]),
        "source": _storable(source),
        "ts": time.time() if ts is None else ts,
    }
    pipe = r.pipeline(transaction=True)
    pipe.xadd(keys.deadletter, fields, maxlen=DEADLETTER_MAXLEN, approximate=True)
    pipe.hincrby(keys.stats, "rejected", 1)
    entry_id, _ = pipe.execute()
    return as_text(entry_id)


def recent_dead_letters(r: redis.Redis, keys: Keys, count: int = 20) -> list[DeadLetter]:
    """The newest dead letters, newest first (for /healthz and the console)."""
    out: list[DeadLetter] = []
    entries: Any = r.xrevrange(keys.deadletter, count=count)
    for entry_id, f in entries:
        g = {as_text(k): as_text(v) for k, v in f.items()}
        ts = float(g.get("ts") or 0.0)
        out.append(
            DeadLetter(
                entry_id=as_text(entry_id),
                raw=g.get("raw", ""),
                encoding=g.get("encoding", "utf-8"),
                size=int(g.get("size") or 0),
                reason=g.get("reason", ""),
                source=g.get("source", ""),
                ts=ts if math.isfinite(ts) else 0.0,
            )
        )
    return out


def read_stats(r: redis.Redis, keys: Keys) -> dict[str, int]:
    """Shared counters (all processes): accepted, duplicate, stale, invalid, rejected (missing = 0)."""
    raw = r.hgetall(keys.stats)
    stats = dict.fromkeys(("accepted", "duplicate", "stale", "invalid", "rejected"), 0)
    for k, v in raw.items():
        stats[as_text(k)] = int(v)
    return stats
