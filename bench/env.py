"""What every measurement family shares: sizes per mode, Redis, key prefixes, data sets, small statistics."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import redis

from geo.columns import point_lonlat
from geo.layers import GeoLayers
from onescreen_data import demo_data_path
from tests.support.keyspace import delete_prefix

# The checkout the bench runs from: it is never installed (not in the wheel), and its child processes
# (`python -m bench.…`) import it from here.
ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".onescreen" / "bench"
CITY_DIR = BENCH_DIR / "city"
CITY_SEED = 20261126
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"  # a private db on the machine's Redis; never flushed


@dataclass
class BenchEnv:
    """Sizes and shared resources of one bench run (``quick``: small sizes, short durations)."""

    quick: bool
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    ingest_seconds: float | None = None  # overrides the sustained-ingest duration
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    out_dir: Path = BENCH_DIR
    prefixes: list[str] = field(default_factory=list)

    # ---- sizes ---------------------------------------------------------------------------------------
    @property
    def sustained_s(self) -> float:
        if self.ingest_seconds is not None:
            return float(self.ingest_seconds)
        return 10.0 if self.quick else 60.0

    @property
    def burst_s(self) -> float:
        return 4.0 if self.quick else 10.0

    @property
    def latency_events(self) -> int:
        return 16 if self.quick else 50

    @property
    def size_seconds(self) -> float:
        return 6.0 if self.quick else 20.0

    @property
    def repeats(self) -> int:
        return 15 if self.quick else 60

    # ---- redis ---------------------------------------------------------------------------------------
    def prefix(self, family: str) -> str:
        """A key prefix of its own for one measurement (deleted by ``cleanup``)."""
        p = f"bench-{self.run_id}-{family}"
        self.prefixes.append(p)
        return p

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=30, socket_connect_timeout=5)

    def cleanup(self) -> None:
        """Delete this run's keys and scratch files."""
        client = self.client()
        try:
            for p in self.prefixes:
                delete_prefix(client, p)
        finally:
            client.close()
        for scratch in (self.out_dir / "tmp").glob(f"*-{self.run_id}.*"):
            scratch.unlink(missing_ok=True)


# ---- data sets ---------------------------------------------------------------------------------------


def demo_path() -> Path:
    return Path(demo_data_path())


def city_path(*, create: bool = True) -> Path:
    """The city-scale GeoPackage (10,000 grids, 100,000 members), generated once into .onescreen/bench/city."""
    from geo.synthetic import GPKG_NAME, generate

    path = CITY_DIR / GPKG_NAME
    if not path.exists():
        if not create:
            raise FileNotFoundError(path)
        print(f"  generating the city-scale data set into {CITY_DIR} (once, ~30 s) …", flush=True)
        generate(CITY_DIR, seed=CITY_SEED, scale="city", progress=False)
    return path


@cache
def layers(path: Path) -> GeoLayers:
    from geo.layers import read_layers

    return read_layers(path)


def member_points(lay: GeoLayers) -> np.ndarray:
    """(n, 2) lon/lat of the party members: realistic incident locations inside the grids (the layers as read, or
    as a server keeps them: coordinate columns, ``geo.columns.point_lonlat``)."""
    lon, lat = point_lonlat(lay.members)
    return np.column_stack([lon, lat])


# ---- statistics --------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def median(values: Sequence[float]) -> float | None:
    return pct(values, 50)


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: …`` then ``t[0]`` is the elapsed seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)
