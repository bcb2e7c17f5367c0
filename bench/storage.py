"""What reports and their photos cost the database, measured: `python -m bench.storage` writes section 8 of
docs/PERFORMANCE.md (between its markers; the rest of the file is left as it is).

    python -m bench.storage               # 300 + 20 + 5 reports filed, 100 resolved, per backend (about a minute)
    python -m bench.storage --photo a.jpg # the camera phase with a real photo instead of the synthetic one

Whole 随手拍 dialogs go through the real services (`open_services`, as the chat doors call them, production
settings and the bundled categories with their questions) on PostgreSQL (photos in the database) and on SQLite
(photos as files beside it), in four phases, each measured at rest before and after:

* **rows**: every report carries the same photo, stored before the phase — content addressing stores it once, so
  what grows is a report's rows (report, photo link, follower, answers, events, outbox rows);
* **chat photos**: every report has its own photo as Telegram hands it to the bot (1280 px, re-encoded, no EXIF);
* **camera files**: every report has its own photo sent as a file, the phone's 12-megapixel original with EXIF;
* **resolved**: reports of the rows phase live on — the grid worker accepts, resolves with an after-photo and a
  note, the rider gives 5 stars; the after-photos are one photo stored before the phase, so what grows is the
  rows of a report's life (an after-photo costs what a chat photo costs).

At rest means: PostgreSQL after `VACUUM ANALYZE` (as autovacuum leaves it), `pg_total_relation_size` per table
(heap, indexes, TOAST) and `pg_database_size`; SQLite after a WAL checkpoint, its file (and `dbstat` per table),
plus every file under the photo directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import PIL

from bench import camera, intake, pgserver
from bot.config import Settings
from bot.reports.actions import DraftAction, Rate, WorkAction
from bot.reports.categories import CATEGORIES
from bot.reports.states import Status
from bot.services.container import Services, open_services
from bot.store.reports import get_report
from bot.store.users import User

ROOT = Path(__file__).resolve().parent.parent
Log = Callable[[str], None]
PHASES = ("rows", "chat photos", "camera files", "resolved")
PHOTO_TABLES = ("photo_shared", "photo_originals")


@dataclass(frozen=True)
class Plan:
    mode: str
    reports: tuple[int, int, int, int]  # per phase (PHASES)
    camera: tuple[int, int] = camera.CAMERA


FULL = Plan("full", (300, 20, 5, 100))
SMOKE = Plan("smoke", (6, 3, 2, 2), (800, 600))  # the test's: correctness only


@dataclass
class Usage:
    """The store at rest: bytes per table (with its indexes and TOAST), of the database, of the photo files."""

    tables: dict[str, int]
    database: int
    photo_files: int = 0
    photo_file_count: int = 0

    @property
    def total(self) -> int:
        return self.database + self.photo_files


@dataclass
class Phase:
    name: str
    reports: int
    photos: int  # new photos stored (0 for "rows")
    input_bytes: int  # what the riders sent, summed over the new photos
    before: Usage
    after: Usage
    elapsed_s: float

    @property
    def grew(self) -> int:
        return self.after.total - self.before.total

    def table_growth(self) -> dict[str, int]:
        names = set(self.before.tables) | set(self.after.tables)
        grown = {n: self.after.tables.get(n, 0) - self.before.tables.get(n, 0) for n in names}
        return {n: b for n, b in sorted(grown.items(), key=lambda kv: -kv[1]) if b}


@dataclass
class BackendRun:
    backend: str  # "postgresql" | "sqlite"
    phases: list[Phase] = field(default_factory=list)

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    @property
    def per_report(self) -> float:
        """Bytes a report's rows add (the rows phase: no new photo)."""
        rows = self.phase("rows")
        return rows.grew / rows.reports

    def per_photo(self, name: str) -> float:
        """Bytes a new photo adds: the phase's growth less its reports' rows."""
        phase = self.phase(name)
        return (phase.grew - phase.reports * self.per_report) / phase.photos

    @property
    def per_life(self) -> float:
        """Bytes a report's life after filing adds to its rows (accepted, resolved, rated): the resolved phase,
        whose after-photo was stored before it."""
        phase = self.phase("resolved")
        return phase.grew / phase.reports

    def input_per_photo(self, name: str) -> float:
        phase = self.phase(name)
        return phase.input_bytes / phase.photos

    def per_year(self, name: str | None, *, resolved: bool = True, reports_per_day: int = 1000) -> float:
        """A year of `reports_per_day`, each with one photo of kind `name` (None: rows only), and `resolved`: each
        also accepted, resolved with a chat photo as its after-photo and rated."""
        report = self.per_report + (self.per_photo(name) if name else 0.0)
        if resolved:
            report += self.per_life + (self.per_photo("chat photos") if name else 0.0)
        return 365 * reports_per_day * report


@dataclass
class StorageResults:
    plan: Plan
    started_utc: str
    machine: str
    load_before: tuple[float, float, float]
    photo_source: str
    runs: list[BackendRun] = field(default_factory=list)
    elapsed_s: float = 0.0
    log: list[str] = field(default_factory=list)

    def run(self, backend: str) -> BackendRun:
        return next(r for r in self.runs if r.backend == backend)


# -- measuring the store at rest ------------------------------------------------------------------------------


def _sqlite_usage(db_path: Path, photo_dir: Path) -> Usage:
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute(
            "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d"
            " LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
        ).fetchall()
    files = [p for p in photo_dir.rglob("*") if p.is_file()] if photo_dir.exists() else []
    wal = db_path.with_name(db_path.name + "-wal")
    database = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return Usage({name: int(size) for name, size in rows}, database, sum(p.stat().st_size for p in files), len(files))


async def _pg_usage(url: str) -> Usage:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
        rows = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return Usage({r[0]: int(r[1]) for r in rows}, int(database))


# -- filing reports through the services ----------------------------------------------------------------------


async def _file_report(services: Services, rider: User, photo: bytes, point: tuple[float, float, str], i: int) -> None:
    """One whole 随手拍 dialog, answered as bench/intake.py's riders answer; fails unless it ends in "已收到"."""
    rs = services.reports
    reply = await rs.on_photo(rider, photo, caption="")
    if not any("rd:cat:" in str(m.get("buttons")) for m in reply.messages):
        reply = await rs.on_location(rider, point[0], point[1])  # no place from the photo's EXIF: share one
    reply = await rs.on_draft_button(rider, DraftAction("cat", CATEGORIES[i % len(CATEGORIES)].token))
    reply = await rs.on_draft_button(rider, DraftAction("skip"))
    reply = await intake._answer_questions(rs, rider, reply)
    if any("rd:new" in str(m.get("buttons")) for m in reply.messages):  # a similar open report nearby
        await rs.on_draft_button(rider, DraftAction("new"))
    reply = await rs.on_draft_button(rider, DraftAction("ok"))
    if not (reply.queued and reply.queued[0].endswith(":receipt")):
        raise AssertionError(f"report {i} was not filed: {reply}")


async def _live(services: Services, riders: dict[int, User], report_id: int, after_photo: bytes) -> None:
    """A filed report's life, as its grid worker and its rider live it: accepted, resolved with an after-photo and
    a note, confirmed with 5 stars; fails unless the report ends confirmed."""
    rs = services.reports
    report = await get_report(services.db, report_id)
    assert report is not None and report.grid_id is not None
    grid_ids = [g.id for g in services.grids.grids("grid")]
    worker_no = intake.WORKER_BASE + grid_ids.index(report.grid_id)
    worker = await services.users.identify("telegram", str(worker_no), f"网格员{worker_no - intake.WORKER_BASE}")
    await rs.on_work_button(worker, WorkAction("accept", report.id, report.version))
    report = await get_report(services.db, report_id)
    assert report is not None
    await rs.on_work_button(worker, WorkAction("resolve", report.id, report.version))
    await rs.on_photo(worker, after_photo)
    await rs.on_text(worker, "已清理，通道畅通")
    await rs.rate(riders[report.reporter_id], Rate(report.id, 5))
    report = await get_report(services.db, report_id)
    if report is None or report.status != Status.CONFIRMED:
        raise AssertionError(f"report {report_id} did not live its life: {report}")


async def _backend(
    backend: str, settings: Settings, usage: Callable[[], object], plan: Plan, photos: PhotoSource, log: Log
) -> BackendRun:
    run = BackendRun(backend)
    services = await open_services(settings)
    try:
        await intake.bind_workers(services)
        points = intake.points_in_grids(services, 400)
        per_rider = settings.reports_per_hour  # production limit: many riders, as the city has
        riders = [
            await services.users.identify("telegram", str(intake.RIDER_BASE + k), f"骑手{k}")
            for k in range(-(-sum(plan.reports[:3]) // per_rider))
        ]
        shared, after_photo = photos.chat(-1), photos.chat(-2)
        for photo in (shared, after_photo):  # the rows and resolved phases' one photo each, stored before them
            await services.photos.put(photo)
        filed = 0
        for name, count in zip(PHASES, plan.reports, strict=True):
            before = await usage()  # type: ignore[misc]
            sent = 0
            started = time.perf_counter()
            if name == "resolved":  # the first reports of the rows phase
                by_id = {rider.id: rider for rider in riders}
                ids = await services.db.fetchall("SELECT id FROM reports ORDER BY id LIMIT ?", (count,))
                for (report_id,) in ids:
                    await _live(services, by_id, report_id, after_photo)
            for _ in range(0 if name == "resolved" else count):
                point = points[filed % len(points)]
                if name == "rows":
                    photo = shared
                elif name == "chat photos":
                    photo = photos.chat(filed)
                else:
                    photo = photos.camera(filed, point[0], point[1])
                sent += len(photo)
                await _file_report(services, riders[filed // per_rider], photo, point, filed)
                filed += 1
            elapsed = time.perf_counter() - started
            after = await usage()  # type: ignore[misc]
            new = 0 if name in ("rows", "resolved") else count
            run.phases.append(Phase(name, count, new, sent if new else 0, before, after, elapsed))
            log(f"  {backend:10} {name:12}: {count:4} reports in {elapsed:5.1f} s, grew {run.phases[-1].grew:,} B")
        stored = (await services.db.fetchone("SELECT COUNT(*) FROM reports"))[0]
        if stored != filed:
            raise AssertionError(f"{filed} dialogs filed {stored} reports")
    finally:
        await services.close()
    return run


class PhotoSource:
    """The photos riders send: cut from one synthetic scene (bench/camera.py), or one real photo re-stamped."""

    def __init__(self, plan: Plan, real: Path | None) -> None:
        self.scene = camera.Scene.draw(plan.camera)
        self.real = real.read_bytes() if real else None

    def chat(self, i: int) -> bytes:
        return self.scene.telegram_jpeg(i + 1)

    def camera(self, i: int, lat: float, lon: float) -> bytes:
        if self.real is None:
            return self.scene.camera_jpeg(i, lat, lon)
        # The same photo with a few bytes after its end naming it: its own bytes (content addressing), same pixels.
        return self.real + f"rider-bench {i}".encode()

    def describe(self, plan: Plan, real: Path | None) -> str:
        w, h = plan.camera
        cam = f"`{real.name}`" if real else f"synthetic {w} × {h} JPEG, quality {camera.CAMERA_QUALITY}, EXIF with GPS"
        return (
            f"camera files: {cam}; chat photos: synthetic {camera.TELEGRAM_SIDE} px, quality {camera.TELEGRAM_QUALITY}"
        )


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node() or 'this machine'}: {os.cpu_count()} cores ({model}), Linux {platform.release()},"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, Pillow {PIL.__version__}"
    )


async def measure(plan: Plan, server_url: str, log: Log, real_photo: Path | None = None) -> StorageResults:
    results = StorageResults(plan, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine(), os.getloadavg(), "")
    started = time.perf_counter()
    photos = PhotoSource(plan, real_photo)
    results.photo_source = photos.describe(plan, real_photo)
    conn = await asyncpg.connect(server_url + "/postgres")
    try:
        results.machine += f", PostgreSQL {await conn.fetchval('SHOW server_version')}"
    finally:
        await conn.close()
    log(f"rider-bot storage benchmark, {plan.mode} mode — {results.started_utc}; {results.machine}")
    log(f"  reports per phase {dict(zip(PHASES, plan.reports, strict=True))}; {results.photo_source}")
    with tempfile.TemporaryDirectory(prefix="rider-bench-") as tmp:
        url = await pgserver.fresh_database(server_url, "storage")
        pg = Settings(db_path=Path(tmp) / "unused.sqlite3", database_url=url, http_port=None, demo_people=False)
        results.runs.append(await _backend("postgresql", pg, lambda: _pg_usage(url), plan, photos, log))
        lite = Settings(db_path=Path(tmp) / "storage.sqlite3", http_port=None, demo_people=False)
        photo_dir = Path(tmp) / "photos"

        async def lite_usage() -> Usage:
            return await asyncio.to_thread(_sqlite_usage, lite.db_path, photo_dir)

        results.runs.append(await _backend("sqlite", lite, lite_usage, plan, photos, log))
    results.elapsed_s = time.perf_counter() - started
    log(f"total {results.elapsed_s:.0f} s; load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where PERFORMANCE.md is")
    parser.add_argument("--photo", type=Path, help="a real JPEG for the camera phase (re-stamped per report)")
    parser.add_argument("--smoke", action="store_true", help="the test's tiny plan (printed, nothing written)")
    parser.add_argument("--dry", action="store_true", help="print the figures, write nothing")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def log(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    with pgserver.server() as cluster:
        results = asyncio.run(measure(SMOKE if args.smoke else FULL, cluster.server_url, log, args.photo))
    from bench import storage_report  # imports this module

    results.log = lines
    if args.smoke or args.dry:
        print(storage_report.block(results))
        return 0
    path = args.out / "PERFORMANCE.md"
    storage_report.write(results, path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
