"""What ``onescreen serve``/``demo`` check and print about access at start (``dashboard.server``)."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket

from dashboard.access.service import Access
from dashboard.settings import SettingsError

DEMO_ADMIN = "admin"
DEMO_WALL = "demo-wall"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_unprotected(access: Access, host: str, *, insecure_demo: bool) -> str | None:
    """``SettingsError`` when serving on a non-loopback ``host`` with no account and no API key (and no
    ``--insecure-demo``); else a warning to print (or None)."""
    if is_loopback(host) or access.accounts.count() > 0 or access.apikeys.count() > 0:
        return None
    if not insecure_demo:
        raise SettingsError(
            f"refusing to listen on {host} with no account configured: add one first "
            "(onescreen user add NAME --role admin), or pass --insecure-demo to start anyway"
        )
    return f"WARNING: listening on {host} with no account configured (--insecure-demo): add one to log in"


def shown_addresses(host: str) -> list[str]:
    """The addresses a browser can use for ``host``: the machine's own when it is 0.0.0.0/::."""
    if host not in ("0.0.0.0", "::", ""):
        return [host]
    found: list[str] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # the default route's address; nothing is sent
            s.connect(("10.255.255.255", 1))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    with contextlib.suppress(OSError):
        found += [a for a in socket.gethostbyname_ex(socket.gethostname())[2] if a not in found]
    return [a for a in found if not a.startswith("127.")] or ["127.0.0.1"]


def demo_credentials(access: Access) -> tuple[str | None, str]:
    """The demo's ``admin`` account and wall link, made on first start: (the admin's one-time password, or None
    when the account already existed; the wall link's token)."""
    password = None
    if access.accounts.get(DEMO_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        access.accounts.add(DEMO_ADMIN, "admin", password)
    if access.walls.get(DEMO_WALL) is None:
        access.walls.create(DEMO_WALL)
    return password, access.walls.token(DEMO_WALL)
