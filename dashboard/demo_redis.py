"""Where the running demo's embedded Redis is: ``onescreen demo`` records its URL (with the generated password) in
``STATE_DIR/redis/url``, mode 0600, while it runs; ``onescreen snapshot`` / ``publish`` / ``simulate`` / ``user``
read it when no ``REDIS_URL`` (or ``--redis-url``) is given. The URL holds the password: never print it
(``incidents.redis_server.shown_url``).

``running_url`` also checks that the recorded server answers.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import redis

from dashboard.settings import Settings, SettingsError
from incidents.connection import connect
from incidents.redis_server import shown_url

URL_FILE = "url"


def url_path(state_dir: Path) -> Path:
    """The file recording the demo's Redis URL: ``state_dir/redis/url``."""
    return state_dir / "redis" / URL_FILE


def cli_form(url: str) -> str:
    """``url`` as ``redis-cli -u`` reads it: a password without a user name (``redis://:PW@…``) gets the user
    ``default`` (``redis://default:PW@…``) — redis-cli 7.0 sends no AUTH for an empty user name (NOAUTH), while
    ``AUTH default PW`` is the same login for Redis ≥ 6 and redis-py."""
    return "redis://default:" + url[len("redis://:") :] if url.startswith("redis://:") else url


def record(state_dir: Path, url: str) -> Path:
    """Write ``cli_form(url)`` to ``url_path(state_dir)`` (created 0600, the folder 0700); returns the path.
    ``OSError`` when the folder cannot be written."""
    url = cli_form(url)
    path = url_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(url + "\n")
    os.chmod(path, 0o600)  # an older file with looser bits keeps them through O_TRUNC
    return path


def forget(state_dir: Path, url: str) -> None:
    """Remove the record if it is still ``url`` (another demo may have replaced it)."""
    path = url_path(state_dir)
    with contextlib.suppress(OSError):
        if path.read_text().strip() == cli_form(url):
            path.unlink()


def recorded(state_dir: Path) -> str | None:
    """The recorded URL, or ``None`` when no demo recorded one (or it cannot be read)."""
    try:
        url = url_path(state_dir).read_text().strip()
    except OSError:
        return None
    return url or None


def running_url(settings: Settings) -> str | None:
    """The running demo's Redis URL (recorded by ``onescreen demo``), ``None`` without a record; ``SettingsError``
    when the recorded server does not answer (the demo has stopped)."""
    url = recorded(settings.state_dir)
    if url is None:
        return None
    try:
        with connect(url, socket_connect_timeout=2, socket_timeout=2) as r:
            r.ping()
    except redis.RedisError as exc:
        raise SettingsError(
            f"no REDIS_URL, and the demo's Redis ({shown_url(url)}, recorded in {url_path(settings.state_dir)})"
            f" does not answer ({type(exc).__name__}): is `onescreen demo` running?"
        ) from None
    print(f"onescreen: using the demo's Redis at {shown_url(url)}", file=sys.stderr)
    return url
