"""Redis connections from one URL: a single server, TLS, or a Sentinel-managed primary with failover.

Every client onescreen makes (the feed, request handlers, the CLI) comes from ``connect(url, **kwargs)``; the URL
forms are:

- ``redis://[[user]:password@]host[:port][/db]`` and ``unix:///path/to/redis.sock?db=N`` — one server;
- ``rediss://…`` — the same over TLS (redis-py's own URL parameters: ``ssl_ca_certs=/etc/ssl/ca.pem``,
  ``ssl_certfile``/``ssl_keyfile`` for client certificates, ``ssl_cert_reqs=none`` to skip verification);
- ``redis+sentinel://[[user]:password@]host:port[,host:port…]/SERVICE[/db][?sentinel_password=…]`` — the primary
  named ``SERVICE`` as the Sentinels report it (redis-py's ``Sentinel.master_for``): after a failover the next
  command reconnects to the new primary. ``rediss+sentinel://`` speaks TLS to the Sentinels and the primary. The
  user and password are the data nodes'; ``sentinel_username``/``sentinel_password`` are the Sentinels' own.

One more parameter works with any form: ``wait_replicas=N`` (and ``wait_timeout_ms``, default 1000). Redis
replicates asynchronously, so a write the primary acknowledged can be lost when a failover promotes a replica that
had not received it yet. With ``wait_replicas=N`` every durable write (``incidents.store``) is followed by ``WAIT N``
and is only reported as accepted once N replicas have it; fewer within the timeout is ``NotReplicatedError`` (the
HTTP ingest answers 503, a publisher retries: a retry of an applied message is a harmless duplicate). Redis
Cluster is not supported: the durable write is one Lua script over several keys (state hash, log stream, audit
stream, stats), which Cluster allows only when every key hashes to one slot — the keys would need a hash tag, and
one slot is one shard, so Cluster would buy nothing over a primary with replicas (see the README's deployment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode

import redis
from redis.connection import parse_url
from redis.sentinel import Sentinel

SENTINEL_SCHEMES: Final = ("redis+sentinel", "rediss+sentinel")
SENTINEL_PORT: Final = 26379
WAIT_TIMEOUT_MS: Final = 1000
_OURS: Final = ("wait_replicas", "wait_timeout_ms")
_SENTINEL_OWN: Final = ("sentinel_username", "sentinel_password")


class NotReplicatedError(redis.ConnectionError):
    """A durable write reached the primary but not ``wanted`` replicas within the timeout: not acknowledged.

    A ``ConnectionError``: callers already treat it as Redis being unavailable (503, retry later)."""

    def __init__(self, wanted: int, got: int, timeout_ms: int) -> None:
        super().__init__(
            f"write not acknowledged: {got} of {wanted} replica(s) confirmed it within {timeout_ms} ms "
            "(wait_replicas in the Redis URL); retry — a repeated message is a duplicate, not a second incident"
        )
        self.wanted, self.got = wanted, got


@dataclass(frozen=True)
class RedisUrl:
    """A parsed onescreen Redis URL (module doc). ``sentinels``: (host, port) pairs, empty for one server;
    ``service``: the Sentinel service name; ``kwargs``: redis-py connection arguments (db, password, TLS …)."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict)
    wait_replicas: int = 0
    wait_timeout_ms: int = WAIT_TIMEOUT_MS
    plain: str = ""  # a one-server URL without onescreen's own parameters (for ``Redis.from_url``)

    @property
    def db(self) -> int:
        """The db number (0 when the URL names none)."""
        return int(self.kwargs.get("db") or 0)

    @property
    def scheme(self) -> str:
        """The URL's scheme (``redis``, ``rediss``, ``unix``, ``redis+sentinel``, …)."""
        return self.url.split("://", 1)[0].lower()


def parse_redis_url(url: str) -> RedisUrl:
    """Parse ``url`` (module doc). ``ValueError`` naming the scheme and what is wrong — never the password."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError("Redis URL must look like redis://host:port/db (or rediss://, unix://, redis+sentinel://)")
    rest, _, query = rest.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    ours = {k: params.pop(k) for k in _OURS if k in params}
    try:
        wait = int(ours.get("wait_replicas") or 0)
        wait_ms = int(ours.get("wait_timeout_ms") or WAIT_TIMEOUT_MS)
    except ValueError:
        raise ValueError(f"{scheme}:// URL: wait_replicas and wait_timeout_ms must be whole numbers") from None
    if wait < 0 or wait_ms <= 0:
        raise ValueError(f"{scheme}:// URL: wait_replicas must be ≥ 0 and wait_timeout_ms > 0")
    if scheme not in SENTINEL_SCHEMES:
        plain = f"{scheme}://{rest}" + (f"?{urlencode(params)}" if params else "")
        try:
            kwargs = parse_url(plain)
        except ValueError as exc:
            raise ValueError(f"cannot read Redis URL ({scheme}://…): {exc}") from None
        return RedisUrl(url, kwargs=kwargs, wait_replicas=wait, wait_timeout_ms=wait_ms, plain=plain)
    return _sentinel_url(url, scheme, rest, params, wait, wait_ms)


def _sentinel_url(url: str, scheme: str, rest: str, params: dict[str, str], wait: int, wait_ms: int) -> RedisUrl:
    """The ``redis+sentinel://`` part of ``parse_redis_url``: ``rest`` is the URL between ``://`` and ``?``."""
    userinfo, _, hostpath = rest.rpartition("@")
    hosts, _, path = hostpath.partition("/")
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ValueError(f"{scheme}:// URL names no service: {scheme}://HOST:PORT[,HOST:PORT]/SERVICE[/DB]")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError(f"{scheme}:// URL path must be /SERVICE or /SERVICE/DB, got /{'/'.join(parts)}")
    sentinels = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", str(SENTINEL_PORT))
        if not host or not port.isdigit():
            raise ValueError(f"{scheme}:// URL: {item!r} is not HOST:PORT")
        sentinels.append((host.strip("[]"), int(port)))
    own = {k: params.pop(k) for k in _SENTINEL_OWN if k in params}
    data = parse_url(
        ("rediss" if scheme.startswith("rediss") else "redis") + "://x/" + (f"?{urlencode(params)}" if params else "")
    )
    data.pop("host", None)
    data.pop("port", None)
    if data.pop("connection_class", None) is not None:  # rediss: Sentinel picks its own TLS connection class
        data["ssl"] = True
    data["db"] = int(parts[1]) if len(parts) == 2 else int(data.get("db") or 0)
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            data["username"] = unquote(user)
        if password:
            data["password"] = unquote(password)
    sentinel_kwargs: dict[str, Any] = {k.removeprefix("sentinel_"): v for k, v in own.items()}
    for key in ("ssl", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
        if key in data:
            sentinel_kwargs[key] = data[key]
    return RedisUrl(url, tuple(sentinels), parts[0], data, sentinel_kwargs, wait, wait_ms)


def connect(url: str, *, redis_class: type[redis.Redis] = redis.Redis, **kwargs: Any) -> redis.Redis:
    """A redis-py client for ``url`` (module doc); ``kwargs`` (timeouts, retry, …) go to the data connections
    and, for Sentinel, to the Sentinel connections too (timeouts only). The client carries the URL's
    ``wait_replicas`` for ``replicas_wanted``. ``redis_class``: a ``redis.Redis`` subclass to build (the metrics'
    round-trip counting client, ``incidents.metrics.IngestMetrics.redis_class``)."""
    parsed = parse_redis_url(url)
    if parsed.sentinels:
        timeouts = {k: v for k, v in kwargs.items() if k in ("socket_timeout", "socket_connect_timeout")}
        sentinel = Sentinel(list(parsed.sentinels), sentinel_kwargs={**timeouts, **parsed.sentinel_kwargs})
        client: redis.Redis = sentinel.master_for(parsed.service, redis_class=redis_class, **parsed.kwargs, **kwargs)
    else:
        client = redis_class.from_url(parsed.plain, **kwargs)
    client.onescreen_wait = (parsed.wait_replicas, parsed.wait_timeout_ms)  # type: ignore[attr-defined]
    return client


def replicas_wanted(r: redis.Redis) -> tuple[int, int]:
    """(replicas, timeout ms) a durable write on ``r`` must wait for (its URL's ``wait_replicas``; 0: none).

    The caller queues ``WAIT`` in the same pipeline as the write: ``WAIT`` counts the writes of its own
    connection, and a pipeline is one connection."""
    wanted, timeout_ms = getattr(r, "onescreen_wait", (0, WAIT_TIMEOUT_MS))
    return int(wanted), int(timeout_ms)


def check_replicated(reply: object, wanted: int, timeout_ms: int) -> None:
    """``NotReplicatedError`` unless ``reply`` (``WAIT``'s: the replicas that confirmed) reaches ``wanted``."""
    if isinstance(reply, Exception):
        raise reply
    got = int(reply)  # type: ignore[call-overload]
    if got < wanted:
        raise NotReplicatedError(wanted, got, timeout_ms)


def url_db(url: str) -> int:
    """The db number ``url`` names (0 when none); ``ValueError`` for a URL it cannot read."""
    return parse_redis_url(url).db
