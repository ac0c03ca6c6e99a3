"""Wall links: a wall display needs no login, only a signed, revocable link (``/wall?key=TOKEN``).

The token is ``itsdangerous``-signed ``[name, nonce]`` with the deployment's secret (``deployment_secret``). The
record ``Keys.wall(name)`` holds the nonce and the wall's scope: revoking deletes it, so every process refuses the
token on its next check; re-creating the name makes a new nonce, so an old link stays dead. The token can be
rebuilt from the record (``token``), which lets ``onescreen demo`` print its wall link on every start.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Final

import redis
from itsdangerous import BadSignature, URLSafeSerializer

from dashboard.access.accounts import AccountError, check_name
from incidents.keys import Keys

SALT: Final = "onescreen.wall-link"


def deployment_secret(client: redis.Redis, keys: Keys, configured: str | None = None) -> str:
    """The signing secret: ``configured`` (``ONESCREEN_SECRET``) or the one kept in Redis, generated on first
    use (``SET NX``, so concurrent processes agree). Never printed or logged."""
    if configured:
        return configured
    client.set(keys.secret, secrets.token_urlsafe(48), nx=True)
    value = client.get(keys.secret)
    if value is None:  # deleted between the two calls: try once more
        return deployment_secret(client, keys)
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class WallLink:
    """A wall link: its name, scope (a ``geo.areas`` ref, "" for the whole data set) and creation time (epoch s)."""

    name: str
    scope: str
    created: float


class WallLinks:
    """Wall links under ``keys``, signed with ``secret``."""

    def __init__(self, client: redis.Redis, keys: Keys, secret: str) -> None:
        self._r = client
        self._keys = keys
        self._signer = URLSafeSerializer(secret, salt=SALT)

    def create(self, name: str, scope: str = "") -> tuple[WallLink, str]:
        """A new link (``scope`` already checked against the areas) and its token; ``AccountError`` if it exists."""
        check_name(name)
        if not self._r.hsetnx(self._keys.wall(name), "nonce", secrets.token_urlsafe(12)):
            raise AccountError(f"wall link {name!r} exists (revoke it first to make a new one)")
        self._r.hset(self._keys.wall(name), mapping={"scope": scope, "created": repr(time.time())})
        self._r.sadd(self._keys.walls, name)
        return self.require(name), self.token(name)

    def get(self, name: str) -> WallLink | None:
        """The link ``name``, or None."""
        raw = self._raw(name)
        if not raw.get("nonce"):
            return None
        return WallLink(name, raw.get("scope", ""), float(raw.get("created") or 0))

    def require(self, name: str) -> WallLink:
        """The link ``name``; ``AccountError`` when there is none."""
        found = self.get(name)
        if found is None:
            raise AccountError(f"no wall link {name!r}")
        return found

    def token(self, name: str) -> str:
        """The token of the existing link ``name`` (``AccountError`` if none)."""
        nonce = self._raw(name).get("nonce")
        if not nonce:
            raise AccountError(f"no wall link {name!r}")
        return str(self._signer.dumps([name, nonce]))

    def resolve(self, token: str) -> WallLink | None:
        """The link a token stands for, or None: forged, malformed, revoked or re-created since."""
        try:
            loaded = self._signer.loads(token)
        except BadSignature:
            return None
        if not (isinstance(loaded, list) and len(loaded) == 2 and all(isinstance(v, str) for v in loaded)):
            return None
        name, nonce = loaded
        raw = self._raw(name)
        if not raw.get("nonce") or not secrets.compare_digest(raw["nonce"], nonce):
            return None
        return WallLink(name, raw.get("scope", ""), float(raw.get("created") or 0))

    def revoke(self, name: str) -> None:
        """Delete the link: its token stops working on every process within ``Access.CACHE_S``."""
        self.require(name)
        self._r.delete(self._keys.wall(name))
        self._r.srem(self._keys.walls, name)

    def all(self) -> list[WallLink]:
        """Every link, by name."""
        names = sorted(n.decode() if isinstance(n, bytes) else n for n in self._r.smembers(self._keys.walls))
        return [w for w in (self.get(n) for n in names) if w is not None]

    def _raw(self, name: str) -> dict[str, str]:
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in self._r.hgetall(self._keys.wall(name)).items()
        }
