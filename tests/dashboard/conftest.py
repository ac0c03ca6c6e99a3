"""Fixtures for screen tests: a real onescreen server process and a real headless Chromium (tests/support)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.auth import tracked
from tests.support.browser import chromium, wait_until_live
from tests.support.server import LiveServer, spawn_server


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
