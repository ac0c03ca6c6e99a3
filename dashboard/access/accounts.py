"""Local accounts in Redis: name, role, areas, argon2 hash, disabled flag, times (``Keys.user``).

Every server process reads the same hashes, so an account disabled (or a password changed) by ``onescreen user``
anywhere holds everywhere on the next request (``Access`` caches an actor for at most ``CACHE_S`` seconds).
Hashes never leave this module: ``Account`` carries none.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.access.actor import ROLES, Role
from geo.areas import AreaError, AreaTree
from incidents.keys import Keys

FieldT = bytes | bytearray | memoryview | str | int | float  # what redis-py's hset mapping takes
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD: Final = 8
# Verifying against this keeps an unknown name as slow as a wrong password (no account enumeration by timing).
_HASHER: Final = PasswordHasher()
_DUMMY_HASH: Final = _HASHER.hash("onescreen-no-such-account")


class AccountError(ValueError):
    """A bad name, role, area or password, or an account that exists (``add``) or does not (the others)."""


@dataclass(frozen=True, slots=True)
class Account:
    """One account as stored, without its hash. ``areas``: refs (empty: the whole data set); times: epoch s."""

    name: str
    role: Role
    areas: tuple[str, ...]
    disabled: bool
    created: float
    updated: float


def check_name(name: str) -> str:
    """``name`` when it is a valid account name (1–64 of letters, digits, ``. _ @ -``); ``AccountError``."""
    if not NAME_RE.fullmatch(name):
        raise AccountError(
            f"bad name {name!r}: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


def check_role(role: str) -> Role:
    """``role`` when it is one of ``ROLES``; ``AccountError`` naming them."""
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(f"unknown role {role!r} (one of {', '.join(ROLES)})")


def check_areas(refs: Iterable[str], tree: AreaTree) -> tuple[str, ...]:
    """The refs, each checked against ``tree`` (``KIND:ID`` of the data set), duplicates dropped; ``AccountError``."""
    out: list[str] = []
    for ref in refs:
        try:
            tree.get(ref)
        except AreaError as exc:
            raise AccountError(str(exc)) from None
        if ref not in out:
            out.append(ref)
    return tuple(out)


def check_password(password: str) -> str:
    """``password`` when it has at least ``MIN_PASSWORD`` characters; ``AccountError``."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    return password


class AccountStore:
    """Accounts under ``keys`` on ``client`` (a redis-py client; bytes or str responses)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def add(self, name: str, role: str, password: str, areas: tuple[str, ...] = ()) -> Account:
        """Create an account (areas already checked with ``check_areas``). ``AccountError`` if it exists."""
        check_name(name)
        now = time.time()
        fields: dict[FieldT, FieldT] = {
            "role": check_role(role),
            "areas": json.dumps(list(areas)),
            "hash": _HASHER.hash(check_password(password)),
            "disabled": "0",
            "created": repr(now),
            "updated": repr(now),
        }
        if not self._r.hsetnx(self._keys.user(name), "role", fields["role"]):
            raise AccountError(f"account {name!r} exists")
        self._r.hset(self._keys.user(name), mapping=fields)
        self._r.sadd(self._keys.users, name)
        return self.require(name)

    def get(self, name: str) -> Account | None:
        """The account ``name``, or None."""
        raw = self._raw(name)
        if not raw.get("role"):
            return None
        return Account(
            name=name,
            role=check_role(raw["role"]),
            areas=tuple(json.loads(raw.get("areas") or "[]")),
            disabled=raw.get("disabled") == "1",
            created=float(raw.get("created") or 0),
            updated=float(raw.get("updated") or 0),
        )

    def require(self, name: str) -> Account:
        """The account ``name``; ``AccountError`` when there is none."""
        found = self.get(name)
        if found is None:
            raise AccountError(f"no account {name!r}")
        return found

    def names(self) -> list[str]:
        """Every account name, sorted."""
        return sorted(_text(n) for n in self._r.smembers(self._keys.users))

    def count(self) -> int:
        """How many accounts exist."""
        return int(self._r.scard(self._keys.users))

    def verify(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is its password and it is enabled; else None (same time either way)."""
        raw = self._raw(name) if NAME_RE.fullmatch(name) else {}
        stored = raw.get("hash") or _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        account = self.get(name) if raw else None
        if account is None or account.disabled:
            return None
        if _HASHER.check_needs_rehash(stored):
            self._r.hset(self._keys.user(name), "hash", _HASHER.hash(password))
        return account

    def set_password(self, name: str, password: str) -> None:
        """Change the password (``AccountError`` if no such account or too short); its sessions end."""
        self.require(name)
        self._update(name, hash=_HASHER.hash(check_password(password)))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (its sessions end at once) or enable an account; ``AccountError`` if there is none."""
        self.require(name)
        self._update(name, disabled="1" if disabled else "0")

    def set_role(self, name: str, role: str, areas: tuple[str, ...]) -> None:
        """Change role and areas (areas already checked); ``AccountError`` if there is none."""
        self.require(name)
        self._update(name, role=check_role(role), areas=json.dumps(list(areas)))

    def _update(self, name: str, **fields: str) -> None:
        mapping: dict[FieldT, FieldT] = {"updated": repr(time.time())}
        mapping.update(fields)
        self._r.hset(self._keys.user(name), mapping=mapping)
        sessions = self._keys.user_sessions(name)
        sids = [_text(s) for s in self._r.smembers(sessions)]
        if sids:
            self._r.delete(*(self._keys.session(s) for s in sids), sessions)

    def _raw(self, name: str) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self._r.hgetall(self._keys.user(name)).items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
