"""`onescreen serve --config onescreen.toml` on users' own data: the example config over a "user export" (GBK zipped
Shapefile in Gauss-Krüger, GCJ-02 GeoJSON, GeoPackage with Chinese columns), and a real grids-only file."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from dashboard.settings import DEFAULT_DATA
from geo.layers import read_layers
from geo.user_export import write_user_export
from tests.support.paths import REPO, ZJ_GRIDS
from tests.support.server import spawn_server

REAL = ZJ_GRIDS


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_serve_with_the_example_config(redis_url: str, tmp_path: Path) -> None:
    write_user_export(read_layers(DEFAULT_DATA), tmp_path / "user_export")
    config = tmp_path / "onescreen.toml"
    shutil.copy(REPO / "examples" / "onescreen.toml", config)
    with spawn_server(redis_url, tmp_path, args=["--config", str(config)]) as server:
        assert "<html" in server.first_page.lower()  # /wall answered 200
        status, body = _get(server.url + "/healthz")
        assert status == 200 and "redis" in json.loads(body)
        assert _get(server.url + "/")[0] == 200
        assert "onescreen.toml" in server.log()  # it says what it loaded


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} missing")
def test_serve_a_real_grids_only_file(redis_url: str, tmp_path: Path) -> None:
    config = tmp_path / "onescreen.toml"
    config.write_text(
        f'[street]\nname = "西河"\n[layers.grids]\nsource = "{REAL / "xihe_grid.geojson"}"\n', encoding="utf-8"
    )
    with spawn_server(redis_url, tmp_path, env={"ONESCREEN_CONFIG": str(config)}) as server:
        assert _get(server.url + "/healthz")[0] == 200
        assert "<html" in server.first_page.lower()


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} missing")
def test_serve_refuses_broken_data_plainly(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "onescreen.toml"
    config.write_text(f'[layers.grids]\nsource = "{REAL / "xingpu_grid.geojson"}"\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "serve", "--config", str(config), "--redis-url", "redis://127.0.0.1:1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Self-intersection" in done.stderr and "onescreen validate" in done.stderr and "Traceback" not in done.stderr
