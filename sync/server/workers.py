"""`serve --workers N`: uvicorn's worker processes on one socket, each building the app itself from options the
serve command hands down through the environment.

uvicorn starts each worker as a fresh interpreter (multiprocessing's spawn) and gives it only its own Config and
the socket; the app is named by an import string and built in the worker by `create_worker_app`. The options
travel in one environment variable, which a spawned worker inherits: the key itself does not (the worker reads
the key file, as every worker of a server must use the same one).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy.exc import DBAPIError

# STARTUP_FAILURE: the exit code of a worker that could not start; uvicorn's supervisor then stops the server
# instead of starting the worker again and again.
from uvicorn.config import STARTUP_FAILURE

from sync.error_catalogue import Problem, problem
from sync.server.bodylimit import BodyLimits
from sync.server.db_failures import describe_failure
from sync.server.settings import ServerSettings, SettingsError, load_secret
from sync.server.store import StoreError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

OPTIONS_ENV = "INVIGIL_SERVER_WORKER_OPTIONS"
APP_FACTORY = "sync.server.workers:create_worker_app"
"""What uvicorn imports and calls in each worker (`factory=True`)."""


@dataclass(frozen=True)
class WorkerOptions:
    """What a worker needs to build the same app as the single-process server."""

    database_url: str
    secret_file: str
    body_limits: tuple[tuple[str, int], ...] = ()
    """`--max-body` overrides, as (BodyLimits field, bytes)."""
    content_uploads: bool = False
    """`--content-uploads`."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "database_url": self.database_url,
                "secret_file": self.secret_file,
                "body_limits": self.body_limits,
                "content_uploads": self.content_uploads,
            }
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> WorkerOptions:
        text = environ.get(OPTIONS_ENV)
        if not text:
            raise SettingsError(
                f"{APP_FACTORY} builds the app in a worker of `invigil-server serve --workers N`, which sets "
                f"{OPTIONS_ENV}; start the server with that command."
            )
        data = json.loads(text)
        return cls(
            database_url=data["database_url"],
            secret_file=data["secret_file"],
            body_limits=tuple((name, int(size)) for name, size in data["body_limits"]),
            content_uploads=bool(data.get("content_uploads", False)),
        )


def freeze_startup_objects() -> None:
    """Everything made so far (modules, routes, models) lives as long as the process: move it out of the cycle
    collector's reach, so its full collections under load walk only request garbage (measured: a 10,000-result
    upload had one 55-110 ms full collection; with this, ~40 ms of collection in all)."""
    gc.collect()
    gc.freeze()


def create_worker_app() -> FastAPI:
    """The app of one worker: its own store (closed when the worker shuts down) and the key file's key.

    A worker that cannot start says why on stderr and exits with uvicorn's startup-failure code, so the
    supervisor stops the server rather than restarting the worker in a loop (the serve command checked the
    database before starting workers; this is for one that went away meanwhile).
    """
    from sync.server.app import create_app

    try:
        options = WorkerOptions.from_environment(os.environ)
    except SettingsError as exc:  # started other than by `serve --workers N`
        _cannot_start(problem("server_cli.failed", str(exc)))
    try:
        settings = ServerSettings(
            database_url=options.database_url,
            secret_key=load_secret(Path(options.secret_file), create=False),
            body_limits=BodyLimits().overridden(options.body_limits),
            content_uploads=options.content_uploads,
        )
        app = create_app(settings)
    except DBAPIError as exc:
        _cannot_start(problem("server_cli.database_unreachable", describe_failure(options.database_url, exc)))
    except SettingsError as exc:  # the key file
        _cannot_start(problem("server_cli.secret_file", str(exc)))
    except StoreError as exc:
        _cannot_start(problem("server_cli.database_not_ready", str(exc)))
    freeze_startup_objects()
    return app


def _cannot_start(reason: Problem) -> NoReturn:
    """Say why on stderr, numbered as the serve command would have (INV-8xxx), and exit."""
    sys.stderr.write(f"invigil-server serve: worker process {os.getpid()} could not start: {reason}\n")
    sys.stderr.flush()
    sys.exit(STARTUP_FAILURE)


def run_workers(config: uvicorn.Config, sock: socket.socket, options: WorkerOptions) -> bool:
    """Serve on `sock` with `config.workers` processes until Ctrl+C or SIGTERM (uvicorn's supervisor then stops
    each worker and waits for it). False when a worker could not start, which stops the others too."""
    from uvicorn.supervisors import Multiprocess

    if not config.factory or config.app != APP_FACTORY:
        raise ValueError(f"Workers build the app themselves: config.app must be {APP_FACTORY!r} with factory=True")
    # The supervisor takes over these signals for good; the caller's handlers come back once it has stopped.
    handlers = {sig: signal.getsignal(sig) for sig in _supervised_signals()}
    os.environ[OPTIONS_ENV] = options.to_json()
    try:
        supervisor = Multiprocess(config, sockets=[sock])
        supervisor.run()
    finally:
        os.environ.pop(OPTIONS_ENV, None)
        for sig, handler in handlers.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back from here
                signal.signal(sig, handler)
    return not any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes)


def _supervised_signals() -> Sequence[signal.Signals]:
    from uvicorn.supervisors.multiprocess import SIGNALS

    return [signal.Signals(sig) for sig in SIGNALS]
