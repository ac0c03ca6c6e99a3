"""Isolation by key prefix on a shared Redis (never FLUSHDB: other runs use the same db at the same time)."""

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
