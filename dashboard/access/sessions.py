"""Login sessions and the login rate limit, in Redis (shared by every server process).

A session is a random id (``secrets.token_urlsafe(32)``, the cookie's value) naming a hash ``Keys.session``:
``user``, ``created`` (epoch s), ``via``. Its TTL is the idle timeout, pushed back on every use; a session older
than the absolute timeout is deleted when next seen. Ending an account's sessions (disable, new password) deletes
every id in ``Keys.user_sessions``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis

from incidents.keys import Keys


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: its id, account name, when it started (epoch s) and how (``password``, ``demo``)."""

    sid: str
    user: str
    created: float
    via: str


class SessionStore:
    """Sessions under ``keys``: ``idle_s`` without use or ``max_s`` after login ends them."""

    def __init__(self, client: redis.Redis, keys: Keys, *, idle_s: int, max_s: int) -> None:
        self._r = client
        self._keys = keys
        self.idle_s = idle_s
        self.max_s = max_s

    def create(self, user: str, via: str = "password") -> Session:
        """A new session for account ``user`` (already authenticated)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        pipe = self._r.pipeline()
        pipe.hset(self._keys.session(sid), mapping={"user": user, "created": repr(now), "via": via})
        pipe.expire(self._keys.session(sid), self.idle_s)
        pipe.sadd(self._keys.user_sessions(user), sid)
        pipe.expire(self._keys.user_sessions(user), self.max_s)
        pipe.execute()
        return Session(sid, user, now, via)

    def resolve(self, sid: str, *, touch: bool = True) -> Session | None:
        """The live session ``sid`` (its idle timer restarted when ``touch``), or None: unknown, idle too long
        (Redis expired it) or past the absolute timeout (deleted now)."""
        if not sid or len(sid) > 128:
            return None
        raw = {_text(k): _text(v) for k, v in self._r.hgetall(self._keys.session(sid)).items()}
        if not raw.get("user"):
            return None
        created = float(raw.get("created") or 0)
        if time.time() - created >= self.max_s:
            self.end(sid)
            return None
        if touch:
            self._r.expire(self._keys.session(sid), self.idle_s)
        return Session(sid, raw["user"], created, raw.get("via", ""))

    def end(self, sid: str) -> None:
        """Log out: the session is gone for every process."""
        user = self._r.hget(self._keys.session(sid), "user")
        self._r.delete(self._keys.session(sid))
        if user:
            self._r.srem(self._keys.user_sessions(_text(user)), sid)


class LoginLimiter:
    """At most ``attempts`` failed logins per (account name, client address) in ``window_s`` seconds."""

    def __init__(self, client: redis.Redis, keys: Keys, *, attempts: int, window_s: int) -> None:
        self._r = client
        self._keys = keys
        self.attempts = attempts
        self.window_s = window_s

    def retry_after(self, name: str, client: str) -> int:
        """Seconds until (``name``, ``client``) may try again; 0 when it may now."""
        key = self._keys.login_attempts(name[:64], client)
        failures = self._r.get(key)
        if failures is None or int(failures) < self.attempts:
            return 0
        return max(1, int(self._r.ttl(key)))

    def failed(self, name: str, client: str) -> None:
        """Count one failed login (the window starts at the first failure)."""
        key = self._keys.login_attempts(name[:64], client)
        pipe = self._r.pipeline()
        pipe.incr(key)
        pipe.expire(key, self.window_s, nx=True)
        pipe.execute()

    def succeeded(self, name: str, client: str) -> None:
        """Forget the failures of (``name``, ``client``)."""
        self._r.delete(self._keys.login_attempts(name[:64], client))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
