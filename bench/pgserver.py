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
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from bot.store.copy import copy_database
from bot.store.db import Database
from tests import pgcluster

OPTIONS = "-c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB"  # the rest: defaults


class BenchCluster(pgcluster.Cluster):
    """`initdb` like the tests' cluster, with deployment durability (see the module doc), and the server started
    as a child in this process's session rather than by `pg_ctl start`.

    Why not `pg_ctl start`: it puts the postmaster in a session of its own (setsid), and this kernel schedules by
    session (`/proc/sys/kernel/sched_autogroup_enabled` = 1): every session gets an equal share of the CPU, however
    many processes it runs. PostgreSQL would then compete as one more session against everything else on the
    shared machine while the bots and the benchmark share another — on a busy machine a PostgreSQL round trip
    waits for PostgreSQL's session to get its turn, which SQLite (a thread in the bot) never does. Started here,
    the whole deployment under test — the bots, nginx, PostgreSQL — is one session, as SQLite's is."""

    def start(self) -> BenchCluster:
        if not (pgcluster.PG_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({pgcluster.PG_BIN}/initdb missing)")
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-E", "UTF8", "--locale=C", "-U", self.superuser)
        cmd = [str(pgcluster.PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.root)]
        for option in OPTIONS.split(" -c "):
            if option.strip():
                cmd += ["-c", option.replace("-c ", "").strip()]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        log = (self.root / "server.log").open("ab")
        try:
            self._server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        self._watchdog = self._watch(os.getpid())
        deadline = time.monotonic() + 60
        while not (self.data / "postmaster.pid").exists() or not _accepts(self.port) or not self._ready():
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {(self.root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        """Accepting sessions, not only TCP: right after the port opens the server still answers "the database
        system is starting up" for a moment."""
        ready = [str(pgcluster.PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(ready, check=False).returncode == 0

    def stop(self) -> None:
        super().stop()  # pg_ctl stop -m immediate (it finds the server by its pid file), then removes the files
        server = getattr(self, "_server", None)
        if server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)

    def postgres_pids(self) -> list[int]:
        """The postmaster and its children (backends, WAL writer, checkpointer …): for CPU accounting."""
        pid_file = self.data / "postmaster.pid"
        try:
            master = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return [master, *children(master)]


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


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


async def fresh_database(server_url: str, name: str, *, template: str | None = None, nosync: bool = False) -> str:
    """A database `name` (dropped first if it exists): empty (the bot migrates it on open) or a file copy of
    `template`; `nosync`: its commits do not wait for the flush."""
    async with pgcluster.connected(server_url + "/postgres") as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        if nosync:
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return f"{server_url}/{name}"


async def load_from_sqlite(sqlite_path: Path, url: str) -> None:
    """The same rows as a prepared SQLite database (`rider-bot db copy`'s code), then fresh planner statistics."""
    async with Database(sqlite_path) as source, Database(url) as target:
        await copy_database(source, target, force=True)
    async with pgcluster.connected(url) as conn:
        await conn.execute("VACUUM ANALYZE")


@contextlib.asynccontextmanager
async def database_from(server_url: str, name: str, sqlite_path: Path) -> AsyncIterator[str]:
    url = await fresh_database(server_url, name)
    await load_from_sqlite(sqlite_path, url)
    yield url
