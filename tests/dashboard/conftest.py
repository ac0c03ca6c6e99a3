"""Fixtures for screen tests: a real onescreen server process and a real headless Chromium (tests/support).

And the wiring of the background wall soak (test_wall_soak.py): when its test was collected, the soak starts as
soon as collection is done, the test is moved to the end of the run, and the soak is stopped at session end even
if the test was never reached (``-x``, Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.auth import tracked
from tests.support.browser import chromium, wait_until_live
from tests.support.server import LiveServer, spawn_server

if TYPE_CHECKING:
    from tests.dashboard.test_wall_soak import WallSoak

WALL_SOAK = pytest.StashKey["WallSoak"]()


def _is_soak(item: pytest.Item) -> bool:
    return item.get_closest_marker("soak") is not None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The soak test last (after any other reordering): by then its soak has run beside the whole run."""
    items.sort(key=_is_soak)  # stable: everything else keeps its order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the soak once the run's tests are known, and only when its test is among them (not deselected)."""
    if session.config.option.collectonly or not any(_is_soak(item) for item in session.items):
        return
    from tests.dashboard.test_wall_soak import WallSoak  # already imported by its collection

    # the session's tmp_path_factory (what the fixture returns; fixtures do not exist yet)
    workdir = session.config._tmp_path_factory.mktemp("wall-soak")  # type: ignore[attr-defined]
    session.config.stash[WALL_SOAK] = WallSoak.start(workdir)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop a soak still running (its test was not reached) and close its wall, Chromium and server."""
    soak = session.config.stash.get(WALL_SOAK, None)
    if soak is not None:
        soak.stop()


@pytest.fixture
def wall_soak(request: pytest.FixtureRequest) -> WallSoak:
    """The background soak started at the end of collection."""
    soak = request.config.stash.get(WALL_SOAK, None)
    assert soak is not None, "the wall soak was not started (pytest_collection_finish in tests/dashboard/conftest.py)"
    return soak


@pytest.fixture(scope="module")
def live_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a test module, on its own prefix, so tests elsewhere cannot disturb it."""
    with spawn_server(redis_url, tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium (Playwright ``Browser``) for the session; each of its new contexts presents the test
    servers' session cookies (``tests.support.auth.tracked``) — ``browser.unwrapped`` makes anonymous ones."""
    with chromium() as b:
        yield tracked(b)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own browser context (no storage shared with other tests), 1600×900 — an official's
    desktop, logged in as the admin of every test server (``tests.support.auth``); a test showing a wall sets the
    wall's size."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture
def console_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """The module server's officials' page at 1600×1000 in its own browser context, live and drawn once."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    p = context.new_page()
    p.goto(live_server.url + "/")
    wait_until_live(p)
    yield p
    context.close()


@pytest.fixture
def page_factory(browser: Any) -> Iterator[Any]:
    """Open pages (each in its own browser context; ``page.requests`` logs every URL it asked for) and wait
    until each is live; ``open_page(url, width=1920, height=1080)``."""
    pages: list[Any] = []

    def open_page(url: str, width: int = 1920, height: int = 1080) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.requests = []
        page.on("request", lambda req: page.requests.append(req.url))
        page.goto(url)
        wait_until_live(page)
        pages.append(context)
        return page

    yield open_page
    for context in pages:
        context.close()
