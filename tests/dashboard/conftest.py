"""Fixtures for screen tests: a real onescreen server process and a real headless Chromium (tests/support)."""

from __future__ import annotations

from collections.abc import Iterator

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
