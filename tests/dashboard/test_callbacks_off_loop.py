"""A callback that takes its time does not hold up the server: /healthz, another callback and the page answer while
it runs (``OnescreenDash.callback`` runs plain callbacks on worker threads, not on the event loop).

No timing is asserted: the slow callback waits on an event that the test sets only once the others have answered,
so if they queued behind it (as when Dash ran it on the loop) the test would wait in vain and fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from dash import Input, Output, ctx

from dashboard.access.actor import current_actor
from tests.support.inprocess import Client, in_process
from tests.support.wait import wait_for

RELEASE = threading.Event()
SEEN: dict[str, Any] = {}


@pytest.fixture(scope="module")
def served(redis_url: str) -> Iterator[tuple[Client, dict[str, str]]]:
    with in_process(redis_url, "offloop") as it:
        app, runtime = it.app, it.runtime

        @app.callback(Output("probe-slow", "children"), Input("probe-slow-in", "n_clicks"), prevent_initial_call=True)
        def slow(n: int) -> str:
            SEEN["slow_trigger"] = ctx.triggered_id  # Dash's context on the worker thread
            SEEN["slow_actor"] = current_actor().label()  # and the request's actor
            assert RELEASE.wait(60), "never released"
            return f"slow {n}"

        @app.callback(Output("probe-quick", "children"), Input("probe-quick-in", "n_clicks"), prevent_initial_call=True)
        def quick(n: int) -> str:
            return f"quick {n}"

        runtime.access.accounts.add("wang", "official", "password-wang", ())
        cookie = {"Cookie": f"{runtime.access.session_cookie}={runtime.access.sessions.create('wang').sid}"}
        try:
            yield it.client, cookie
        finally:
            RELEASE.set()


def _call(client: Client, cookie: dict[str, str], name: str, n: int) -> Any:
    body = {
        "output": f"probe-{name}.children",
        "outputs": {"id": f"probe-{name}", "property": "children"},
        "inputs": [{"id": f"probe-{name}-in", "property": "n_clicks", "value": n}],
        "changedPropIds": [f"probe-{name}-in.n_clicks"],
    }
    headers = {**cookie, "Content-Type": "application/json", "Origin": client.base}
    return client.post("/_dash-update-component", content=json.dumps(body), headers=headers)


def test_a_slow_callback_holds_up_nothing_else(served: tuple[Client, dict[str, str]]) -> None:
    client, cookie = served
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_call, client, cookie, "slow", 1)
        wait_for(lambda: "slow_trigger" in SEEN, 30, message="the slow callback running")
        assert not pending.done()
        assert client.get("/healthz").status_code in (200, 503)  # answered while the slow one still runs
        quick = _call(client, cookie, "quick", 7)
        assert quick.status_code == 200 and "quick 7" in quick.text
        assert client.get("/", headers=cookie).status_code == 200
        assert not pending.done(), "the others answered first"
        RELEASE.set()
        slow = pending.result(60)
    assert slow.status_code == 200 and "slow 1" in slow.text
    assert SEEN == {"slow_trigger": "probe-slow-in", "slow_actor": "user:wang"}
