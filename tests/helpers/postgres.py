"""A throwaway PostgreSQL cluster the tests start themselves: `initdb` in a temp folder, a free port on 127.0.0.1.

Debian's `postgresql` package (scripts/setup-env installs it) gives the programs; no service need be running, and
the one started here is stopped and deleted at the end of the run. PostgreSQL refuses to run as root, so as root
the cluster belongs to the unprivileged `postgres` user the package creates (its programs run through `runuser`).

One cluster serves a whole run. Each test gets a database of its own, copied from a migrated (or seeded) template
database with `CREATE DATABASE ... TEMPLATE`, as the SQLite tests copy a template file.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")

SERVICE_USER = "postgres"
"""The account Debian's package makes; the cluster runs as it when the tests run as root."""


class PostgresMissing(RuntimeError):
    """No PostgreSQL programs on this machine: say what to install."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them off PATH, one folder per major version)."""
    found = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresMissing(
        "PostgreSQL's programs (initdb, pg_ctl) are not installed. Run scripts/setup-env as root, or: "
        "sudo apt-get install postgresql"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Cluster:
    """A running cluster: `url(name)` is an SQLAlchemy URL for one of its databases."""

    folder: Path
    port: int
    bindir: Path
    owner: str
    durable: bool
    _databases: int = field(default=0)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.owner}@127.0.0.1:{self.port}/{database}"

    def _run(self, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_owner(self.owner, argv), capture_output=True, text=True, check=check, cwd="/")

    def new_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); returns its name."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        clause = f" TEMPLATE {template}" if template else ""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')  # our own identifiers
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.owner} dbname={database}"

    def stop(self) -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_owner(owner: str, argv: Sequence[str]) -> list[str]:
    if os.geteuid() == 0 and owner != "root":
        return ["runuser", "-u", owner, "--", *argv]
    return list(argv)


def start_cluster(*, durable: bool = False, parent: Path | None = None) -> Cluster:
    """initdb + pg_ctl start on a free port. `durable=False` turns fsync off: the tests check Invigil's
    behaviour, not PostgreSQL's power-cut safety, and fsync is most of a commit's cost on this disk."""
    bindir = bin_dir()
    owner = SERVICE_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(owner)
        except KeyError as exc:
            raise PostgresMissing(
                f"Running as root, the test cluster needs the unprivileged {owner!r} user that Debian's postgresql "
                "package creates. Run scripts/setup-env, or: apt-get install postgresql"
            ) from exc
    folder = Path(tempfile.mkdtemp(prefix="invigil-pg-", dir=parent))
    if os.geteuid() == 0:
        os.chown(folder, account.pw_uid, account.pw_gid)
        folder.chmod(0o700)
    cluster = Cluster(folder=folder, port=free_port(), bindir=bindir, owner=owner, durable=durable)
    initdb = [
        str(bindir / "initdb"),
        "-D",
        str(cluster.data),
        "-U",
        owner,
        "--auth=trust",
        "--encoding=UTF8",
        # C: text sorts by code point, as SQLite's default does, whatever locales this machine has.
        "--locale=C",
        "--no-sync",
    ]
    done = cluster._run(initdb, check=False)
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    settings = [
        "listen_addresses = '127.0.0.1'",
        f"port = {cluster.port}",
        f"unix_socket_directories = '{folder}'",
        "max_connections = 300",
        "shared_buffers = 128MB",
        "log_min_messages = warning",
    ]
    if not durable:
        settings += ["fsync = off", "full_page_writes = off", "synchronous_commit = off"]
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# invigil test cluster\n" + "\n".join(settings) + "\n")
    start = [str(bindir / "pg_ctl"), "-D", str(cluster.data), "-l", str(folder / "log"), "-w", "-t", "60", "start"]
    done = cluster._run(start, check=False)
    if done.returncode != 0:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()}\n{log[-2000:]}")
    _wait_ready(cluster)
    return cluster


def _wait_ready(cluster: Cluster, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(cluster.dsn(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
