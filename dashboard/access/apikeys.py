"""API keys for other systems: ``onescreen apikey create NAME --scope ingest|read [--area KIND:ID …]``.

A key is ``osk_`` + 43 random URL-safe characters (``secrets.token_urlsafe(32)``: 256 bits), shown once by
``create`` and never stored: Redis keeps its SHA-256 (``Keys.apikey_digest(digest)`` → name, and the record
``Keys.apikey(name)``: scope, areas, digest, created). A slow password hash buys nothing for a 256-bit random
secret and would cost every request; a digest lookup is one ``GET``. Revoking deletes both, so every server
process refuses the key on its next check (``Access`` caches an answer for at most ``CACHE_S`` seconds).

The rate limit is per key, shared by every process: a fixed window of ``window_s`` seconds (``Keys.apikey_rate``,
``INCRBY`` + ``EXPIRE NX``) allowing ``limit`` units — a request is one, a batch its item count.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Final

import redis

from dashboard.access.accounts import AccountError, check_name
from dashboard.access.actor import KEY_SCOPES, KeyScope
from incidents.keys import Keys

TOKEN_PREFIX: Final = "osk_"
MAX_TOKEN: Final = 128  # longer "keys" are not ours: refused before hashing


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key as stored, without its secret or digest: name, scope, areas (refs; empty: everywhere), created
    (epoch s)."""

    name: str
    scope: KeyScope
    areas: tuple[str, ...]
    created: float


def check_scope(scope: str) -> KeyScope:
    """``scope`` when it is ``ingest`` or ``read``; ``AccountError`` naming them."""
    for known in KEY_SCOPES:
        if scope == known:
            return known
    raise AccountError(f"unknown scope {scope!r} (one of {', '.join(KEY_SCOPES)})")


def digest_of(token: str) -> str:
    """The SHA-256 (hex) a key is stored and looked up by."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKeys:
    """API keys under ``keys`` on ``client``; ``limit`` units per ``window_s`` seconds per key."""

    def __init__(self, client: redis.Redis, keys: Keys, *, limit: int, window_s: int) -> None:
        self._r = client
        self._keys = keys
        self.limit = limit
        self.window_s = window_s

    def create(self, name: str, scope: str, areas: tuple[str, ...] = ()) -> tuple[ApiKey, str]:
        """A new key (``areas`` already checked against the data set) and its secret — the only time it is
        known. ``AccountError`` for a bad name or scope, or a name in use."""
        check_name(name)
        checked = check_scope(scope)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = digest_of(token)
        if not self._r.hsetnx(self._keys.apikey(name), "digest", digest):
            raise AccountError(f"API key {name!r} exists (revoke it first to make a new one)")
        self._r.hset(
            self._keys.apikey(name),
            mapping={"scope": checked, "areas": json.dumps(list(areas)), "created": repr(time.time())},
        )
        self._r.set(self._keys.apikey_digest(digest), name)
        self._r.sadd(self._keys.apikeys, name)
        return self.require(name), token

    def get(self, name: str) -> ApiKey | None:
        """The key ``name`` (without its secret), or None."""
        raw = self._raw(name)
        if not raw.get("digest") or not raw.get("scope"):
            return None
        return ApiKey(name, check_scope(raw["scope"]), tuple(json.loads(raw.get("areas") or "[]")), _f(raw))

    def require(self, name: str) -> ApiKey:
        """The key ``name``; ``AccountError`` when there is none."""
        found = self.get(name)
        if found is None:
            raise AccountError(f"no API key {name!r}")
        return found

    def all(self) -> list[ApiKey]:
        """Every key, by name (never a secret or digest)."""
        names = sorted(_text(n) for n in self._r.smembers(self._keys.apikeys))
        return [k for k in (self.get(n) for n in names) if k is not None]

    def count(self) -> int:
        """How many keys exist."""
        return int(self._r.scard(self._keys.apikeys))

    def resolve(self, token: str) -> ApiKey | None:
        """The key ``token`` is, or None: unknown, malformed or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN:
            return None
        digest = digest_of(token)
        name = self._r.get(self._keys.apikey_digest(digest))
        if name is None:
            return None
        raw = self._raw(_text(name))
        if not raw.get("digest") or not secrets.compare_digest(raw["digest"], digest):
            return None
        return self.get(_text(name))

    def revoke(self, name: str) -> None:
        """Delete the key: refused on every process within ``Access.CACHE_S``. ``AccountError`` if none."""
        self.require(name)
        digest = self._raw(name).get("digest", "")
        self._r.delete(self._keys.apikey(name), self._keys.apikey_digest(digest))
        self._r.srem(self._keys.apikeys, name)

    def charge(self, name: str, units: int = 1, now: float | None = None) -> int:
        """Count ``units`` against key ``name``'s window: 0 when within the limit, else the seconds until the
        window ends (``Retry-After``) — and nothing is counted then, so a refused batch costs nothing."""
        window = int((time.time() if now is None else now) // self.window_s)
        key = self._keys.apikey_rate(name, window)
        pipe = self._r.pipeline()
        pipe.incrby(key, units)
        pipe.expire(key, self.window_s + 1, nx=True)
        used, _ = pipe.execute()
        if int(used) <= self.limit:
            return 0
        self._r.decrby(key, units)
        elapsed = (time.time() if now is None else now) - window * self.window_s
        return max(1, int(self.window_s - elapsed + 0.999))

    def _raw(self, name: str) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self._r.hgetall(self._keys.apikey(name)).items()}


def _f(raw: dict[str, str]) -> float:
    return float(raw.get("created") or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
