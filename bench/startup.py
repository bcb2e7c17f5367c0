"""Figure 5: start-up time and resident memory with a city's data — N stations and M historical reports —
against the same start on the bundled sample database, each in a fresh process.

The child process times its imports and `Runtime.start()` (open the database and migrate, build the place
catalogue and its index, the name search and the grid index, initialise PTB, start the outbox and polling)
against a stand-in it starts itself, then prints its current RSS and its peak (VmHWM) as JSON.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402


@dataclass
class StartResult:
    label: str
    stations: int
    reports: int
    db_bytes: int
    import_s: float
    start_s: float
    wall_s: float  # parent-measured: process spawn to "started"
    rss_bytes: int
    peak_rss_bytes: int


def _peak_rss() -> int:
    """VmHWM: this process's peak RSS. Not ru_maxrss, which Linux carries over from the parent across exec."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


async def _child(db: str) -> dict[str, float]:
    from bench.common import rss_bytes
    from bench.harness import bench_settings, running, standin

    imported = time.perf_counter()
    async with standin() as server:
        t = time.perf_counter()
        async with running(bench_settings(Path(db), server)):
            started = time.perf_counter()
            rss = rss_bytes()
    return {
        "import_s": imported - _T0,
        "start_s": started - t,
        "rss_bytes": rss,
        "peak_rss_bytes": _peak_rss(),
    }


async def make_city_db(path: Path, stations: int, reports: int) -> None:
    from bench import synth
    from bench.harness import make_db

    await make_db(path, stations)
    if reports:
        synth.fill_reports(path, reports)


def measure(label: str, db: Path, stations: int, reports: int) -> StartResult:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "bench.startup", str(db)], capture_output=True, text=True, timeout=600, check=True
    )
    wall = time.perf_counter() - t0
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return StartResult(
        label,
        stations,
        reports,
        db.stat().st_size,
        data["import_s"],
        data["start_s"],
        wall,
        int(data["rss_bytes"]),
        int(data["peak_rss_bytes"]),
    )


def run(stations: int, reports: int, log) -> tuple[StartResult, StartResult, StartResult]:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        sample = Path(tmp) / "sample.sqlite3"
        city = Path(tmp) / "city.sqlite3"
        places_only = Path(tmp) / "places.sqlite3"

        async def prepare() -> None:
            from bot.store.db import Database

            async with Database(sample):
                pass  # migrated and empty: the runtime seeds the bundled sample on first start
            await make_city_db(places_only, stations, 0)
            await make_city_db(city, stations, reports)

        t0 = time.perf_counter()
        asyncio.run(prepare())
        log(f"  startup: generated {stations:,} stations + {reports:,} reports in {time.perf_counter() - t0:.1f} s")
        measure("seed", sample, 0, 0)  # first start seeds the sample list; measure the second, like a restart
        base = measure("sample data", sample, 90, 0)
        mid = measure("stations only", places_only, stations, 0)
        big = measure("city", city, stations, reports)
        for r in (base, mid, big):
            log(
                f"  startup {r.label:13}: imports {r.import_s:.2f} s, Runtime.start {r.start_s:.2f} s,"
                f" wall {r.wall_s:.2f} s, RSS {r.rss_bytes / 2**20:.0f} MiB (peak {r.peak_rss_bytes / 2**20:.0f} MiB),"
                f" db {r.db_bytes / 2**20:.0f} MiB"
            )
    return base, mid, big


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_child(sys.argv[1]))))
