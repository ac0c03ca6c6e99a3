"""Running the pieces together: embedded Redis (demo), feed, simulator thread, uvicorn."""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import ExitStack
from types import FrameType

import redis
import uvicorn

from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings
from geo.sources import load_layers
from incidents.keys import Keys
from incidents.publish import publish
from incidents.redis_server import EmbeddedRedis
from incidents.simulator import Simulator

log = logging.getLogger(__name__)


def _simulator(settings: Settings, redis_url: str, rate: float, seed: int | None = None) -> Simulator:
    """A simulator that writes through the durable publish path, placing incidents inside the grids."""
    layers = load_layers(settings.data_path, settings.config_path)
    client = redis.Redis.from_url(redis_url, socket_timeout=5.0)
    keys = Keys(settings.redis_prefix)
    members = layers.members
    points = list(zip(members.geometry.x.to_numpy(), members.geometry.y.to_numpy(), strict=True))
    if not points:  # a user's data set with grids only: incidents at label points of the micro-grids
        from geo.display import representative_points

        pts = representative_points(layers.micro_grids, "micro_grid_id")
        points = list(zip(pts["lon"].to_numpy(), pts["lat"].to_numpy(), strict=True))
    import numpy as np

    def send(message: dict[str, object]) -> object:
        try:
            return publish(client, keys, message, source="simulator")
        except redis.RedisError as exc:  # Redis away: drop this step's message, the next step retries
            log.warning("simulator: Redis unavailable (%s); message %s not sent", exc, message.get("id"))
            return None

    return Simulator(
        points=np.asarray(points),
        rate_per_s=rate,
        publish=send,
        seed=seed if seed is not None else int(time.time()),
        assignees=members["member_id"].tolist(),
    )


def _run_simulator_thread(sim: Simulator, stop: threading.Event, backfill_hours: float) -> threading.Thread:
    def run() -> None:
        if backfill_hours > 0:
            sim.backfill(hours=backfill_hours)
        sim.run(stop)

    thread = threading.Thread(target=run, name="simulator", daemon=True)
    thread.start()
    return thread


def _state_is_empty(redis_url: str, keys: Keys) -> bool:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.hlen(keys.state)) == 0
    finally:
        client.close()


def run_server(settings: Settings, *, embedded_redis: bool, simulate_rate: float | None) -> int:
    """`onescreen demo` / `onescreen serve`: blocks until Ctrl-C."""
    from dashboard.app import create_app

    stop = threading.Event()
    with ExitStack() as stack:
        url = settings.redis_url
        if not url:
            if not embedded_redis:
                raise RuntimeError("no REDIS_URL")
            server = stack.enter_context(EmbeddedRedis(settings.state_dir / "redis"))
            url = server.url
            print(f"onescreen: embedded redis-server at {url} (data in {settings.state_dir / 'redis'})")
        runtime: Runtime = build_runtime(settings, url)
        runtime.start()
        stack.callback(runtime.stop)
        if simulate_rate:
            backfill = 24.0 if _state_is_empty(url, runtime.keys) else 0.0
            sim = _simulator(settings, url, simulate_rate)
            _run_simulator_thread(sim, stop, backfill)
            stack.callback(stop.set)
        app = create_app(settings, runtime)
        shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        print(
            f"\nonescreen is up:\n  wall      http://{shown_host}:{settings.port}/wall\n"
            f"  officials http://{shown_host}:{settings.port}/\n  health    "
            f"http://{shown_host}:{settings.port}/healthz\n(Ctrl-C to stop)\n",
            flush=True,
        )
        config = uvicorn.Config(
            app.server, host=settings.host, port=settings.port, log_level="warning", ws="websockets-sansio"
        )
        uvicorn.Server(config).run()
    return 0


def run_simulator_forever(settings: Settings, redis_url: str, *, rate: float, backfill: float) -> int:
    """`onescreen simulate`: no dashboard, just incidents into Redis."""
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim = _simulator(settings, redis_url, rate)
    thread = _run_simulator_thread(sim, stop, backfill)
    print(f"simulating {rate}/s into {redis_url} (Ctrl-C to stop)", flush=True)
    while thread.is_alive():
        thread.join(0.5)
    return 0
