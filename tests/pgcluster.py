"""A throw-away PostgreSQL 15 cluster for the tests, and the switch that runs the suite on it.

`RIDER_TEST_BACKEND=postgresql` (scripts/test's second pass) makes every `Database(<sqlite path>)` the tests and
the code under test open — in this process and in CLI subprocesses — a PostgreSQL database instead: one database
per path, created on first use from a migrated template (CREATE DATABASE … TEMPLATE is a file copy, far faster
than migrating), all dropped when the test ends. Nothing of ours is mocked: the same `Database` API, the real
PostgreSQL backend, a real server on 127.0.0.1.

The cluster: `initdb` and `pg_ctl` as the `postgres` user (PostgreSQL refuses to run as root) in a temporary
directory owned by it, on a free port, durability switched off (fsync=off: a crashed test cluster is thrown away
anyway), removed at the end of the session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

from tests.ports import free_port

PG_BIN = Path(os.environ.get("RIDER_PG_BIN", "/usr/lib/postgresql/15/bin"))
TEMPLATE = "rider_template"
PREFIX = "t_"
ENV_URL = "PGTEST_SERVER_URL"  # postgresql://postgres@127.0.0.1:PORT, for subprocesses (tests strip RIDER_*)
ENV_BACKEND = "RIDER_TEST_BACKEND"


def backend() -> str:
    return os.environ.get(ENV_BACKEND, "sqlite").strip().lower() or "sqlite"


class Cluster:
    """initdb + pg_ctl start in a temporary directory; `stop()` removes everything."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rider-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.superuser = "postgres" if self.as_postgres else pwd.getpwuid(os.geteuid()).pw_name
        self._watchdog: subprocess.Popen[bytes] | None = None

    @property
    def server_url(self) -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Cluster:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): apt-get install postgresql-15"
            )
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--locale=C", "-U", self.superuser)
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        self._watchdog = self._watch(os.getpid())
        return self

    def _watch(self, pid: int) -> subprocess.Popen[bytes]:
        """A shell that stops the cluster and removes it if this process dies without doing so (kill -9)."""
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        if self.as_postgres:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        script = (
            f"while kill -0 {pid} 2>/dev/null; do sleep 2; done; {shlex.join(stop)} >/dev/null 2>&1;"
            f" rm -rf {shlex.quote(str(self.root))}"
        )
        return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    """One asyncpg connection to `url` (a server's "/postgres" for work on whole databases), closed afterwards: the
    test helpers' and the benchmarks' own connections, beside the bot's pool."""
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


def database_name(target: str | Path) -> str:
    """The database standing in for one SQLite path: the same name in every process that opens the path."""
    return PREFIX + hashlib.sha1(str(Path(target).resolve()).encode()).hexdigest()[:20]


async def create_database(server_url: str, name: str) -> None:
    async with connected(server_url + "/postgres") as conn:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Another process (a CLI subprocess) may make it first.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE} STRATEGY FILE_COPY')


async def drop_test_databases(server_url: str) -> None:
    async with connected(server_url + "/postgres") as conn:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", PREFIX.replace("_", r"\_") + "%"
        )
        for (name,) in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def make_template(server_url: str) -> None:
    """The migrated template every test database is copied from."""
    from bot.store.postgres import PostgresDatabase

    async with connected(server_url + "/postgres") as conn:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    db = await PostgresDatabase(f"{server_url}/{TEMPLATE}").open()
    await db.close()


def install(server_url: str) -> None:
    """Make `Database(<sqlite path>)` open the PostgreSQL database standing in for that path (this process)."""
    from bot.store import db as store_db
    from bot.store.postgres import PostgresDatabase

    class MappedPostgres(PostgresDatabase):
        """A PostgresDatabase named by a SQLite path: the database is created from the template on open."""

        def __init__(self, target: str | Path, *args: Any, **kwargs: Any) -> None:
            self._name = database_name(target)
            self.sqlite_path = Path(target)
            super().__init__(f"{server_url}/{self._name}", *args, **kwargs)

        async def open(self) -> MappedPostgres:
            # SQLite makes the file on open; the stand-in database appears at the same moment, and an empty file
            # at the path keeps "does the database exist yet?" checks (CLIs) answering as they do on SQLite.
            await create_database(server_url, self._name)
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            self.sqlite_path.touch()
            await super().open()
            return self

    original = store_db.Database.__new__

    def new(cls: type, target: Any, *args: Any, **kwargs: Any) -> Any:
        if cls is store_db.Database and isinstance(target, str | Path) and _is_sqlite_path(str(target)):
            return object.__new__(MappedPostgres)
        return original(cls, target, *args, **kwargs)

    store_db.Database.__new__ = staticmethod(new)  # type: ignore[method-assign,assignment]


def _is_sqlite_path(target: str) -> bool:
    return target != ":memory:" and "://" not in target


def wait_ready(server_url: str, timeout: float = 30.0) -> None:
    """pg_ctl -w already waits; this guards the socket being reachable over TCP too."""
    deadline = time.monotonic() + timeout
    host, port = server_url.rsplit("@", 1)[1].split(":")
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def drop_database(server_url: str, name: str) -> None:
    async with connected(server_url + "/postgres") as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _in_thread(factory: Any) -> Any:
    """Run a coroutine to completion from sync code, whatever loop the caller is in."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result(timeout=120)


def read(target: str | Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A read through the store, for tests that inspect a database from outside the bot (either backend)."""
    from bot.store.db import Database

    async def go() -> list[tuple[Any, ...]]:
        db = await Database(target).open()
        try:
            return [tuple(r) for r in await db.fetchall(sql, params)]  # by position: unnamed columns stay apart
        finally:
            await db.close()

    return _in_thread(go)


def read_dicts(target: str | Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    from bot.store.db import Database

    async def go() -> list[dict[str, Any]]:
        db = await Database(target).open()
        try:
            return [{k: r[k] for k in r.keys()} for r in await db.fetchall(sql, params)]  # noqa: SIM118
        finally:
            await db.close()

    return _in_thread(go)


def integrity(target: str | Path) -> str:
    """'ok', or the problems `bot.store.integrity` finds (either backend)."""
    from bot.store.db import Database
    from bot.store.integrity import integrity_problems

    async def go() -> str:
        db = await Database(target).open()
        try:
            return "; ".join(await integrity_problems(db)) or "ok"
        finally:
            await db.close()

    return _in_thread(go)


# ---------------------------------------------------------------------------------------------- faults
# PostgreSQL's counterparts of the SQLite faults (tests/test_storage_faults.py and others), made from outside the
# bot, on the server, as a DBA or a failing server would: the bot's own code and connections are left alone.


def _split(db_url: str) -> tuple[str, str]:
    """postgresql://user[:pw]@host:port/name → (server URL, database name)."""
    server, name = db_url.rsplit("/", 1)
    return server, name.split("?", 1)[0]


async def terminate(db_url: str) -> int:
    """pg_terminate_backend on every connection to the database (a restarted server, a DBA, a fail-over):
    the number of connections ended."""
    server, name = _split(db_url)
    async with connected(server + "/postgres") as conn:
        ended = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        return sum(1 for (ok,) in ended if ok)


async def set_read_only(db_url: str, on: bool) -> None:
    """The database turns read-only (`ALTER DATABASE … SET default_transaction_read_only`, as a DBA does before a
    migration or when a replica is promoted the other way): sessions take the setting when they start, so the
    bot's connections are ended and its pool reconnects into read-only sessions (or back out of them)."""
    server, name = _split(db_url)
    async with connected(server + "/postgres") as conn:
        await conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
    await terminate(db_url)


async def set_reachable(db_url: str, reachable: bool) -> None:
    """The database goes away for the bot (`ALLOW_CONNECTIONS false`, every connection ended: to the bot it is a
    server that is down) or comes back."""
    server, name = _split(db_url)
    async with connected(server + "/postgres") as conn:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if reachable else "false"}')
    if not reachable:
        await terminate(db_url)


async def kill_inside(db_url: str, table: str) -> None:
    """The connection dies in the middle of a transaction: a trigger ends its own backend on the next INSERT into
    `table` (deterministic, unlike racing pg_terminate_backend against a short transaction). `heal` removes it."""
    server, name = _split(db_url)
    async with connected(f"{server}/{name}") as conn:
        await conn.execute(
            "CREATE OR REPLACE FUNCTION test_kill_own_backend() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NEW; END $$"
        )
        await conn.execute(
            f'CREATE TRIGGER test_kill_own_backend BEFORE INSERT ON "{table}"'
            " FOR EACH ROW EXECUTE FUNCTION test_kill_own_backend()"
        )


async def heal(db_url: str, table: str) -> None:
    server, name = _split(db_url)
    async with connected(f"{server}/{name}") as conn:
        await conn.execute(f'DROP TRIGGER IF EXISTS test_kill_own_backend ON "{table}"')
        await conn.execute("DROP FUNCTION IF EXISTS test_kill_own_backend()")


async def read_only(db: Any, on: bool) -> None:
    """Either backend: the bot's database stops (or starts again) taking writes. SQLite: `PRAGMA query_only` on its
    connection. PostgreSQL: `set_read_only` on the server; then a bounded wait until the bot's own pool hands out a
    session with the new setting (the ended connections are noticed and replaced as they are picked up)."""
    if db.dialect != "postgresql":
        await db.conn.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
        return
    await set_read_only(db.url, on)
    from bot.store.errors import StorageError

    want = "on" if on else "off"
    for _ in range(100):
        try:
            row = await db.fetchone("SELECT current_setting('transaction_read_only')")
        except StorageError:  # an ended connection, picked up once: the pool replaces it
            continue
        if row[0] == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot's sessions never became transaction_read_only = {want}")
