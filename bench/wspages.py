"""Many live pages in one client process: asyncio WebSocket tabs that behave like the page (``FakeTab``'s protocol).

``python -m bench.wspages --url U --cookie C --pages N [--console-every K] [--marker REGEX] [--first-host H]``

Each page is its own WebSocket connection from its own loopback address (127.0.x.y: a browser per screen, so the
server's per-client connection cap sees 1 each), sends its page context and starts the persistent push, answers
the server's liveness probes and acknowledges every map edit as ``assets/onescreen.js`` does after a draw. Every
``--console-every``-th page is an official's page (``/``, the console: its map patched through ``figure``), the
others walls. One thread and one event loop for all of them (``FakeTab`` holds a thread per page: 1,000 of those
do not fit beside a server on 2 cores).

Protocol with the parent (lines on stdin/stdout, JSON): prints ``{"ready": n, "pages": N, "errors": e}`` about
once a second until every page has had its first push, then keeps printing it; on a ``stop`` line (or stdin
closing) prints ``{"done": true, "pages": [{"path", "first": {marker: epoch s}, "messages", "bytes", "error"}]}``:
for every marker (``--marker``, a regex on the raw frame text) the arrival time of the first frame holding it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.dash_ws import callback_request, flat_messages, page_context, ws_url

WALL_MAP_EDIT = "wall-map-edit"
CONSOLE_MAP = "console-map"


@dataclass
class Page:
    path: str
    host: str
    first: dict[str, float] = field(default_factory=dict)
    messages: int = 0
    nbytes: int = 0
    drawn: int = 0
    error: str = ""
    live: bool = False  # had its first push


async def run_page(
    page: Page, url: str, cookie: str, cb: dict[str, str], marker: re.Pattern[str], stop: asyncio.Event
) -> None:
    tab = uuid.uuid4().hex
    map_id = CONSOLE_MAP if page.path == "/" else WALL_MAP_EDIT
    try:
        async with connect(
            ws_url(url),
            origin=Origin(url),
            additional_headers={"Cookie": cookie},
            max_size=None,
            open_timeout=120,
            ping_interval=None,
            compression=None,
            local_addr=(page.host, 0),
        ) as conn:
            await conn.send(callback_request(tab, cb["context"], page_context(page.path)))
            await conn.send(callback_request(tab, cb["push"]))
            reader = asyncio.create_task(_read(conn, page, tab, cb, map_id, marker))
            done, _ = await asyncio.wait({reader, asyncio.create_task(stop.wait())}, return_when="FIRST_COMPLETED")
            if reader in done:
                reader.result()
            reader.cancel()
    except Exception as exc:
        if not stop.is_set():
            page.error = f"{type(exc).__name__}: {exc}"


async def _read(
    conn: ClientConnection, page: Page, tab: str, cb: dict[str, str], map_id: str, marker: re.Pattern[str]
) -> None:
    async for raw in conn:
        t = time.time()
        text = raw if isinstance(raw, str) else raw.decode()
        page.messages += 1
        page.nbytes += len(text)
        for m in marker.findall(text) if page.live else ():
            page.first.setdefault(m, t)
        probe = "get_props_request" in text
        if not probe and map_id not in text:
            page.live = page.live or '"set_props"' in text
            continue
        for m in flat_messages(json.loads(text)):
            kind = m.get("type")
            if kind == "get_props_request":
                reply = {"type": "get_props_response", "requestId": m["requestId"], "payload": {"pathname": page.path}}
                await conn.send(json.dumps(reply))
            elif kind == "set_props" and m["payload"]["componentId"] == map_id:
                page.drawn += 1  # a browser draws it now; acknowledge as onescreen.js does
                ack = [{"id": "live-drawn", "property": "data", "value": {"n": page.drawn, "t": 0}}]
                await conn.send(callback_request(tab, cb["drawn"], ack))
                page.live = True


def _host(first: str, i: int) -> str:
    a, b, c, d = (int(x) for x in first.split("."))
    n = d + i
    return f"{a}.{b}.{c + n // 250}.{n % 250 + 1}" if n >= 250 else f"{a}.{b}.{c}.{n}"


async def main_async(args: argparse.Namespace) -> int:
    cb = json.loads(args.callbacks)
    marker = re.compile(args.marker)
    stop = asyncio.Event()
    pages = [
        Page(
            "/" if args.console_every and i % args.console_every == args.console_every - 1 else "/wall",
            _host(args.first_host, i),
        )
        for i in range(args.pages)
    ]
    tasks = []
    for i, p in enumerate(pages):  # a steady ramp: page loads at once are the fanout bench's measurement
        tasks.append(asyncio.create_task(run_page(p, args.url, args.cookie, cb, marker, stop)))
        if i % 10 == 9:
            await asyncio.sleep(10 / args.ramp)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

    async def report() -> None:
        while not stop.is_set():
            ready = sum(p.live for p in pages)
            errors = sum(bool(p.error) for p in pages)
            print(json.dumps({"ready": ready, "pages": len(pages), "errors": errors}), flush=True)
            await asyncio.sleep(1.0)

    reporter = asyncio.create_task(report())
    while True:
        line = await stdin.readline()
        if not line or line.strip() == b"stop":
            break
    stop.set()
    reporter.cancel()
    await asyncio.wait(tasks, timeout=10)
    out = [
        {"path": p.path, "first": p.first, "messages": p.messages, "bytes": p.nbytes, "error": p.error} for p in pages
    ]
    print(json.dumps({"done": True, "pages": out}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.wspages")
    p.add_argument("--url", required=True)
    p.add_argument("--cookie", required=True)
    p.add_argument("--callbacks", required=True, help="JSON of tests.support.dash_ws.callback_outputs(url)")
    p.add_argument("--pages", type=int, required=True)
    p.add_argument("--console-every", type=int, default=0, help="every k-th page is the officials' page (0: none)")
    p.add_argument("--marker", default=r"MK[0-9a-z]+-\d{4}")
    p.add_argument("--first-host", default="127.0.1.1", help="loopback address of the first page")
    p.add_argument("--ramp", type=float, default=50.0, help="pages connected per second")
    args = p.parse_args(argv)
    try:
        import uvloop

        return uvloop.run(main_async(args))
    except ImportError:
        return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
