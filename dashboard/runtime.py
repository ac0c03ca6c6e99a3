"""The long-lived parts of one server process: static layers, spatial index, situation, feed, map base.

Built once from Settings and handed to create_app; the screens' callbacks read from it and never build their own.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import redis

from dashboard.figures.incident_map import MapBase
from dashboard.frames import Frame
from dashboard.settings import Settings
from geo.index import SpatialIndex
from geo.layers import GeoLayers
from geo.sources import load_layers
from incidents.area import AreaGuard
from incidents.feed import Feed
from incidents.keys import Keys
from incidents.situation import Situation
from incidents.sla import SlaPolicy

log = logging.getLogger(__name__)


class RenderedFrames:
    """The frames pages were rendered with, by page token (bounded), so the first live push is a diff too."""

    def __init__(self, capacity: int = 64) -> None:
        self._frames: OrderedDict[str, Frame] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def put(self, token: str, frame: Frame) -> None:
        with self._lock:
            self._frames[token] = frame
            while len(self._frames) > self._capacity:
                self._frames.popitem(last=False)

    def get(self, token: object) -> Frame | None:
        with self._lock:
            return self._frames.get(token) if isinstance(token, str) else None


@dataclass
class Runtime:
    settings: Settings
    redis_url: str
    layers: GeoLayers
    index: SpatialIndex
    situation: Situation
    keys: Keys
    feed: Feed
    boot_id: str
    rendered: RenderedFrames = field(default_factory=RenderedFrames)

    @cached_property
    def redis(self) -> redis.Redis:
        """A client for request handlers (API reads); the feed keeps its own connections."""
        return redis.Redis.from_url(self.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)

    @cached_property
    def map_base(self) -> MapBase:
        return MapBase.from_layers(self.layers)

    @property
    def street_name(self) -> str:
        return str(self.layers.street["name"].iloc[0]) if len(self.layers.street) else "onescreen"

    def start(self) -> None:
        self.feed.start()

    def stop(self) -> None:
        self.feed.stop()


def load_sla(settings: Settings) -> SlaPolicy:
    if settings.sla_path is None:
        return SlaPolicy()
    import json

    return SlaPolicy.from_dict(json.loads(settings.sla_path.read_text(encoding="utf-8")))


def build_runtime(settings: Settings, redis_url: str) -> Runtime:
    """Read and index the layers, create the situation and its feed (not started)."""
    layers = load_layers(settings.data_path, settings.config_path)
    index = SpatialIndex(layers)
    boot_id = uuid.uuid4().hex[:8]
    situation = Situation(index.locate, load_sla(settings), boot_id=boot_id)
    keys = Keys(settings.redis_prefix)
    # Points outside the grids (or with lat/lon swapped) are dead-lettered by the feed, not put on the map.
    feed = Feed(redis_url, keys, situation, area=AreaGuard.of(layers.grids.total_bounds, index.locate))
    log.info("loaded %s", settings.config_path or settings.data_path)
    return Runtime(
        settings=settings,
        redis_url=redis_url,
        layers=layers,
        index=index,
        situation=situation,
        keys=keys,
        feed=feed,
        boot_id=boot_id,
    )
