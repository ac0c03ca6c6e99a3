"""The real app served in this process (uvicorn on a thread) on a started Runtime over the test Redis, for tests that
reach into the Runtime while asking over HTTP as different people: ``in_process`` and its urllib ``Client``."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
import uvicorn

from dashboard.app import OnescreenDash, create_app
from dashboard.runtime import Runtime, build_runtime
from dashboard.settings import Settings
from incidents.redis_server import free_port
from tests.support.auth import anonymous_opener
from tests.support.keyspace import delete_prefix
from tests.support.wait import wait_for


@dataclass
class Reply:
    """An HTTP answer: status, bytes."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """urllib against the in-process server, presenting only the headers given (no cookie jar, no redirects)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._opener = anonymous_opener()

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=60) as resp:
                return Reply(int(resp.status), resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read())

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self._send("GET", path, None, headers or {})

    def post(self, path: str, content: bytes | str = b"", headers: dict[str, str] | None = None,
             json: Any = None) -> Reply:  # fmt: skip
        if json is not None:
            content = _json_dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        body = content.encode() if isinstance(content, str) else content
        return self._send("POST", path, body, headers or {})


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass
class InProcess:
    """A started Runtime, its app and a client of the server serving it."""

    runtime: Runtime
    app: OnescreenDash
    client: Client


@contextmanager
def in_process(redis_url: str, name: str, *, tick_ms: int = 50) -> Iterator[InProcess]:
    """``create_app`` on a started Runtime (key prefix ``{name}<random>``), served on a free port by uvicorn on a
    thread; stopped and its keys deleted afterwards."""
    prefix = f"{name}{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env(redis_url=redis_url, redis_prefix=prefix, tick_ms=tick_ms)
    runtime = build_runtime(settings, redis_url)
    runtime.start()
    app = create_app(settings, runtime)
    assert isinstance(app, OnescreenDash)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app.server, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"{name}-test-server", daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 30, message="the in-process server listening")
        yield InProcess(runtime, app, Client(f"http://127.0.0.1:{port}"))
    finally:
        server.should_exit = True
        thread.join(10)
        runtime.stop()
        delete_prefix(redis.Redis.from_url(redis_url), prefix)
