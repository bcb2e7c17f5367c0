"""The PostgreSQL backend: the same `Database` API over an asyncpg pool.

Callers keep writing SQLite-dialect SQL with `?`; `dialect.query()` rewrites it. What stays the same as SQLite,
on purpose:
- Writes are serialised in this process through one lock (`transaction()` / `write()`), so every multi-row change
  keeps the meaning it has on SQLite: a report, its events and its outbox rows commit together, in order.
- Inside `transaction()` the task's reads (`db.fetchone` …, `db.conn`) go to the transaction's connection and see
  its uncommitted rows, as they do on SQLite's single connection; other tasks read committed data from the pool.
- Values are bound the way SQLite's type affinity stores them: an int for a TEXT column becomes its text, a numeric
  string for an INTEGER column its number (asyncpg itself refuses any mismatch). The parameter types come from the
  server, prepared once per statement text. The one thing PostgreSQL cannot store, U+0000 in text, is dropped.
- `SUM`/`AVG` come back as int/float (PostgreSQL's numeric would be Decimal).
Errors come out as `bot.store.errors` classes, never as asyncpg's.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import decimal
import logging
import time
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from typing import Any

import asyncpg

from . import dialect
from .db import Database, apply_migrations
from .errors import DatabaseUnavailable, IntegrityError, StorageError, StoreError
from .url import is_postgres_url, redact, scrub

log = logging.getLogger(__name__)

_MIGRATE_LOCK = 0x72696465  # pg_advisory_lock key: one process migrates at a time
_CONNECT_TIMEOUT = 10.0
_KEPT_IDLE = 60.0  # seconds a kept connection may sit unused before it goes back to the pool (`_take`)


def _numeric(text: str) -> int | float:
    value = decimal.Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text else float(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("numeric", encoder=str, decoder=_numeric, schema="pg_catalog", format="text")


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` every time a
    connection goes back to the pool: one more round trip for every statement outside a transaction (measured:
    ~5 of a 随手拍 submit's ~27, bench/single.py). The store leaves no session state on pooled connections —
    advisory locks are taken and released within a call or live on dedicated connections (migrations, chat
    locks, leadership), no LISTEN, no SET and no server-side cursor outside a transaction — so there is nothing to
    reset. An open transaction is still rolled back by asyncpg before this is called."""


_TEXT = {"text", "varchar", "bpchar", "name", "unknown"}
_INT = {"int2", "int4", "int8"}
_FLOAT = {"float4", "float8"}


def _coerce(value: Any, type_name: str) -> Any:
    """SQLite's type affinity, applied before asyncpg's strict encoders see the value."""
    if value is None:
        return None
    if type_name in _TEXT:
        if isinstance(value, bool):
            return str(int(value))
        if isinstance(value, str):
            # PostgreSQL's text cannot hold U+0000 (SQLite's can): it is dropped, not a crash on a hostile message.
            return value.replace("\x00", "") if "\x00" in value else value
        return str(value) if isinstance(value, int | float) else value
    if type_name in _INT:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
        return value
    if type_name in _FLOAT:
        if isinstance(value, int | str) and not isinstance(value, bool):
            with contextlib.suppress(ValueError):
                return float(value)
        return value
    if type_name == "numeric" and isinstance(value, str | float):
        return decimal.Decimal(str(value))
    if type_name == "bool" and isinstance(value, int):
        return bool(value)
    return value


_CONNECTION_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)

_STORAGE = (
    asyncpg.InsufficientResourcesError,  # includes disk full (53100)
    asyncpg.ReadOnlySQLTransactionError,
    *_CONNECTION_LOST,
)


def _closed(raw: asyncpg.Connection) -> bool:
    try:
        return raw.is_closed()
    except asyncpg.InterfaceError:  # the pool took back a dead connection's proxy
        return True


def _translate(exc: BaseException, raw: asyncpg.Connection | None = None) -> BaseException:
    """asyncpg's exception → ours (the original stays attached as __cause__)."""
    if isinstance(exc, StoreError | asyncio.CancelledError):
        return exc
    if raw is not None and _closed(raw):  # whatever asyncpg called it: the connection is gone
        return StorageError(f"connection lost: {type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(str(exc))
    if isinstance(exc, _STORAGE):
        return StorageError(f"{type(exc).__name__}: {exc}")
    return exc


async def _end_read(xact: Any) -> None:
    """A read-only transaction ends the same way whether the reader finished or stopped early."""
    with contextlib.suppress(Exception):
        await xact.rollback()


class Cursor:
    """What aiosqlite's cursor offers that the code base uses: rows, rowcount, lastrowid."""

    def __init__(self, rows: Sequence[Any], rowcount: int = -1, lastrowid: int | None = None) -> None:
        self._rows = list(rows)
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchmany(self, size: int = 1) -> list[Any]:
        chunk = self._rows[self._next : self._next + size]
        self._next += len(chunk)
        return chunk

    async def fetchall(self) -> list[Any]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    async def close(self) -> None:
        self._rows = []


class _Pending:
    """`await conn.execute(...)` and `async with conn.execute(...) as cursor`, as aiosqlite allows both."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self._cursor: Cursor | None = None

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._run.__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._run
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class Connection:
    """The connection a `transaction()` yields (and `db.conn` outside one): aiosqlite's calls, PostgreSQL below.

    Bound to one pooled connection inside a transaction; outside, each statement borrows one from the pool and runs
    on its own (autocommit), as statements on SQLite's connection do outside BEGIN … COMMIT."""

    dialect = "postgresql"  # for store code that holds only a connection (e.g. a NOTIFY in bot/store/catalog.py)

    def __init__(self, db: PostgresDatabase, raw: asyncpg.Connection | None) -> None:
        self._db = db
        self._raw = raw

    @property
    def in_transaction(self) -> bool:
        return self._raw is not None and self._raw.is_in_transaction()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._raw is not None:
            yield self._raw
        else:
            async with self._db._acquire() as raw:
                yield raw

    def execute(self, sql: str, params: Iterable[Any] = ()) -> _Pending:
        return _Pending(self._execute(sql, tuple(params)))

    async def _execute(self, sql: str, params: tuple[Any, ...]) -> Cursor:
        db, raw = self._db, self._raw
        if raw is not None:
            return await db._run(raw, sql, params)
        raw = await db._take()  # not `_acquire()`: one statement is the common case, kept lean
        try:
            cursor = await db._run(raw, sql, params)
        except BaseException:
            await db._give_back(raw, clean=False)
            raise
        await db._give_back(raw, clean=True)
        return cursor

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await (await self._execute(sql, tuple(params))).fetchall()

    async def executemany(self, sql: str, seq_of_params: Iterable[Iterable[Any]]) -> None:
        """All rows in one round trip (asyncpg pipelines them and waits once), atomically."""
        batch = [tuple(p) for p in seq_of_params]
        if not batch:
            return
        pg = dialect.query(sql)
        async with self._connection() as raw:
            try:
                types = await self._db._param_types(raw, pg)
                rows = [tuple(_coerce(v, t) for v, t in zip(p, types, strict=False)) for p in batch]
                await raw.executemany(pg, rows)
            except Exception as exc:
                raise _translate(exc, raw) from exc

    async def _fetch_each(self, sql: str, batch: list[tuple[Any, ...]]) -> list[Any]:
        """`PostgresDatabase.write_each` on this connection (or on one borrowed for the call)."""
        pg = dialect.query(sql)
        async with self._connection() as raw:
            try:
                types = await self._db._param_types(raw, pg)
                rows = [tuple(_coerce(v, t) for v, t in zip(p, types, strict=False)) for p in batch]
                return list(await raw.fetchmany(pg, rows))
            except Exception as exc:
                raise _translate(exc, raw) from exc


# Statement text → the server's parameter types, one prepare per statement per process (same schema everywhere).
_TYPES: dict[str, tuple[str, ...]] = {}

_current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar("rider_pg_transaction", default=None)


class PostgresDatabase(Database):
    """`Database("postgresql://…")` returns one of these (see `Database.__new__`)."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {redact(str(url))}")
        self.url = url
        self.path = None  # type: ignore[assignment]  # no file: photos etc. need their own settings
        self._pool: asyncpg.Pool | None = None
        self._write_lock = asyncio.Lock()
        self._min_size, self._max_size = min_size, max_size
        self._id_tables: frozenset[str] = frozenset()
        # Acquired from the pool, idle, ready for the next call (with when each was given back), oldest first.
        self._kept: list[tuple[asyncpg.Connection, float]] = []
        self._waiting = 0  # tasks waiting in `pool.acquire()`
        self._plans: dict[str, tuple[str, str | None, bool, str | None]] = {}  # see `_plan`

    def __repr__(self) -> str:
        return f"PostgresDatabase({redact(self.url)!r})"

    @property
    def dialect(self) -> str:
        return "postgresql"

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database is not open")
        return self._pool

    def _in_transaction(self) -> Connection | None:
        current = _current.get()
        return current if current is not None and current._db is self and current._raw is not None else None

    @property
    def conn(self) -> Connection:  # type: ignore[override]
        current = self._in_transaction()
        if current is not None:
            return current
        return Connection(self, None)

    async def open(self) -> PostgresDatabase:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min_size,
                max_size=self._max_size,
                init=_init_connection,
                reset=_no_session_reset,
                timeout=_CONNECT_TIMEOUT,
                server_settings={"timezone": "UTC", "application_name": "rider-bot"},
            )
        except Exception as exc:
            reason = scrub(str(exc).replace(self.url, redact(self.url))) or type(exc).__name__
            raise DatabaseUnavailable(redact(self.url), reason) from None
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._pool is not None:
            kept, self._kept = self._kept, []
            for raw, _ in kept:
                await self._release(raw)
            pool, self._pool = self._pool, None
            try:  # asyncpg waits for every acquired connection to come back: bounded, then cut
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                log.warning("closing the database pool: connections still in use after 10 s, terminated")
                pool.terminate()

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        raw = await self._take()
        clean = False
        try:
            yield raw
            clean = True
        finally:
            await self._give_back(raw, clean=clean)

    async def _take(self) -> asyncpg.Connection:
        """A connection for one statement or transaction: a kept one if any (see `_give_back`), else the pool's."""
        while self._kept:
            raw, _ = self._kept.pop()  # the most recently used: the others stay idle and may be trimmed
            if self._kept and time.monotonic() - self._kept[0][1] > _KEPT_IDLE:
                # Kept the longest and unused for a while: back to the pool, which closes it if it stays idle
                # (`max_inactive_connection_lifetime`), so a quiet process does not hold its busiest minute's
                # connections for ever.
                await self._release(self._kept.pop(0)[0])
            if not _closed(raw):
                return raw
            await self._release(raw)  # lost meanwhile (a server restart): the pool replaces it
        self._waiting += 1
        try:
            return await self.pool.acquire()
        except (StoreError, asyncio.CancelledError):
            raise
        except Exception as exc:
            # Whatever the server said (down, restarting, "not accepting connections", a dropped database or
            # role), nothing can be saved now: the honest "could not save", and the pool tries again next time.
            reason = scrub(str(exc).replace(self.url, redact(self.url)))
            raise StorageError(f"cannot connect to {redact(self.url)}: {type(exc).__name__}: {reason}") from exc
        finally:
            self._waiting -= 1

    async def _give_back(self, raw: asyncpg.Connection, *, clean: bool) -> None:
        """After a call that ended normally, the connection is kept for the next one instead of going back to
        asyncpg's pool: a release and an acquire there cost about as much CPU as the statement itself (a task for
        `asyncio.shield`, a proxy, a future; ~90 µs a pair against ~45 µs for a short query, measured). Kept
        connections are still the pool's (at most `max_size` in all). One that failed, was cancelled, is closed
        or still in a transaction goes back through the pool's release, which rolls back, waits out a
        cancellation or replaces it; so does every one while a task waits in `pool.acquire()` for a free
        connection, so that waiter gets it."""
        if clean and not self._waiting and self._pool is not None and not _closed(raw) and not raw.is_in_transaction():
            self._kept.append((raw, time.monotonic()))
            return
        await self._release(raw)

    async def _release(self, raw: asyncpg.Connection) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(raw)

    async def migrate(self) -> int:
        """As on SQLite (same files, translated by `dialect.ddl`); one process at a time (advisory lock)."""
        async with self._acquire() as raw:
            await raw.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                for statement in dialect.COMPAT_FUNCTIONS:
                    await raw.execute(statement)
                await raw.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
                    ' name TEXT COLLATE "C" NOT NULL, applied_at TEXT COLLATE "C" NOT NULL'
                    """ DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))"""
                )
                current = int(await raw.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
                # The advisory lock stays with `raw`; the migrations run through the Database API as on SQLite.
                current = await apply_migrations(self, current)
            except Exception as exc:
                raise _translate(exc) from exc
            finally:
                with contextlib.suppress(Exception):
                    await raw.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
            rows = await raw.fetch(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND column_name = 'id' AND is_identity = 'YES'"
            )
            self._id_tables = frozenset(r[0] for r in rows)
            self._plans.clear()  # INSERTs planned during the migrations did not know these tables yet
        return current

    def ddl(self, statement: str) -> list[str]:
        return dialect.ddl(statement)

    def schema_changed(self) -> None:
        _TYPES.clear()  # the schema changed under cached statements
        self._plans.clear()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:  # type: ignore[override]
        """BEGIN … COMMIT on one pooled connection, or ROLLBACK on any exception; serialised across tasks."""
        async with self._write_lock, self._acquire() as raw:
            xact = raw.transaction()
            try:
                await xact.start()
            except Exception as exc:
                raise _translate(exc, raw) from exc
            conn = Connection(self, raw)
            token = _current.set(conn)
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):
                    await xact.rollback()
                raise
            else:
                try:
                    await xact.commit()
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        await xact.rollback()
                    raise _translate(exc, raw) from exc
            finally:
                _current.reset(token)
                # A task started inside the transaction inherited `_current`; after it, that connection goes back
                # to the pool, and statements through `conn` run on their own (autocommit), as on SQLite.
                conn._raw = None

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return await self.conn.execute_fetchall(sql, params)

    async def stream(self, sql: str, params: Iterable[Any] = (), *, batch: int = 500) -> AsyncIterator[Any]:
        """A server-side cursor (DECLARE … FETCH `batch`), in a read-only REPEATABLE READ transaction of its own so
        the export is one consistent snapshot, as SQLite's cursor is; inside a write transaction, on its connection.
        asyncpg's `fetch` would bring the whole result into memory first."""
        current = self._in_transaction()
        pg = dialect.query(sql)
        async with contextlib.AsyncExitStack() as stack:
            if current is not None and current._raw is not None:
                raw = current._raw
            else:
                raw = await stack.enter_async_context(self._acquire())
                xact = raw.transaction(isolation="repeatable_read", readonly=True)
                try:
                    await xact.start()
                except Exception as exc:
                    raise _translate(exc, raw) from exc
                stack.push_async_callback(_end_read, xact)
            try:
                values = tuple(params)
                if values:
                    types = await self._param_types(raw, pg)
                    values = tuple(_coerce(v, t) for v, t in zip(values, types, strict=False))
                cursor = await raw.cursor(pg, *values)
                while True:
                    rows = await cursor.fetch(batch)
                    if not rows:
                        return
                    for row in rows:
                        yield row
            except (StoreError, asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                raise _translate(exc, raw) from exc

    async def write(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement on its own (autocommit), through the same writer lock as transactions."""
        current = self._in_transaction()
        if current is not None:
            return (await current._execute(sql, tuple(params))).rowcount
        async with self._write_lock:
            return (await Connection(self, None)._execute(sql, tuple(params))).rowcount

    async def write_returning(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """`write` for a statement with a RETURNING clause: the rows it returns, in the same round trip."""
        current = self._in_transaction()
        if current is not None:
            return await (await current._execute(sql, tuple(params))).fetchall()
        async with self._write_lock:
            return await (await Connection(self, None)._execute(sql, tuple(params))).fetchall()

    async def write_each(self, sql: str, seq_of_params: Iterable[Iterable[Any]]) -> list[Any]:
        """One statement run once per parameter row, in order and atomically (all or none), through the writer
        lock; the rows all the runs return, in order. asyncpg pipelines the runs (`fetchmany`: every Bind/Execute,
        then one Sync) and waits once: one round trip, one implicit transaction (or the caller's), each run seeing
        what the runs before it wrote."""
        batch = [tuple(p) for p in seq_of_params]
        if not batch:
            return []
        current = self._in_transaction()
        if current is not None:
            return await current._fetch_each(sql, batch)
        async with self._write_lock:
            return await Connection(self, None)._fetch_each(sql, batch)

    # ---------------------------------------------------------------------------------------------- internals

    async def _param_types(self, raw: asyncpg.Connection, pg_sql: str) -> tuple[str, ...]:
        types = _TYPES.get(pg_sql)
        if types is None:
            statement = await raw.prepare(pg_sql)
            types = tuple(t.name for t in statement.get_parameters())
            _TYPES[pg_sql] = types
        return types

    def _plan(self, sql: str) -> tuple[str, str | None, bool, str | None]:
        """(PostgreSQL text, DML kind, has its own RETURNING, the RETURNING added), once per statement text."""
        plan = self._plans.get(sql)
        if plan is None:
            kind = dialect.dml_kind(sql)
            own_returning = bool(kind) and dialect.has_returning(sql)
            returning = None
            if kind and not own_returning:
                returning = "id" if kind == "insert" and dialect.insert_table(sql) in self._id_tables else "1"
            plan = self._plans[sql] = (dialect.query(sql, returning), kind, own_returning, returning)
        return plan

    async def _run(self, raw: asyncpg.Connection, sql: str, params: tuple[Any, ...]) -> Cursor:
        pg, kind, own_returning, returning = self._plan(sql)
        try:
            if params:
                types = _TYPES.get(pg)
                if types is None:
                    types = await self._param_types(raw, pg)
                rows = await raw.fetch(pg, *[_coerce(v, t) for v, t in zip(params, types, strict=False)])
            else:
                rows = await raw.fetch(pg)
        except Exception as exc:
            raise _translate(exc, raw) from exc
        if not kind:
            return Cursor(rows)
        lastrowid = rows[-1][0] if returning == "id" and rows else None
        return Cursor(rows if own_returning else [], rowcount=len(rows), lastrowid=lastrowid)
