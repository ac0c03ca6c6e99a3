"""Running a Runtime: embedded Redis (demo), the Runtime's parts, uvicorn; or the simulator alone."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import signal
import threading
from contextlib import ExitStack
from types import FrameType

import redis
import uvicorn

from dashboard import demo_redis
from dashboard.access.startup import DEMO_ADMIN, demo_credentials, refuse_unprotected, shown_addresses
from dashboard.runtime import Runtime, build_runtime, load_geo, redis_client, simulator_for
from dashboard.settings import Settings
from incidents.keys import Keys
from incidents.redis_server import EmbeddedRedis, shown_url
from incidents.simulator import MAX_LIFE_H

DEMO_BACKFILL_H = 24.0


def _state_is_empty(client: redis.Redis, keys: Keys) -> bool:
    return int(client.hlen(keys.state)) == 0


def _banner(settings: Settings, runtime: Runtime, creds: tuple[str | None, str] | None, warning: str | None) -> str:
    """What the server prints once it is about to listen: where (the real addresses) and how to get in;
    ``creds``: a demo's (one-time admin password or None, wall token)."""
    access = runtime.access
    hosts = shown_addresses(settings.host)
    base = f"http://{hosts[0]}:{settings.port}"
    lines = ["", "onescreen is up:"]
    if settings.host in ("0.0.0.0", "::"):
        lines.append(f"  listening on all interfaces, port {settings.port} ({', '.join(hosts)})")
    lines += [f"  officials {base}/", f"  health    {base}/healthz"]
    if creds:
        password, wall_token = creds
        lines.append(f"  wall      {base}/wall?key={wall_token}")
        if password:
            lines.append(f"  login: {DEMO_ADMIN} / {password}   (shown once; change it: onescreen user passwd admin)")
        else:
            lines.append(f"  login: {DEMO_ADMIN} (password as printed on the first start)")
    else:
        lines.append(f"  wall      {base}/wall  (needs a link: onescreen wall-link create NAME)")
        if access.accounts.count() == 0:
            lines.append("  no accounts yet: onescreen user add NAME --role admin")
    if warning:
        lines.append(warning)
    lines.append("(Ctrl-C to stop)\n")
    return "\n".join(lines)


M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """At most ``arenas`` glibc malloc arenas for the process (``mallopt(M_ARENA_MAX)``, what ``MALLOC_ARENA_MAX``
    does; a no-op elsewhere). Called before any thread starts. glibc gives each thread that allocates its own
    arena, up to 8 per core, and memory freed in one is not reused by another: the server's threads (frame hub,
    feed, page cache, push steps, request workers) each kept their own high-water mark. Measured on the city set
    with 20 pages connected (bench cityrender, same run): 762 → 684 MB RSS on the wall, 915 → 798 MB on the
    officials' page; first render and CPU per change unchanged within noise. An explicit ``MALLOC_ARENA_MAX``
    in the environment wins."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_ARENA_MAX, arenas)


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's initial value


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> None:
    """Blocks of ``threshold`` bytes or more get their own mapping, returned to the OS when freed
    (``mallopt(M_MMAP_THRESHOLD)``, what ``MALLOC_MMAP_THRESHOLD_`` does; a no-op elsewhere). glibc raises the
    threshold to the size of every mapped block freed (up to 32 MB), so after the first few megabyte-sized pushes
    and page bodies the next ones came from the heap and their high-water mark stayed resident. Measured on the city
    set with 20 pages connected (same session): ~520 → ~490 MB RSS. An explicit ``MALLOC_MMAP_THRESHOLD_`` in the
    environment wins."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_MMAP_THRESHOLD, threshold)


def release_freed_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc ``malloc_trim(0)``; a no-op elsewhere). Loading and indexing
    the city-scale data set leave ~140 MB freed but resident (measured: 920 → 779 MB RSS after building the runtime
    on the bench's city set); glibc only trims the top of the heap by itself."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def run_server(
    settings: Settings,
    *,
    embedded_redis: bool,
    simulate_rate: float | None,
    insecure_demo: bool = False,
    simulate_per_hour: float | None = None,
) -> int:
    """`onescreen demo` / `onescreen serve`: blocks until Ctrl-C. ``SettingsError`` when it must not start.
    ``simulate_per_hour``: simulate a normal day (incidents per hour on average); ``simulate_rate``: a constant
    rate per second with compressed lifecycles instead (load tests); neither: no simulator."""
    from dashboard.app import create_app

    limit_malloc_arenas()
    fix_mmap_threshold()
    with ExitStack() as stack:
        url = settings.redis_url
        if not url:
            if not embedded_redis:
                raise RuntimeError("no REDIS_URL")
            server = stack.enter_context(EmbeddedRedis(settings.state_dir / "redis", requirepass=True))
            url = server.url  # holds the generated password: never printed (shown_url)
            demo_redis.record(settings.state_dir, url)  # for `onescreen snapshot` & co. (0600)
            stack.callback(demo_redis.forget, settings.state_dir, url)
            print(f"onescreen: embedded redis-server at {server.shown_url} (data in {settings.state_dir / 'redis'})")
        runtime = build_runtime(settings, url)
        demo = embedded_redis or simulate_rate is not None
        creds = demo_credentials(runtime.access) if demo else None  # before the check: a demo has its admin
        warning = refuse_unprotected(runtime.access, settings.host, insecure_demo=insecure_demo)
        if simulate_rate:
            empty = _state_is_empty(runtime.redis, runtime.keys)
            runtime.attach_simulator(simulate_rate, backfill_hours=DEMO_BACKFILL_H if empty else 0.0)
        elif simulate_per_hour:
            # a backfill as long as the longest lifecycle: the demo starts in its steady state
            empty = _state_is_empty(runtime.redis, runtime.keys)
            backfill = float(MAX_LIFE_H) if empty else 0.0
            runtime.attach_simulator(0.0, backfill_hours=backfill, per_hour=simulate_per_hour)
        stack.enter_context(runtime)
        if settings.briefing_warm:  # off the startup path: fc-list and the browser's start run on their own thread
            threading.Thread(target=runtime.warm_exporter, name="warm-exporter", daemon=True).start()
        app = create_app(settings, runtime)
        print(_banner(settings, runtime, creds, warning), flush=True)
        # No permessage-deflate: a push is ~2 KB and the same bytes go to every wall, but deflate runs per
        # connection — with 50 walls it was a tenth of the event loop's time (bench fanout). Screens sit on a LAN.
        config = uvicorn.Config(
            app.server,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ws="websockets-sansio",
            proxy_headers=False,  # the access gate reads X-Forwarded-* itself, from ONESCREEN_TRUSTED_PROXIES only
            ws_per_message_deflate=False,
            # JSON logs: uvicorn's own loggers go through the root logger's JSON handler, not its text config
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )
        # Everything built so far (layers, situation, Dash app) lives as long as the process: move it out of the
        # cyclic collector's reach, so each full collection walks only what connections and frames allocate.
        gc.collect()
        gc.freeze()
        release_freed_heap()
        uvicorn.Server(config).run()
    return 0


def run_simulator_forever(
    settings: Settings, redis_url: str, *, rate: float | None, backfill: float, per_hour: float = 12.0
) -> int:
    """`onescreen simulate`: no dashboard, just incidents into Redis through the durable path: a normal day at
    ``per_hour`` on average, or (``rate`` given) a constant ``rate`` per second with compressed lifecycles."""
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    client = redis_client(redis_url, 5.0)
    keys = Keys.for_redis_url(settings.redis_prefix, redis_url)
    sim = simulator_for(load_geo(settings), client, keys, rate or 0.0, per_hour=None if rate else per_hour)
    pace = f"{rate}/s" if rate else f"a normal day, {per_hour:g}/h on average"
    print(f"simulating {pace} into {shown_url(redis_url)} (Ctrl-C to stop)", flush=True)
    if backfill > 0:
        sim.backfill(hours=backfill)
    sim.run(stop)
    client.close()
    return 0
