"""What the Prometheus metrics cost the ingest path: ``python -m bench.metrics_overhead [--messages N] [--rounds R]``.

The same work twice, alternating, on the machine's Redis (``REDIS_URL``, else a private ``redis-server``):

* ``durable``: ``publish_many`` of N new incidents (the HTTP batch / simulator path: parse, area-free apply in
  pipelines of 500), with a counting Redis client and ``IngestMetrics`` vs a plain client and no metrics;
* ``feed``: the feed's ingress step (``Feed._ingest``: parse, pipelined apply, counters) on N bare messages in
  batches of 500, metrics on vs off;
* the increments alone (``IngestMetrics.results`` per message of a batch of 500, ``round_trip`` per command).

Prints the median CPU seconds of this process (``time.process_time``: the client's work, not Redis', and less
disturbed by other loads on a shared machine than wall time) of ``rounds`` runs per mode and the ratio on/off
(1.00 = no measurable cost).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
import timeit
import uuid
from collections.abc import Callable, Iterable

import redis
from prometheus_client import CollectorRegistry

from incidents.feed import Feed
from incidents.keys import Keys
from incidents.metrics import IngestMetrics
from incidents.model import Incident
from incidents.publish import publish_many
from incidents.redis_server import EmbeddedRedis
from incidents.store import ApplyResult, Outcome
from tests.support.keyspace import delete_prefix


class _NoSituation:
    def replace_all(self, incidents: Iterable[Incident]) -> None:
        """Unused: only the ingress step runs."""

    def apply(self, incident: Incident) -> None:
        """Unused: only the ingress step runs."""


def messages(n: int, tag: str) -> list[bytes]:
    now = time.time()
    return [
        json.dumps(
            {
                "id": f"MB-{tag}-{i}",
                "status": "reported",
                "ts": now,
                "lon": 120.29 + (i % 100) * 1e-4,
                "lat": 30.31,
                "category": "environment",
                "title": "楼道堆放杂物",
                "priority": "normal",
            },
            ensure_ascii=False,
        ).encode()
        for i in range(n)
    ]


def durable(url: str, n: int, on: bool) -> float:
    keys = Keys.for_redis_url(f"mbench{uuid.uuid4().hex[:8]}", url)
    metrics = IngestMetrics(CollectorRegistry()) if on else None
    client = (metrics.redis_class() if metrics else redis.Redis).from_url(url)
    payloads = messages(n, keys.prefix)
    try:
        started = time.process_time()
        results = publish_many(client, keys, payloads, source="http", metrics=metrics)
        elapsed = time.process_time() - started
        assert all(r.outcome is Outcome.APPLIED for r in results)
        return elapsed
    finally:
        delete_prefix(client, keys.prefix)
        client.close()


def feed(url: str, n: int, on: bool) -> float:
    keys = Keys.for_redis_url(f"mbench{uuid.uuid4().hex[:8]}", url)
    metrics = IngestMetrics(CollectorRegistry()) if on else None
    f = Feed(url, keys, _NoSituation(), metrics=metrics)  # the ingress step never touches the Situation
    client = f._client()
    raws = messages(n, keys.prefix)
    try:
        started = time.process_time()
        for i in range(0, n, 500):
            f._ingest(client, raws[i : i + 500])
        elapsed = time.process_time() - started
        assert f.health().accepted == n, f.health()
        return elapsed
    finally:
        delete_prefix(client, keys.prefix)
        client.close()


def median_pair(run: Callable[[bool], float], rounds: int) -> tuple[float, float]:
    on: list[float] = []
    off: list[float] = []
    run(True)  # warm: script load, connections, imports
    for i in range(rounds):  # alternate which goes first: neither mode always runs on a warmer cache
        for mode in (False, True) if i % 2 == 0 else (True, False):
            (on if mode else off).append(run(mode))
    return statistics.median(on), statistics.median(off)


def _run(fn: Callable[[str, int, bool], float], url: str, n: int, on: bool) -> float:
    return fn(url, n, on)


def per_call_ns() -> tuple[float, float]:
    metrics = IngestMetrics(CollectorRegistry())
    batch = [ApplyResult(Outcome.APPLIED, "x")] * 500
    loops = 2_000
    results = timeit.timeit(lambda: metrics.results("http", batch), number=loops) / loops / len(batch) * 1e9
    loops = 200_000
    trip = timeit.timeit(lambda: metrics.round_trip("EVALSHA"), number=loops) / loops * 1e9
    return results, trip


def main(argv: list[str] | None = None) -> int:
    """Run and print (module doc); exit 0."""
    p = argparse.ArgumentParser(prog="python -m bench.metrics_overhead", description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--redis-url", default=None, help="default: REDIS_URL, else a private redis-server")
    args = p.parse_args(argv)
    import os
    from contextlib import ExitStack
    from pathlib import Path
    from tempfile import mkdtemp

    with ExitStack() as stack:
        url = args.redis_url or os.environ.get("REDIS_URL")
        if not url:
            url = stack.enter_context(EmbeddedRedis(Path(mkdtemp(prefix="mbench-")))).url
        n = args.messages
        print(f"metrics overhead: {n} messages, median of {args.rounds} runs per mode")
        runs: tuple[tuple[str, Callable[[str, int, bool], float]], ...] = (
            ("durable publish_many", durable),
            ("feed ingress", feed),
        )
        for name, fn in runs:
            on, off = median_pair(functools.partial(_run, fn, url, n), args.rounds)
            print(
                f"  {name:22s} CPU on {on:6.3f} s ({on / n * 1e6:5.1f} µs/msg)   off {off:6.3f} s"
                f" ({off / n * 1e6:5.1f} µs/msg)   ratio on/off {on / off:5.3f}"
            )
        results, trip = per_call_ns()
        print(f"  increments alone: {results:.0f} ns per message (a batch of 500), {trip:.0f} ns per Redis round trip")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
