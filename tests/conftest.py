"""Shared fixtures: a real Redis for the whole suite (never an imitation), and private servers for fault tests.

``redis_url``: ``REDIS_URL`` if set; else the machine's Redis on 127.0.0.1:6379 (db ``ONESCREEN_TEST_DB``,
default 13) if it answers; else an ``EmbeddedRedis`` started for the session.

Isolation is by key prefix, not FLUSHDB: several engineers (and CI) may run the suite at the same time
against the same Redis db, and a FLUSHDB from one run would wipe another's data mid-test. Each test gets
``keys`` with a unique prefix, and ``r`` deletes everything under that prefix before and after the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis

from incidents.keys import Keys
from incidents.redis_server import EmbeddedRedis
from tests.support.keyspace import delete_prefix, suite_redis
from tests.support.paths import FIELD_CASES, REALDATA


def pytest_sessionstart(session: pytest.Session) -> None:
    # Without the real-data files a developer's run skips those tests; CI must never skip them.
    for folder in (REALDATA, FIELD_CASES):
        if os.environ.get("CI") and not folder.is_dir():
            raise pytest.UsageError(f"CI run without {folder}: the tests reading it would be skipped")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with suite_redis(lambda: tmp_path_factory.mktemp("redis-session")) as url:
        yield url


@pytest.fixture
def keys(redis_url: str) -> Keys:
    """A prefix no other test (or parallel run) uses, on the test Redis' db (the channel names the db)."""
    return Keys.for_redis_url(f"onescreen-test-{uuid.uuid4().hex[:12]}", redis_url)


@pytest.fixture
def r(redis_url: str, keys: Keys) -> Iterator[redis.Redis]:
    """A client on the test Redis (bytes responses); the test's key prefix is empty before and after."""
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    delete_prefix(client, keys.prefix)
    try:
        yield client
    finally:
        delete_prefix(client, keys.prefix)
        client.close()


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[..., EmbeddedRedis]]:
    """Start private redis-servers (free port, own data dir) that a test may kill -9 and start again.

    ``start(name="a", port=None, extra_args=())`` returns a running ``EmbeddedRedis``; ``server.kill()`` then
    ``server.start()`` restarts it on the same port with the same AOF.
    Everything still running is stopped at teardown.
    """
    servers: list[EmbeddedRedis] = []

    def start(name: str = "server", *, port: int | None = None, extra_args: Sequence[str] = ()) -> EmbeddedRedis:
        server = EmbeddedRedis(tmp_path / name, port=port, extra_args=extra_args)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()
