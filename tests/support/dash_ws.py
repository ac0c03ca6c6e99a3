"""A client of Dash's WebSocket callback protocol, speaking as a browser tab's renderer does.

Used by the live-limit tests and the fan-out bench: a "tab" sends its page context and starts the persistent
push, answers the server's liveness probes, and acknowledges each map patch as onescreen.js does after a draw.
The server cannot tell it from Chromium, and fifty of them fit on a 2-core machine.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from typing import Any

from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.auth import cookie_header

Message = dict[str, Any]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/_dash-ws-callback"


def dial(base_url: str) -> ClientConnection:
    """A WebSocket to the server's callback endpoint, sent from one of its pages (Dash refuses other origins)."""
    return connect(
        ws_url(base_url),
        origin=Origin(base_url),
        open_timeout=30,
        max_size=None,
        additional_headers=cookie_header(base_url),  # the test server's session (tests.support.auth)
    )


def callback_outputs(base_url: str) -> dict[str, str]:
    """Output keys of onescreen's WebSocket callbacks: ``push`` (persistent), ``context`` and ``drawn``."""
    with urllib.request.urlopen(base_url + "/_dash-dependencies", timeout=30) as resp:
        deps = json.loads(resp.read())
    out: dict[str, str] = {}
    for dep in deps:
        if dep.get("websocket"):
            ids = {i["id"] for i in dep["inputs"]}
            out["push" if dep.get("persistent") else "context" if "url" in ids else "drawn"] = dep["output"]
    if set(out) != {"push", "context", "drawn"}:
        raise AssertionError(f"unexpected WebSocket callbacks: {out}")
    return out


def callback_request(renderer: str, output: str, inputs: list[Message] | None = None) -> str:
    """One ``callback_request`` of tab ``renderer`` with these input values, encoded (the renderer's wire form)."""
    payload = {
        "output": output,
        "outputs": [],
        "inputs": inputs or [],
        "state": [],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs or []],
    }
    return json.dumps(
        {"type": "callback_request", "requestId": uuid.uuid4().hex, "rendererId": renderer, "payload": payload}
    )


def request(conn: ClientConnection, renderer: str, output: str, inputs: list[Message] | None = None) -> None:
    """Send one ``callback_request`` of tab ``renderer`` with these input values."""
    conn.send(callback_request(renderer, output, inputs))


def page_context(path: str = "/wall", lang: str = "zh", token: str | None = None, search: str = "") -> list[Message]:
    """The inputs of the context callback for a page at ``path`` (query ``search``) rendered from frame ``token``,
    in the callback's input order."""
    return [
        {"id": "url", "property": "pathname", "value": path},
        {"id": "url", "property": "search", "value": search},
        {"id": "root-lang", "property": "data", "value": lang},
        {"id": "live-token", "property": "data", "value": token},
        {"id": "live-filters", "property": "data", "value": None},
    ]


def received(conn: ClientConnection, timeout: float = 0.2) -> list[Message]:
    """The messages of the next frame to arrive within ``timeout`` (Dash batches several into one JSON array),
    then any already waiting; ``[]`` when nothing came."""
    out: list[Message] = []
    wait = timeout
    while True:
        try:
            raw = conn.recv(timeout=wait)
        except TimeoutError:
            return out
        out.extend(flat_messages(json.loads(raw)))
        wait = 0.0  # drain what is already here, but never wait for a quiet spell that may not come


def flat_messages(data: Any) -> list[Message]:
    """The messages of one WebSocket frame: a message, or an array of messages and arrays (as Dash's worker
    reads it: a push is one array, and Dash's sender wraps what queues within 5 ms in another)."""
    if not isinstance(data, list):
        return [data]
    return [m for item in data for m in flat_messages(item)]


def answer_probes(conn: ClientConnection, messages: list[Message], path: str = "/wall") -> None:
    """Answer the server's liveness probes (get_props requests) as a live tab would."""
    for m in messages:
        if m.get("type") == "get_props_request":
            reply = {"type": "get_props_response", "requestId": m["requestId"], "payload": {"pathname": path}}
            conn.send(json.dumps(reply))


class FakeTab:
    """One live tab on its own connection: context + push, probe answers and "drawn" acks on a reader thread."""

    def __init__(self, base_url: str, path: str = "/wall", callbacks: dict[str, str] | None = None) -> None:
        self.cb = callbacks or callback_outputs(base_url)
        self.path = path
        self.tab = uuid.uuid4().hex
        self.conn = dial(base_url)
        self.drawn = 0
        self.messages = 0
        self.props: dict[str, Any] = {}
        self.error: BaseException | None = None  # what ended the reader early, if anything
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="fake-tab", daemon=True)
        self._thread.start()
        request(self.conn, self.tab, self.cb["context"], page_context(path))
        request(self.conn, self.tab, self.cb["push"])

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                messages = received(self.conn, 0.5)
            except Exception as exc:  # the connection closed
                if not self._stop.is_set():
                    self.error = exc
                return
            try:
                self._handle(messages)
            except Exception as exc:  # closed while answering
                if not self._stop.is_set():
                    self.error = exc
                return

    def _handle(self, messages: list[Message]) -> None:
        # the wall's map edits travel in a store (push.map_edit); the console's map is patched
        map_id = "wall-map-edit" if self.path.rstrip("/").endswith("/wall") else "console-map"
        answer_probes(self.conn, messages, self.path)
        for m in messages:
            self.messages += 1
            if m.get("type") != "set_props":
                continue
            self.props.update({m["payload"]["componentId"]: m["payload"]["props"]})
            if m["payload"]["componentId"] == map_id:
                self.drawn += 1  # a browser draws it now; acknowledge as onescreen.js does
                ack = [{"id": "live-drawn", "property": "data", "value": {"n": self.drawn, "t": 0}}]
                request(self.conn, self.tab, self.cb["drawn"], ack)

    def close(self) -> None:
        self._stop.set()
        self.conn.close()
        self._thread.join(5)
