"""Run every benchmark and write docs/PERFORMANCE.md (table + analysis + this run's log) and the plots.

    python -m bench --quick   # < 2 minutes: stations up to 100k, short loads, 10k stations + 100k reports
    python -m bench           # full: up to 1M stations, longer loads, 100k stations + 1M reports (~10 min)

Every figure is a ratio against a baseline measured in the same run, because this machine's absolute speed
varies from run to run; absolute numbers are printed too, for orientation only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import console, e2e, forwarding, intake, nearest, report, startup

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Plan:
    mode: str
    sizes: list[int]
    n_queries: int
    geopy_budget_s: float
    e2e_stations: int
    e2e_loads: list[e2e.Load]
    intake_submit: int
    intake_dialog: int
    fwd_cases: list[forwarding.Case]
    start_stations: int
    start_reports: int
    console_reports: int = 100_000
    console_queries: int = 30


QUICK = Plan(
    mode="quick",
    sizes=[1_000, 10_000, 100_000],
    n_queries=2_000,
    geopy_budget_s=1.5,
    e2e_stations=10_000,
    e2e_loads=[
        e2e.Load("capacity", 64, 1_000, False, 30),
        e2e.Load("one rider", 1, 150, False, 20),
    ],
    intake_submit=500,
    intake_dialog=60,
    fwd_cases=[
        forwarding.Case("10/s, spread", 10, 3, False, 10),
        forwarding.Case("50/s burst, spread", 50, 2, False, 15),
        forwarding.Case("50/s burst, one grid", 50, 1, True, 5),
    ],
    start_stations=10_000,
    start_reports=100_000,
)
FULL = Plan(
    mode="full",
    sizes=[1_000, 10_000, 100_000, 1_000_000],
    n_queries=20_000,
    geopy_budget_s=8.0,
    e2e_stations=100_000,
    e2e_loads=[
        e2e.Load("capacity", 64, 4_000, False, 90),
        e2e.Load("one rider", 1, 500, False, 60),
        e2e.Load("deployed", 64, 600, True, 90),
    ],
    intake_submit=3_000,
    intake_dialog=300,
    fwd_cases=[
        forwarding.Case("10/s, spread", 10, 10, False, 20),
        forwarding.Case("50/s burst, spread", 50, 6, False, 40),
        forwarding.Case("50/s burst, one grid", 50, 2, True, 15),
    ],
    start_stations=100_000,
    start_reports=1_000_000,
    console_queries=200,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short loads: under two minutes")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where PERFORMANCE.md and the plots go")
    parser.add_argument(
        "--only", choices=["nearest", "e2e", "intake", "forwarding", "startup", "console"], action="append",
        help="run only these figures (the report then covers only them)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    only = set(args.only or ["nearest", "e2e", "intake", "forwarding", "startup", "console"])
    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    started = time.perf_counter()
    log(
        f"rider-bot benchmarks, {plan.mode} mode — Python {platform.python_version()}, {os.cpu_count()} cores,"
        f" {platform.machine()}"
    )
    results = report.Results(mode=plan.mode)
    if "nearest" in only:
        log("[1] nearest-k (k=5) through PlaceCatalog vs brute-force scans")
        results.nearest = nearest.run(plan.sizes, plan.n_queries, plan.geopy_budget_s, log)
    if "e2e" in only:
        log(f"[2] end to end through PTB + stand-in over HTTP, {plan.e2e_stations:,} stations, vs a PTB echo bot")
        results.e2e = asyncio.run(e2e.run(plan.e2e_stations, plan.e2e_loads, log))
    if "intake" in only:
        log("[3] durable 随手拍 intake vs a bare aiosqlite insert loop")
        results.intake = asyncio.run(intake.run(plan.intake_submit, plan.intake_dialog, log))
    if "forwarding" in only:
        log("[4] forwarding to grid workers under Telegram's limits (per chat 1/s, 25/s overall)")
        results.forwarding = asyncio.run(forwarding.run(plan.fwd_cases, log))
    if "startup" in only:
        log(f"[5] start-up with {plan.start_stations:,} stations and {plan.start_reports:,} reports")
        results.startup = startup.run(plan.start_stations, plan.start_reports, log)
    if "console" in only:
        log(f"[6] the web console's map viewport over {plan.console_reports:,} reports vs a full-table read")
        results.console = asyncio.run(console.run(plan.console_reports, plan.console_queries, log))
    log(f"total {time.perf_counter() - started:.0f} s")
    results.log = lines
    args.out.mkdir(parents=True, exist_ok=True)
    report.write(results, args.out)
    print(f"wrote {args.out / 'PERFORMANCE.md'}", file=sys.stderr)
    return 0
