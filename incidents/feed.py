"""The live feed of one server process: two daemon threads between Redis and the in-memory Situation.

* **ingress** — SUBSCRIBE ``keys.channel`` → ``parse_message`` (pure; ``ts`` at most ``max_future_s`` ahead
  of ``clock()``) → ``store.apply_many_isolated`` (the Lua merge). Bad input (``WireError`` or a store
  rejection) is dead-lettered with its reason; the thread never stops for it, and one message cannot take
  its batch down with it: a batch apply that raises is redone one by one and only the culprit is
  dead-lettered (with the error), so the subscription is never dropped for content. Every server process
  applies every bare message; the script makes exactly one of them win (the others count a duplicate), so
  any number of processes may run.
* **follower** — on every (re)connect rebuilds from Redis: remembers the log's last entry id, loads ``state``
  (HSCAN) into ``situation.replace_all``, then follows the log with ``XREAD BLOCK`` from that id, handing
  batches to ``situation.apply_many`` (or ``apply`` per incident). Anything applied while the state was being
  read is replayed from the log (re-applying an incident's full state is idempotent), so nothing is lost. If
  the follower fell so far behind that the log was trimmed past its position, it rebuilds again.

Both threads reconnect by themselves with backoff (0.1 s doubling to 0.5 s: a refused connection to a dead
Redis costs nothing, and a wall must clear "feed lost" within 2 s of Redis coming back). A dead Redis is
noticed within ~1.5 s: the follower's socket timeout is the XREAD block time + 1 s, and the ingress pings its
pub/sub connection when idle and gives up on it if no reply comes within ``liveness_s``. A subscriber that
Redis cuts off (``client-output-buffer-limit pubsub``: the feed read slower than messages came) just looks
like a disconnect of the ingress: it resubscribes and counts ``ingress_drops``; the follower is not affected
(its XREAD replies are not pub/sub), so every durably published change still arrives from the log. Bare
PUBLISHes that Redis dropped with the cut-off, or that arrive while no ingress is subscribed, are lost
(pub/sub is at-most-once); the durable path is ``incidents.publish``, which writes state + log and publishes
nothing: the channel carries only bare messages, so each is parsed and applied once per server, and a durable
one once in all.

Area check (optional ``area=AreaGuard(...)``): a message whose point lies outside the served area's bounds
(swapped lat/lon says so) or, inside the bounds, outside every grid is dead-lettered with that reason instead
of putting a marker where nobody is responsible for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from incidents import store
from incidents.acl import refusal, user_of
from incidents.area import AreaGuard
from incidents.connection import connect
from incidents.keys import Keys
from incidents.metrics import IngestMetrics
from incidents.model import Incident
from incidents.store import CONNECTION_ERRORS, Origin, Outcome, as_text
from incidents.wire import MAX_FUTURE_S, WireError, WireMessage, id_hint, parse_message

log = logging.getLogger(__name__)

# Who a message heard on the wire channel is recorded as (history, audit): a publisher trusted through Redis ACLs.
PUBSUB_ORIGIN = Origin("publisher", "pubsub")

BACKOFF_MIN_S = 0.1
# Reconnect attempts are cheap (a refused TCP connect on a dead Redis); a cap of 0.5 s notices a restarted Redis
# within half a second (2 s was measured to leave the wall's "feed lost" banner up for up to ~2.5 s after).
BACKOFF_MAX_S = 0.5
# Ingress drains at most this many queued pub/sub messages into one pipelined apply.
INGRESS_BATCH = 500


class SituationLike(Protocol):
    """What the feed needs from ``incidents.situation.Situation`` (``apply_many`` is used when present)."""

    def replace_all(self, incidents: Iterable[Incident]) -> Any:
        """Drop everything held and hold ``incidents`` instead (a rebuild from ``state``)."""

    def apply(self, incident: Incident) -> Any:
        """Hold ``incident`` (the merged state from the log), replacing an older version of it."""


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """A snapshot for ``/healthz`` and the wall's "feed lost" banner.

    ``connected``: both threads have a live Redis connection (the follower alone if ingress is off).
    ``since``: epoch s of the last change of ``connected``. ``lag_s``: for the last log batch handed to the
    Situation, now − the time Redis appended its newest entry (the entry id's ms, corrected for clock offset
    to Redis); 0 when the follower is caught up (last XREAD came back empty). ``accepted``/``rejected``/
    ``duplicates``/``stale``: this process's ingress counters (``store.read_stats`` has the shared ones).
    """

    connected: bool
    since: float
    lag_s: float
    accepted: int
    rejected: int
    duplicates: int
    stale: int
    last_error: str
    ingress_connected: bool
    follower_connected: bool
    rebuilds: int
    applied: int  # log entries handed to the Situation
    last_log_id: str
    # Times the ingress lost its subscription after it was up: Redis went away, or cut this subscriber off
    # (``client-output-buffer-limit pubsub``). Bare PUBLISHes in flight then are lost; durable ones are not.
    ingress_drops: int = 0
    # The pub/sub channel the ingress listens on (carries the db number: ``Keys.for_redis_url``).
    channel: str = ""


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Feed:
    """Keep ``situation`` in step with Redis; see the module doc. ``start()``, ``stop()``, ``health()``."""

    def __init__(
        self,
        redis_url: str,
        keys: Keys,
        situation: SituationLike,
        *,
        name: str = "feed",
        ingress: bool = True,
        block_ms: int = 500,
        batch: int = 1000,
        liveness_s: float = 1.5,
        connect_timeout_s: float = 1.0,
        area: AreaGuard | None = None,
        max_future_s: float = MAX_FUTURE_S,
        source_crs: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.metrics = metrics  # Prometheus series (None: not counted); its Redis class counts round trips
        self.keys = keys
        self.situation = situation
        self.name = name
        self.ingress_enabled = ingress
        self.block_ms = block_ms
        self.batch = batch
        self.liveness_s = liveness_s
        self.connect_timeout_s = connect_timeout_s
        self.area = area
        self.max_future_s = max_future_s
        self.source_crs = dict(source_crs or {})  # publishers' default CRS by source (wire.parse_message)
        self.clock = clock
        url_db = Keys.for_redis_url(keys.prefix, redis_url).db
        if url_db != keys.db:
            # Pub/sub ignores the db: this feed would hear (and apply) another deployment's messages.
            log.warning(
                "%s: Keys are for db %d but the Redis URL selects db %d: listening on %s; build them with"
                " Keys.for_redis_url(prefix, url)",
                name,
                keys.db,
                url_db,
                keys.channel,
            )
        apply_many = getattr(situation, "apply_many", None)
        self._apply_batch: Callable[[Sequence[Incident]], Any] = (
            apply_many if callable(apply_many) else self._apply_each
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # health state (guarded by _lock)
        self._ingress_up = False
        self._follower_up = False
        self._connected = False
        self._since = time.time()
        self._lag_s = 0.0
        self._accepted = 0
        self._rejected = 0
        self._duplicates = 0
        self._stale = 0
        self._last_error = ""
        self._rebuilds = 0
        self._applied = 0
        self._last_log_id = ""
        self._ingress_drops = 0
        self._last_event_at = 0.0  # local-clock time Redis appended the newest log entry applied (0: none yet)
        # Redis clock − local clock, measured at each rebuild, so lag is not polluted by clock skew.
        self._clock_offset_s = 0.0

    # -- public --------------------------------------------------------------------------------------------
    def start(self) -> Feed:
        """Start the follower (and ingress, if enabled) threads; returns ``self``. ``RuntimeError`` if started."""
        if self._threads:
            raise RuntimeError("feed already started")
        self._stop.clear()
        targets = [("follower", self._follow)]
        if self.ingress_enabled:
            targets.append(("ingress", self._ingress))
        for role, target in targets:
            t = threading.Thread(target=target, name=f"{self.name}-{role}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Ask both threads to finish and join them (together within ``timeout``)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("%s: thread %s did not stop within %.1f s", self.name, t.name, timeout)
        self._threads = []

    def health(self) -> FeedHealth:
        """The current counters and connection state, read consistently under the feed's lock."""
        with self._lock:
            return FeedHealth(
                connected=self._connected,
                since=self._since,
                lag_s=self._lag_s,
                accepted=self._accepted,
                rejected=self._rejected,
                duplicates=self._duplicates,
                stale=self._stale,
                last_error=self._last_error,
                ingress_connected=self._ingress_up,
                follower_connected=self._follower_up,
                rebuilds=self._rebuilds,
                applied=self._applied,
                last_log_id=self._last_log_id,
                ingress_drops=self._ingress_drops,
                channel=self.keys.channel,
            )

    def last_event_at(self) -> float:
        """When Redis appended the newest log entry this process applied (epoch s on the local clock, corrected
        for the offset to Redis' clock); 0.0 before any. The live push measures its latency from it."""
        return self._last_event_at

    def __enter__(self) -> Feed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- shared helpers ------------------------------------------------------------------------------------
    def _client(self) -> redis.Redis:
        return connect(
            self.redis_url,
            redis_class=redis.Redis if self.metrics is None else self.metrics.redis_class(),
            socket_connect_timeout=self.connect_timeout_s,
            # XREAD BLOCK must fit inside the socket timeout; +1 s is the margin for a busy Redis.
            socket_timeout=self.block_ms / 1000 + 1.0,
            socket_keepalive=True,
            health_check_interval=1,
            # No silent retries: a dead Redis must show as "disconnected" now, and the loops below reconnect.
            retry=Retry(NoBackoff(), 0),
        )

    def _set_up(self, role: str, up: bool, error: str = "") -> None:
        with self._lock:
            if role == "ingress":
                self._ingress_up = up
            else:
                self._follower_up = up
            if error:
                self._last_error = error
            connected = self._follower_up and (self._ingress_up or not self.ingress_enabled)
            if connected != self._connected:
                self._connected = connected
                self._since = time.time()
                changed = True
            else:
                changed = False
        if changed:
            if connected:
                log.info("%s: connected to Redis (%s)", self.name, self.keys.prefix)
            elif self._stop.is_set():  # stop() asked for it: not an outage
                log.info("%s: stopped", self.name)
            else:
                log.warning("%s: feed lost (%s)", self.name, error or role + " disconnected")

    def _error(self, text: str) -> None:
        with self._lock:
            self._last_error = text

    def _wait_backoff(self, backoff: float) -> float:
        self._stop.wait(backoff)
        return min(BACKOFF_MAX_S, backoff * 2)

    # -- follower ------------------------------------------------------------------------------------------
    def _apply_each(self, incidents: Sequence[Incident]) -> None:
        for inc in incidents:
            self.situation.apply(inc)

    def _rebuild(self, client: redis.Redis) -> str:
        """Situation := state; returns the log id to follow from (taken *before* reading the state)."""
        started = time.monotonic()
        last: Any = client.xrevrange(self.keys.log, count=1)
        last_id = as_text(last[0][0]) if last else "0-0"
        local_before = time.time()
        sec, usec = client.time()
        self._clock_offset_s = (sec + usec / 1e6) - (local_before + time.time()) / 2
        errors: list[tuple[str, str]] = []
        incidents = store.load_state(client, self.keys, errors=errors)
        self.situation.replace_all(incidents)
        if errors:
            self._error(f"skipped {len(errors)} corrupt incident(s) in {self.keys.state}, e.g. {errors[0][0]!r}")
        if self.metrics is not None:
            self.metrics.feed_rebuilds.inc()
            self.metrics.feed_lag.set(0.0)
        with self._lock:
            self._rebuilds += 1
            self._last_log_id = last_id
            self._lag_s = 0.0
        log.info(
            "%s: rebuilt %d incidents from %s in %.0f ms; following %s from %s",
            self.name,
            len(incidents),
            self.keys.state,
            (time.monotonic() - started) * 1000,
            self.keys.log,
            last_id,
        )
        return last_id

    def _trimmed_past(self, client: redis.Redis, last_id: str) -> bool:
        """Whether log entries after ``last_id`` may have been trimmed (then the state must be reread)."""
        if last_id == "0-0":
            return False
        info: Any = client.xinfo_stream(self.keys.log)
        first = info.get("first-entry") or info.get(b"first-entry")
        return bool(first) and _id_tuple(as_text(first[0])) > _id_tuple(last_id)

    def _decode_entries(self, entries: Sequence[Any]) -> list[Incident]:
        out: list[Incident] = []
        for entry_id, fields in entries:
            data = fields.get(b"data") if b"data" in fields else fields.get("data")
            try:
                out.append(store.decode_incident(data))
            except (ValueError, KeyError, TypeError) as exc:
                msg = f"corrupt log entry {as_text(entry_id)} in {self.keys.log}: {exc}"
                log.warning("%s: %s (skipped)", self.name, msg)
                self._error(msg)
        return out

    def _follow(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stop.is_set():
            client = self._client()
            try:
                last_id = self._rebuild(client)
                self._set_up("follower", True)
                backoff = BACKOFF_MIN_S
                while not self._stop.is_set():
                    reply: Any = client.xread({self.keys.log: last_id}, count=self.batch, block=self.block_ms)
                    if not reply:
                        with self._lock:
                            self._lag_s = 0.0
                        if self.metrics is not None:
                            self.metrics.feed_lag.set(0.0)
                        continue
                    entries = reply[0][1]
                    if len(entries) >= self.batch and self._trimmed_past(client, last_id):
                        log.warning("%s: fell behind past the log's trim point; rebuilding", self.name)
                        last_id = self._rebuild(client)
                        continue
                    incidents = self._decode_entries(entries)
                    new_last = as_text(entries[-1][0])
                    try:
                        if incidents:
                            self._apply_batch(incidents)
                    except Exception as exc:
                        # A Situation bug must not kill the feed; the next rebuild realigns it.
                        log.exception("%s: situation failed on log batch ending %s", self.name, new_last)
                        self._error(f"situation.apply failed: {exc!r}")
                    last_id = new_last
                    appended = _id_tuple(new_last)[0] / 1000 - self._clock_offset_s  # on the local clock
                    lag = time.time() - appended
                    with self._lock:
                        self._applied += len(incidents)
                        self._last_log_id = new_last
                        self._lag_s = max(0.0, lag)
                    self._last_event_at = appended
                    if self.metrics is not None:
                        self.metrics.applied(len(entries), lag)
            except CONNECTION_ERRORS as exc:
                self._set_up("follower", False, f"follower: Redis connection: {exc}")
            except Exception as exc:
                log.exception("%s: follower failed; rebuilding after backoff", self.name)
                self._set_up("follower", False, f"follower: {refusal(exc, user_of(self.redis_url)) or repr(exc)}")
            finally:
                client.close()
            backoff = self._wait_backoff(backoff)
        self._set_up("follower", False)

    # -- ingress -------------------------------------------------------------------------------------------
    def _ingest(self, client: redis.Redis, raws: list[bytes]) -> None:
        """Parse, apply in one pipeline, dead-letter what is rejected; updates this process's counters.

        One message cannot cost the others: a parse that fails in an unexpected way rejects that message, a
        batch apply that raises is retried one by one (``store.apply_many_isolated``) and the culprit is
        dead-lettered with the error. Only connection errors propagate (the caller resubscribes).
        """
        parsed: list[tuple[WireMessage, bytes]] = []
        rejected: list[tuple[bytes, str, str]] = []  # (raw, reason, incident id or "")
        now = self.clock()
        for raw in raws:
            try:
                parsed.append(
                    (parse_message(raw, now=now, max_future_s=self.max_future_s, source_crs=self.source_crs), raw)
                )
            except WireError as exc:
                rejected.append((raw, exc.reason, id_hint(raw)))
            except Exception as exc:  # a parser bug: this message only
                hint = id_hint(raw)
                log.exception("%s: parser failed on a message", self.name, extra={"incident_id": hint})
                rejected.append((raw, f"cannot parse message: {exc!r}", hint))
        accepted = duplicates = stale = 0
        if self.area is not None and parsed:
            try:
                reasons = self.area.check([m for m, _ in parsed])
            except Exception as exc:  # a locator bug must not stop the feed: let the messages through
                log.exception("%s: area check failed", self.name)
                self._error(f"area check failed: {exc!r}")
            else:
                rejected += [(raw, why, m.id) for (m, raw), why in zip(parsed, reasons, strict=True) if why]
                parsed = [p for p, why in zip(parsed, reasons, strict=True) if not why]
        if parsed:
            results = store.apply_many_isolated(client, self.keys, [m for m, _ in parsed], origin=PUBSUB_ORIGIN)
            for (msg, raw), res in zip(parsed, results, strict=True):
                if res.outcome is Outcome.APPLIED:
                    accepted += 1
                elif res.outcome is Outcome.DUPLICATE:
                    duplicates += 1
                elif res.outcome is Outcome.STALE:
                    stale += 1
                else:
                    rejected.append((raw, res.detail, msg.id))
        for raw, reason, incident_id in rejected:
            kind = self.metrics.reject("pubsub", reason).value if self.metrics is not None else ""
            log.warning(
                "%s: rejected message%s on %s: %s",
                self.name,
                f" for incident {incident_id}" if incident_id else "",
                self.keys.channel,
                ascii(reason),
                extra={"incident_id": incident_id, "reason": kind, "via": "pubsub"},
            )
            store.dead_letter(client, self.keys, raw, reason, source=f"pubsub:{self.name}")
        if self.metrics is not None:
            self.metrics.outcome("pubsub", "accepted", accepted)
            self.metrics.outcome("pubsub", "duplicate", duplicates)
            self.metrics.outcome("pubsub", "stale", stale)
        with self._lock:
            self._accepted += accepted
            self._duplicates += duplicates
            self._stale += stale
            self._rejected += len(rejected)
            if rejected:
                self._last_error = f"rejected message: {rejected[-1][1]}"

    def _ingress(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._stop.is_set():
            client = self._client()
            pubsub = client.pubsub()
            up = False
            try:
                pubsub.subscribe(self.keys.channel)
                self._await_subscribed(pubsub)
                self._set_up("ingress", True)
                up = True
                backoff = BACKOFF_MIN_S
                self._listen(client, pubsub)
            except CONNECTION_ERRORS as exc:
                self._ingress_lost(up, f"ingress: Redis connection: {exc}")
            except Exception as exc:
                log.exception("%s: ingress failed; resubscribing after backoff", self.name)
                self._ingress_lost(up, f"ingress: {refusal(exc, user_of(self.redis_url)) or repr(exc)}")
            finally:
                pubsub.close()
                client.close()
            backoff = self._wait_backoff(backoff)
        self._set_up("ingress", False)

    def _ingress_lost(self, was_up: bool, error: str) -> None:
        if was_up and not self._stop.is_set():
            with self._lock:
                self._ingress_drops += 1
            log.warning("%s: subscription on %s dropped (%s); resubscribing", self.name, self.keys.channel, error)
        self._set_up("ingress", False, error)

    def _await_subscribed(self, pubsub: redis.client.PubSub) -> None:
        """Block until Redis confirms the SUBSCRIBE, so "connected" means messages are being received."""
        deadline = time.monotonic() + self.liveness_s + self.connect_timeout_s
        while time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.1)
            if msg is not None and msg["type"] == "subscribe":
                return
        raise redis.exceptions.TimeoutError("no SUBSCRIBE confirmation from Redis")

    def _listen(self, client: redis.Redis, pubsub: redis.client.PubSub) -> None:
        last_rx = time.monotonic()
        ping_sent: float | None = None
        while not self._stop.is_set():
            msg = pubsub.get_message(timeout=0.2)
            now = time.monotonic()
            if msg is None:
                # Idle: prove the connection is alive (a half-open TCP connection never errors by itself).
                if ping_sent is None and now - last_rx > self.liveness_s / 3:
                    pubsub.ping("onescreen-liveness")
                    ping_sent = now
                elif ping_sent is not None and now - ping_sent > self.liveness_s:
                    raise redis.exceptions.TimeoutError(f"no PONG on the pub/sub connection in {self.liveness_s} s")
                continue
            last_rx = now
            ping_sent = None
            if msg["type"] != "message":
                continue
            raws = [msg["data"]]
            while len(raws) < INGRESS_BATCH:
                more = pubsub.get_message(timeout=0.0)
                if more is None:
                    break
                if more["type"] == "message":
                    raws.append(more["data"])
            self._ingest(client, raws)
