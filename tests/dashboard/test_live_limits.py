"""The live push's limits on a real server, spoken to as Dash's renderer does (its WebSocket protocol, raw).

One push loop per tab however often a client asks for it; a cap on tabs per connection and on connections per
client; a tab that stops answering stops costing; the page context arrives with the tab's messages.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from dashboard.callbacks.live import MAX_TABS_PER_CONNECTION
from tests.support.dash_ws import answer_probes, callback_outputs, dial, page_context, received, request
from tests.support.server import LiveServer, spawn_server
from tests.support.wait import wait_for

WS_CAP = 3


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"ONESCREEN_WS_PER_CLIENT": str(WS_CAP)}
    with spawn_server(redis_url, tmp_path_factory.mktemp("limits"), env=env) as s:
        yield s


def health(server: LiveServer) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + "/healthz", timeout=10) as resp:
        return dict(json.loads(resp.read()))


def callbacks(server: LiveServer) -> dict[str, str]:
    return callback_outputs(server.url)


@contextmanager
def ws(server: LiveServer) -> Iterator[ClientConnection]:
    with dial(server.url) as conn:
        yield conn


def test_a_thousand_start_requests_on_one_connection_run_one_push_loop(server: LiveServer) -> None:
    cb = callbacks(server)
    with ws(server) as conn:
        tab = f"tab-{uuid.uuid4().hex[:6]}"
        for _ in range(1000):
            request(conn, tab, cb["push"])
        request(conn, tab, cb["context"], page_context())
        wait_for(lambda: health(server)["live"]["push_loops"] == 1, timeout=30)
        # The loop pushes: the wall's KPI values and the live heartbeat arrive for this tab.
        props: dict[str, Any] = {}

        def pushed() -> bool:
            msgs = received(conn)
            answer_probes(conn, msgs)
            for m in msgs:
                if m.get("type") == "set_props" and m.get("rendererId") == tab:
                    props[m["payload"]["componentId"]] = m["payload"]["props"]
            return "wall-status-dot" in props and "wall-kpi-open-value" in props

        wait_for(pushed, timeout=30)
        assert health(server)["live"]["push_loops"] == 1
    wait_for(lambda: health(server)["live"]["push_loops"] == 0, timeout=30)  # connection closed: loop gone


def test_tabs_per_connection_are_capped(server: LiveServer) -> None:
    cb = callbacks(server)
    with ws(server) as conn:
        for n in range(MAX_TABS_PER_CONNECTION + 4):
            tab = f"tab{n}"
            request(conn, tab, cb["context"], page_context())
            request(conn, tab, cb["push"])
        # The four extra tabs were turned away: every request has been handled once the last tab's loop runs.
        seen: list[int] = []

        def settled() -> bool:
            answer_probes(conn, received(conn))
            seen.append(health(server)["live"]["push_loops"])
            return seen[-1] == MAX_TABS_PER_CONNECTION and len(seen) >= 3 and seen[-3] == seen[-1]

        wait_for(settled, timeout=60)
        assert max(seen) == MAX_TABS_PER_CONNECTION


def test_a_tab_that_stops_answering_stops_costing(server: LiveServer) -> None:
    cb = callbacks(server)
    with ws(server) as conn:
        request(conn, "silent-tab", cb["context"], page_context())
        request(conn, "silent-tab", cb["push"])
        wait_for(lambda: health(server)["live"]["push_loops"] == 1, timeout=30)
        # The connection stays open (another tab of the browser may still use it), but this tab never answers:
        # dropped after LIVENESS_MISSES probes of LIVENESS_TIMEOUT_S each (~20 s).
        wait_for(lambda: health(server)["live"]["push_loops"] == 0, timeout=60)


def test_connections_per_client_are_capped(server: LiveServer) -> None:
    with ExitStack() as opened:
        for _ in range(WS_CAP):
            opened.enter_context(dial(server.url))
        with pytest.raises(InvalidStatus) as refused:
            dial(server.url)
        assert refused.value.response.status_code == 403
    # Closed ones free their places again.
    wait_for(lambda: _can_connect(server.url), timeout=30)


def _can_connect(url: str) -> bool:
    try:
        with dial(url):
            return True
    except InvalidStatus:
        return False


def test_healthz_answers_while_a_client_floods_start_requests(server: LiveServer, tmp_path: Path) -> None:
    cb = callbacks(server)
    with ws(server) as conn:
        for n in range(300):
            request(conn, f"flood-{n % 4}", cb["push"])
        body = health(server)
        assert body["status"] == "ok"
        assert body["live"]["push_loops"] <= 4
