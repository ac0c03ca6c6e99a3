"""Ingest: events/s through the real path — a separate producer process PUBLISHes (bare, or durable via
``publish_many``) → this process's ``Feed`` (SUBSCRIBE → Lua apply → log → XREAD) → ``Situation`` — with zero loss
(every incident counted in the Situation at the end), against ``redis-benchmark`` PUBLISH measured in the same run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import redis

from bench.env import ROOT, BenchEnv, demo_path, layers, member_points, pct
from bench.report import Measurement, failed, ratio
from geo.index import SpatialIndex
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.situation import Situation
from tests.support.wait import wait_for

FAMILY = "ingest"
SUSTAINED_RATE = 5000.0  # the design's budget: ≥ 5,000 events/s sustained with zero loss
BURST_RATE = 20000.0
SAMPLE_PAYLOAD = json.dumps(
    {
        "id": "BENCH-0000001",
        "status": "reported",
        "ts": 1764120600.123,
        "lon": 120.291234,
        "lat": 30.312345,
        "category": "environment",
        "title": "楼道堆放杂物",
        "priority": "normal",
        "source": "bench",
    },
    ensure_ascii=False,
)


# ---- the ceiling: redis-benchmark ------------------------------------------------------------------------


def redis_benchmark_publish(redis_url: str, requests: int, *, pipeline: int = 1) -> float:
    """PUBLISH requests/s by ``redis-benchmark`` (50 clients) with a realistic message, on a channel nobody reads.

    redis-benchmark 7 has no ``-t publish``; it runs arbitrary commands given after the options.
    """
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise RuntimeError("redis-benchmark not on PATH (apt install redis-tools)")
    u = urlparse(redis_url)
    cmd = [exe, "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 6379), "-n", str(requests), "-c", "50"]
    if u.password:
        cmd += ["-a", u.password]
    cmd += ["-P", str(pipeline), "--csv", "PUBLISH", f"bench-{uuid.uuid4().hex[:8]}:nobody", SAMPLE_PAYLOAD]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    # The CSV's first column repeats the command (quotes and commas unescaped): the 7 numbers are at the end.
    line = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith('"test"')][-1]
    return float(line.rsplit(",", 7)[1].strip('"'))


# ---- our path ---------------------------------------------------------------------------------------------


@dataclass
class IngestRun:
    offered_rate: float
    sent: int
    send_rate: float  # achieved by the producer
    applied: int  # incidents in the Situation at the end
    in_redis: int  # HLEN state
    throughput: float  # sent / (last applied − first sent)
    drain_s: float  # last applied − last sent (backlog left when the producer stopped)
    max_backlog: int  # most events sent but not yet in the Situation
    rejected: int
    rebuilds: int
    durable: bool

    @property
    def lost(self) -> int:
        return self.sent - self.applied


def _points_file(env: BenchEnv) -> Path:
    path = env.out_dir / "tmp" / f"points-{env.run_id}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        np.save(path, member_points(layers(demo_path())))
    return path


@contextmanager
def _connected_feed(env: BenchEnv, label: str) -> Iterator[tuple[Keys, Situation, Feed, redis.Redis]]:
    """A Feed into a fresh Situation on its own key prefix, connected; stopped (and the client closed) after."""
    keys = Keys.for_redis_url(env.prefix(label), env.redis_url)
    situation = Situation(SpatialIndex(layers(demo_path())).locate)
    feed = Feed(env.redis_url, keys, situation, name=f"bench-{label}")
    client = env.client()
    feed.start()
    try:
        wait_for(lambda: feed.health().connected, 10, message=lambda: f"feed connected ({feed.health().last_error})")
        yield keys, situation, feed, client
    finally:
        feed.stop()
        client.close()


def ingest_run(env: BenchEnv, rate: float, seconds: float, *, durable: bool, label: str) -> IngestRun:
    """Offer ``rate`` events/s for ``seconds`` from a producer process; wait until the Situation has them all."""
    with _connected_feed(env, label) as (keys, situation, feed, client):
        prefix = keys.prefix
        cmd = [
            sys.executable,
            "-m",
            "bench.producer",
            "--redis-url",
            env.redis_url,
            "--prefix",
            prefix,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--points",
            str(_points_file(env)),
            "--run",
            label,
        ]
        if durable:
            cmd.append("--durable")
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            samples: list[tuple[float, int]] = []
            while proc.poll() is None:
                samples.append((time.time(), len(situation)))
                time.sleep(0.05)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"producer failed ({proc.returncode}): {err.strip()[-500:]}")
        stats = json.loads(out.strip().splitlines()[-1])
        sent = int(stats["sent"])
        # Drain: until everything is in, or nothing moved for 5 s (then the rest is lost).
        last_change, last_n = time.monotonic(), len(situation)
        last_applied_at = time.time()
        hard = time.monotonic() + max(60.0, 4 * seconds)
        while last_n < sent and time.monotonic() < hard and time.monotonic() - last_change < 5.0:
            time.sleep(0.02)
            n = len(situation)
            samples.append((time.time(), n))
            if n != last_n:
                last_n, last_change, last_applied_at = n, time.monotonic(), time.time()
        if last_n >= sent and samples and samples[-1][1] >= sent:
            last_applied_at = next(t for t, n in samples if n >= sent)
        first, send_rate = float(stats["first"]), float(stats["rate"])
        backlog = [int(min(sent, send_rate * max(0.0, t - first))) - n for t, n in samples]
        health = feed.health()
        return IngestRun(
            offered_rate=rate,
            sent=sent,
            send_rate=send_rate,
            applied=last_n,
            in_redis=int(client.hlen(keys.state)),
            throughput=last_n / max(last_applied_at - first, 1e-9),
            drain_s=max(0.0, last_applied_at - float(stats["last"])),
            max_backlog=max(backlog, default=0),
            rejected=health.rejected,
            rebuilds=health.rebuilds,
            durable=durable,
        )


def feed_latency(env: BenchEnv, events: int, gap_s: float = 0.05) -> list[float]:
    """publish (bare, raw client) → incident in this process's Situation, ms, one event at a time: the feed's
    share of the event → DOM latency."""
    from bench.producer import messages

    with _connected_feed(env, "feedlat") as (keys, situation, _feed, client):
        stream = messages("FL", member_points(layers(demo_path())))
        out: list[float] = []
        for _ in range(events):
            msg = next(stream)
            version = situation.version
            t0 = time.perf_counter()
            client.publish(keys.channel, json.dumps(msg, ensure_ascii=False))
            limit = t0 + 5.0
            while situation.get(msg["id"]) is None and time.perf_counter() < limit:
                situation.wait_for_change(version, 0.05)
                version = situation.version
            if situation.get(msg["id"]) is not None:
                out.append((time.perf_counter() - t0) * 1000)
            time.sleep(gap_s)
        return out


def _describe(r: IngestRun) -> str:
    path = "durable publish_many" if r.durable else "bare PUBLISH"
    return (
        f"{path}: offered {r.offered_rate:,.0f}/s, producer achieved {r.send_rate:,.0f}/s; sent {r.sent:,}, "
        f"in Situation {r.applied:,} (lost {r.lost:,}), in Redis state {r.in_redis:,}; max backlog {r.max_backlog:,}; "
        f"drain after last send {r.drain_s:.2f} s; rejected {r.rejected}, rebuilds {r.rebuilds}"
    )


def run(env: BenchEnv) -> list[Measurement]:
    out: list[Measurement] = []
    ceiling: float | None = None
    try:
        ceiling = redis_benchmark_publish(env.redis_url, 50_000 if env.quick else 200_000)
        out.append(
            Measurement(
                FAMILY,
                "redis-benchmark PUBLISH (50 clients, no pipeline)",
                ceiling,
                "ev/s",
                note=f"the ceiling/baseline; {len(SAMPLE_PAYLOAD.encode())}-byte message, channel without subscribers",
            )
        )
    except Exception as exc:
        out.append(failed(FAMILY, "redis-benchmark PUBLISH", exc))

    try:
        lat = feed_latency(env, 30 if env.quick else 100)
        out.append(
            Measurement(
                FAMILY,
                "publish → Situation (feed alone), p50",
                pct(lat, 50),
                "ms",
                note=f"p95 {pct(lat, 95) or 0:.1f} ms, max {max(lat, default=0):.1f} ms over {len(lat)} events, one "
                "at a time: SUBSCRIBE → Lua apply → log → XREAD → Situation",
                extra={"ms": lat},
            )
        )
    except Exception as exc:
        out.append(failed(FAMILY, "publish → Situation", exc))

    sustained_s = env.sustained_s
    try:
        r = ingest_run(env, SUSTAINED_RATE, sustained_s, durable=False, label="sustained")
        # Kept up: nothing lost, the producer really offered the rate, and the backlog stayed under 1 s of events.
        ok = r.lost == 0 and r.send_rate >= SUSTAINED_RATE * 0.98 and r.max_backlog <= SUSTAINED_RATE and r.drain_s <= 1
        out.append(
            Measurement(
                FAMILY,
                f"sustained {sustained_s:g} s, bare PUBLISH → Feed → Situation",
                r.throughput,
                "ev/s",
                baseline=ceiling,
                baseline_name="redis-benchmark",
                ratio=ratio(r.throughput, ceiling),
                budget="5,000 ev/s offered: 0 lost, backlog ≤ 1 s",
                passed=ok,
                note=_describe(r),
                extra=vars(r),
            )
        )
    except Exception as exc:
        out.append(failed(FAMILY, "sustained", exc))

    if not env.quick:
        try:
            r = ingest_run(env, SUSTAINED_RATE, min(sustained_s, 30.0), durable=True, label="durable")
            out.append(
                Measurement(
                    FAMILY,
                    f"sustained {min(sustained_s, 30.0):g} s, durable publish_many → Feed → Situation",
                    r.throughput,
                    "ev/s",
                    baseline=ceiling,
                    baseline_name="redis-benchmark",
                    ratio=ratio(r.throughput, ceiling),
                    budget="0 lost",
                    passed=r.lost == 0,
                    note=_describe(r),
                    extra=vars(r),
                )
            )
        except Exception as exc:
            out.append(failed(FAMILY, "durable", exc))

    try:
        r = ingest_run(env, BURST_RATE, env.burst_s, durable=False, label="burst")
        out.append(
            Measurement(
                FAMILY,
                f"burst {BURST_RATE:,.0f} ev/s × {env.burst_s:g} s: achieved send rate",
                r.send_rate,
                "ev/s",
                baseline=ceiling,
                baseline_name="redis-benchmark",
                ratio=ratio(r.send_rate, ceiling),
                note=_describe(r),
                extra=vars(r),
            )
        )
        out.append(
            Measurement(
                FAMILY,
                "burst: applied throughput (send start → all in Situation)",
                r.throughput,
                "ev/s",
                baseline=ceiling,
                baseline_name="redis-benchmark",
                ratio=ratio(r.throughput, ceiling),
                budget="0 lost",
                passed=r.lost == 0,
            )
        )
        out.append(Measurement(FAMILY, "burst: backlog drain time after the last send", r.drain_s, "s"))
    except Exception as exc:
        out.append(failed(FAMILY, "burst", exc))
    return out
