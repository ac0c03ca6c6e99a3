"""``onescreen user …``, ``onescreen wall-link …`` and ``onescreen apikey …`` on the real test Redis (in-process
``main``), and the safe start: ``serve --host 0.0.0.0`` with no account refuses (a real process)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
import redis

from dashboard.access.accounts import AccountStore
from dashboard.access.apikeys import ApiKeys
from dashboard.access.walls import WallLinks, deployment_secret
from dashboard.cli import main
from incidents.keys import Keys
from incidents.redis_server import free_port
from tests.support.paths import REPO


@pytest.fixture
def cli(redis_url: str, keys: Keys, r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``main`` runs against the test Redis under the test's own prefix (``r`` cleans it)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("ONESCREEN_PREFIX", keys.prefix)
    return monkeypatch


def _run(cli: pytest.MonkeyPatch, *args: str, stdin: str = "") -> int:
    cli.setattr(sys, "stdin", io.StringIO(stdin))
    return main(list(args))


def test_user_add_list_passwd_disable_enable(
    cli: pytest.MonkeyPatch, r: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(cli, "user", "add", "wang", "--role", "official", "--area", "community:C003", "--password-stdin",
                stdin="first-password\n") == 0  # fmt: skip
    assert "added wang (official; community:C003)" in capsys.readouterr().out
    store = AccountStore(r, keys)
    assert store.verify("wang", "first-password") is not None
    assert _run(cli, "user", "passwd", "wang", "--password-stdin", stdin="second-password\n") == 0
    assert store.verify("wang", "second-password") is not None and store.verify("wang", "first-password") is None
    assert _run(cli, "user", "disable", "wang") == 0
    assert store.verify("wang", "second-password") is None
    capsys.readouterr()
    assert _run(cli, "user", "list") == 0
    listed = capsys.readouterr().out
    assert listed == "wang\tofficial\tcommunity:C003\tdisabled\n" and "argon2" not in listed
    assert _run(cli, "user", "enable", "wang") == 0
    assert store.verify("wang", "second-password") is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "li", "--role", "boss", "--password-stdin"), "long-enough\n", "unknown role 'boss'"),
        (("user", "add", "li", "--role", "viewer", "--area", "community:NOPE", "--password-stdin"), "long-enough\n",
         "no such area"),
        (("user", "add", "li", "--role", "viewer", "--password-stdin"), "short\n", "too short"),
        (("user", "passwd", "nobody", "--password-stdin"), "long-enough\n", "no account 'nobody'"),
        (("user", "disable", "nobody"), "", "no account 'nobody'"),
        (("wall-link", "revoke", "nobody"), "", "no wall link 'nobody'"),
        (("wall-link", "create", "w", "--scope", "street:NOPE"), "", "no such area"),
        (("apikey", "revoke", "nobody"), "", "no API key 'nobody'"),
        (("apikey", "create", "k", "--scope", "ingest", "--area", "grid:NOPE"), "", "no such area"),
    ],
)  # fmt: skip
def test_bad_commands_say_why_and_exit_2(
    cli: pytest.MonkeyPatch, args: tuple[str, ...], stdin: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(cli, *args, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_apikey_create_prints_the_key_once_list_never_and_revoke_stops_it(
    cli: pytest.MonkeyPatch, r: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(cli, "apikey", "create", "hotline", "--scope", "ingest", "--area", "community:C003") == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("osk_") and "created API key hotline (ingest; community:C003)" in err
    store = ApiKeys(r, keys, limit=1, window_s=1)
    found = store.resolve(token)
    assert found is not None and (found.name, found.scope, found.areas) == ("hotline", "ingest", ("community:C003",))
    assert _run(cli, "apikey", "create", "hotline", "--scope", "read") == 2
    assert "exists" in capsys.readouterr().err
    assert _run(cli, "apikey", "list") == 0
    listed = capsys.readouterr().out
    assert listed.startswith("hotline\tingest\tcommunity:C003\t") and token not in listed
    assert _run(cli, "apikey", "revoke", "hotline") == 0
    assert store.resolve(token) is None
    with pytest.raises(SystemExit):
        _run(cli, "apikey", "create", "x", "--scope", "write")  # argparse: one of ingest, read


def test_an_existing_user_is_not_replaced(cli: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cli, "user", "add", "wang", "--role", "admin", "--password-stdin", stdin="first-password\n") == 0
    assert _run(cli, "user", "add", "wang", "--role", "viewer", "--password-stdin", stdin="other-password\n") == 2
    assert "account 'wang' exists" in capsys.readouterr().err


def test_wall_link_create_url_list_revoke(
    cli: pytest.MonkeyPatch, r: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--base-url", "http://wall.intra")
    assert _run(cli, "wall-link", "create", "lobby", "--scope", "community:C003", *base) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://wall.intra/wall?key=")
    links = WallLinks(r, keys, deployment_secret(r, keys))
    token = url.split("key=", 1)[1]
    assert links.resolve(token) is not None and links.resolve(token).scope == "community:C003"  # type: ignore[union-attr]
    assert _run(cli, "wall-link", "url", "lobby", *base) == 0
    assert capsys.readouterr().out.strip() == url
    assert _run(cli, "wall-link", "list") == 0
    assert capsys.readouterr().out == "lobby\tcommunity:C003\n"
    assert _run(cli, "wall-link", "revoke", "lobby") == 0
    assert links.resolve(token) is None
    secret = r.get(keys.secret)
    assert isinstance(secret, bytes) and secret.decode() not in url  # the secret itself is never shown


def test_serve_on_all_interfaces_with_no_account_refuses_to_start(redis_url: str, keys: Keys, r: redis.Redis) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=REPO,
        env={**os.environ, "REDIS_URL": redis_url, "ONESCREEN_PREFIX": keys.prefix},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to listen on 0.0.0.0 with no account configured" in done.stderr
    assert "--insecure-demo" in done.stderr and "Traceback" not in done.stderr
