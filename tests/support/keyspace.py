"""The shared test Redis: whether one answers, and isolation by key prefix (never FLUSHDB: other runs use the
same db at the same time)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from incidents.redis_server import EmbeddedRedis


def delete_prefix(client: redis.Redis, prefix: str, batch: int = 500) -> int:
    """UNLINK every key named ``{prefix}:…``, ``batch`` at a time; returns how many were removed."""
    removed = 0
    names: list[bytes] = []
    for name in client.scan_iter(match=f"{prefix}:*", count=1000):
        names.append(name)
        if len(names) >= batch:
            removed += int(client.unlink(*names))
            names = []
    if names:
        removed += int(client.unlink(*names))
    return removed


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """Whether a Redis at ``url`` answers PING within ``timeout`` seconds (connection errors: ``False``)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()


@contextmanager
def suite_redis(workdir: Callable[[], Path]) -> Iterator[str]:
    """The test Redis' URL for the block: ``REDIS_URL`` if set; else the machine's Redis on 127.0.0.1:6379 (db
    ``ONESCREEN_TEST_DB``, default 13) if it answers; else an ``EmbeddedRedis`` in ``workdir()`` (called only
    then), stopped afterwards. One rule for the suite's ``redis_url`` and for the background wall soak, which
    starts before any fixture exists."""
    env = os.environ.get("REDIS_URL")
    if env:
        yield env
        return
    local = f"redis://127.0.0.1:6379/{int(os.environ.get('ONESCREEN_TEST_DB', '13'))}"
    if redis_answers(local):
        yield local
        return
    with EmbeddedRedis(workdir()) as server:
        yield server.url
