"""This process's Prometheus metrics (``GET /metrics``): one ``CollectorRegistry`` per ``Runtime``, never the client's
global default, so several runtimes in one process (the tests) keep their own series.

Series (all prefixed ``onescreen_``; README "Operations" lists them with their labels):

* ingest (``incidents.metrics.IngestMetrics``): ``messages_total{via,outcome}``,
  ``messages_rejected_total{via,reason}``, ``feed_lag_seconds``, ``feed_apply_delay_seconds`` (histogram),
  ``feed_applied_entries_total``, ``feed_rebuilds_total``, ``redis_round_trips_total{command}``;
* live path: ``frame_compute_seconds{screen}`` (histogram: one screen context's frame), ``push_latency_seconds``
  (histogram: the Redis time of the newest event a push carries → the push queued for the tab),
  ``push_bytes`` (histogram: the JSON a push sends), ``pages{screen}`` (tabs with a running push loop),
  ``websocket_connections``, ``websocket_refused_total``;
* read when scraped (``StreamCollector``: three Redis commands per scrape, nothing on a hot path):
  ``log_entries``, ``deadletter_entries``, ``feed_backlog_entries`` (log entries after this process's follower
  position, counted up to ``BACKLOG_CAP``), ``incidents`` (in this process's Situation);
* the client's process collector: ``process_resident_memory_bytes``, ``process_cpu_seconds_total``, … (Linux).

Nothing here is labelled with or carries an incident id, a title or a person: labels are fixed sets (screens, ways
in, reasons, Redis command names).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Final

import redis
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from incidents.metrics import IngestMetrics

log = logging.getLogger(__name__)

# No ``*_created`` series (the time each counter was made): they double the output and no dashboard reads them.
# A switch of the client library, for the whole process.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the client leaves it unannotated

SCREENS: Final = ("wall", "console")
BACKLOG_CAP: Final = 1000
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
_BYTES = (256, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 262144, 1048576)


class Metrics:
    """Every series of one server process (module doc), in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        reg = self.registry
        if process:
            ProcessCollector(registry=reg)
        self.ingest = IngestMetrics(reg)
        self.frame_compute = Histogram(
            "onescreen_frame_compute_seconds",
            "Computing one screen context's frame (the frame hub, once per context per tick).",
            ["screen"],
            buckets=_SECONDS,
            registry=reg,
        )
        self.push_latency = Histogram(
            "onescreen_push_latency_seconds",
            "Redis time of the newest event a live push carries -> the push queued for the tab.",
            buckets=_LATENCY,
            registry=reg,
        )
        self.push_bytes = Histogram(
            "onescreen_push_bytes", "Bytes of JSON one live push sends to one tab.", buckets=_BYTES, registry=reg
        )
        self.pages = Gauge(
            "onescreen_pages", "Tabs with a running live push loop, by screen.", ["screen"], registry=reg
        )
        self.ws_connections = Gauge("onescreen_websocket_connections", "Open WebSocket connections.", registry=reg)
        self.ws_refused = Counter(
            "onescreen_websocket_refused", "WebSocket connections refused (per-client cap).", registry=reg
        )
        self._compute = {s: self.frame_compute.labels(s) for s in SCREENS}
        self._pages = {s: self.pages.labels(s) for s in SCREENS}

    def computed(self, screen: str, seconds: float) -> None:
        """One frame of a ``screen`` context took ``seconds`` to compute."""
        child = self._compute.get(screen)
        (child if child is not None else self.frame_compute.labels(screen)).observe(seconds)

    def page(self, screen: str | None, delta: int) -> None:
        """A push loop started (+1) or stopped (-1) showing ``screen`` (None: not known yet, not counted)."""
        if screen is None:
            return
        child = self._pages.get(screen)
        (child if child is not None else self.pages.labels(screen)).inc(delta)

    def watch_streams(
        self, client: Callable[[], redis.Redis], log_key: str, deadletter_key: str, position: Callable[[], str],
        incidents: Callable[[], int],
    ) -> None:  # fmt: skip
        """Read the stream sizes and the follower's backlog when scraped (``StreamCollector``)."""
        self.registry.register(StreamCollector(client, log_key, deadletter_key, position, incidents))

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (``generate_latest``)."""
        return generate_latest(self.registry)


class StreamCollector(Collector):
    """Gauges read from Redis at scrape time: the log's and dead letters' lengths, and how many log entries lie
    after this process's follower position (``position()``: its last applied entry id; capped at ``BACKLOG_CAP``).
    A Redis error leaves them out of that scrape (``up`` and the feed series still tell the story)."""

    def __init__(
        self, client: Callable[[], redis.Redis], log_key: str, deadletter_key: str, position: Callable[[], str],
        incidents: Callable[[], int],
    ) -> None:  # fmt: skip
        self.client = client
        self.log_key = log_key
        self.deadletter_key = deadletter_key
        self.position = position
        self.incidents = incidents

    def describe(self) -> Iterator[Metric]:
        """The families this collector yields (without reading Redis): registration must not call out."""
        yield from self._families({})

    def collect(self) -> Iterator[Metric]:
        """One scrape: three Redis round trips (a pipeline of XLEN, XLEN and the XRANGE after the position)."""
        values: dict[str, float] = {"incidents": float(self.incidents())}
        try:
            r = self.client()
            pipe = r.pipeline(transaction=False)
            pipe.xlen(self.log_key)
            pipe.xlen(self.deadletter_key)
            pos = self.position() or "0-0"
            pipe.xrange(self.log_key, min="(" + pos, max="+", count=BACKLOG_CAP)
            log_len, dead_len, after = pipe.execute()
            values.update(log=float(log_len), dead=float(dead_len), backlog=float(len(after)))
        except (redis.RedisError, OSError) as exc:
            log.debug("metrics: stream sizes unavailable: %s", exc)
        yield from self._families(values)

    def _families(self, values: dict[str, float]) -> Iterator[Metric]:
        spec = (
            ("log", "onescreen_log_entries", "Entries in the change log stream (capped by its MAXLEN)."),
            ("dead", "onescreen_deadletter_entries", "Entries in the dead-letter stream (capped by its MAXLEN)."),
            (
                "backlog",
                "onescreen_feed_backlog_entries",
                f"Log entries after this process's follower position (counted up to {BACKLOG_CAP}).",
            ),
            ("incidents", "onescreen_incidents", "Incidents held in this process's Situation."),
        )
        for key, name, doc in spec:
            family = GaugeMetricFamily(name, doc)
            if key in values:
                family.add_metric([], values[key])
            yield family
