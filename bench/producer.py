"""A separate producer process for the ingest bench: new incidents at a paced rate, bare PUBLISH or durable.

``python -m bench.producer --redis-url U --prefix P --rate R --seconds S --points F.npy [--durable]``
prints one JSON line at the end: ``{"sent", "first", "last", "seconds", "rate"}`` (epoch seconds). Pacing: every
~5 ms it sends what is due since the start (rate × elapsed) in one pipeline, so the offered rate is steady and a
slow Redis shows as a lower achieved rate rather than as a burst later.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import redis

from incidents.keys import Keys
from incidents.publish import publish_many

CATEGORIES = ("environment", "dispute", "safety_hazard", "public_service", "traffic", "infrastructure")
TITLES = ("楼道堆放杂物", "邻里噪音纠纷", "电动车楼道充电", "医保政策咨询", "非机动车乱停放", "路灯不亮")
MAX_PIPELINE = 2000


def messages(run: str, points: np.ndarray, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Endless stream of first messages of new incidents (unique ids ``{run}-{n}``)."""
    rng = np.random.default_rng(seed)
    n = 0
    while True:
        idx = rng.integers(0, len(points), 1024)
        cats = rng.integers(0, len(CATEGORIES), 1024)
        for i, c in zip(idx.tolist(), cats.tolist(), strict=True):
            n += 1
            yield {
                "id": f"{run}-{n:07d}",
                "status": "reported",
                "ts": round(time.time(), 3),
                "lon": round(float(points[i, 0]), 6),
                "lat": round(float(points[i, 1]), 6),
                "category": CATEGORIES[c],
                "title": TITLES[c],
                "priority": "normal",
                "source": "bench",
            }


def produce(
    client: redis.Redis, keys: Keys, points: np.ndarray, rate: float, seconds: float, *, durable: bool, run: str
) -> dict[str, float]:
    stream = messages(run, points)
    sent = 0
    total = int(rate * seconds)
    start = time.time()
    first = last = start
    while sent < total:
        now = time.time()
        due = min(total, int((now - start) * rate) + 1) - sent
        if due <= 0:
            time.sleep(0.005)
            continue
        batch = [next(stream) for _ in range(min(due, MAX_PIPELINE))]
        if durable:
            publish_many(client, keys, batch, source="bench", chunk=500)
        else:
            pipe = client.pipeline(transaction=False)
            for msg in batch:
                pipe.publish(keys.channel, json.dumps(msg, ensure_ascii=False))
            pipe.execute()
        if sent == 0:
            first = now
        sent += len(batch)
        last = time.time()
    span = max(last - first, 1e-9)
    return {"sent": sent, "first": first, "last": last, "seconds": span, "rate": sent / span}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.producer")
    p.add_argument("--redis-url", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--points", required=True, help=".npy file with an (n, 2) lon/lat array")
    p.add_argument("--run", default="B")
    p.add_argument("--durable", action="store_true")
    args = p.parse_args(argv)
    client = redis.Redis.from_url(args.redis_url, socket_timeout=30)
    points = np.load(args.points)
    stats = produce(
        client,
        Keys.for_redis_url(args.prefix, args.redis_url),
        points,
        args.rate,
        args.seconds,
        durable=args.durable,
        run=args.run,
    )
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
