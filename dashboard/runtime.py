"""The composition root: one ``Runtime`` per process owns every long-lived part, starts and stops them.

``build_runtime(settings, redis_url)`` reads the layers once and wires: spatial index → Situation → Feed (Redis →
Situation) → FrameHub (Situation → frames) → optional Simulator thread, plus the Redis client request handlers
use. ``start()``/``stop()`` (or ``with runtime:``) run them; nothing else in the program builds its own. CLI
commands build a Runtime (or ``load_geo`` alone) instead of re-assembling pieces.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import redis

from dashboard.access.service import Access
from dashboard.figures.incident_map import MapBase
from dashboard.figures.layers import served_layers
from dashboard.frame_hub import FrameHub
from dashboard.metrics import Metrics
from dashboard.replay import Replay
from dashboard.settings import Settings
from dashboard.snapshot import Snapshotter, missing_render_deps
from dashboard.worklist import Directory
from geo.areas import AreaTree, build_area_tree
from geo.columns import point_lonlat
from geo.display import display_layers
from geo.index import SpatialIndex
from geo.layers import GeoLayers
from geo.sources import load_layers
from incidents.area import AreaGuard
from incidents.connection import connect
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.metrics import IngestMetrics
from incidents.publish import publish
from incidents.simulator import Simulator
from incidents.situation import Situation
from incidents.sla import SlaPolicy
from incidents.store import load_state

if TYPE_CHECKING:
    from dashboard.callbacks.live import Tabs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Geo:
    """The static layers and what is derived from them once."""

    layers: GeoLayers
    index: SpatialIndex

    @property
    def area(self) -> AreaGuard:
        """The served area, for the area check of every way in (feed, durable publish, HTTP)."""
        return AreaGuard.of(self.layers.grids.total_bounds, self.index.locate)

    @cached_property
    def areas(self) -> AreaTree:
        """The command levels (district → street → community → grid → micro-grid) of the layers."""
        return build_area_tree(self.layers)

    @property
    def street_name(self) -> str:
        """The street's name from the street layer ("onescreen" without one)."""
        return str(self.layers.street["name"].iloc[0]) if len(self.layers.street) else "onescreen"


# Data sets of at least this many bytes are read in a child process (``read_served_apart``).
READ_APART_BYTES = 32 * 1024 * 1024


def read_served(data_path: Path | None, config_path: Path | None) -> GeoLayers:
    """The layers as a server keeps them (``served_layers`` of ``load_layers``): what no screen shows of a covered
    household dropped, households and members as coordinate columns, strings shared. Raises ``geo.problems``
    errors, ``FileNotFoundError``."""
    layers: GeoLayers = served_layers(load_layers(data_path, config_path))
    return layers


def data_bytes(settings: Settings) -> int:
    """Bytes of the data set ``settings`` name: the GeoPackage (or the files of a data folder), or with a config
    the files in its folder and one level below; 0 when nothing is there."""
    if settings.config_path is not None:
        files = [*settings.config_path.parent.glob("*"), *settings.config_path.parent.glob("*/*")]
    elif settings.data_path.is_dir():
        files = [*settings.data_path.glob("*"), *settings.data_path.glob("*/*")]
    else:
        files = [settings.data_path]
    return sum(f.stat().st_size for f in files if f.is_file())


def read_served_apart(data_path: Path | None, config_path: Path | None) -> GeoLayers | None:
    """``read_served`` in a child Python process (``python -c``: it imports only this module, never the caller's
    main script, and with this process's ``sys.path``), the layers pickled back: reading a city (300,000
    households as shapely Points, their strings …) peaks at twice what the served layers hold, and the freed part
    stays in this process's heap as fragments — read here, a city's layers cost the server ~280 MB, read apart
    ~180 MB. None when the child cannot run or fails (the caller reads in this process, so an error is raised
    there with its own type)."""
    import os
    import pickle
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _READ_APART],
            input=pickle.dumps((data_path, config_path)),
            capture_output=True,
            check=True,
            env=env,
        )
        layers, records = pickle.loads(done.stdout)  # our own child's bytes
    except Exception as exc:  # a bad data set, no room for a child …
        log.info("reading the layers apart failed (%s); reading them in this process", exc)
        return None
    for name, level, message in records:  # the reader's warnings, logged here as if read here
        logging.getLogger(name).log(level, "%s", message)
    served: GeoLayers = layers
    return served


# The child of read_served_apart: (data_path, config_path) pickled on stdin, (layers, log records) on stdout.
_READ_APART = (
    "import pickle, sys\n"
    "result, sys.stdout = sys.stdout.buffer, sys.stderr\n"  # anything printed while reading goes to stderr
    "from dashboard.runtime import _read_served_logged\n"
    "out = _read_served_logged(*pickle.loads(sys.stdin.buffer.read()))\n"
    "result.write(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))\n"
)


def _read_served_logged(
    data_path: Path | None, config_path: Path | None
) -> tuple[GeoLayers, list[tuple[str, int, str]]]:
    """``read_served`` and the (logger name, level, message) of every record of INFO or above it logged."""
    records: list[tuple[str, int, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.name, record.levelno, record.getMessage()))

    root, keep = logging.getLogger(), Keep(logging.INFO)
    level = root.level
    root.setLevel(min(level or logging.INFO, logging.INFO))
    root.addHandler(keep)
    try:
        return read_served(data_path, config_path), records
    finally:
        root.removeHandler(keep)
        root.setLevel(level)


def load_geo(settings: Settings) -> Geo:
    """Read (config or GeoPackage), validate and index the layers, as a server keeps them (``read_served``);
    a data set of ``READ_APART_BYTES`` or more is read in a child process (``read_served_apart``). Raises
    ``geo.problems`` errors."""
    layers = None
    if data_bytes(settings) >= READ_APART_BYTES:
        layers = read_served_apart(settings.data_path, settings.config_path)
    if layers is None:
        layers = read_served(settings.data_path, settings.config_path)
    log.info("loaded %s", settings.config_path or settings.data_path)
    return Geo(layers, SpatialIndex(layers))


def load_sla(settings: Settings) -> SlaPolicy:
    """The SLA policy: defaults, or the JSON file of ``ONESCREEN_SLA``."""
    if settings.sla_path is None:
        return SlaPolicy()
    return SlaPolicy.from_dict(json.loads(settings.sla_path.read_text(encoding="utf-8")))


def redis_client(url: str, timeout_s: float = 2.0, metrics: IngestMetrics | None = None) -> redis.Redis:
    """A client for request handlers and commands (the feed keeps its own connections); with ``metrics``, each of
    its round trips is counted there (``IngestMetrics.redis_class``)."""
    cls = redis.Redis if metrics is None else metrics.redis_class()
    return connect(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, redis_class=cls)


def simulator_for(
    geo: Geo,
    client: redis.Redis,
    keys: Keys,
    rate: float,
    seed: int | None = None,
    *,
    per_hour: float | None = None,
    metrics: IngestMetrics | None = None,
) -> Simulator:
    """A simulator writing through the durable publish path, placing incidents where members live (or at
    micro-grid label points for a grids-only data set). ``per_hour``: a normal day (``Simulator(daily=True)``:
    live and backfill at ``per_hour`` on average, following the daily curve, at real speed); else a constant
    ``rate`` per second with compressed lifecycles (load tests). ``metrics``: its messages are counted there."""
    members = geo.layers.members
    if len(members):
        points = np.column_stack(point_lonlat(members))  # served layers: lon/lat columns (point_columns)
    else:
        from geo.display import representative_points

        pts = representative_points(geo.layers.micro_grids, "micro_grid_id")
        points = np.column_stack([pts["lon"].to_numpy(), pts["lat"].to_numpy()])

    def send(message: dict[str, object]) -> object:
        try:
            return publish(client, keys, message, source="simulator", metrics=metrics)
        except redis.RedisError as exc:  # Redis away: drop this step's message, the next step retries
            log.warning(
                "simulator: Redis unavailable (%s); message %s not sent",
                exc,
                message.get("id"),
                extra={"incident_id": message.get("id")},
            )
            return None

    return Simulator(
        points=points,
        rate_per_s=rate,
        daily=per_hour is not None,
        backfill_per_hour=per_hour if per_hour is not None else 12.0,
        publish=send,
        seed=seed if seed is not None else int(time.time()),
        assignees=members["member_id"].tolist(),
    )


MEMO_MAX = 4096
T = TypeVar("T")


@dataclass
class Runtime:
    """Every long-lived part of one server process (see the module doc)."""

    settings: Settings
    redis_url: str
    geo: Geo
    situation: Situation
    keys: Keys
    feed: Feed
    hub: FrameHub
    boot_id: str
    shown: GeoLayers | None = None  # the layers as drawn (display_layers: shifted over a GCJ-02 basemap)
    simulator: Simulator | None = None
    simulator_backfill_h: float = 0.0
    tabs: Tabs | None = None  # the live push's tab registry, once create_app wired it
    metrics: Metrics = field(default_factory=Metrics)  # this process's Prometheus registry (GET /metrics)
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)
    _snapshotter: Snapshotter | None = field(default=None, repr=False)
    _snap_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key`` for this runtime's life: values that depend only on the static layers
        (an area's layer counts). At most ``MEMO_MAX`` keys (then it starts over)."""
        if key not in self._memo:
            if len(self._memo) >= MEMO_MAX:
                self._memo.clear()
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    @property
    def layers(self) -> GeoLayers:
        """The static layers (EPSG:4326)."""
        return self.geo.layers

    @property
    def shown_layers(self) -> GeoLayers:
        """The layers as the maps draw them (``geo.display.display_layers``); locate with ``layers``."""
        return self.shown if self.shown is not None else self.geo.layers

    @property
    def index(self) -> SpatialIndex:
        """The spatial index over the layers."""
        return self.geo.index

    @property
    def directory(self) -> Directory:
        """Area names and members' names and roles by id, for the work list and its exports."""
        return self.memo("directory", lambda: Directory.of(self.geo.areas, self.layers.members))

    @property
    def street_name(self) -> str:
        """The street's name (see ``Geo.street_name``)."""
        return self.geo.street_name

    @cached_property
    def redis(self) -> redis.Redis:
        """A client for request handlers (API reads, actions); the feed keeps its own connections."""
        return redis_client(self.redis_url, metrics=self.metrics.ingest)

    @cached_property
    def access(self) -> Access:
        """Accounts, login sessions and wall links of this deployment (``dashboard.access``)."""
        return Access(self.settings, self.redis, self.keys)

    @cached_property
    def replay(self) -> Replay:
        """Past moments for the screens (``?at=``, the scrubber): a warm log timeline (``dashboard.replay``)."""
        return Replay(
            lambda: self.redis,
            self.keys,
            self.index.locate,
            self.situation.sla,
            base_for=self.hub.base_for,
            areas=self.geo.areas,
            boot_id=self.boot_id,
        )

    @property
    def map_base(self) -> MapBase:
        """The map's static part (geometry, view), shared by the hub and the pages."""
        return self.hub.base

    def snapshotter(self) -> Snapshotter:
        """The warm kaleido browser for briefing PNGs, started on first use and stopped with the Runtime."""
        with self._snap_lock:
            if self._snapshotter is None:
                self._snapshotter = Snapshotter(
                    max_pending=self.settings.briefing_queue, render_timeout=self.settings.briefing_timeout_s
                ).start()
                self._stack.callback(self._close_snapshotter)
            return self._snapshotter

    def warm_exporter(self) -> str | None:
        """Start the briefing exporter's browser in the background (``Settings.briefing_warm``); the one line
        saying what is missing (``snapshot.missing_render_deps``), logged, instead when it cannot draw."""
        missing = missing_render_deps()
        if missing:
            log.warning("%s", missing)
            return missing
        self.snapshotter()
        return None

    def _close_snapshotter(self) -> None:
        with self._snap_lock:
            snap, self._snapshotter = self._snapshotter, None
        if snap is not None:
            snap.close()

    def attach_simulator(
        self, rate: float, *, backfill_hours: float = 0.0, seed: int | None = None, per_hour: float | None = None
    ) -> None:
        """Run a simulator with the runtime (started by ``start``; backfill first if asked); ``per_hour``: a
        normal day (``simulator_for``)."""
        client = redis_client(self.redis_url, 5.0, self.metrics.ingest)
        self.simulator = simulator_for(
            self.geo, client, self.keys, rate, seed, per_hour=per_hour, metrics=self.metrics.ingest
        )
        self.simulator_backfill_h = backfill_hours

    def load_state_once(self) -> None:
        """Situation := Redis state, without following the log (one-shot commands such as ``snapshot``)."""
        client = redis_client(self.redis_url, 10.0)
        try:
            self.situation.replace_all(load_state(client, self.keys))
        finally:
            client.close()

    def start(self, *, feed: bool = True) -> Runtime:
        """Start the feed, the frame hub and the simulator (if attached); ``stop`` undoes it in reverse."""
        self._stop.clear()
        if feed:
            self.feed.start()
            self._stack.callback(self.feed.stop)
        self.hub.start()
        self._stack.callback(self.hub.stop)
        if self.simulator is not None:
            thread = threading.Thread(target=self._simulate, name="simulator", daemon=True)
            thread.start()
            self._stack.callback(thread.join, 5.0)
            self._stack.callback(self._stop.set)
        return self

    def _simulate(self) -> None:
        sim = self.simulator
        assert sim is not None
        if self.simulator_backfill_h > 0:
            sim.backfill(hours=self.simulator_backfill_h)
        else:  # a restart on the demo's own data: end what the previous run left open, number after it
            try:
                sim.adopt(load_state(self.redis, self.keys))
            except redis.RedisError as exc:
                log.warning("simulator: could not read the state to carry on (%s)", exc)
        sim.run(self._stop)

    def stop(self) -> None:
        """Stop what ``start`` started, in reverse order, and close the request client."""
        self._stack.close()
        if "redis" in self.__dict__:
            self.redis.close()

    def __enter__(self) -> Runtime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self) -> dict[str, Any]:
        """What the live path is doing, for ``/healthz``."""
        return {
            "contexts": [c.key for c in self.hub.contexts()],
            "frames_computed": self.hub.computed,
            "watchers": self.hub.watchers(),
            "push_loops": 0 if self.tabs is None else self.tabs.running(),
            "exporter": None if self._snapshotter is None else self._snapshotter.status(),
        }


def build_runtime(settings: Settings, redis_url: str, *, geo: Geo | None = None) -> Runtime:
    """Read and index the layers (unless ``geo`` is given) and wire every part; nothing is started."""
    geo = geo or load_geo(settings)
    boot_id = uuid.uuid4().hex[:8]
    situation = Situation(
        geo.index.locate, load_sla(settings), boot_id=boot_id, retention_s=settings.retention_days * 86400.0
    )
    keys = Keys.for_redis_url(settings.redis_prefix, redis_url)
    metrics = Metrics()
    # Points outside the grids (or with lat/lon swapped) and future timestamps are dead-lettered by the feed.
    feed = Feed(
        redis_url,
        keys,
        situation,
        area=geo.area,
        max_future_s=settings.max_future_s,
        source_crs=settings.source_crs,
        metrics=metrics.ingest,
    )
    # Drawn over a GCJ-02 basemap, every layer is shifted to match it; everything else stays WGS-84.
    shown = display_layers(geo.layers, settings.tiles_crs if settings.tiles else "wgs84")
    base = replace(
        MapBase.from_layers(shown, micro_grids=False),
        tiles=settings.tiles,
        display_crs="gcj02" if shown is not geo.layers else "wgs84",
    )
    hub = FrameHub(
        situation,
        base,
        boot_id=boot_id,
        tick_s=settings.tick_ms / 1000.0,
        healthy=lambda: feed.health().connected,
        areas=geo.areas,
        overview=base.overview(shown.communities, shown.street) if geo.areas.root.startswith("district:") else None,
        metrics=metrics,
        event_time=feed.last_event_at,
    )
    runtime = Runtime(
        settings=settings,
        redis_url=redis_url,
        geo=geo,
        situation=situation,
        keys=keys,
        feed=feed,
        hub=hub,
        boot_id=boot_id,
        shown=shown,
        metrics=metrics,
    )
    metrics.watch_streams(
        lambda: runtime.redis,
        keys.log,
        keys.deadletter,
        lambda: feed.health().last_log_id,
        lambda: len(situation),
    )
    return runtime
