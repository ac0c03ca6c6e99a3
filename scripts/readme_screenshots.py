"""Take the README's screenshots: the wall at 1080p, 4K and 32:9, the officials' page drilled into a community, and
a district wall (the city-scale data set). Each from a real `onescreen demo` (embedded Redis, simulator) in
headless Chromium; run `python scripts/readme_screenshots.py` from the repository root (a few minutes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incidents.redis_server import free_port  # noqa: E402
from tests.support.browser import chromium, wait_until_live  # noqa: E402
from tests.support.server import stop_process, wait_http  # noqa: E402

OUT = ROOT / "docs" / "screens"


def demo(data: Path | None, state: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = state / "server.log"
    state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ONESCREEN_STATE_DIR": str(state), "ONESCREEN_WALL_PULSE": "0"}
    env.pop("REDIS_URL", None)
    cmd = [sys.executable, "-m", "dashboard.cli", "demo", "--port", str(port), "--rate", "1"]
    if data is not None:
        cmd += ["--data", str(data)]
    with log.open("wb") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/wall", proc, log, timeout=180)
    return proc, url


def open_count(url: str) -> int:
    with urllib.request.urlopen(url + "/api/summary", timeout=30) as r:
        return int(json.load(r)["kpis"]["open"])


def shoot(browser: object, url: str, name: str, width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(url)
    wait_until_live(page, 60_000)
    page.wait_for_timeout(4000)  # let MapLibre settle and the live push catch up: a picture, not a test
    page.screenshot(path=str(OUT / name), type="jpeg", quality=82)
    context.close()
    print("wrote", OUT / name)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = demo(None, Path(tmp) / "demo")
        try:
            deadline = time.time() + 120
            while open_count(url) < 30 and time.time() < deadline:
                time.sleep(2)
            with urllib.request.urlopen(url + "/api/areas", timeout=30) as r:
                comm = next(a["ref"] for a in json.load(r)["areas"] if a["kind"] == "community")
            with chromium() as browser:
                shoot(browser, url + "/wall", "wall-1080p.jpg", 1920, 1080)
                shoot(browser, url + "/wall", "wall-4k.jpg", 3840, 2160)
                shoot(browser, url + "/wall", "wall-32x9.jpg", 3840, 1080)
                shoot(browser, url + f"/?area={comm}", "console-community.jpg", 1600, 900)
        finally:
            stop_process(proc)
        from bench.env import city_path

        proc, url = demo(city_path(), Path(tmp) / "city")
        try:
            with chromium() as browser:
                shoot(browser, url + "/wall", "district-wall.jpg", 1920, 1080)
        finally:
            stop_process(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
