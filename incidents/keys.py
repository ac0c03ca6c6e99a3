"""Every Redis name onescreen uses, in one place.

The rq pattern: names are constants here, connections are passed in.

``Keys("onescreen")`` gives::

    onescreen:incidents   pub/sub channel: the wire (one JSON object per message); onescreen:db3:incidents on db 3
    onescreen:state       hash id → incident JSON (the source of truth; merged by apply.lua)
    onescreen:log         stream, one entry per accepted change: ``id``, ``data`` (merged incident JSON)
    onescreen:deadletter  stream of rejected input: raw, encoding, size, reason, source, ts
    onescreen:audit       stream, one entry per applied change: who (actor), via, client address, what, from → to
    onescreen:stats       hash of counters: accepted, duplicate, stale, invalid, rejected
    onescreen:access:…    accounts, sessions, wall links, API keys, login attempts, the signing secret
                          (``dashboard.access``)

A different prefix lets several deployments (or parallel test runs) share one Redis. So does a different db
number, with one catch that ``db`` handles: keys live in a db, but pub/sub channels are global to the server
(Redis ignores the db for PUBLISH/SUBSCRIBE), so two deployments on db 0 and db 3 with the same prefix would
hear each other's messages. The channel therefore carries the db: ``{prefix}:incidents`` on db 0 (the
documented contract), ``{prefix}:db{N}:incidents`` on db N. Build ``Keys`` for a connection with
``Keys.for_redis_url(prefix, url)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidents.connection import url_db

# The log is trimmed with ``XADD … MAXLEN ~ LOG_MAXLEN``. It only has to cover the gap between a follower's
# last read and "now": a follower that falls further behind (or reconnects) rebuilds from ``state``, so the
# cap bounds memory, not correctness. 200,000 entries ≈ 40 s at the 5,000 events/s ingest budget and
# ≈ 100–150 MB of Redis memory with ~600-byte incidents.
LOG_MAXLEN = 200_000
# The audit stream (one entry per applied change: who, what, from where) is trimmed with ``MAXLEN ~`` too: at
# ~250 bytes an entry, 1,000,000 entries ≈ 250 MB of Redis memory — weeks of a street's changes, hours of a bulk
# import. Export it (``GET /api/audit.csv``) to keep it longer.
AUDIT_MAXLEN = 1_000_000
# Rejected input is for people to look at; the newest 10,000 are plenty.
DEADLETTER_MAXLEN = 10_000
# Dead-letter entries keep at most this many bytes of the raw message (the wire allows 64 KiB).
DEADLETTER_RAW_MAX = 4096


@dataclass(frozen=True, slots=True)
class Keys:
    """Redis key and channel names under one ``prefix`` (default ``onescreen``)."""

    prefix: str = "onescreen"
    db: int = 0  # the Redis db the keys live in: only the channel name depends on it (see the module doc)

    def __post_init__(self) -> None:
        if not self.prefix or any(c.isspace() for c in self.prefix):
            raise ValueError(f"Redis key prefix must be non-empty without whitespace, got {self.prefix!r}")
        if isinstance(self.db, bool) or not isinstance(self.db, int) or self.db < 0:
            raise ValueError(f"Redis db must be an integer >= 0, got {self.db!r}")

    @classmethod
    def for_redis_url(cls, prefix: str, url: str) -> Keys:
        """``Keys(prefix, db=<the url's db>)``: ``redis://host:port/3``, ``…?db=3`` or
        ``redis+sentinel://host:26379/SERVICE/3`` → db 3; no db → 0 (``incidents.connection``).

        Raises ``ValueError`` for a URL it cannot read (naming the URL's scheme, not its password).
        """
        try:
            db = url_db(url)
        except ValueError as exc:
            raise ValueError(f"cannot read the db number of Redis URL ({url.split(':', 1)[0]}://…): {exc}") from None
        return cls(prefix, db)

    @property
    def channel(self) -> str:
        """The wire channel: ``{prefix}:incidents`` on db 0, ``{prefix}:db{N}:incidents`` on db N."""
        return f"{self.prefix}:incidents" if self.db == 0 else f"{self.prefix}:db{self.db}:incidents"

    @property
    def state(self) -> str:
        """Hash id → merged incident JSON: the source of truth."""
        return f"{self.prefix}:state"

    @property
    def log(self) -> str:
        """Stream, one entry per accepted change (``id``, ``data``), capped at ``LOG_MAXLEN``."""
        return f"{self.prefix}:log"

    @property
    def deadletter(self) -> str:
        """Stream of rejected input (raw, encoding, size, reason, source, ts)."""
        return f"{self.prefix}:deadletter"

    @property
    def audit(self) -> str:
        """Stream, one entry per applied change: actor, via, client, incident, what, from, to, ts, assignee, log
        (written by apply.lua with the change; ``incidents.audit`` reads it)."""
        return f"{self.prefix}:audit"

    @property
    def stats(self) -> str:
        """Hash of shared counters: accepted, duplicate, stale, invalid, rejected."""
        return f"{self.prefix}:stats"

    # Access (dashboard.access). Every server process reads these, so an account disabled or a wall link revoked
    # anywhere is seen everywhere on the next check.
    @property
    def users(self) -> str:
        """Set of account names."""
        return f"{self.prefix}:access:users"

    def user(self, name: str) -> str:
        """Hash of one account: role, areas (JSON list), hash (argon2), disabled (0/1), created, updated."""
        return f"{self.prefix}:access:user:{name}"

    def session(self, sid: str) -> str:
        """Hash of one login session (user, created, via); its TTL is the idle timeout."""
        return f"{self.prefix}:access:session:{sid}"

    def user_sessions(self, name: str) -> str:
        """Set of the session ids of one account (ended together on disable or password change)."""
        return f"{self.prefix}:access:user-sessions:{name}"

    @property
    def walls(self) -> str:
        """Set of wall-link names."""
        return f"{self.prefix}:access:walls"

    def wall(self, name: str) -> str:
        """Hash of one wall link: scope, nonce (changes on re-create: old links stop working), created."""
        return f"{self.prefix}:access:wall:{name}"

    def login_attempts(self, name: str, client: str) -> str:
        """Counter of failed logins for (account name, client address); expires with the rate-limit window."""
        return f"{self.prefix}:access:login:{name}:{client}"

    @property
    def apikeys(self) -> str:
        """Set of API-key names."""
        return f"{self.prefix}:access:apikeys"

    def apikey(self, name: str) -> str:
        """Hash of one API key: scope (ingest/read), areas (JSON list), digest (SHA-256 of the key), created."""
        return f"{self.prefix}:access:apikey:{name}"

    def apikey_digest(self, digest: str) -> str:
        """String: the name of the API key whose SHA-256 (hex) is ``digest`` (the lookup on every request)."""
        return f"{self.prefix}:access:apikey-digest:{digest}"

    def apikey_rate(self, name: str, window: int) -> str:
        """Counter of one API key's requests (a batch: its items) in rate window number ``window``; expires."""
        return f"{self.prefix}:access:apikey-rate:{name}:{window}"

    @property
    def secret(self) -> str:
        """The deployment's signing secret (generated once; ``ONESCREEN_SECRET`` overrides it)."""
        return f"{self.prefix}:access:secret"

    def all(self) -> tuple[str, ...]:
        """Every key name (not the channel), e.g. to DEL a test's data."""
        return (self.state, self.log, self.deadletter, self.stats, self.audit)
