"""Alembic environment: runs migrations on the connection the server hands over (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from sync.server.models import Base

config = context.config
target_metadata = Base.metadata


class ForeignKeyPragmaError(RuntimeError):
    """SQLite's foreign keys could not be turned off for a migration, or a migration left rows orphaned."""


def _prepare_sqlite(connection: Connection) -> None:
    """Foreign-key enforcement off, and one transaction for the whole run, on SQLite.

    A batch migration on SQLite copies a table, drops the old one and renames the copy (SQLite cannot alter most
    of a table in place). With enforcement on, dropping a table other rows refer to fails: a server at 0002 whose
    attempts had results could not be upgraded to 0003 (Alembic's batch docs say to turn the pragma off). The
    server's own connections turn it on (store.make_engine), so it is turned off here.
    """
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    # The pragma is silently ignored inside a transaction: say so rather than fail later on a dropped table.
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
        raise ForeignKeyPragmaError(
            "Cannot turn SQLite's foreign keys off for the migration: the connection is already in a transaction."
        )
    # Python's sqlite3 opens a transaction only before an INSERT, UPDATE or DELETE, and runs CREATE, ALTER and
    # DROP before the first of those on their own: a run that failed kept the tables it had made while the version
    # stayed behind, and the next try stopped at "table already exists". SQLite can undo DDL, so it all goes in one
    # transaction (sqlite3 then commits or rolls back this one as it would its own).
    connection.exec_driver_sql("BEGIN")
    # A connection with enforcement off must never serve a request: once the caller's transaction ends it is
    # closed instead of going back to the server's pool (new ones are opened with enforcement on).
    connection.detach()


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    """What enforcement would have refused, refused here: no migration may leave a row pointing at nothing."""
    orphans = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if orphans:
        table, rowid, parent, _ = orphans[0]
        raise ForeignKeyPragmaError(
            f"After the migration {len(orphans)} row(s) refer to rows that do not exist, the first in table "
            f"{table} (rowid {rowid}) pointing into {parent}. Nothing was upgraded: mend or remove those rows "
            "(PRAGMA foreign_key_check lists them all) and run the upgrade again."
        )


def _run_on(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _prepare_sqlite(connection)
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        migration = context.get_context()
        started_at = migration.get_current_heads()
        context.run_migrations()
        # Only after a migration ran: `serve --migrate` comes here on every start, and the check reads every row.
        if sqlite and migration.get_current_heads() != started_at:
            _check_sqlite_foreign_keys(connection)


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run_on(conn)
    finally:
        # Closes the connection now: an engine left to the garbage collector held the database open after the
        # command returned (on PostgreSQL, a session that blocks dropping or copying the database).
        engine.dispose()


run()
