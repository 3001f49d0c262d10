"""A loopback TCP proxy that applies a schedule of faults, one per HTTP request, between a client and a server."""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

FaultKind = Literal["pass", "reset", "cut", "blackhole", "delay", "busy", "reply_lost"]

_BUSY_BODY = b'{"error": "fault_proxy_busy", "message": "The fault proxy answered 503 instead of the server."}'
BUSY_REPLY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _BUSY_BODY
)


@dataclass(frozen=True)
class Fault:
    """What happens to one request.

    pass: forwarded both ways. reset: the client's connection is reset (RST) before anything is forwarded.
    cut: forwarded, then only `cut_after` bytes of the reply reach the client before a reset.
    blackhole: the request is read and never answered (the client must time out).
    delay: forwarded after `delay` seconds. busy: the proxy answers 503 itself, the server never sees it.
    reply_lost: forwarded, the server answers (so it has committed), and the reply is dropped with a reset.
    `before`, if given, runs first (e.g. stop or restart the server behind the proxy).
    """

    kind: FaultKind = "pass"
    cut_after: int = 0
    delay: float = 0.0
    before: Callable[[], None] | None = None

    def __str__(self) -> str:
        extra = {"cut": f"({self.cut_after} B)", "delay": f"({self.delay:.2f} s)"}.get(self.kind, "")
        return f"{self.kind}{extra}{'+hook' if self.before else ''}"


class FaultProxy:
    """Listens on 127.0.0.1:0 and forwards to `upstream`; each request takes the next fault of the schedule.

    When the schedule runs out every request passes. Each request gets its own upstream connection, so a
    server restarted behind the proxy is reached again as soon as it listens. Given several upstreams (server
    processes on one database), requests go to each in turn, as a load balancer would send them.
    """

    def __init__(self, upstream: tuple[str, int] | Sequence[tuple[str, int]], schedule: Iterable[Fault] = ()) -> None:
        self.upstreams = _addresses(upstream)
        self._turn = 0
        self._schedule: deque[Fault] = deque(schedule)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.applied: list[tuple[str, str]] = []
        """(fault, request line) for each request, in order: printed when a schedule fails."""
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._acceptor.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extend(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._schedule.extend(faults)

    def remaining(self) -> int:
        with self._lock:
            return len(self._schedule)

    def close(self) -> None:
        self._closing.set()
        # shutdown() wakes a thread blocked in accept()/recv() at once; close() alone would wait for its timeout.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._acceptor.join(5)
        self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)
        for conn in conns:
            _close_quietly(conn)

    # ---- the proxy -----------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _next_fault(self) -> Fault:
        with self._lock:
            return self._schedule.popleft() if self._schedule else Fault()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        buffer = bytearray()
        try:
            while not self._closing.is_set():
                request = _read_message(conn, buffer, self._closing, is_reply=False)
                if request is None:
                    return
                fault = self._next_fault()
                self.applied.append((str(fault), request.split(b"\r\n", 1)[0].decode("latin-1")))
                if fault.before is not None:
                    fault.before()
                if not self._apply(conn, fault, request, buffer):
                    return
        except OSError:
            return
        finally:
            _close_quietly(conn)

    def _apply(self, conn: socket.socket, fault: Fault, request: bytes, buffer: bytearray) -> bool:
        """Carry out one fault; False when the client connection is finished."""
        if fault.kind == "reset":
            _reset(conn)
            return False
        if fault.kind == "busy":
            conn.sendall(BUSY_REPLY)
            return False
        if fault.kind == "blackhole":
            # Read and drop whatever comes until the client gives up (its timeout) or the proxy closes.
            while not self._closing.is_set():
                try:
                    if not conn.recv(65536):
                        return False
                except TimeoutError:
                    continue
            return False
        if fault.kind == "delay":
            self._closing.wait(fault.delay)
        reply = self._forward(request)
        if reply is None:
            _reset(conn)  # the server is down: the client sees a failed connection, as it would without us
            return False
        if fault.kind == "reply_lost":
            _reset(conn)
            return False
        if fault.kind == "cut":
            conn.sendall(reply[: fault.cut_after])
            _reset(conn)
            return False
        conn.sendall(reply)
        return b"connection: close" not in reply.split(b"\r\n\r\n", 1)[0].lower()

    def _forward(self, request: bytes) -> bytes | None:
        with self._lock:
            target = self.upstreams[self._turn % len(self.upstreams)]
            self._turn += 1
        try:
            with socket.create_connection(target, timeout=5) as upstream:
                upstream.sendall(request)
                return _read_message(upstream, bytearray(), self._closing, is_reply=True)
        except OSError:
            return None


def _addresses(upstream: tuple[str, int] | Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    match upstream:
        case (str() as host, int() as port):
            return [(host, port)]
        case _:
            return [(str(host), int(port)) for host, port in upstream]


def _read_message(sock: socket.socket, buffer: bytearray, closing: threading.Event, *, is_reply: bool) -> bytes | None:
    """One HTTP/1.1 message (head and Content-Length body) from sock; None if the peer closed first."""
    while b"\r\n\r\n" not in buffer:
        if not _fill(sock, buffer, closing):
            return None
    head_end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:head_end]).lower()
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif line.startswith(b"transfer-encoding:") and b"chunked" in line:
            raise OSError("the fault proxy does not handle chunked bodies")
    if is_reply and (head.startswith((b"http/1.1 204", b"http/1.1 304"))):
        length = 0
    while len(buffer) < head_end + length:
        if not _fill(sock, buffer, closing):
            return None
    message = bytes(buffer[: head_end + length])
    del buffer[: head_end + length]
    return message


def _fill(sock: socket.socket, buffer: bytearray, closing: threading.Event) -> bool:
    deadline = time.monotonic() + 30
    while not closing.is_set() and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return False
        buffer.extend(chunk)
        return True
    return False


def _reset(sock: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN: a reset, not a polite end.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    _close_quietly(sock)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


class LoopbackServer:
    """The real server under uvicorn on a fixed 127.0.0.1 port, over one SQLite file; stop() and start() again.

    Each start opens a fresh Store and app on the same file, as a restarted server process would.
    """

    def __init__(
        self, database_url: str, secret_key: bytes, clock: Callable[[], Any], *, codes: Sequence[str] = ()
    ) -> None:
        self.database_url = database_url
        self.codes = list(codes)
        self.sitting_clock: datetime | None = None
        """A moment inside the seeded sitting by this server's clock (set by whoever seeded it)."""
        """The seeded students' access codes."""
        self.secret_key = secret_key
        self.clock = clock
        probe = socket.create_server(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.upstreams = [("127.0.0.1", self.port)]
        self._running: Any = None
        self._store: Any = None
        self._reader: Any = None
        """The test's own Store for result_keys(): opening one per call cost ~20 ms, a fifth of a fault schedule."""
        self.starts = 0

    def start(self) -> None:
        from sync.server.app import create_app
        from sync.server.settings import LoginLimits, ServerSettings
        from sync.server.store import Store
        from tests.helpers.live_server import UvicornThread, loopback_socket

        settings = ServerSettings(
            database_url=self.database_url,
            secret_key=self.secret_key,
            login_limits=LoginLimits(per_machine=1000, per_address=1000),
        )
        self._store = Store.open(self.database_url, migrate=False)
        app = create_app(settings, store=self._store, clock=self.clock)
        # The same port each time, as a restarted server process keeps its address.
        self._running = UvicornThread(app, loopback_socket(self.port))
        self._running.start()
        self.starts += 1

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._running is None:
            return
        self._running.stop()
        self._store.close()
        self._running = self._store = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def result_keys(self, attempt_id: str | None = None) -> list[str]:
        """Every idempotency key in the server's results table (repeats included), read from the file."""
        from sqlalchemy import select

        from sync.server.models import Result
        from sync.server.store import Store

        if self._reader is None:
            self._reader = Store.open(self.database_url, migrate=False)
        with self._reader.transaction() as session:
            query = select(Result.idempotency_key)
            if attempt_id is not None:
                query = query.where(Result.attempt_id == attempt_id)
            return list(session.scalars(query))
