"""`onescreen …` — the command line. Heavy imports stay inside the commands so `--help` is instant."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dashboard.access.cli import add_parsers as add_access_parsers
from dashboard.logs import configure as configure_logging
from dashboard.settings import Settings, SettingsError
from geo.problems import ConfigError, GeoValidationError

if TYPE_CHECKING:
    from dashboard.briefing_export import BriefingSpec
    from dashboard.snapshot import Format

# The demo's normal day: new incidents per hour on average (~480 a day; one a minute or two in the daytime peak).
DEMO_PER_HOUR = 20.0

log = logging.getLogger("onescreen")


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, help="GeoPackage with the layers (default: the demo data)")
    p.add_argument("--config", type=Path, help="onescreen.toml mapping your own data (wins over --data)")


def _add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for a wall PC)")
    p.add_argument("--port", type=int, help="TCP port (default 8050)")
    _add_data_options(p)
    p.add_argument("--lang", choices=["zh", "en"], help="default UI language")
    p.add_argument(
        "--insecure-demo",
        action="store_true",
        help="start on a non-loopback address even with no account configured (nobody can log in until one is added)",
    )


def _add_redis_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--redis-url", help="Redis to use (default: $REDIS_URL)")


def _add_pace_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--per-hour",
        type=float,
        default=DEMO_PER_HOUR,
        help=f"a normal day: new incidents per hour on average, quiet nights and busy days (default {DEMO_PER_HOUR:g})",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="instead of a normal day: a constant R new incidents per second, lifecycles 60x faster (load tests)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        redis_url=getattr(args, "redis_url", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        data_path=getattr(args, "data", None),
        config_path=getattr(args, "config", None),
        lang=getattr(args, "lang", None),
    )


def _require_redis_url(settings: Settings, *, demo: bool = True) -> str:
    """``REDIS_URL`` / ``--redis-url``, else (``demo``) the running demo's embedded Redis (``dashboard.demo_redis``).
    ``SettingsError`` when there is none, or the recorded one does not answer."""
    if settings.redis_url:
        return settings.redis_url
    from dashboard import demo_redis

    url = demo_redis.running_url(settings) if demo else None
    if url is None:
        raise SettingsError("no Redis given: set REDIS_URL or pass --redis-url (or use `onescreen demo`)")
    return url


def cmd_demo(args: argparse.Namespace) -> int:
    """``onescreen demo``: serve with an embedded Redis and the simulator; the exit code."""
    from dashboard.server import run_server

    return run_server(
        _settings(args),
        embedded_redis=True,
        simulate_rate=args.rate,
        simulate_per_hour=args.per_hour,
        insecure_demo=args.insecure_demo,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """``onescreen serve``: serve against ``REDIS_URL``; the exit code (``SettingsError`` without one)."""
    from dashboard.server import run_server

    settings = _settings(args)
    _require_redis_url(settings, demo=False)
    return run_server(settings, embedded_redis=False, simulate_rate=None, insecure_demo=args.insecure_demo)


def cmd_user(args: argparse.Namespace) -> int:
    """``onescreen user add|passwd|disable|enable|list`` (``dashboard.access.cli``); 0, or 2."""
    from dashboard.access.cli import run_user

    return run_user(_settings(args), args)


def cmd_wall_link(args: argparse.Namespace) -> int:
    """``onescreen wall-link create|url|list|revoke`` (``dashboard.access.cli``); 0, or 2."""
    from dashboard.access.cli import run_wall_link

    return run_wall_link(_settings(args), args)


def cmd_apikey(args: argparse.Namespace) -> int:
    """``onescreen apikey create|list|revoke`` (``dashboard.access.cli``); 0, or 2."""
    from dashboard.access.cli import run_apikey

    return run_apikey(_settings(args), args)


def cmd_publish(args: argparse.Namespace) -> int:
    """``onescreen publish``: publish one wire message; prints the result. 0, 1 (Redis error), 2 (rejected)."""
    import redis

    from incidents.connection import connect
    from incidents.keys import Keys
    from incidents.publish import publish
    from incidents.wire import WireError

    settings = _settings(args)
    url = _require_redis_url(settings)
    message: dict[str, object] | str
    try:
        loaded = json.loads(args.json) if args.json else {}
    except json.JSONDecodeError:
        loaded = None
    if isinstance(loaded, dict):
        message = loaded
        for key in ("id", "status", "category", "title", "priority", "assignee", "source"):
            value = getattr(args, key)
            if value is not None:
                message[key] = value
        if args.lon is not None:
            message["lon"] = args.lon
        if args.lat is not None:
            message["lat"] = args.lat
        message.setdefault("ts", time.time())
        message.setdefault("source", "cli")
    else:  # --json that is not a JSON object: the wire rejects it (and dead-letters it) as the feed would
        message = args.json
    r = connect(url, socket_connect_timeout=5, socket_timeout=10)
    try:
        result = publish(r, Keys.for_redis_url(settings.redis_prefix, url), message, source="cli")
    except WireError as exc:
        print(f"rejected: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        shown = re.sub(r"//[^@/]*@", "//***@", url)  # never echo a password
        print(f"onescreen: Redis error at {shown}: {exc}", file=sys.stderr)
        return 1
    finally:
        r.close()
    print(json.dumps({"id": result.id, "outcome": str(result.outcome), "log_id": result.log_id}, ensure_ascii=False))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """``onescreen simulate``: publish simulated incidents to ``REDIS_URL`` until stopped."""
    from dashboard.server import run_simulator_forever

    settings = _settings(args)
    url = _require_redis_url(settings)
    return run_simulator_forever(settings, url, rate=args.rate, backfill=args.backfill, per_hour=args.per_hour)


def cmd_snapshot(args: argparse.Namespace) -> int:
    """``onescreen snapshot``: write the briefing (``dashboard.briefing_export``), now or ``--at`` a past moment,
    of everything or ``--area``, in ``--size``; with ``--every`` a rolling archive in the folder ``--out`` (the
    newest ``--keep``) until Ctrl-C. 0, or 2 for a bad option, or Chromium / CJK fonts missing (one line)."""
    from dashboard.briefing_export import BriefingSpec, parse_every, parse_size
    from dashboard.snapshot import SnapshotError, missing_render_deps
    from incidents.timetravel import parse_at

    settings = _settings(args)
    at: float | None = None
    if args.at:
        if args.every:
            print("onescreen snapshot: --at and --every do not go together", file=sys.stderr)
            return 2
        try:
            at = parse_at(args.at)
        except ValueError as exc:
            print(f"onescreen snapshot: --at: {exc}", file=sys.stderr)
            return 2
        if at > time.time() + 60:
            print(f"onescreen snapshot: --at {args.at!r} is in the future", file=sys.stderr)
            return 2
    fmt: Format = "pdf" if (args.format or ("pdf" if args.out.suffix.lower() == ".pdf" else "png")) == "pdf" else "png"
    try:
        size = parse_size(args.size or ("a4" if fmt == "pdf" else None))
        size.scale(fmt)
        every = parse_every(args.every) if args.every else None
    except ValueError as exc:
        print(f"onescreen snapshot: {exc}", file=sys.stderr)
        return 2
    missing = missing_render_deps()
    if missing:
        print(f"onescreen snapshot: {missing}", file=sys.stderr)
        return 2
    lang = args.lang or settings.lang
    from geo.areas import AreaError

    if every is not None:
        return _snapshot_archive(args, settings, BriefingSpec(
            area=args.area, size=size, fmt=fmt, watermark=args.watermark, lang=lang, masked=not args.unmasked
        ), every)  # fmt: skip
    started = time.perf_counter()
    from dashboard.snapshot_cli import snapshot_from_redis

    try:
        out = snapshot_from_redis(
            settings,
            _require_redis_url(settings),
            args.out,
            lang=lang,
            at=at,
            area=args.area,
            size=size.key,
            fmt=fmt,
            watermark=args.watermark,
            masked=not args.unmasked,
        )
    except AreaError as exc:
        print(f"onescreen snapshot: --area: {exc}", file=sys.stderr)
        return 2
    except SnapshotError as exc:
        print(f"onescreen snapshot: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} in {time.perf_counter() - started:.2f} s")
    return 0


def _snapshot_archive(args: argparse.Namespace, settings: Settings, spec: BriefingSpec, every: float) -> int:
    """``snapshot --every``: one runtime and one warm browser for every round; SIGINT/SIGTERM end it cleanly."""
    import signal
    import threading

    from dashboard.briefing_export import run_archive
    from dashboard.runtime import build_runtime
    from dashboard.snapshot import Snapshotter
    from geo.areas import AreaError

    runtime = build_runtime(settings, _require_redis_url(settings))
    if spec.area:
        try:
            runtime.geo.areas.get(spec.area)
        except AreaError as exc:
            print(f"onescreen snapshot: --area: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: stop.set())
    print(f"onescreen snapshot: every {every:g} s into {args.out} (keeping {args.keep}); Ctrl-C stops", flush=True)
    with Snapshotter(max_pending=1, render_timeout=settings.briefing_timeout_s) as snap:
        written = run_archive(
            runtime,
            spec,
            args.out,
            every_s=every,
            keep=args.keep,
            stop=stop,
            snapshotter=snap,
            say=lambda line: print(line, flush=True),
        )
    print(f"onescreen snapshot: stopped after {written} briefings", flush=True)
    return 0


def cmd_generate_data(args: argparse.Namespace) -> int:
    """``onescreen generate-data``: write a synthetic GeoPackage; the exit code."""
    from geo.cli import run_generate_data

    return run_generate_data(args.out, seed=args.seed, scale=args.scale, grids=args.grids, members=args.members)


def cmd_validate(args: argparse.Namespace) -> int:
    """``onescreen validate``: report (and optionally fix) a geo data set; the exit code."""
    from geo.cli import run_validate

    return run_validate(
        args.path,
        as_json=args.json,
        fix=args.fix,
        encoding=args.encoding,
        assume_crs=args.assume_crs,
        crs_hint=args.crs_hint,
        layer=args.layer,
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``onescreen`` argument parser; each subcommand sets ``func`` to its ``cmd_*``."""
    parser = argparse.ArgumentParser(prog="onescreen", description="一屏知全域 — grid governance command center")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="embedded Redis + demo data + simulator + dashboard")
    _add_server_options(p)
    _add_redis_option(p)
    _add_pace_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="the dashboard alone, on $REDIS_URL")
    _add_server_options(p)
    _add_redis_option(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("publish", help="publish one incident durably (state + log, then PUBLISH)")
    _add_redis_option(p)
    p.add_argument("--json", help="the whole message as JSON; options below override its fields")
    p.add_argument("--id")
    p.add_argument("--status")
    p.add_argument("--category")
    p.add_argument("--title")
    p.add_argument("--priority")
    p.add_argument("--assignee")
    p.add_argument("--source")
    p.add_argument("--lon", type=float)
    p.add_argument("--lat", type=float)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("simulate", help="realistic incidents moving through their lifecycle")
    _add_redis_option(p)
    _add_data_options(p)
    _add_pace_options(p)
    p.add_argument("--backfill", type=float, default=0.0, help="hours of history to write first")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "snapshot", help="briefing PNG/PDF of the situation now or at a past moment; --every: an archive"
    )
    _add_redis_option(p)
    _add_data_options(p)
    p.add_argument(
        "--at",
        help="the situation at this moment, rebuilt from the log: ISO 8601 (2026-11-26T09:00+08:00; "
        "no offset = Beijing time), epoch seconds, or relative (-2h, -90m, -1d)",
    )
    p.add_argument("--lang", choices=["zh", "en"])
    p.add_argument("--area", help="one area only, KIND:ID (e.g. community:C003; GET /api/areas lists them)")
    p.add_argument("--size", help="1920x1080 (default), 3840x2160 (4k), a4 (PNG 2480×3508, or PDF)")
    p.add_argument("--format", choices=["png", "pdf"], help="default: from --out's suffix, else png; pdf: a4 only")
    p.add_argument("--watermark", action="store_true", help="内部资料 / INTERNAL across the page")
    p.add_argument("--unmasked", action="store_true", help="personal data unmasked (default: masked, as for a viewer)")
    p.add_argument("--every", help="a rolling archive: a briefing every 1h / 15m / 30s into the folder --out")
    p.add_argument("--keep", type=int, default=48, help="with --every: the newest N files kept (default 48)")
    p.add_argument("--out", type=Path, default=Path("brief.png"), help="the file; with --every the folder")
    p.set_defaults(func=cmd_snapshot)

    p = sub.add_parser("generate-data", help="deterministic synthetic data set (GeoPackage)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--scale", choices=["demo", "city"], default="demo")
    p.add_argument("--grids", type=int, help="override the number of grids")
    p.add_argument("--members", type=int, help="override the number of party members")
    p.set_defaults(func=cmd_generate_data)

    def access_options(q: argparse.ArgumentParser) -> None:
        _add_redis_option(q)
        _add_data_options(q)
        q.add_argument("--host", help=argparse.SUPPRESS)
        q.add_argument("--port", type=int, help=argparse.SUPPRESS)

    add_access_parsers(sub.add_parser, access_options)
    for name, func in (("user", cmd_user), ("wall-link", cmd_wall_link), ("apikey", cmd_apikey)):
        sub.choices[name].set_defaults(func=func)

    p = sub.add_parser("validate", help="check a data set (onescreen.toml, GeoPackage, folder or file) before go-live")
    p.add_argument("path", type=Path, help="onescreen.toml, a GeoPackage, a folder of layer files, or one file")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.add_argument("--fix", type=Path, metavar="OUT", help="write a repaired copy (.gpkg; one layer: any type)")
    p.add_argument("--encoding", help="text encoding of Shapefiles (default: .cpg, else detected)")
    p.add_argument("--assume-crs", help="CRS for files that have none, e.g. EPSG:4549")
    p.add_argument(
        "--crs-hint",
        choices=["gcj02", "bd09", "wgs84"],
        help="gcj02: coordinates are GCJ-02 (Amap/Tencent/DataV); bd09: BD-09 (Baidu Map); wgs84: as read",
    )
    p.add_argument("--layer", help="which of our layers a single file is (default grids)")
    p.set_defaults(func=cmd_validate)
    return parser


def _join_relative_at(argv: list[str]) -> list[str]:
    """``--at -2h`` → ``--at=-2h``: argparse would take a value starting with ``-`` for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--at" and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1][1:2].isdigit():
            out.append(f"--at={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _log_format() -> Literal["text", "json"]:
    """``ONESCREEN_LOG_FORMAT`` as the Settings read it; ``text`` when the environment is wrong (the command then
    reports that itself, in text)."""
    try:
        return Settings.from_env().log_format
    except SettingsError:
        return "text"


def main(argv: list[str] | None = None) -> int:
    """Run ``onescreen`` with ``argv`` (default ``sys.argv[1:]``); the exit code. Configuration errors are one line
    on stderr and exit 2, Ctrl-C exits 130.
    """
    args = build_parser().parse_args(_join_relative_at(sys.argv[1:] if argv is None else list(argv)))
    configure_logging(_log_format(), verbose=args.verbose)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"onescreen: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, GeoValidationError) as exc:  # the layers cannot be served: say why, no traceback
        print(f"onescreen: {exc}\n(run `onescreen validate` on it for the full report)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `onescreen validate … | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's documented recipe (signal docs)
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
