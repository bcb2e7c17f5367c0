"""Scale-out figure B: N bot processes behind nginx on one PostgreSQL against one process on SQLite, as deployed.

Built on the scale-out test's harness (tests/cluster.py): `rider-bot run` child processes in webhook mode, Debian's
nginx in front, the Bot API stand-in as Telegram in this process posting updates to nginx (several deliveries in
flight, as Telegram's max_connections allows) and recording every send. The same harness runs every
configuration — 1 process on SQLite, then 1, 2 and 4 processes on PostgreSQL — on copies of the same data, one
after another in one run, so each figure is a ratio against the SQLite process measured minutes apart:

* **answers**: closed-loop riders share a location and wait for the finder's answer (bench/e2e.py's load);
* **reports**: riders file complete 随手拍 reports through the chat — photo → place → category → the category's
  questions → 提交 → "已收到" (tests/scaleriders.py's scripted rider), counted when the receipt arrives.

Telegram's flood limits are off in the bots' rate limiter (bench/childsite), as in section 2's capacity load, and
the harness's relaxed per-chat pacing applies (tests/cluster.py's TEST_SETTINGS): this measures what the
processes can do. CPU seconds are read from /proc for every component (the bots, nginx, PostgreSQL, this process
with the stand-in and the riders), because on a 2-core machine they all compete for the same two cores.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import e2e, pgserver, synth
from bench.common import pct
from bench.harness import TimedStandIn
from bench.pgserver import fresh_database
from bench.single import CpuClock, cpu_of, cpu_self
from tests.cluster import TOKEN, Cluster
from tests.riderchat import bind_grid_workers
from tests.scaleriders import Rider

Log = Callable[[str], None]
ROOT = Path(__file__).resolve().parent.parent
RIDER_BASE = 80_000_000


@dataclass
class ClusterRun:
    backend: str  # "sqlite" | "postgresql"
    workers: int
    answers: int = 0
    answers_s: float = 0.0
    answers_p50: float = float("nan")
    reports: int = 0
    reports_s: float = 0.0
    reports_p50: float = float("nan")
    timeouts: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # component → CPU seconds over both measured phases
    per_worker_updates: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{'SQLite' if self.backend == 'sqlite' else 'PostgreSQL'} ×{self.workers}"

    @property
    def answers_per_s(self) -> float:
        return self.answers / self.answers_s if self.answers_s else 0.0

    @property
    def reports_per_s(self) -> float:
        return self.reports / self.reports_s if self.reports_s else 0.0

    @property
    def measured_s(self) -> float:
        return self.answers_s + self.reports_s


class _Clock:
    """CPU seconds per component, read before and after a phase."""

    def __init__(self, cluster: Cluster, pg: CpuClock | None) -> None:
        self.cluster, self.pg = cluster, pg

    def read(self) -> dict[str, float]:
        bots = [w.proc.pid for w in self.cluster.workers if w.proc is not None and w.proc.returncode is None]
        nginx = self.cluster.nginx.proc.pid if self.cluster.nginx.proc is not None else None
        out = {
            "bots": cpu_of(bots, with_reaped=False),
            "nginx": cpu_of([nginx, *pgserver.children(nginx)], with_reaped=False) if nginx else 0.0,
            "driver": cpu_self(),
            "postgresql": self.pg() if self.pg is not None else 0.0,
        }
        return out


def timed_telegram(cluster: Cluster) -> TimedStandIn:
    """The harness's fake Telegram with the same delivery settings, plus arrival futures for the riders."""
    old = cluster.telegram
    new = TimedStandIn(token=TOKEN)
    new.webhook_parallel = old.webhook_parallel
    new.webhook_backoff = old.webhook_backoff
    new.webhook_max_attempts = old.webhook_max_attempts
    cluster.telegram = new
    return new


async def _answers(telegram: TimedStandIn, riders: int, queries: int, run: ClusterRun) -> None:
    load = e2e.Load("capacity", riders, queries, False, 180.0)
    result = await e2e._drive(telegram, load, synth.queries(4000, seed=7))
    run.answers, run.answers_s, run.answers_p50 = result.done, result.elapsed_s, result.p50_s
    run.timeouts += result.timeouts


async def _reports(telegram: TimedStandIn, riders: int, reports: int, run: ClusterRun) -> None:
    """Closed loops of whole 随手拍 dialogs until `reports` receipts arrived (bounded by the rider's timeouts)."""
    remaining = reports
    times: list[float] = []
    rng = random.Random(3)

    async def one(i: int) -> None:
        nonlocal remaining
        rider = Rider(telegram, RIDER_BASE + 10_000 + i, [], random.Random(rng.random()), step_timeout=60.0)
        rider._mark()
        n = 0
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            await rider.report(n)
            times.append(time.perf_counter() - t0)
            n += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(riders)))
    run.reports, run.reports_s, run.reports_p50 = len(times), time.perf_counter() - t0, pct(times, 50)


async def measure(
    backend: str,
    workers: int,
    database: str | Path,
    pg: CpuClock | None,
    riders: int,
    queries: int,
    reports: int,
    log: Log,
) -> ClusterRun:
    run = ClusterRun(backend, workers)
    root = Path(tempfile.mkdtemp(prefix="rider-bench-cluster-"))
    env = {
        "BENCH_UNTHROTTLED": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "childsite"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cluster = Cluster(root, database=database, workers=workers, env=env, parallel=min(40, 8 * workers))
    telegram = timed_telegram(cluster)
    clock = _Clock(cluster, pg)
    try:
        await cluster.start(functools.partial(bind_grid_workers, by="bench"))
        await e2e._warm(telegram, riders)  # every rider known to the bot before the clock starts
        before = clock.read()
        await _answers(telegram, riders, queries, run)
        await _reports(telegram, max(1, riders // 2), reports, run)
        after = clock.read()
        run.cpu = {k: after[k] - before[k] for k in after}
    finally:
        await cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in run.cpu.items())
    log(
        f"  {run.label:15}: answers {run.answers_per_s:7.1f}/s (p50 {run.answers_p50 * 1e3:6.1f} ms,"
        f" {run.answers} in {run.answers_s:.1f} s); reports {run.reports_per_s:6.2f}/s (p50"
        f" {run.reports_p50:5.2f} s, {run.reports} in {run.reports_s:.1f} s); CPU s: {cpu}"
    )
    return run


@dataclass
class MultiResult:
    runs: list[ClusterRun] = field(default_factory=list)

    def find(self, backend: str, workers: int) -> ClusterRun | None:
        return next((r for r in self.runs if r.backend == backend and r.workers == workers), None)


async def run(
    server_url: str,
    pg: CpuClock,
    template_sqlite: Path,
    template_pg: str,
    counts: list[int],
    riders: int,
    queries: int,
    reports: int,
    log: Log,
    *,
    sqlite: bool = True,
    nosync: bool = False,
) -> MultiResult:
    """SQLite ×1 first, then PostgreSQL × each of `counts`, each on a fresh copy of the same data."""
    out = MultiResult()
    if sqlite:
        with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
            db = Path(tmp) / "cluster.sqlite3"
            await asyncio.to_thread(shutil.copyfile, template_sqlite, db)
            out.runs.append(await measure("sqlite", 1, db, None, riders, queries, reports, log))
    for n in counts:
        url = await fresh_database(server_url, f"cluster_{n}", template=template_pg, nosync=nosync)
        try:
            out.runs.append(await measure("postgresql", n, url, pg, riders, queries, reports, log))
        except RuntimeError as exc:  # e.g. a worker not up within the harness's 60 s on an overloaded machine
            log(f"  PostgreSQL ×{n}: not measured: {str(exc).splitlines()[0]}")
    return out
