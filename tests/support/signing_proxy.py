"""A reverse proxy that signs every request in to a test server, the way a deployment's gateway would: for clients
that cannot be given a cookie (third-party libraries that call ``requests.get`` themselves, such as the PyPI
``georeport`` Open311 client). It forwards method, path, query, headers and body to ``upstream`` with the
session cookie of ``tests.support.auth`` and returns the answer unchanged.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.auth import anonymous_opener, cookie_header

_HOP: frozenset[str] = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "cookie", "content-length"})


@contextmanager
def signing_proxy(upstream: str) -> Iterator[str]:
    """``http://127.0.0.1:PORT``: a proxy to ``upstream`` (a registered test server's origin) while in the block."""
    opener = anonymous_opener()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            headers.update(cookie_header(upstream))
            req = urllib.request.Request(upstream + self.path, data=body, method=self.command, headers=headers)
            try:
                with opener.open(req, timeout=30) as resp:
                    status, out_headers, data = resp.status, resp.headers, resp.read()
            except urllib.error.HTTPError as exc:
                status, out_headers, data = exc.code, exc.headers, exc.read()
            self.send_response(status)
            for k, v in out_headers.items():
                if k.lower() not in _HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
