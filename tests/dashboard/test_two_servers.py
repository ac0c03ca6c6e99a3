"""Two `onescreen serve` processes on one Redis (one key prefix) — as behind nginx — show one situation: what
either accepts, both show, from each process's own memory, with nothing between them but Redis."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.test_areas_api import grid_points
from tests.dashboard.test_ingest_api import call
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for


@pytest.fixture(scope="module")
def pair(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    prefix = f"pair{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("pair")
    with spawn_server(redis_url, folder, prefix=prefix) as a, spawn_server(redis_url, folder, prefix=prefix) as b:
        yield a, b


def summary(server: LiveServer, area: str) -> dict[str, Any]:
    code, body, _ = call(f"{server.url}/api/summary?area={area}")
    assert code == 200, body
    return dict(json.loads(body))


def listed(server: LiveServer, tag: str) -> dict[str, str]:
    """id → status label of the incidents whose title has ``tag``, as that server's work list has them."""
    code, body, _ = call(f"{server.url}/api/incidents.csv?" + urllib.parse.urlencode({"q": tag}))
    assert code == 200, body[:200]
    return {r["编号"]: r["状态"] for r in csv.DictReader(io.StringIO(body.decode("utf-8-sig")))}


def test_what_one_server_accepts_both_show(pair: tuple[LiveServer, LiveServer]) -> None:
    a, b = pair
    key = {"Authorization": f"Bearer {b.creds.ingest_key}"}  # the servers share their keys: they share Redis
    community, _, lon, lat = grid_points()[0]
    tag = "双机" + uuid.uuid4().hex[:6]
    ids = [f"PAIR-{i}-{uuid.uuid4().hex[:6]}" for i in range(4)]
    for i, iid in enumerate(ids):  # alternately into one server and the other
        target = (a, b)[i % 2]
        msg = {"id": iid, "status": "reported", "ts": time.time(), "lon": lon, "lat": lat,
               "category": "environment", "title": f"{tag} {i}"}  # fmt: skip
        code, body, _ = call(f"{target.url}/api/incidents", json.dumps(msg).encode(), ctype="application/json", **key)
        assert code == 202, body  # accepted: applied in Redis
    # one is dispatched through B; A must see the change as well
    change = {"id": ids[0], "status": "dispatched", "ts": time.time() + 1, "assignee": "P000001"}
    code, body, _ = call(f"{b.url}/api/incidents", json.dumps(change).encode(), ctype="application/json", **key)
    assert code == 202, body
    expected = {iid: "待派单" for iid in ids[1:]} | {ids[0]: "已派单"}
    for server in (a, b):

        def lists_all(s: LiveServer = server) -> bool:
            return listed(s, tag) == expected

        wait_for(lists_all, 20, message=f"{server.url} lists all four")
    area = f"community:{community}"
    wait_for(lambda: summary(a, area)["kpis"] == summary(b, area)["kpis"], 20, message="the same numbers on both")
    assert summary(a, area)["kpis"]["open"] >= 4
