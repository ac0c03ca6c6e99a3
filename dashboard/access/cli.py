"""``onescreen user …``, ``onescreen wall-link …`` and ``onescreen apikey …``: the accounts, wall links and API
keys of the deployment that ``REDIS_URL`` / ``ONESCREEN_PREFIX`` name (the same Settings as the server). Errors:
one line, exit code 2. Never prints a password or hash; ``wall-link create``/``url`` print the link, which is what
it is for; ``apikey create`` prints the new key once (it is never stored, so never shown again)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from dashboard.access.actor import KEY_SCOPES, ROLES
from dashboard.settings import Settings, SettingsError

if TYPE_CHECKING:  # the commands import their stores when they run: `onescreen --help` stays instant
    from dashboard.access.service import Access


def add_parsers(sub: Callable[..., argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``user`` and ``wall-link`` to the subparsers' ``add_parser`` (``sub``); ``common`` adds the Redis and
    data options to each."""
    p = sub("user", help="accounts of the officials' page: add, passwd, disable, enable, list")
    users = p.add_subparsers(dest="action", required=True)
    q = users.add_parser("add", help="a new account (asks for the password twice)")
    q.add_argument("name")
    q.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
    q.add_argument("--area", action="append", default=[], metavar="KIND:ID", help="confine to this area (repeat)")
    q.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    common(q)
    q = users.add_parser("passwd", help="set a new password (ends the account's sessions)")
    q.add_argument("name")
    q.add_argument("--password-stdin", action="store_true")
    common(q)
    for action, text in (("disable", "refuse its logins and end its sessions"), ("enable", "allow it again")):
        q = users.add_parser(action, help=text)
        q.add_argument("name")
        common(q)
    q = users.add_parser("list", help="name, role, areas, state (never a hash)")
    common(q)

    p = sub("wall-link", help="signed, revocable links for wall displays: create, url, list, revoke")
    walls = p.add_subparsers(dest="action", required=True)
    q = walls.add_parser("create", help="a new wall link; prints its URL")
    q.add_argument("name")
    q.add_argument("--scope", default="", metavar="KIND:ID", help="the wall shows this area only")
    q.add_argument("--base-url", help="the server's address as the wall sees it (default http://HOST:PORT)")
    common(q)
    q = walls.add_parser("url", help="print an existing link's URL again")
    q.add_argument("name")
    q.add_argument("--base-url")
    common(q)
    q = walls.add_parser("list", help="name, scope, created")
    common(q)
    q = walls.add_parser("revoke", help="the link stops working on every server within seconds")
    q.add_argument("name")
    common(q)

    p = sub("apikey", help="API keys for other systems (ingest, read): create, list, revoke")
    keys = p.add_subparsers(dest="action", required=True)
    q = keys.add_parser("create", help="a new key; prints it once (send it as Authorization: Bearer KEY)")
    q.add_argument("name")
    q.add_argument("--scope", required=True, choices=KEY_SCOPES, help="ingest: post incidents; read: read the API")
    q.add_argument("--area", action="append", default=[], metavar="KIND:ID", help="confine to this area (repeat)")
    common(q)
    q = keys.add_parser("list", help="name, scope, areas, created (never the key)")
    common(q)
    q = keys.add_parser("revoke", help="the key stops working on every server within seconds")
    q.add_argument("name")
    common(q)


def _access(settings: Settings) -> Access:

    from dashboard.access.service import Access
    from dashboard.demo_redis import running_url
    from incidents.connection import connect
    from incidents.keys import Keys

    url = settings.redis_url or running_url(settings)  # else the running demo's embedded Redis
    if not url:
        raise SettingsError("no Redis given: set REDIS_URL or pass --redis-url")
    client = connect(url, socket_connect_timeout=5, socket_timeout=10)
    return Access(settings, client, Keys.for_redis_url(settings.redis_prefix, url))


def _areas(settings: Settings, refs: list[str]) -> tuple[str, ...]:
    if not refs:
        return ()
    from dashboard.access.accounts import check_areas
    from dashboard.runtime import load_geo

    return check_areas(refs, load_geo(settings).areas)


def _password(args: argparse.Namespace, stdin: TextIO) -> str:
    from dashboard.access.accounts import AccountError

    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def base_url(settings: Settings, given: str | None) -> str:
    """Where the server is reached: ``given``, else ``http://HOST:PORT`` (this machine's name for 0.0.0.0)."""
    if given:
        return given.rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "::"):
        import socket

        host = socket.gethostname()
    return f"http://{host}:{settings.port}"


def run_user(settings: Settings, args: argparse.Namespace, stdin: TextIO | None = None) -> int:
    """``onescreen user ACTION``; 0, or 2 with one line on stderr."""
    from dashboard.access.accounts import AccountError

    try:
        access = _access(settings)
        if args.action == "add":
            areas = _areas(settings, args.area)
            account = access.accounts.add(args.name, args.role, _password(args, stdin or sys.stdin), areas)
            print(f"added {account.name} ({account.role}{'; ' + ', '.join(areas) if areas else ''})")
        elif args.action == "passwd":
            access.accounts.require(args.name)
            access.accounts.set_password(args.name, _password(args, stdin or sys.stdin))
            print(f"password of {args.name} changed; its sessions ended")
        elif args.action in ("disable", "enable"):
            access.accounts.set_disabled(args.name, args.action == "disable")
            print(f"{args.name} {args.action}d")
        else:
            for name in access.accounts.names():
                a = access.accounts.require(name)
                state = "disabled" if a.disabled else "enabled"
                print(f"{a.name}\t{a.role}\t{','.join(a.areas) or '(all)'}\t{state}")
    except AccountError as exc:
        print(f"onescreen user {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def run_wall_link(settings: Settings, args: argparse.Namespace) -> int:
    """``onescreen wall-link ACTION``; 0, or 2 with one line on stderr."""
    from dashboard.access.accounts import AccountError

    try:
        access = _access(settings)
        if args.action == "create":
            scope = _areas(settings, [args.scope])[0] if args.scope else ""
            _link, token = access.walls.create(args.name, scope)
            print(f"{base_url(settings, args.base_url)}/wall?key={token}")
        elif args.action == "url":
            print(f"{base_url(settings, args.base_url)}/wall?key={access.walls.token(args.name)}")
        elif args.action == "revoke":
            access.walls.revoke(args.name)
            print(f"revoked {args.name}")
        else:
            for link in access.walls.all():
                print(f"{link.name}\t{link.scope or '(all)'}")
    except AccountError as exc:
        print(f"onescreen wall-link {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def run_apikey(settings: Settings, args: argparse.Namespace) -> int:
    """``onescreen apikey ACTION``; 0, or 2 with one line on stderr."""
    import time

    from dashboard.access.accounts import AccountError

    try:
        access = _access(settings)
        if args.action == "create":
            areas = _areas(settings, args.area)
            key, token = access.apikeys.create(args.name, args.scope, areas)
            where = f"; {', '.join(key.areas)}" if key.areas else ""
            print(f"created API key {key.name} ({key.scope}{where}); it is shown this once:", file=sys.stderr)
            print(token)
        elif args.action == "revoke":
            access.apikeys.revoke(args.name)
            print(f"revoked {args.name}")
        else:
            for key in access.apikeys.all():
                created = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(key.created))
                print(f"{key.name}\t{key.scope}\t{','.join(key.areas) or '(all)'}\t{created}")
    except AccountError as exc:
        print(f"onescreen apikey {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0
