"""Every Redis name onescreen uses, in one place.

The rq pattern: names are constants here, connections are passed in.

``Keys("onescreen")`` gives::

    onescreen:incidents   pub/sub channel: the wire (one JSON object per message)
    onescreen:state       hash id → incident JSON (the source of truth; merged by apply.lua)
    onescreen:log         stream, one entry per accepted change: ``id``, ``data`` (merged incident JSON)
    onescreen:deadletter  stream of rejected input: raw, encoding, size, reason, source, ts
    onescreen:stats       hash of counters: accepted, duplicate, stale, invalid, rejected

A different prefix lets several deployments (or parallel test runs) share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

# The log is trimmed with ``XADD … MAXLEN ~ LOG_MAXLEN``. It only has to cover the gap between a follower's
# last read and "now": a follower that falls further behind (or reconnects) rebuilds from ``state``, so the
# cap bounds memory, not correctness. 200,000 entries ≈ 40 s at the 5,000 events/s ingest budget and
# ≈ 100–150 MB of Redis memory with ~600-byte incidents.
LOG_MAXLEN = 200_000
# Rejected input is for people to look at; the newest 10,000 are plenty.
DEADLETTER_MAXLEN = 10_000
# Dead-letter entries keep at most this many bytes of the raw message (the wire allows 64 KiB).
DEADLETTER_RAW_MAX = 4096


@dataclass(frozen=True, slots=True)
class Keys:
    """Redis key and channel names under one ``prefix`` (default ``onescreen``)."""

    prefix: str = "onescreen"

    def __post_init__(self) -> None:
        if not self.prefix or any(c.isspace() for c in self.prefix):
            raise ValueError(f"Redis key prefix must be non-empty without whitespace, got {self.prefix!r}")

    @property
    def channel(self) -> str:
        return f"{self.prefix}:incidents"

    @property
    def state(self) -> str:
        return f"{self.prefix}:state"

    @property
    def log(self) -> str:
        return f"{self.prefix}:log"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}:deadletter"

    @property
    def stats(self) -> str:
        return f"{self.prefix}:stats"

    def all(self) -> tuple[str, ...]:
        """Every key name (not the channel), e.g. to DEL a test's data."""
        return (self.state, self.log, self.deadletter, self.stats)
