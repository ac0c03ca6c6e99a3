"""A cap on open WebSocket connections per client address (ASGI middleware).

Each browser normally holds one WebSocket (Dash shares it between its tabs). A client opening more than
``max_per_client`` at once is refused before the handshake (HTTP 403), so one misbehaving client cannot make the
server hold thousands of connections. Behind a reverse proxy the address is the proxy's unless uvicorn is told to
trust ``X-Forwarded-For`` (``--proxy-headers --forwarded-allow-ips``): size the cap for that.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from dashboard.metrics import Metrics

log = logging.getLogger(__name__)


class WebSocketLimit:
    """ASGI middleware: at most ``max_per_client`` concurrent WebSocket connections per client host."""

    def __init__(self, app: ASGIApp, max_per_client: int = 64, metrics: Metrics | None = None) -> None:
        self.app = app
        self.max_per_client = max_per_client
        self.metrics = metrics  # open connections and refusals (None: not counted)
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.refused = 0

    def open_connections(self) -> int:
        """WebSocket connections open now, over all clients."""
        with self._lock:
            return sum(self._open.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = str(client[0]) if client else "?"
        with self._lock:
            full = self._open[host] >= self.max_per_client
            if not full:
                self._open[host] += 1
            else:
                self.refused += 1
        if self.metrics is not None:
            (self.metrics.ws_refused.inc() if full else self.metrics.ws_connections.inc())
        if full:
            log.warning("refused a WebSocket from %s: %d open (cap %d)", host, self.max_per_client, self.max_per_client)
            await send({"type": "websocket.close", "code": 1008, "reason": "too many connections"})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if self.metrics is not None:
                self.metrics.ws_connections.dec()
            with self._lock:
                self._open[host] -= 1
                if self._open[host] <= 0:
                    del self._open[host]
