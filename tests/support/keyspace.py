"""The shared test Redis: whether one answers, and isolation by key prefix (never FLUSHDB: other runs use the
same db at the same time)."""

from __future__ import annotations

import redis


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
