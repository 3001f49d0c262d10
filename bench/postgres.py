"""A throwaway PostgreSQL cluster with fsync on for the engine figures: the tests' own helper, durable.

`tests/helpers/postgres.py` is plain Python (no pytest); the bench reuses it rather than keeping a second copy of
initdb's options. Nothing else in `bench/` imports from `tests/`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    secret_file: Path
    data_dir: Path
    """The cluster's data folder (its postmaster.pid names the process the CPU figures follow)."""


@contextmanager
def durable_cluster() -> Iterator[Callable[[str, Path], BenchDatabase]]:
    """A running cluster (fsync, full_page_writes and synchronous_commit at PostgreSQL's defaults: on) until the
    block ends; yields a function that makes an empty database in it."""
    from tests.helpers.postgres import start_cluster

    cluster = start_cluster(durable=True)

    def new_database(prefix: str, work: Path) -> BenchDatabase:
        name = cluster.new_database(prefix)
        return BenchDatabase(url=cluster.url(name), secret_file=work / f"{name}.secret", data_dir=cluster.data)

    try:
        yield new_database
    finally:
        cluster.stop()
