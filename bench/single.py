"""Scale-out figure A: one bot process on PostgreSQL against one on SQLite, the same harness, interleaved.

Two workloads, each run on both backends back to back in every round (SQLite, then PostgreSQL, on fresh copies of
the same data), so a ratio compares two measurements taken seconds apart on a machine whose speed drifts:

* **answers**: finder questions end to end — riders share a location through the Bot API stand-in, PTB polls it
  over HTTP, the bot answers with the nearest stations (`bench/e2e.py`'s closed loops at capacity, flood limits
  off): the update guard, the user, the last location and the dialog are database round trips;
* **submits**: the 随手拍 submit (`bench/intake.py`'s durable path: draft read, rate limit, routing, then the
  report, its photo, follower, events, outbox rows and the draft's removal in one transaction before the ack).

The bot runs in this process (the riders and the stand-in too): CPU time is read for this process and for the
PostgreSQL server's processes, so the analysis can say where the time went.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite
import asyncpg

from bench import e2e, intake, synth
from bench.common import pct
from bench.harness import bench_settings, running, standin
from bench.pgserver import fresh_database
from bot.config import Settings
from bot.services.container import open_services
from tests.pgcluster import connected

if TYPE_CHECKING:
    from bench.pgserver import BenchCluster

Log = Callable[[str], None]
# SQLite as deployed (WAL, synchronous=NORMAL); PostgreSQL as deployed (every commit waits for its WAL flush); and
# PostgreSQL with `synchronous_commit=off` (a commit returns before the flush — the durability SQLite's
# synchronous=NORMAL has: the database stays consistent, the last fraction of a second may be lost in a crash).
BACKENDS = ("sqlite", "postgresql", "postgresql-nosync")
CpuClock = Callable[[], float]


@dataclass
class Run:
    backend: str  # one of BACKENDS
    work: str  # "answers" | "submits"
    done: int
    elapsed_s: float
    p50_s: float
    p99_s: float
    cpu_bench_s: float  # this process (bot + stand-in + riders)
    cpu_pg_s: float  # the PostgreSQL server's processes
    round_trips: float = float("nan")  # database calls per answer / per submit (see `count_calls`)

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s else 0.0


@dataclass
class SingleResult:
    rounds: list[dict[tuple[str, str], Run]] = field(default_factory=list)
    # The floor of one database call, per round: `SELECT 1` through aiosqlite (a hop to its thread) and through
    # asyncpg over TCP (a message to a PostgreSQL backend process), seconds each.
    bare_sqlite_s: list[float] = field(default_factory=list)
    bare_pg_s: list[float] = field(default_factory=list)

    def ratios(self, work: str, backend: str = "postgresql") -> list[float]:
        """`backend` ÷ SQLite throughput, one per round."""
        return [r[(backend, work)].per_s / r[("sqlite", work)].per_s for r in self.rounds]


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int], *, with_reaped: bool = True) -> float:
    """User + system seconds of these processes; `with_reaped`: plus their exited, reaped children's."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
            fields_ = stat.rsplit(")", 1)[1].split()
            total += int(fields_[11]) + int(fields_[12])  # utime, stime
            if with_reaped:
                total += int(fields_[13]) + int(fields_[14])  # cutime, cstime
    return total / _TICK


def pg_cpu(cluster: BenchCluster) -> float:
    pids = cluster.postgres_pids()
    # The postmaster's cutime holds the backends that already exited; live children are counted on their own.
    return cpu_of(pids[:1]) + cpu_of(pids[1:], with_reaped=False)


class Calls:
    """Database calls made through the store while a workload runs: each is one round trip to the database (a
    hop to aiosqlite's thread, or a message to PostgreSQL and its answer); a transaction adds BEGIN and COMMIT."""

    def __init__(self, *, active: bool = True) -> None:
        self.n = 0
        self.active = active

    def add(self, n: int = 1) -> None:
        if self.active:
            self.n += n

    @contextlib.contextmanager
    def tap(self) -> Iterator[None]:
        """Count only inside this block (the rest of a workload's preparation is not what is compared)."""
        self.active = True
        try:
            yield
        finally:
            self.active = False


@contextlib.contextmanager
def count_calls(calls: Calls) -> Iterator[None]:
    """Counts statement executions on both backends by wrapping the store's lowest common entry points."""
    from unittest import mock

    import aiosqlite

    from bot.store import postgres

    sqlite_execute = aiosqlite.Connection._execute
    pg_run = postgres.PostgresDatabase._run
    pg_many = postgres.Connection.executemany
    pg_each = postgres.Connection._fetch_each
    pg_types = postgres.PostgresDatabase._param_types
    pg_begin = postgres.PostgresDatabase.transaction
    pg_reset = asyncpg.Connection.reset

    async def counted_sqlite(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.add()
        return await sqlite_execute(self, fn, *args, **kwargs)

    async def counted_run(self, raw, sql, params):  # type: ignore[no-untyped-def]
        calls.add()
        return await pg_run(self, raw, sql, params)

    async def counted_many(self, sql, seq_of_params):  # type: ignore[no-untyped-def]
        calls.add()  # one batch, one round trip (asyncpg pipelines the rows and waits once)
        return await pg_many(self, sql, seq_of_params)

    async def counted_each(self, sql, batch):  # type: ignore[no-untyped-def]
        calls.add()  # a statement run once per row, pipelined: one round trip (a getUpdates batch's recording)
        return await pg_each(self, sql, batch)

    async def counted_types(self, raw, pg_sql):  # type: ignore[no-untyped-def]
        if pg_sql not in postgres._TYPES:
            calls.add()  # a prepare to learn the parameter types, once per statement text
        return await pg_types(self, raw, pg_sql)

    async def counted_reset(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.add()  # asyncpg's reset query when a connection goes back to the pool (unless the pool has its own)
        return await pg_reset(self, *args, **kwargs)

    @contextlib.asynccontextmanager
    async def counted_transaction(self):  # type: ignore[no-untyped-def]
        calls.add(2)  # BEGIN and COMMIT
        async with pg_begin(self) as conn:
            yield conn

    with (
        mock.patch.object(aiosqlite.Connection, "_execute", counted_sqlite),
        mock.patch.object(postgres.PostgresDatabase, "_run", counted_run),
        mock.patch.object(postgres.Connection, "executemany", counted_many),
        mock.patch.object(postgres.Connection, "_fetch_each", counted_each),
        mock.patch.object(postgres.PostgresDatabase, "_param_types", counted_types),
        mock.patch.object(postgres.PostgresDatabase, "transaction", counted_transaction),
        mock.patch.object(asyncpg.Connection, "reset", counted_reset),
    ):
        yield


async def _answers(
    db_path: Path, url: str | None, riders: int, queries: int, points: list[tuple[float, float]], pg: CpuClock
) -> Run:
    load = e2e.Load("capacity", riders, queries, False, 120.0)
    calls = Calls()
    async with standin() as server, running(bench_settings(db_path, server, database_url=url), deployed_limits=False):
        await e2e._warm(server, riders)
        cpu0, pg0 = cpu_self(), pg()
        with count_calls(calls):
            result = await e2e._drive(server, load, points)
        cpu1, pg1 = cpu_self(), pg()
    if result.timeouts:
        raise AssertionError(f"{result.timeouts} riders got no answer in time")
    return Run("", "answers", result.done, result.elapsed_s, result.p50_s,
               result.p99_s, cpu1 - cpu0, pg1 - pg0, calls.n / max(1, result.done))  # fmt: skip


async def _submits(settings: Settings, n: int, pg: CpuClock) -> Run:
    """Throughput over the timed taps on 提交 only (the drafts are prepared between them, untimed and not counted
    in the calls), as bench/intake.py does."""
    services = await open_services(settings)
    calls = Calls(active=False)
    try:
        await intake.bind_workers(services)
        points = intake.points_in_grids(services, 400)
        per_rider = settings.reports_per_hour
        riders = [
            await services.users.identify("telegram", str(intake.RIDER_BASE + i), f"骑手{i}")
            for i in range(-(-n // per_rider))
        ]
        cpu0, pg0 = cpu_self(), pg()
        with count_calls(calls):
            times, committed = await intake._submit_path(services, riders, points, n, tap=calls.tap)
        cpu1, pg1 = cpu_self(), pg()
        if not committed:
            raise AssertionError("an acknowledged report was not in the database")
        reports = (await services.db.fetchone("SELECT COUNT(*) FROM reports"))[0]
        if reports != n:
            raise AssertionError(f"{n} submits made {reports} reports")
    finally:
        await services.close()
    return Run("", "submits", len(times), sum(times),
               pct(times, 50), pct(times, 99), cpu1 - cpu0, pg1 - pg0, calls.n / max(1, len(times)))  # fmt: skip


async def bare_round_trips(server_url: str, directory: Path, n: int = 1000) -> tuple[float, float]:
    """Seconds per `SELECT 1` on each backend, nothing else around it: what one database call costs at least."""
    async with connected(server_url + "/postgres") as conn:
        for _ in range(50):
            await conn.fetch("SELECT 1")
        t0 = time.perf_counter()
        for _ in range(n):
            await conn.fetch("SELECT 1")
        pg = (time.perf_counter() - t0) / n
    async with aiosqlite.connect(directory / "bare.sqlite3") as db:
        for _ in range(50):
            await db.execute_fetchall("SELECT 1")
        t0 = time.perf_counter()
        for _ in range(n):
            await db.execute_fetchall("SELECT 1")
        sqlite = (time.perf_counter() - t0) / n
    return sqlite, pg


async def run(
    server_url: str,
    pg: CpuClock,
    template: Path,
    pg_template: str,
    rounds: int,
    riders: int,
    queries: int,
    submits: int,
    log: Log,
) -> SingleResult:
    """`rounds` × (answers, submits) on each of BACKENDS in turn, answers on copies of `template` (SQLite) and
    `pg_template` (the same rows in PostgreSQL); `pg` reads the PostgreSQL server's CPU time."""
    out = SingleResult()
    points = synth.queries(4000, seed=7)
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        root = Path(tmp)
        for n in range(rounds):
            bare_sqlite, bare_pg = await bare_round_trips(server_url, root)
            out.bare_sqlite_s.append(bare_sqlite)
            out.bare_pg_s.append(bare_pg)
            log(
                f"  round {n + 1} one database call (SELECT 1): aiosqlite {bare_sqlite * 1e6:.0f} µs,"
                f" asyncpg {bare_pg * 1e6:.0f} µs"
            )
            results: dict[tuple[str, str], Run] = {}
            for k, backend in enumerate(BACKENDS):
                run_dir = root / f"r{n}-{backend}"
                run_dir.mkdir()
                db_path = run_dir / "answers.sqlite3"
                url = sub_url = None
                if backend == "sqlite":
                    await asyncio.to_thread(shutil.copyfile, template, db_path)
                else:
                    nosync = backend.endswith("nosync")
                    url = await fresh_database(server_url, f"answers_{n}_{k}", template=pg_template, nosync=nosync)
                    sub_url = await fresh_database(server_url, f"submits_{n}_{k}", nosync=nosync)
                answers = await _answers(db_path, url, riders, queries, points, pg)
                sub = Settings(db_path=run_dir / "submits.sqlite3", http_port=None, demo_people=False,
                               categories_toml=None, database_url=sub_url)  # fmt: skip
                subs = await _submits(sub, submits, pg)
                answers.backend = subs.backend = backend
                results[(backend, "answers")], results[(backend, "submits")] = answers, subs
            for work in ("answers", "submits"):
                base = results[("sqlite", work)].per_s
                for backend in BACKENDS:
                    r = results[(backend, work)]
                    log(
                        f"  round {n + 1} {work:7} {backend:17}: {r.per_s:7.1f}/s  p50 {r.p50_s * 1e3:6.2f} ms"
                        f"  p99 {r.p99_s * 1e3:7.2f} ms  {r.round_trips:4.1f} db calls each  ÷ SQLite"
                        f" {r.per_s / base:4.2f}×  CPU s: this process {r.cpu_bench_s:5.1f},"
                        f" PostgreSQL {r.cpu_pg_s:5.1f}"
                        f"  ({r.done} in {r.elapsed_s:.1f} s)"
                    )
            out.rounds.append(results)
    return out
