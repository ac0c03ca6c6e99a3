"""Least-privilege Redis ACL users for one deployment (README "Redis ACL"): a **publisher** and the **server**.

``publisher_rules(keys)`` and ``server_rules(keys)`` are the ``ACL SETUSER`` rules, every command each one sends
(checked against a real ACL user by tests/incidents/test_acl.py, which also keeps the README's copy identical):

- a publisher may ``PUBLISH`` on the wire channel (the at-most-once path) and run the durable path
  (``incidents.publish``: the apply script by ``EVALSHA``, loaded with ``SCRIPT EXISTS``/``LOAD`` when missing; inside
  it ``HGET``/``HSET``/``XADD``/``HINCRBY``; dead-lettering is ``XADD`` + ``HINCRBY`` in ``MULTI``/``EXEC``) on
  the state, log, stats, dead-letter and audit keys only (the script records each change in the audit stream) —
  never the access keys (accounts, sessions, API keys, the signing secret);
- the server needs every key under the prefix (the access stores too) and the commands of the feed (``SUBSCRIBE``,
  ``XREAD``, ``XINFO STREAM``, ``HSCAN``, ``TIME`` for its clock offset), the durable path, ``/healthz``, time travel
  (``XRANGE``/``XREVRANGE``) and the access stores (hashes, sets, counters with ``EXPIRE``).

Both need ``SELECT`` (a ``redis://…/N`` URL selects its db) and ``PING``. Not ``CLIENT SETINFO``: redis-py names
itself with it on connect but ignores a refusal (and Redis 7.0 has no such command, so the rule would not load).
``refusal(exc, user)`` words a refusal the way ``/healthz`` and the ingest routes show it:
``redis refused EVALSHA for user onescreen-publisher: NOPERM …``; a command refused inside the apply script (Redis
answers that with a script error, not ``NOPERM``) is named as the script's commands.
"""

from __future__ import annotations

import re
from typing import Final

import redis

from incidents.connection import parse_redis_url
from incidents.keys import Keys

COMMON: Final = ("ping", "select")
SCRIPT_COMMANDS: Final = ("hget", "hset", "hincrby", "xadd")  # what apply.lua runs
# the durable path: the script (redis-py pipelines check SCRIPT EXISTS first), dead-lettering in MULTI/EXEC
DURABLE: Final = ("evalsha", "script|exists", "script|load", *SCRIPT_COMMANDS, "multi", "exec")
PUBLISHER_COMMANDS: Final = (*COMMON, "publish", *DURABLE)
SERVER_COMMANDS: Final = (
    *COMMON,
    *DURABLE,
    "time",
    "subscribe",
    "unsubscribe",
    "xread",
    "xinfo|stream",
    "xrange",
    "xrevrange",
    "xlen",
    "hscan",
    "hlen",
    "hmget",
    "hgetall",
    "hsetnx",
    "get",
    "set",
    "del",
    "incr",
    "incrby",
    "decrby",
    "expire",
    "ttl",
    "sadd",
    "srem",
    "smembers",
    "scard",
)
REFUSAL_PREFIX: Final = "redis refused "  # how every ``refusal`` text starts
_NOPERM_COMMAND: Final = re.compile(r"no permissions to run the '([^']+)' command")
_SCRIPT_REFUSED: Final = "can't run this command or subcommand"


def publisher_rules(keys: Keys) -> list[str]:
    """The ACL rules of a publisher of the deployment ``keys`` names (no password: add ``>PASSWORD``)."""
    return [
        "resetkeys",
        "resetchannels",
        "-@all",
        *(f"+{c}" for c in PUBLISHER_COMMANDS),
        *(f"~{k}" for k in (keys.state, keys.log, keys.stats, keys.deadletter, keys.audit)),
        f"&{keys.channel}",
    ]


def server_rules(keys: Keys) -> list[str]:
    """The ACL rules of the server (and the ``onescreen user``/``wall-link``/``apikey`` commands)."""
    return [
        "resetkeys",
        "resetchannels",
        "-@all",
        *(f"+{c}" for c in SERVER_COMMANDS),
        f"~{keys.prefix}:*",
        f"&{keys.channel}",
    ]


def setuser_command(user: str, rules: list[str], password: str = "PASSWORD") -> str:
    """``ACL SETUSER user on >password rule …`` as one line for ``redis-cli``."""
    return " ".join(["ACL SETUSER", user, "on", f">{password}", *rules])


def user_of(url: str) -> str:
    """The ACL user a Redis URL authenticates as (``default`` without a user name)."""
    try:
        return str(parse_redis_url(url).kwargs.get("username") or "default")
    except ValueError:
        return "default"


def refusal(exc: BaseException, user: str = "default") -> str | None:
    """How an ACL refusal reads: ``redis refused CMD for user U: NOPERM …`` (a key or channel outside the user's
    patterns, a command inside the apply script: said so); None for any other error."""
    text = str(exc)
    if isinstance(exc, redis.exceptions.NoPermissionError):
        found = _NOPERM_COMMAND.search(text)
        if found:
            return f"{REFUSAL_PREFIX}{found.group(1).upper()} for user {user}: NOPERM {text}"
        return f"{REFUSAL_PREFIX}a key or channel outside the ACL patterns of user {user}: NOPERM {text}"
    if isinstance(exc, redis.exceptions.ResponseError) and _SCRIPT_REFUSED in text:
        inner = "/".join(c.upper() for c in SCRIPT_COMMANDS)
        return f"{REFUSAL_PREFIX}a command of the apply script ({inner}) for user {user}: NOPERM {text}"
    return None


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` is an ACL refusal (a setup problem to show, never a problem of one message's content)."""
    return refusal(exc) is not None


def describe(exc: BaseException, user: str = "default") -> str:
    """``refusal(exc, user)``, else ``str(exc)``: how an error from Redis is shown."""
    return refusal(exc, user) or str(exc)
