"""HTTP API of a real server process: incident lookup and /healthz, with incidents from a real Redis."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from incidents.publish import publish
from tests.support.paths import REPO
from tests.support.server import LiveServer
from tests.support.wait import wait_for


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def message(incident_id: str, status: str = "reported", **extra: Any) -> dict[str, Any]:
    return {
        "id": incident_id,
        "status": status,
        "ts": time.time(),
        "lon": 120.29,
        "lat": 30.31,
        "category": "环境卫生",  # the zh label is accepted and normalised to the code
        "title": "垃圾桶满溢",
        **extra,
    }


def test_the_first_page_after_start_is_styled_and_offline(live_server: LiveServer) -> None:
    """Regression: Dash built its asset tags lazily, so the first page after a restart came without our CSS."""
    assert "/assets/onescreen.css" in live_server.first_page
    assert "/assets/onescreen.js" in live_server.first_page
    assert "http://" not in live_server.first_page.replace(live_server.url, "")
    assert "https://" not in live_server.first_page


def test_incident_lookup_returns_stored_state_and_404_for_unknown(live_server: LiveServer) -> None:
    publish(live_server.client, live_server.keys, message("API-1"))
    publish(live_server.client, live_server.keys, message("API-1", "dispatched", ts=time.time() + 1, assignee="M1"))
    status, body = get_json(f"{live_server.url}/api/incidents/API-1")
    assert status == 200
    assert body["status"] == "dispatched" and body["category"] == "environment" and body["assignee"] == "M1"
    assert [h[0] for h in body["history"]] == ["reported", "dispatched"]
    assert [h[2] for h in body["history"]] == ["publisher", "publisher"]  # [status, ts, actor]: the publish API

    status, body = get_json(f"{live_server.url}/api/incidents/NOPE-404")
    assert status == 404 and "NOPE-404" in body["detail"]


def test_healthz_counts_accepted_and_rejected_messages(live_server: LiveServer) -> None:
    _, before = get_json(f"{live_server.url}/healthz")
    live_server.client.publish(live_server.keys.channel, b"{not json")
    live_server.client.publish(
        live_server.keys.channel, json.dumps({"id": "API-2", "status": "exploded", "ts": time.time()})
    )
    live_server.client.publish(live_server.keys.channel, json.dumps(message("API-3")))

    def settled() -> Any:
        _, body = get_json(f"{live_server.url}/healthz")
        done = (
            body["feed"]["rejected"] >= before["feed"]["rejected"] + 2
            and body["feed"]["accepted"] > before["feed"]["accepted"]
        )
        return body if done else None

    body = wait_for(settled)
    assert body["status"] == "ok" and body["redis"]["reachable"] and body["feed"]["connected"]
    assert body["feed"]["channel"] == live_server.keys.channel  # the channel this server listens on
    assert body["redis"]["dead_letters"] >= 2
    entries: list[Any] = list(live_server.client.xrange(live_server.keys.deadletter))  # type: ignore[arg-type]
    reasons = [fields[b"reason"].decode() for _, fields in entries]
    assert any("JSON" in r for r in reasons) and any("status" in r for r in reasons)
    # The feed kept going: the valid message after the two bad ones was applied.
    assert get_json(f"{live_server.url}/api/incidents/API-3")[0] == 200


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.browser
def test_snapshot_command_writes_a_1920x1080_briefing_png(live_server: LiveServer, tmp_path: Path) -> None:
    for i in range(5):
        publish(live_server.client, live_server.keys, message(f"PNG-{i}", lon=120.28 + i * 0.005))
    out = tmp_path / "brief.png"
    env = {"REDIS_URL": live_server.redis_url, "ONESCREEN_PREFIX": live_server.keys.prefix, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "snapshot", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert png_size(out) == (1920, 1080)
    assert out.stat().st_size > 50_000  # a real picture, not an empty canvas
    print("\n" + done.stdout.strip())
