"""`onescreen snapshot [--at T]`: the situation (now, or at a past moment), read from Redis, as a 1920×1080 PNG."""

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
from incidents.timetravel import situation_at


def snapshot_from_redis(
    settings: Settings, redis_url: str, out: Path, *, lang: str = "zh", at: float | None = None
) -> Path:
    """Write the briefing PNG of the current situation, or of the moment ``at`` (time travel, from the log)."""
    layers = load_layers(settings.data_path, settings.config_path)
    locate = SpatialIndex(layers).locate
    client = redis.Redis.from_url(redis_url, socket_timeout=10.0)
    try:
        if at is None:
            situation = Situation(locate, load_sla(settings))
            situation.replace_all(load_state(client, Keys(settings.redis_prefix)))
            view = situation.view(time.time())
        else:
            view, _ = situation_at(client, Keys(settings.redis_prefix), at, locate, load_sla(settings))
    finally:
        client.close()
    street = str(layers.street["name"].iloc[0]) if len(layers.street) else "onescreen"
    figure = build_briefing(
        MapBase.from_layers(layers),
        view.grid_states,
        view.incidents,
        view.kpis,
        street_name=street,
        now=time.time(),
        lang=lang,
        at=at,
    )
    render_png(figure, out)
    return out
