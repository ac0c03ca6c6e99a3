"""The least-privilege Redis ACL users of ``incidents.acl`` on the real Redis: the README shows exactly the code's
rules; a publisher with them publishes (durable path, dead-letter, bare PUBLISH) and can touch nothing else; a
server with them runs (feed, ingest, health, pages) without one refusal; a refused command names itself in
``/healthz`` and a refused write never answers "applied". Each test creates its own ACL users and deletes them."""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.connection import parse_url

from incidents.acl import publisher_rules, refusal, server_rules, setuser_command
from incidents.keys import Keys
from incidents.publish import publish
from incidents.store import Outcome
from incidents.wire import WireError
from tests.support.auth import anonymous_opener
from tests.support.paths import REPO
from tests.support.server import spawn_server
from tests.support.wait import wait_for

T0 = time.time()


def wire(iid: str, **extra: Any) -> dict[str, Any]:
    # a point of the demo street (the server checks its area)
    return {"id": iid, "status": "reported", "ts": time.time(), "lon": 120.29, "lat": 30.31, "category": "environment"}


@contextmanager
def acl_user(admin: redis.Redis, redis_url: str, rules: list[str]) -> Iterator[tuple[str, str]]:
    """(user, URL as that user on ``redis_url``'s db): an ACL user with ``rules``, deleted afterwards."""
    user = f"onescreen-test-{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(16)
    admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", *rules)
    parts = parse_url(redis_url)
    url = f"redis://{user}:{password}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 6379)}/{parts.get('db', 0)}"
    try:
        yield user, url
    finally:
        admin.execute_command("ACL", "DELUSER", user)


def test_the_readme_shows_exactly_the_rules_of_the_code() -> None:
    readme = (REPO / "README.md").read_text()
    for user, rules in (("onescreen-publisher", publisher_rules), ("onescreen-server", server_rules)):
        line = setuser_command(user, rules(Keys()))
        assert line in readme, f"README's Redis ACL section must show: {line}"
    shown = re.findall(r"^ACL SETUSER .*$", readme, re.M)
    assert len(shown) == 2, shown


def test_a_publisher_publishes_durably_and_touches_nothing_else(redis_url: str, r: redis.Redis, keys: Keys) -> None:
    with acl_user(r, redis_url, publisher_rules(keys)) as (_user, url):
        pub = redis.Redis.from_url(url)
        assert publish(pub, keys, wire("ACL-1")).outcome is Outcome.APPLIED
        with pytest.raises(WireError):
            publish(pub, keys, {"id": "ACL-2", "status": "nonsense"})  # refused and dead-lettered: allowed
        assert r.xlen(keys.deadletter) == 1
        assert pub.publish(keys.channel, json.dumps(wire("ACL-3"))) >= 0
        for forbidden in (
            lambda: pub.hgetall(keys.user("admin")),
            lambda: pub.set(keys.secret, "mine"),
            lambda: pub.get(keys.apikey_digest("x")),
            lambda: pub.hget(Keys("other").state, "x"),
            lambda: pub.keys("*"),
            lambda: pub.flushdb(),
            lambda: pub.publish("elsewhere", "x"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                forbidden()
        pub.close()


def test_a_refused_write_names_the_command_and_never_answers_applied(
    redis_url: str, r: redis.Redis, keys: Keys
) -> None:
    with acl_user(r, redis_url, [*publisher_rules(keys), "-evalsha"]) as (user, url):
        pub = redis.Redis.from_url(url)
        with pytest.raises(redis.RedisError) as refused:
            publish(pub, keys, wire("ACL-4"))
        assert refusal(refused.value, user) == (
            f"redis refused EVALSHA for user {user}: NOPERM this user has no permissions to run the 'evalsha' command"
        )
        assert r.xlen(keys.deadletter) == 0  # not one message's fault: nothing dead-lettered
        pub.close()
    with acl_user(r, redis_url, [*publisher_rules(keys), "-xadd"]) as (user, url):
        pub = redis.Redis.from_url(url)
        with pytest.raises(redis.RedisError) as refused:  # refused inside the script: an error, never APPLIED
            publish(pub, keys, wire("ACL-5"))
        found = refusal(refused.value, user)
        assert found is not None and found.startswith("redis refused a command of the apply script (HGET/HSET")
        assert r.xlen(keys.log) == 0
        pub.close()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _post(url: str, doc: Any) -> tuple[int, Any]:
    req = urllib.request.Request(url, json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # the tests' opener adds the ingest key
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_the_server_runs_as_its_acl_user_without_one_refusal(redis_url: str, tmp_path: Path) -> None:
    prefix = f"acl{uuid.uuid4().hex[:8]}"
    keys = Keys.for_redis_url(prefix, redis_url)
    admin = redis.Redis.from_url(redis_url)
    with (
        acl_user(admin, redis_url, server_rules(keys)) as (_user, server_url),
        acl_user(admin, redis_url, publisher_rules(keys)) as (_pub_user, publisher_url),
        spawn_server(redis_url, tmp_path, prefix=prefix, env={"REDIS_URL": server_url}) as server,
    ):
        assert _post(server.url + "/api/incidents", wire("ACL-S1"))[0] == 202
        bare = redis.Redis.from_url(publisher_url)  # a publisher's bare PUBLISH, applied by the server
        wait_for(lambda: bare.publish(keys.channel, json.dumps(wire("ACL-S2"))) > 0, 30, message="a subscriber")
        bare.close()
        wait_for(lambda: _get(server.url + "/api/incidents/ACL-S2")[0] == 200, 30, message="ACL-S2 applied")

        def healthy() -> dict[str, Any] | None:
            code, body = _get(server.url + "/healthz")
            return body if code == 200 and body["status"] == "ok" and body["situation"]["incidents"] >= 2 else None

        health = wait_for(healthy, 30, message="healthz ok with both incidents")
        assert health["feed"]["last_error"] == "" and health["redis"]["error"] == ""
        for path in ("/api/summary", "/api/incidents/ACL-S1"):
            assert _get(server.url + path)[0] == 200, path
        assert "NOPERM" not in server.log() and "refused" not in server.log()
    admin.close()


def test_a_command_the_acl_refuses_names_itself_in_healthz(redis_url: str, tmp_path: Path) -> None:
    prefix = f"acl{uuid.uuid4().hex[:8]}"
    keys = Keys.for_redis_url(prefix, redis_url)
    admin = redis.Redis.from_url(redis_url)
    with (
        acl_user(admin, redis_url, [*server_rules(keys), "-time", "-evalsha"]) as (user, server_url),
        spawn_server(redis_url, tmp_path, prefix=prefix, env={"REDIS_URL": server_url}) as server,
    ):

        def named() -> str | None:
            error = _get(server.url + "/healthz")[1]["feed"]["last_error"]
            return error if "redis refused" in error else None

        error = wait_for(named, 30, message="the feed's refusal in /healthz")
        assert f"redis refused TIME for user {user}: NOPERM" in error
        with anonymous_opener().open(server.url + "/healthz", timeout=15) as resp:  # a monitor without a login
            public = json.loads(resp.read())
        assert public["redis"]["refused"].startswith(f"redis refused TIME for user {user}: NOPERM"), public
        assert "last_error" not in public["feed"]  # other text stays hidden from the anonymous
        code, body = _post(server.url + "/api/incidents", wire("ACL-R1"))
        assert code == 503 and body["detail"].startswith(f"redis refused EVALSHA for user {user}: NOPERM"), body
        assert admin.hget(keys.state, "ACL-R1") is None
    admin.close()
