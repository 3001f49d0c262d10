"""A hand-written HTTP server that answers /api/v1/health as Invigil's does, but with a Date header off by a chosen
number of seconds and a chosen version header: the server-side edges doctor's clock and version checks read."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sync.version import VERSION


@contextmanager
def tiny_health_server(*, skew_seconds: float = 0.0, version: str | None = VERSION) -> Iterator[str]:
    """Serve on 127.0.0.1, port 0, until the block ends; yields http://127.0.0.1:PORT."""

    class Health(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            # What send_response puts in the Date header: the real time, moved by the skew.
            return email.utils.formatdate(time.time() + skew_seconds, usegmt=True)

        def do_GET(self) -> None:
            if self.path != "/api/v1/health":
                self.send_error(404)
                return
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if version is not None:
                self.send_header("X-Invigil-Version", version)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: a test's output shows only what it asserts

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
