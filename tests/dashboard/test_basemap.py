"""Offline by default, an intranet basemap when asked (``ONESCREEN_TILES``), in a real headless Chromium.

Without a basemap no request leaves the server, whatever the page shows. With one, the wall fetches its tiles
from the configured server (a tile server the test runs), and with GCJ-02 tiles every layer and marker is drawn
shifted by the GCJ-02 offset so they sit on the basemap.
"""

from __future__ import annotations

import json
import threading
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from struct import pack
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from dashboard.figures.incident_map import TRACE_REPORTED
from dashboard.layouts.ids import Console, Wall
from geo.gcj02 import wgs84_to_gcj02
from tests.dashboard.test_console import grid_point_by_community, layers
from tests.support.browser import wait_until_live
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

pytestmark = pytest.mark.browser

WAIT_MS = 15_000


def _png_tile() -> bytes:
    """A 256×256 grey PNG (what a tile server answers)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x80" * 256 for _ in range(256))
    header = pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class TileServer:
    """An XYZ tile server on 127.0.0.1 that records the tiles asked for."""

    def __init__(self) -> None:
        tile = _png_tile()
        asked: list[str] = []
        self.asked = asked

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", str(len(tile)))
                self.end_headers()
                self.wfile.write(tile)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    server = TileServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture(scope="module")
def gcj_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory, tiles: TileServer) -> Iterator[LiveServer]:
    env = {"ONESCREEN_TILES": tiles.url + "/{z}/{x}/{y}.png", "ONESCREEN_TILES_CRS": "gcj02"}
    with spawn_server(redis_url, tmp_path_factory.mktemp("tiles"), env=env) as server:
        yield server


def test_without_a_basemap_no_request_leaves_the_server(live_server: LiveServer, page: Any) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})  # a wall
    origin = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if urlsplit(r.url).netloc != origin else None)
    for path, graph in (("/wall", Wall.MAP), ("/", Console.MAP)):
        page.goto(live_server.url + path)
        wait_until_live(page)
        page.wait_for_function(
            f"() => (document.querySelector('#{graph} .js-plotly-plot') || {{}})._osAckN >= 1", timeout=WAIT_MS
        )
    assert [u for u in elsewhere if not u.startswith(("data:", "blob:"))] == []


def test_a_gcj02_basemap_is_fetched_and_the_layers_sit_on_it(
    gcj_server: LiveServer, tiles: TileServer, page: Any
) -> None:
    page.set_viewport_size({"width": 1920, "height": 1080})  # a wall
    where = next(iter(grid_point_by_community().values()))
    msg = {
        "id": f"T-{uuid.uuid4().hex[:10]}",
        "status": "reported",
        "ts": datetime.now(UTC).isoformat(),
        "lon": where[0],
        "lat": where[1],
        "category": "environment",
        "title": "底图测试",
    }
    assert gcj_server.client.publish(gcj_server.keys.channel, json.dumps(msg, ensure_ascii=False)) >= 1
    page.goto(gcj_server.url + "/wall")
    wait_until_live(page)
    gd = f"document.querySelector('#{Wall.MAP} .js-plotly-plot')"
    shown = f"(id) => {gd}.data[{TRACE_REPORTED}].customdata.includes(id)"
    page.wait_for_function(shown, arg=msg["id"], timeout=WAIT_MS)
    wait_for(lambda: tiles.asked, timeout=WAIT_MS / 1000, message="the wall never asked the tile server for a tile")

    # The marker and the grid outlines are shifted by the GCJ-02 offset of where they are.
    i = page.evaluate(f"(id) => {gd}.data[{TRACE_REPORTED}].customdata.indexOf(id)", msg["id"])
    drawn = page.evaluate(f"(i) => [{gd}.data[{TRACE_REPORTED}].lon[i], {gd}.data[{TRACE_REPORTED}].lat[i]]", i)
    want = wgs84_to_gcj02(where[0], where[1])
    assert np.allclose(drawn, [float(want[0]), float(want[1])], atol=2e-5)  # ~2 m: markers are rounded to 1e-5
    grid = layers().grids.iloc[0]
    first = page.evaluate(
        f"(id) => {gd}.data[0].geojson.features.find((f) => f.id === id).geometry.coordinates", grid["grid_id"]
    )
    ring = np.array(first[0] if isinstance(first[0][0][0], float) else first[0][0])
    lon, lat = grid.geometry.representative_point().x, grid.geometry.representative_point().y
    dx, dy = (float(v) for v in np.subtract(wgs84_to_gcj02(lon, lat), (lon, lat)))
    # every drawn vertex lies within the shifted grid's box, none in the unshifted one's far side
    x0, y0, x1, y1 = grid.geometry.bounds
    assert (ring[:, 0] >= x0 + dx - 1e-4).all() and (ring[:, 0] <= x1 + dx + 1e-4).all()
    assert (ring[:, 1] >= y0 + dy - 1e-4).all() and (ring[:, 1] <= y1 + dy + 1e-4).all()
