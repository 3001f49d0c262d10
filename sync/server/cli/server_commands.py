"""Commands that set the server up and run it: init, serve, demo-seed."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import ipaddress
import json
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync.server.crypto import Keyring

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

from sync.server.cli.common import CliError, Env, locate_database, open_store
from sync.server.settings import shown_url


def cmd_init(args: argparse.Namespace, env: Env) -> None:
    store, settings = open_store(args, create=True)
    store.close()
    env.stdout.write(f"Database ready: {shown_url(settings.database_url)}\n")


def trusted_proxies(value: str) -> list[str]:
    """`--forwarded-allow-ips`: comma-separated addresses or networks (or `*`) whose X-Forwarded-For is believed."""
    trusted = [part.strip() for part in value.split(",") if part.strip()]
    for part in trusted:
        if part == "*":
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError as exc:
            raise CliError(
                f"--forwarded-allow-ips: {part!r} is not an IP address or network (like 10.0.0.5 or 10.0.0.0/24). "
                "Name the address your reverse proxy connects from.",
                key="server_cli.forwarded_ips",
            ) from exc
    return trusted


def uvicorn_config(
    app: FastAPI | str, *, log_level: str, forwarded_allow_ips: Sequence[str], workers: int = 1
) -> uvicorn.Config:
    """uvicorn's settings for the app, with proxy headers believed only from `forwarded_allow_ips`.

    Both passed explicitly: left out, uvicorn believes X-Forwarded-For from 127.0.0.1 (so any local process
    could pick the address its failed logins count under), or from whatever FORWARDED_ALLOW_IPS says. With
    several workers `app` is the import string of the factory each worker builds its app with.
    """
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips),
        workers=workers,
        factory=isinstance(app, str),
    )


def refuse_workers_on_sqlite(args: argparse.Namespace) -> None:
    url, _ = locate_database(args)
    if url.startswith("sqlite"):
        raise CliError(
            f"--workers {args.workers} needs PostgreSQL, and the database is the SQLite file "
            f"{url.removeprefix('sqlite:///')}. SQLite lets one writer in at a time, and the queue that keeps "
            "writers from waiting seconds under a surge orders them only inside one process, so several workers "
            "would hold each other up. Serve it with one worker (leave out --workers), or serve a PostgreSQL "
            "database (--db postgresql+psycopg://USER@HOST:PORT/DATABASE; see docs/server.md).",
            key="server_cli.workers_need_postgres",
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening here, so `--port 0` works (the kernel picks a free port and the real one is printed)
    and a client that reads the banner may connect at once (queued until a worker accepts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms to every reply.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. {_what_to_change(exc)}", key="server_cli.cannot_listen"
        ) from exc
    sock.listen(2048)
    return sock


def _what_to_change(exc: OSError) -> str:
    """A port in use or reserved is the port's fault; a name that does not resolve, or an address that is not this
    computer's (EADDRNOTAVAIL), is the host's: saying "another --port" then would send the admin the wrong way."""
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            "Give --host an address of this computer: 127.0.0.1 (this computer only), 0.0.0.0 (every network "
            "interface), or one shown by `ip addr`."
        )
    return "Choose another --port (or stop the program using it)."


def cmd_serve(args: argparse.Namespace, env: Env) -> None:
    import uvicorn

    from sync.server.app import create_app
    from sync.server.workers import APP_FACTORY, WorkerOptions, freeze_startup_objects, run_workers

    trusted = trusted_proxies(args.forwarded_allow_ips)  # a typo is refused before anything is opened
    if args.workers > 1:
        refuse_workers_on_sqlite(args)  # so is SQLite with several workers
    # Opened here with one worker or many: a database that cannot be reached or is not at this code's schema is
    # refused with its message before the banner (and with --migrate, migrated once, not by racing workers).
    store, settings = open_store(args, create=args.migrate)
    settings = dataclasses.replace(
        settings, body_limits=settings.body_limits.overridden(args.max_body), content_uploads=args.content_uploads
    )
    app: FastAPI | str = APP_FACTORY
    if args.workers == 1:
        app = create_app(settings, store=store, clock=env.clock)
        freeze_startup_objects()
    else:
        store.close()  # each worker opens its own
    sock = listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    env.stdout.write(
        f"Invigil server on http://{shown}:{port}/api/v1/ (database {shown_url(settings.database_url)}{workers})\n"
    )
    env.stdout.flush()
    config = uvicorn_config(app, log_level=args.log_level, forwarded_allow_ips=trusted, workers=args.workers)
    try:
        if args.workers == 1:
            uvicorn.Server(config).run(sockets=[sock])
        else:
            _, secret_file = locate_database(args)
            options = WorkerOptions(
                database_url=settings.database_url,
                secret_file=str(secret_file),
                body_limits=tuple(args.max_body),
                content_uploads=args.content_uploads,
            )
            if not run_workers(config, sock, options):
                raise CliError(
                    "A worker process could not start (its reason is above), so the server stopped.",
                    key="server_cli.worker_failed",
                )
    except KeyboardInterrupt:
        # uvicorn has already shut down cleanly and re-raised Ctrl-C; a traceback would only alarm the operator.
        pass
    finally:
        sock.close()
    env.stdout.write("Invigil server stopped.\n")


def cmd_demo_seed(args: argparse.Namespace, env: Env) -> None:
    from sync.server.demo import seed

    store, settings = open_store(args, create=True)
    with store.transaction() as session:
        data = seed(session, Keyring(settings.secret_key), now=env.clock(), host=args.host, port=args.port)
    if args.json:
        env.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    env.stdout.write(f"Demo school: {data['school']['name']}\n")
    env.stdout.write(f"Staff sign-in: {data['staff']['username']} / {data['staff']['password']}\n")
    env.stdout.write(f"Sitting: {data['sitting']['name']} (open until {data['sitting']['window_end']})\n")
    for student in data["students"]:
        env.stdout.write(f"  {student['access_code']}  {student['name']}\n")
