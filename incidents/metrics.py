"""Prometheus metrics of the ingest side: messages by way in and outcome, rejections by reason, the feed's lag, and
Redis round trips. Built on the official client (``prometheus_client``) into a registry the caller owns (one per
``Runtime``: several runtimes in one process, as in the tests, never share a series).

What a hot path pays is one ``Counter.inc`` (a lock and an add) per message or per Redis round trip; children of
labelled metrics are looked up once and cached here, never re-resolved per call.

``reject_reason(text)`` maps the free-form rejection texts (``wire.WireError``, ``apply.lua``, the area check) to
the bounded set ``RejectReason``: a label value is never user input, so the series stay few whatever is sent.
No metric carries an incident id, a title, a phone number or any other text of a message.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Final

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from incidents.store import ApplyResult, Outcome

# The ways in (``store.Origin.via``); anything else is counted as ``other``.
VIAS: Final = ("pubsub", "http", "open311", "simulator", "api", "console", "other")
OUTCOMES: Final = ("accepted", "duplicate", "stale", "rejected")


class RejectReason(StrEnum):
    """Why a message was rejected, as a metric label (a small fixed set; the full text goes to the dead letters)."""

    TOO_LARGE = "too_large"  # over the size limit
    NOT_JSON = "not_json"  # not UTF-8, not JSON, not one object, duplicate keys, empty
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"  # a required field absent (also a first message without lon/lat/category)
    BAD_TIME = "bad_time"  # ts/due: no offset, before 2000, too far in the future
    INVALID_FIELD = "invalid_field"  # any other field with a wrong type, range or value
    OUTSIDE_AREA = "outside_area"  # outside the served area or every grid (lat/lon swapped too)
    TRANSITION = "transition"  # an illegal status transition
    REFUSED = "refused"  # the API key may not write there (its areas)
    STORE_ERROR = "store_error"  # Redis could not apply it
    OTHER = "other"


_RULES: Final[tuple[tuple[re.Pattern[str], RejectReason], ...]] = (
    (re.compile(r"too large|> \d+ bytes|body (is )?too"), RejectReason.TOO_LARGE),
    (re.compile(r"^field '(ts|due)'"), RejectReason.BAD_TIME),
    (re.compile(r"^unknown field"), RejectReason.UNKNOWN_FIELD),
    (re.compile(r"^missing required|needs lon, lat and category|required when|has no (id|status|numeric ts)"),
     RejectReason.MISSING_FIELD),
    (re.compile(r"^illegal transition"), RejectReason.TRANSITION),
    (re.compile(r"outside the area|outside every grid|lat/lon swapped"), RejectReason.OUTSIDE_AREA),
    (re.compile(r"^field '"), RejectReason.INVALID_FIELD),
    (re.compile(r"^(invalid JSON|message (is not|must be)|empty message|duplicate key|payload )"),
     RejectReason.NOT_JSON),
    (re.compile(r"outside (its|the key's) areas|may not|not allowed for"), RejectReason.REFUSED),
    (re.compile(r"^(redis error|cannot apply|not applied|Redis)"), RejectReason.STORE_ERROR),
)  # fmt: skip


def reject_reason(text: str) -> RejectReason:
    """The ``RejectReason`` of a rejection text (``OTHER`` when none fits). Pure; the first rule that matches wins."""
    for pattern, reason in _RULES:
        if pattern.search(text):
            return reason
    return RejectReason.OTHER


def _via(via: str) -> str:
    return via if via in VIAS else "other"


class IngestMetrics:
    """The ingest side's series in ``registry`` (see the module doc). Thread-safe (prometheus_client's own locks)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "onescreen_messages",
            "Incident messages by way in and outcome (accepted = stored and logged).",
            ["via", "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "onescreen_messages_rejected",
            "Rejected incident messages by way in and reason (a bounded set; the text is in the dead letters).",
            ["via", "reason"],
            registry=registry,
        )
        self.feed_lag = Gauge(
            "onescreen_feed_lag_seconds",
            "This process's follower: now minus the Redis time of the newest log entry it applied (0 when caught up).",
            registry=registry,
        )
        self.feed_delay = Histogram(
            "onescreen_feed_apply_delay_seconds",
            "Redis log append -> handed to this process's Situation, per batch (its newest entry).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.feed_applied = Counter(
            "onescreen_feed_applied_entries", "Log entries this process's follower applied.", registry=registry
        )
        self.feed_rebuilds = Counter(
            "onescreen_feed_rebuilds",
            "Rebuilds of the Situation from Redis state (start, reconnect).",
            registry=registry,
        )
        self.round_trips = Counter(
            "onescreen_redis_round_trips",
            "Redis round trips of this process by command (a pipeline is one round trip: command PIPELINE).",
            ["command"],
            registry=registry,
        )
        self._messages = {(v, o): self.messages.labels(v, o) for v in VIAS for o in OUTCOMES}
        self._rejected: dict[tuple[str, RejectReason], Any] = {}
        self._trips: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._redis_class: type[redis.Redis] | None = None
        for via in VIAS:  # every series exists from the start: rate() and dashboards see zeros, not gaps
            for reason in RejectReason:
                self._rejected[(via, reason)] = self.rejected.labels(via, reason.value)

    # -- messages ----------------------------------------------------------------------------------------------
    def outcome(self, via: str, outcome: str, n: int = 1) -> None:
        """Count ``n`` messages of ``via`` with ``outcome`` (one of ``OUTCOMES``; ``rejected``: use ``reject``)."""
        if n:
            self._messages[(_via(via), outcome)].inc(n)

    def results(self, via: str, results: Iterable[ApplyResult]) -> None:
        """Count the store's results (``store.ApplyResult``) of one batch; ``ERROR`` ones with their reason."""
        applied = dup = stale = 0
        for res in results:
            outcome = res.outcome
            if outcome is Outcome.APPLIED:
                applied += 1
            elif outcome is Outcome.DUPLICATE:
                dup += 1
            elif outcome is Outcome.STALE:
                stale += 1
            else:
                self.reject(via, res.detail)
        self.outcome(via, "accepted", applied)
        self.outcome(via, "duplicate", dup)
        self.outcome(via, "stale", stale)

    def reject(self, via: str, text: str | RejectReason) -> RejectReason:
        """Count one rejected message of ``via``; ``text`` is the reason (mapped by ``reject_reason``). Returns the
        reason counted."""
        reason = text if isinstance(text, RejectReason) else reject_reason(text)
        v = _via(via)
        self._rejected[(v, reason)].inc()
        self._messages[(v, "rejected")].inc()
        return reason

    # -- feed --------------------------------------------------------------------------------------------------
    def applied(self, entries: int, delay_s: float) -> None:
        """The follower handed ``entries`` log entries to the Situation, the newest ``delay_s`` after Redis got it."""
        self.feed_applied.inc(entries)
        self.feed_delay.observe(max(0.0, delay_s))
        self.feed_lag.set(max(0.0, delay_s))

    # -- Redis -------------------------------------------------------------------------------------------------
    def round_trip(self, command: str) -> None:
        """Count one Redis round trip of ``command`` (upper case)."""
        child = self._trips.get(command)
        if child is None:
            with self._lock:
                child = self._trips.setdefault(command, self.round_trips.labels(command))
        child.inc()

    def redis_class(self) -> type[redis.Redis]:
        """A ``redis.Redis`` subclass counting each round trip here (``from_url`` works on it as on Redis); made
        once per ``IngestMetrics``."""
        if self._redis_class is None:
            self._redis_class = counting_redis(self)
        return self._redis_class


def counting_redis(metrics: IngestMetrics) -> type[redis.Redis]:
    """``redis.Redis`` whose every command (and every pipeline ``execute``) counts one round trip in ``metrics``.

    redis-py has no command hook; ``execute_command`` is the one method every command goes through, and a
    pipeline's ``execute`` is its one round trip. Pub/sub connections (``pubsub()``) are not counted: their reads
    wait for messages, they are not requests.
    """

    class CountingPipeline(redis.client.Pipeline):
        def execute(self, raise_on_error: bool = True) -> list[Any]:
            if self.command_stack:
                metrics.round_trip("PIPELINE")
            return super().execute(raise_on_error)

    class CountingRedis(redis.Redis):
        ingest_metrics = metrics  # ``metrics_of``: what the durable path counts messages in, for this client

        def execute_command(self, *args: Any, **options: Any) -> Any:
            metrics.round_trip(args[0] if args and isinstance(args[0], str) else "?")  # redis-py's names: upper case
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

        def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> CountingPipeline:
            return CountingPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    return CountingRedis


def metrics_of(client: Any) -> IngestMetrics | None:
    """The ``IngestMetrics`` a client made by ``IngestMetrics.redis_class()`` counts in (None for any other client):
    the durable path (``publish``) counts its messages there when the caller passes none, so every way in that
    writes with a Runtime's client — the officials' actions too — is counted."""
    found = getattr(client, "ingest_metrics", None)
    return found if isinstance(found, IngestMetrics) else None
