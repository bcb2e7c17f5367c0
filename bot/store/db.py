"""The store's database: SQLite by default (one connection, WAL), PostgreSQL when given a postgresql:// URL.

SQLite allows one writer at a time; funnelling every write through `transaction()` (one connection, one lock)
turns "database is locked" surprises into an orderly queue and makes every multi-row change atomic. The
PostgreSQL backend (`postgres.py`) keeps the same API and the same meaning over a connection pool; callers see
only `Database`, `Connection` and the errors in `errors.py`, never a driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from bot.store.private_files import prepare_database_files
from bot.store.url import check_url

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("bot.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


# A result row on either backend (sqlite3.Row, asyncpg.Record): index by position or column name, keys(), dict().
Row = Any


class Connection(Protocol):
    """What `transaction()` yields, on either backend: aiosqlite's calls that the code base uses. `execute()`
    returns something to await (a cursor with `fetchone/fetchall/fetchmany`, `rowcount`, `lastrowid`) or to use
    in `async with`. Rows index by position and by column name on both backends."""

    def execute(self, sql: str, parameters: Iterable[Any] = ...) -> Any: ...

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] = ...) -> Iterable[Any]: ...

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Any: ...


class Database:
    """Owns the aiosqlite connection. Reads may run at any time; writes go through `transaction()`.

    `Database("postgresql://…")` gives the PostgreSQL backend instead (a subclass with the same API)."""

    def __new__(cls, target: str | Path, *args: Any, **kwargs: Any) -> Database:
        if cls is Database and isinstance(target, str) and "://" in target:
            check_url(target)  # a clear error for mysql://, sqlite://, typos
            from .postgres import PostgresDatabase  # asyncpg is loaded only by those who use it

            return super().__new__(PostgresDatabase)
        return super().__new__(cls)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return "sqlite"

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("Database is not open")
        return self._conn

    async def open(self) -> Database:
        if str(self.path) != ":memory:":
            prepare_database_files(self.path)  # 0600 before SQLite creates anything (WAL/SHM copy the mode)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            self._conn.row_factory = aiosqlite.Row
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA synchronous=NORMAL")
            await self._conn.execute("PRAGMA foreign_keys=ON")
            await self._conn.execute("PRAGMA busy_timeout=5000")
            await self.migrate()
        except BaseException:
            # e.g. "file is not a database": aiosqlite's thread is not a daemon, so an unclosed connection would
            # keep the process from ever exiting after the error was reported.
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self) -> int:
        """Apply pending migrations, each in its own transaction; returns the schema version."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        return await apply_migrations(self, await self.schema_version())

    def ddl(self, statement: str) -> list[str]:
        """One migration statement as this backend runs it (SQLite: as written)."""
        return [statement]

    def schema_changed(self) -> None:
        """Called after each applied migration (a backend that caches statements forgets them)."""

    async def schema_version(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        return int(row["v"]) if row else 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception; serialised across tasks."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                # SQLite has already rolled back by itself after some errors (SQLITE_FULL, SQLITE_IOERR): a
                # second ROLLBACK would fail and hide the real error ("database or disk is full") behind
                # "cannot rollback - no transaction is active".
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise
            else:
                try:
                    await self.conn.execute("COMMIT")
                except BaseException:  # e.g. the disk filled up while writing the commit: leave no open transaction
                    if self.conn.in_transaction:
                        await self.conn.execute("ROLLBACK")
                    raise

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # One hop to the database thread (execute and fetch together), not three (execute, fetch, close):
        # on the hot path of every chat message the hops, not SQLite, are the cost.
        return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def stream(self, sql: str, params: Iterable[Any] = (), *, batch: int = 500) -> AsyncIterator[Any]:
        """The rows of one query, `batch` at a time from one cursor: an export of a million rows holds one batch in
        memory, never the whole result (PostgreSQL: a server-side cursor, `PostgresDatabase.stream`)."""
        async with self.conn.execute(sql, tuple(params)) as cursor:
            while True:
                rows = await cursor.fetchmany(batch)
                if not rows:
                    return
                for row in rows:
                    yield row

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement, atomic on its own (autocommit), through the same writer lock as transactions; returns
        the number of rows changed. For the small per-message writes (a last location, a seen update id)."""
        async with self._write_lock:
            cursor = await self.conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def write_returning(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """`write` for a statement with a RETURNING clause: the rows it returns, in the same round trip."""
        async with self._write_lock:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def write_each(self, sql: str, seq_of_params: Iterable[Iterable[Any]]) -> list[Any]:
        """One statement run once per parameter row, in order and atomically (all or none), through the writer lock;
        the rows all the runs return, in order. Each run sees what the runs before it wrote. PostgreSQL pipelines
        the runs in one round trip (`PostgresDatabase.write_each`); here they are one transaction."""
        rows: list[Any] = []
        async with self.transaction() as conn:
            for params in seq_of_params:
                rows += await conn.execute_fetchall(sql, tuple(params))
        return rows


async def apply_migrations(db: Database, current: int) -> int:
    """Apply the migrations newer than `current` through the Database API, on either backend: each in its own
    transaction together with its `schema_migrations` row, so a failed one leaves the schema at the one before.
    Returns the schema version."""
    for version, name, sql in _migrations():
        if version <= current:
            continue
        async with db.transaction() as conn:
            for statement in _split_sql(sql):
                for translated in db.ddl(statement):
                    await conn.execute(translated)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        db.schema_changed()
        current = version
    return current


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN … ; … END;) whole."""
    code = "\n".join(ln for ln in sql.splitlines() if not ln.strip().startswith("--"))
    statements, buffer = [], ""
    for piece in code.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]}")
    return statements
