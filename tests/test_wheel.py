"""The built wheel runs the demo on its own: demo data and JSON schema inside, no benchmark, no checkout needed.

Builds the wheel from a copy of this checkout, installs it with ``pip install --no-deps --target T`` and starts
``python -m dashboard.cli demo`` from a folder outside the checkout with only ``T`` on ``PYTHONPATH`` (the venv's
dependencies stay importable), on the test Redis under a prefix of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from incidents.keys import Keys
from incidents.redis_server import free_port
from tests.support.auth import provision, unregister
from tests.support.keyspace import delete_prefix
from tests.support.paths import REPO
from tests.support.server import stop_process, wait_http
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow

# What the copy leaves out: local state and caches (and .git) — a wheel is built from the sources.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".onescreen", "__pycache__", "*.pyc", "*_cache", "build", "dist", "*.egg-info", "tmp"
)


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout. Built with pip's default build isolation: the venv's own setuptools may be
    older than pyproject's ``setuptools>=68`` and have no ``bdist_wheel`` (no ``wheel`` package)."""
    src = tmp_path_factory.mktemp("src") / "onescreen"
    shutil.copytree(REPO, src, ignore=IGNORED, symlinks=True)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)], cwd=src)
    (built,) = out.glob("onescreen-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("target")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)], REPO)
    return target


def test_the_wheel_holds_the_demo_data_and_the_schema_and_no_bench(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "onescreen_data/demo/onescreen_demo.gpkg" in names
    assert "onescreen_data/__init__.py" in names
    assert "incidents/schema/incident.schema.json" in names
    assert {"incidents/apply.lua", "dashboard/assets/onescreen.js", "dashboard/assets/onescreen.css"} <= names
    assert not [n for n in names if n.startswith(("bench/", "tests/"))]
    # every package of the checkout is in it: pyproject lists them, so a new one must not be forgotten there
    for init in sorted(p for top in ("geo", "incidents", "dashboard") for p in (REPO / top).rglob("__init__.py")):
        assert init.relative_to(REPO).as_posix() in names, f"{init.parent.relative_to(REPO)} is missing from the wheel"
    # the packaged files are the checkout's, byte for byte
    with zipfile.ZipFile(wheel) as zf:
        packaged = zf.read("onescreen_data/demo/onescreen_demo.gpkg")
        schema = json.loads(zf.read("incidents/schema/incident.schema.json"))
    assert packaged == (REPO / "data/demo/onescreen_demo.gpkg").read_bytes()
    assert schema == json.loads((REPO / "incidents/schema/incident.schema.json").read_text(encoding="utf-8"))


def _outside_env(target: Path, **extra: str) -> dict[str, str]:
    """Only the installed wheel on PYTHONPATH: no ONESCREEN_* or REDIS_URL from the caller, no checkout."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REDIS_URL") and not k.startswith("ONESCREEN_")
    }
    return {**env, "PYTHONPATH": str(target), **extra}


def test_the_installed_package_finds_its_files_without_the_checkout(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import json, dashboard, incidents, onescreen_data\n"
        "from dashboard.settings import DEFAULT_DATA\n"
        "from importlib.resources import files\n"
        "print(json.dumps({'dashboard': dashboard.__file__, 'incidents': incidents.__file__,"
        " 'data': str(onescreen_data.demo_data_path()), 'default': str(DEFAULT_DATA),"
        " 'schema': files('incidents').joinpath('schema', 'incident.schema.json').is_file()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=_outside_env(installed), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for key in ("dashboard", "incidents", "data", "default"):
        assert Path(found[key]).is_relative_to(installed), f"{key} comes from {found[key]}, not the wheel"
    assert found["data"] == found["default"] and Path(found["data"]).is_file() and found["schema"]


@pytest.fixture
def demo_from_wheel(installed: Path, tmp_path: Path, redis_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m dashboard.cli demo`` from the installed wheel, in a folder outside the checkout."""
    prefix = f"wheel{uuid.uuid4().hex[:8]}"
    port = free_port()
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _outside_env(
        installed, REDIS_URL=redis_url, ONESCREEN_PREFIX=prefix, ONESCREEN_STATE_DIR=str(tmp_path / "state")
    )
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli", "demo", "--port", str(port), "--rate", "1"],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    origin = f"http://127.0.0.1:{port}"
    provision(client, Keys.for_redis_url(prefix, redis_url), origin)  # the test's requests present a session
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, log_path, timeout=90)
        yield origin, process
    finally:
        unregister(origin)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                stop_process(process)
        delete_prefix(client, prefix)
        client.close()
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, log
    assert str(REPO) not in log, f"the demo used the checkout:\n{log}"


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


def test_the_installed_wheel_runs_the_demo_outside_the_checkout(
    demo_from_wheel: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = demo_from_wheel

    def with_incidents() -> dict[str, object] | None:  # the demo data loaded and the simulator is writing
        body = json.loads(_get(url + "/healthz")[1])
        return body if body["redis"]["reachable"] and body["situation"]["incidents"] > 0 else None

    body = wait_for(with_incidents, 60, 0.5, "incidents on the wheel's demo /healthz", ignore=(OSError,))
    assert body["status"] == "ok", body
    status, page = _get(url + "/wall")
    assert status == 200
    asset = re.search(rb'/assets/onescreen\.js[^"]*', page)
    assert asset, "the wall does not load the packaged assets"
    assert _get(url + asset.group().decode())[0] == 200
    assert process.poll() is None
