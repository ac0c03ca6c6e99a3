"""Fixtures for screen tests: a real onescreen server process and a real headless Chromium (tests/support)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import chromium
from tests.support.server import LiveServer, spawn_server


@pytest.fixture(scope="module")
def live_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a test module, on its own prefix, so tests elsewhere cannot disturb it."""
    with spawn_server(redis_url, tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium (Playwright ``Browser``) for the session."""
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own browser context (no storage shared with other tests), 1600×900 — an official's
    desktop; a test showing a wall sets the wall's size."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    p = context.new_page()
    yield p
    context.close()
