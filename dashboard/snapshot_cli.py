"""`onescreen snapshot`: the current situation, read from Redis, as a 1920×1080 briefing PNG."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from dashboard.figures.briefing import build_briefing
from dashboard.figures.incident_map import MapBase
from dashboard.runtime import load_sla
from dashboard.settings import Settings
from dashboard.snapshot import render_png
from geo.index import SpatialIndex
from geo.sources import load_layers
from incidents.keys import Keys
from incidents.situation import Situation
from incidents.store import load_state


def snapshot_from_redis(settings: Settings, redis_url: str, out: Path, *, lang: str = "zh") -> Path:
    layers = load_layers(settings.data_path, settings.config_path)
    situation = Situation(SpatialIndex(layers).locate, load_sla(settings))
    client = redis.Redis.from_url(redis_url, socket_timeout=10.0)
    try:
        situation.replace_all(load_state(client, Keys(settings.redis_prefix)))
    finally:
        client.close()
    view = situation.view(time.time())
    street = str(layers.street["name"].iloc[0]) if len(layers.street) else "onescreen"
    figure = build_briefing(
        MapBase.from_layers(layers),
        view.grid_states,
        view.incidents,
        view.kpis,
        street_name=street,
        now=view.now,
        lang=lang,
    )
    render_png(figure, out)
    return out
