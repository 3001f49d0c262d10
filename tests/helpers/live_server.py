"""The live server: an ASGI app under a real uvicorn on 127.0.0.1, port 0, in a thread of the test process."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.helpers.waiting import wait_until

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LiveServer:
    url: str
    """http://127.0.0.1:PORT, no trailing slash."""


def loopback_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 (port 0: the kernel picks a free one), as `invigil-server serve` binds it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms to every reply.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class UvicornThread:
    """`app` under uvicorn on `sock` in a daemon thread; start() returns once it accepts connections.

    Proxy headers are set explicitly, as `invigil-server serve` sets them: left out, uvicorn would believe
    X-Forwarded-For from 127.0.0.1 (every test client) or from FORWARDED_ALLOW_IPS, and a test of whose address a
    request counts under would pass or fail for the wrong reason. `forwarded_allow_ips` names the trusted proxies.
    """

    def __init__(
        self, app: Any, sock: socket.socket, *, forwarded_allow_ips: Sequence[str] = (), **options: Any
    ) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            proxy_headers=bool(forwarded_allow_ips),
            forwarded_allow_ips=list(forwarded_allow_ips),
            **options,
        )
        self.sock = sock
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        try:
            wait_until(
                lambda: self.server.started,
                what=f"uvicorn to start on port {self.sock.getsockname()[1]}",
                timeout=START_TIMEOUT_S,
                interval=0.01,
                give_up_if=lambda: not self.thread.is_alive(),
            )
        except AssertionError:
            self.sock.close()
            raise

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextmanager
def serve_app(
    app: Any, *, scheme: str = "http", forwarded_allow_ips: Sequence[str] = (), **options: Any
) -> Iterator[str]:
    """`app` under uvicorn on 127.0.0.1, port 0, until the block ends; yields its address (scheme://127.0.0.1:PORT).

    `options` go to uvicorn.Config (ssl_certfile and ssl_keyfile for https)."""
    sock = loopback_socket()
    port = sock.getsockname()[1]
    running = UvicornThread(app, sock, forwarded_allow_ips=forwarded_allow_ips, **options)
    running.start()
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        running.stop()
