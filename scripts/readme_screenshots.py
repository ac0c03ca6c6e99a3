"""Take the README's screenshots: the wall at 1080p, 4K and 32:9, the officials' page drilled into a community, and
a district wall (the city-scale data set). Each from a real `onescreen demo` (simulator) on the Redis of `$REDIS_URL`
(default db 15 of the local Redis) under a key prefix of its own, deleted afterwards; signed in as the tests sign in
(an admin session made in that Redis: tests/support/auth.py). Headless Chromium; run
`python scripts/readme_screenshots.py` from the repository root (a few minutes; the city set is generated once).
Writes JPEGs into docs/screens/; names given as arguments (`python scripts/readme_screenshots.py district-wall.jpg`)
take only those shots (and start only the demos they need)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incidents.keys import Keys  # noqa: E402
from incidents.redis_server import free_port  # noqa: E402
from tests.support.auth import provision, tracked, unregister  # noqa: E402
from tests.support.browser import MAP_IDLE_JS, chromium, wait_until_live  # noqa: E402
from tests.support.keyspace import delete_prefix  # noqa: E402
from tests.support.server import stop_process, wait_http  # noqa: E402

OUT = ROOT / "docs" / "screens"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
QUALITY = 72  # JPEG quality: small files, text still sharp


@contextmanager
def demo(data: Path | None, state: Path) -> Iterator[str]:
    """A `onescreen demo` (its simulator at 1 incident/s) with a signed-in admin; yields its URL."""
    port = free_port()
    prefix = f"shots-{uuid.uuid4().hex[:8]}"
    keys = Keys.for_redis_url(prefix, REDIS_URL)
    client = redis.Redis.from_url(REDIS_URL)
    url = f"http://127.0.0.1:{port}"
    provision(client, keys, url)  # before the start: the demo then makes no account of its own
    state.mkdir(parents=True, exist_ok=True)
    log = state / "server.log"
    env = {
        **os.environ,
        "REDIS_URL": REDIS_URL,
        "ONESCREEN_PREFIX": prefix,
        "ONESCREEN_STATE_DIR": str(state),
        "ONESCREEN_WALL_PULSE": "0",
    }
    cmd = [sys.executable, "-m", "dashboard.cli", "demo", "--port", str(port)]  # the normal day the README shows
    if data is not None:
        cmd += ["--data", str(data)]
    with log.open("wb") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_http(url + "/healthz", proc, log, timeout=300)
        yield url
    finally:
        stop_process(proc)
        unregister(url)
        delete_prefix(client, prefix)
        client.close()


def open_count(url: str) -> int:
    with urllib.request.urlopen(url + "/api/summary", timeout=30) as r:
        return int(json.load(r)["kpis"]["open"])


def shoot(browser: Any, url: str, name: str, width: int, height: int) -> None:
    """One screenshot once the page is live and its map framed and drawn."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    wait_until_live(page, 120_000)
    if "/wall" in url:  # the wall shows its map once framed for the screen (assets/onescreen.js)
        page.wait_for_selector(".os-wall .js-plotly-plot.os-framed", state="attached", timeout=120_000)
    page.wait_for_function(MAP_IDLE_JS, arg="#" + ("wall-map" if "/wall" in url else "console-map"), timeout=120_000)
    page.wait_for_timeout(1500)  # the live push catches up: a picture, not a test
    page.screenshot(path=str(OUT / name), type="jpeg", quality=QUALITY)
    context.close()
    print("wrote", OUT / name, f"{(OUT / name).stat().st_size // 1024} KB")


DEMO_SHOTS = ("wall-1080p.jpg", "wall-4k.jpg", "wall-32x9.jpg", "console-community.jpg")
CITY_SHOTS = ("district-wall.jpg",)


def main(names: list[str]) -> int:
    """``names``: the shots to take (``DEMO_SHOTS``, ``CITY_SHOTS``); empty: all. 2 for an unknown name."""
    unknown = set(names) - {*DEMO_SHOTS, *CITY_SHOTS}
    if unknown:
        print("unknown shots:", ", ".join(sorted(unknown)), "— known:", ", ".join((*DEMO_SHOTS, *CITY_SHOTS)))
        return 2
    wanted = set(names) or {*DEMO_SHOTS, *CITY_SHOTS}
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, chromium() as raw:
        browser = tracked(raw)
        if wanted & set(DEMO_SHOTS):
            shoot_demo(browser, Path(tmp) / "demo", wanted)
        if wanted & set(CITY_SHOTS):
            from bench.env import city_path

            with demo(city_path(), Path(tmp) / "city") as url:
                shoot(browser, url + "/wall", "district-wall.jpg", 1920, 1080)
    return 0


def shoot_demo(browser: Any, state: Path, wanted: set[str]) -> None:
    """The demo data set's shots among ``wanted``."""
    with demo(None, state) as url:
        deadline = time.time() + 120
        while open_count(url) < 30 and time.time() < deadline:
            time.sleep(2)
        with urllib.request.urlopen(url + "/api/areas", timeout=30) as r:
            comm = next(a["ref"] for a in json.load(r)["areas"] if a["kind"] == "community")
        shots = {
            "wall-1080p.jpg": (url + "/wall", 1920, 1080),
            "wall-4k.jpg": (url + "/wall", 3840, 2160),
            "wall-32x9.jpg": (url + "/wall", 3840, 1080),
            "console-community.jpg": (url + f"/?area={comm}", 1600, 900),
        }
        for name, (page_url, width, height) in shots.items():
            if name in wanted:
                shoot(browser, page_url, name, width, height)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
