"""A throw-away PostgreSQL 15 server for the scale-out benchmarks, configured as a deployment would be.

The tests' cluster (tests/pgcluster.py) switches durability off (`fsync=off`, `synchronous_commit=off`) because a
crashed test cluster is thrown away anyway; a benchmark with that would flatter PostgreSQL against SQLite. Here
the server keeps PostgreSQL's defaults — every commit waits for its WAL record to be flushed to disk — which is
*stricter* than the bot's SQLite settings (WAL with `synchronous=NORMAL`: a commit reaches the OS, the disk at the
next checkpoint). Only the connection limit is raised, for 4 bot processes with their pools.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg

from bot.store.copy import copy_database
from bot.store.db import Database
from tests import pgcluster

OPTIONS = "-c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB"


class BenchCluster(pgcluster.Cluster):
    """`initdb` + `pg_ctl start` like the tests' cluster, with deployment durability (see the module doc)."""

    def start(self) -> BenchCluster:
        if not (pgcluster.PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({pgcluster.PG_BIN}/initdb missing)")
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--locale=C", "-U", self.superuser)
        options = f"-p {self.port} -k {self.root} {OPTIONS}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        self._watchdog = self._watch(os.getpid())
        pgcluster.wait_ready(self.server_url)
        return self

    def postgres_pids(self) -> list[int]:
        """The postmaster and its children (backends, WAL writer, checkpointer …): for CPU accounting."""
        pid_file = self.data / "postmaster.pid"
        try:
            master = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [master, *children(master)]


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc), for summing a process tree's CPU time."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                text = (task / "children").read_text()
                kids = [int(k) for k in text.split()]
                found += kids
                todo += kids
    return found


@contextlib.contextmanager
def server() -> Iterator[BenchCluster]:
    cluster = BenchCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def fresh_database(server_url: str, name: str) -> str:
    """An empty database `name` (dropped first if it exists); the bot migrates it on open."""
    conn = await asyncpg.connect(server_url + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{server_url}/{name}"


async def load_from_sqlite(sqlite_path: Path, url: str) -> None:
    """The same rows as a prepared SQLite database (`rider-bot db copy`'s code), then fresh planner statistics."""
    async with Database(sqlite_path) as source, Database(url) as target:
        await copy_database(source, target, force=True)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database_from(server_url: str, name: str, sqlite_path: Path) -> AsyncIterator[str]:
    url = await fresh_database(server_url, name)
    await load_from_sqlite(sqlite_path, url)
    yield url
