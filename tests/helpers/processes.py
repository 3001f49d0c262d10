"""Which process holds what, read from Linux's /proc: a server's child processes, and which of them accepted a
given TCP connection (so a test can tell which worker answered without the server saying so)."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> set[int]:
    """The processes `pid` started that are still its children (every thread's list)."""
    found: set[int] = set()
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return found


def is_running(pid: int) -> bool:
    """False once the process has ended (gone, or a zombie nobody has collected yet)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]  # the name in brackets may hold spaces
    return state not in ("Z", "X")


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in (PROC / str(pid) / "fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _tcp_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of the loopback connection from `client_port` to `server_port`."""
    for table in ("tcp", "tcp6"):
        lines = (PROC / "net" / table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], int(fields[9])
            if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                return inode
    return None


def connection_holder(candidates: set[int], *, server_port: int, client_port: int) -> int | None:
    """Which of `candidates` holds the server's end of the connection from `client_port` (None: none of them)."""
    inode = _tcp_inode(server_port, client_port)
    if inode is None:
        return None
    return next((pid for pid in sorted(candidates) if inode in _socket_inodes(pid)), None)
