"""The scale-out benchmarks (issue 12): PostgreSQL against SQLite, one process and many, written into
docs/PERFORMANCE.md's section 7 (the rest of the file is `python -m bench`'s and stays as it is).

    python -m bench.scaleout            # 10k stations, 3 interleaved rounds, 10 kills (~10-20 minutes)
    python -m bench.scaleout --quick    # smaller and one round (~5-8 minutes)
    python -m bench.scaleout --quick --only single   # only the one-process figures, printed (~1 minute)

Every figure is a ratio of two measurements taken in the same run, seconds apart, on fresh copies of the same data;
the section says when it was measured and how loaded the machine was (load average, CPU seconds per component).
Starts its own PostgreSQL 15 server (bench/pgserver.py: deployment durability) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import leading, multi, pgserver, single
from bench.harness import make_db
from bench.multi import MultiResult
from bench.single import Log, SingleResult

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    mode: str
    stations: int
    # A: one process in this one (bench/single.py)
    rounds: int  # each backend once per round, interleaved
    riders: int  # closed-loop riders asking the finder at once
    queries: int  # finder answers per run
    submits: int  # 随手拍 submits per run
    # B: N processes behind nginx (bench/multi.py)
    workers: tuple[int, ...]  # PostgreSQL process counts, after one SQLite process
    cluster_riders: int
    cluster_queries: int
    cluster_reports: int  # whole 随手拍 dialogs through the chat
    # C, D: the elected dispatcher (bench/leading.py)
    dispatch_messages: int
    kills: int
    failover_workers: int = 3


QUICK = Plan("quick", 2_000, 1, 16, 300, 100, (1, 2, 4), 16, 300, 16, 300, 5)
FULL = Plan("full", 10_000, 3, 24, 1200, 1000, (1, 2, 4), 24, 600, 32, 450, 10)
SMOKE = Plan("smoke", 200, 1, 2, 10, 5, (2,), 2, 6, 2, 20, 1, 2)  # the test's: correctness only


@dataclass
class ScaleResults:
    plan: Plan
    started_utc: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    elapsed_s: float = 0.0
    single: SingleResult | None = None
    multi: MultiResult | None = None
    rate: leading.RateResult | None = None
    failover: leading.FailoverResult | None = None
    log: list[str] = field(default_factory=list)


async def measure(
    plan: Plan, server_url: str, pg: single.CpuClock, log: Log, *, only_single: bool = False
) -> ScaleResults:
    results = ScaleResults(plan, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), os.getloadavg())
    started = time.perf_counter()
    log(
        f"rider-bot scale-out benchmarks, {plan.mode} mode — {results.started_utc}, Python"
        f" {platform.python_version()}, {os.cpu_count()} cores; load average before:"
        f" {', '.join(f'{x:.1f}' for x in results.load_before)}"
    )
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        template = Path(tmp) / "template.sqlite3"
        await make_db(template, plan.stations)
        pg_template = "bench_template"
        await pgserver.fresh_database(server_url, pg_template)
        await pgserver.load_from_sqlite(template, f"{server_url}/{pg_template}")
        log(
            f"[A] one process: PostgreSQL vs SQLite, {plan.stations:,} stations, {plan.rounds} round(s);"
            f" answers: {plan.riders} riders, {plan.queries} questions; submits: {plan.submits}"
        )
        results.single = await single.run(
            server_url, pg, template, pg_template, plan.rounds, plan.riders, plan.queries, plan.submits, log
        )
        if only_single:
            return results
        log(
            f"[B] webhook processes behind nginx: SQLite ×1, PostgreSQL × {', '.join(map(str, plan.workers))};"
            f" answers: {plan.cluster_riders} riders, {plan.cluster_queries} questions; reports:"
            f" {plan.cluster_riders // 2 or 1} riders, {plan.cluster_reports} whole dialogs"
        )
        results.multi = await multi.run(
            server_url, pg, template, pg_template, list(plan.workers), plan.cluster_riders, plan.cluster_queries,
            plan.cluster_reports, log,
        )  # fmt: skip
    log(
        f"[C] the elected dispatcher's delivery rate, 2 processes, production pacing: {plan.dispatch_messages}"
        " messages queued at once"
    )
    results.rate = await leading.delivery_rate(server_url, plan.dispatch_messages, plan.dispatch_messages // 3, log)
    log(f"[D] fail-over: {plan.failover_workers} processes, kill -9 the leader {plan.kills} times")
    results.failover = await leading.failover(server_url, plan.kills, plan.failover_workers, log)
    results.elapsed_s = time.perf_counter() - started
    results.load_after = os.getloadavg()
    log(f"total {results.elapsed_s:.0f} s; load average after: {', '.join(f'{x:.1f}' for x in results.load_after)}")
    return results


def main(argv: list[str] | None = None) -> int:
    from bench import scaleout_report

    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and one round")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where PERFORMANCE.md is")
    parser.add_argument(
        "--only", choices=["single"], help="only the one-process figures (printed; PERFORMANCE.md is left as it is)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with pgserver.server() as cluster:
        only_single = args.only == "single"
        results = asyncio.run(
            measure(plan, cluster.server_url, lambda: single.pg_cpu(cluster), log, only_single=only_single)
        )
    if only_single:
        return 0
    results.log = lines
    path = args.out / "PERFORMANCE.md"
    scaleout_report.write(results, path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
