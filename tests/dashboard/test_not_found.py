"""Unknown paths answer 404 (``dashboard.not_found``), not Dash's catch-all page; the pages and every route stay."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message

from dashboard.not_found import NotFound


def app_like_dashs(assets: Path) -> FastAPI:
    """Routes as the dashboard has them: its own API, Dash's routes and assets, and Dash's GET catch-all."""
    server = FastAPI()
    server.add_api_route("/api/summary", lambda: {"ok": True}, methods=["GET"])
    server.add_api_route("/api/ingest", lambda: {"ok": True}, methods=["POST"])
    server.add_api_route("/_dash-layout", lambda: {}, methods=["GET"])
    server.add_api_route("/", lambda: HTMLResponse("<html>app</html>"), methods=["GET"])
    server.mount("/assets", StaticFiles(directory=assets))
    server.add_api_route("{path:path}", lambda: HTMLResponse("<html>app</html>"), methods=["GET"])
    server.add_middleware(NotFound, routes=lambda: server.router.routes)
    return server


def call(app: FastAPI, method: str, path: str) -> tuple[int, str]:
    """(status, body) of one in-process ASGI request (no server, no socket)."""
    sent: list[Message] = []
    asked = [False]
    done = anyio.Event()

    async def receive() -> Message:
        if not asked[0]:
            asked[0] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # then the client goes away
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def run() -> None:
        await app(scope, receive, send)

    # In a thread of its own: once a browser test has run, Playwright's sync API keeps an asyncio loop running
    # in this one, and anyio.run refuses to start another here
    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, run).result()
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body.decode("utf-8", "replace")


def test_unknown_paths_are_404_and_pages_and_routes_stay(tmp_path: Path) -> None:
    (tmp_path / "onescreen.css").write_text("body{}")
    app = app_like_dashs(tmp_path)
    for path in ("/", "/wall", "/wall/", "/api/summary", "/_dash-layout", "/assets/onescreen.css"):
        assert call(app, "GET", path)[0] == 200, path
    for path in ("/api/incidents.json", "/nope", "/wall/extra", "/api/summary/x"):
        status, body = call(app, "GET", path)
        assert status == 404 and "<html" not in body, path
    assert call(app, "GET", "/assets/missing.css")[0] == 404
    assert call(app, "POST", "/nope")[0] == 404
    assert call(app, "GET", "/api/ingest")[0] == 405  # a known route, the wrong method: still its 405
