"""Commands that set the server up and run it: init, serve, demo-seed."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import ipaddress
import json
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync.server.crypto import Keyring

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

from sync.server.cli.common import CliError, Env, open_store
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
                "Name the address your reverse proxy connects from."
            ) from exc
    return trusted


def uvicorn_config(app: FastAPI, *, log_level: str, forwarded_allow_ips: Sequence[str]) -> uvicorn.Config:
    """uvicorn's settings for the app, with proxy headers believed only from `forwarded_allow_ips`.

    Both passed explicitly: left out, uvicorn believes X-Forwarded-For from 127.0.0.1 (so any local process
    could pick the address its failed logins count under), or from whatever FORWARDED_ALLOW_IPS says.
    """
    import uvicorn

    return uvicorn.Config(
        app,
        log_level=log_level,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips),
    )


def cmd_serve(args: argparse.Namespace, env: Env) -> None:
    import uvicorn

    from sync.server.app import create_app

    trusted = trusted_proxies(args.forwarded_allow_ips)  # a typo is refused before anything is opened
    store, settings = open_store(args, create=args.migrate)
    settings = dataclasses.replace(settings, body_limits=settings.body_limits.overridden(args.max_body))
    app = create_app(settings, store=store, clock=env.clock)
    # Everything made so far (modules, routes, models) lives as long as the process: move it out of the cycle
    # collector's reach, so its full collections under load walk only request garbage (measured: a 10,000-result
    # upload had one 55-110 ms full collection; with this, ~40 ms of collection in all).
    gc.collect()
    gc.freeze()
    # Bind the socket here so `--port 0` works: the kernel picks a free port and the real one is printed.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms to every reply.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise CliError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror}. Choose another --port.") from exc
    # Listening before the banner: a client that reads the URL may connect at once (queued until uvicorn accepts).
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    env.stdout.write(f"Invigil server on http://{shown}:{port}/api/v1/ (database {shown_url(settings.database_url)})\n")
    env.stdout.flush()
    server = uvicorn.Server(uvicorn_config(app, log_level=args.log_level, forwarded_allow_ips=trusted))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has already shut down cleanly and re-raised Ctrl-C; a traceback would only alarm the operator.
        env.stdout.write("Invigil server stopped.\n")
    finally:
        sock.close()


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
