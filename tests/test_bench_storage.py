"""The storage benchmark (`python -m bench.storage`) in its smallest plan: correctness only, never a size target.

It must file every report through the real services on both backends, find the photos where each backend keeps
them (rows on PostgreSQL, files on SQLite, both forms each), count at least the bytes the riders sent, and write
its section of docs/PERFORMANCE.md without touching the rest — and `python -m bench`'s report and `python -m
bench.scaleout`'s must keep that section when they rewrite the file."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from bench import report, scaleout_report, storage, storage_report
from bench.report import Results

pytestmark = pytest.mark.sqlite_only("compares a SQLite file with PostgreSQL: the SQLite side must stay SQLite")


async def test_smoke_plan_measures_both_backends_and_writes_its_section(pg_server: str, tmp_path: Path) -> None:
    plan = storage.SMOKE
    lines: list[str] = []
    results = await storage.measure(plan, pg_server, lines.append)
    assert [r.backend for r in results.runs] == ["postgresql", "sqlite"]
    chat, files = plan.reports[1], plan.reports[2]
    for run in results.runs:
        assert [(p.name, p.reports) for p in run.phases] == list(zip(storage.PHASES, plan.reports, strict=True))
        rows, chat_phase, camera_phase = run.phases
        assert rows.photos == 0 and rows.grew > 0  # rows only: the one photo was stored before the phase
        for phase in (chat_phase, camera_phase):
            # Both forms are kept, the original byte for byte: a photo costs at least what the rider sent
            assert phase.photos == phase.reports and phase.input_bytes > 0
            assert run.per_photo(phase.name) > run.input_per_photo(phase.name)
        assert run.input_per_photo("camera files") > run.input_per_photo("chat photos")
        assert run.per_year("camera files") > run.per_year("chat photos") > 365_000 * run.per_report > 0

    pg, lite = results.run("postgresql"), results.run("sqlite")
    # PostgreSQL keeps photos in its two tables (the SQLite run's files are not counted there), SQLite as files
    camera_pg = pg.phase("camera files")
    grown = camera_pg.table_growth()
    assert grown.get("photo_originals", 0) >= camera_pg.input_bytes and grown.get("photo_shared", 0) > 0
    assert all(p.after.photo_files == 0 for p in pg.phases)
    assert all(p.table_growth().get("photo_originals", 0) == 0 for p in lite.phases)
    assert lite.phase("camera files").after.photo_file_count - lite.phase("chat photos").before.photo_file_count == (
        2 * (chat + files)
    )
    conn = await asyncpg.connect(f"{pg_server}/storage")
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM reports") == sum(plan.reports)
        assert await conn.fetchval("SELECT COUNT(*) FROM photo_originals") == 1 + chat + files
        assert await conn.fetchval("SELECT COUNT(*) FROM photo_shared") == 1 + chat + files
    finally:
        await conn.close()

    results.log = lines
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Performance\n\nkept words\n\n{scaleout_report.HEADING}\n\n{scaleout_report.NOT_RUN}\n")
    storage_report.write(results, doc)
    section = storage_report.current(doc)
    assert "kept words" in doc.read_text() and section.startswith(storage_report.HEADING)
    assert "a camera file" in section and "1 000 reports/day for a year" in section and results.machine in section
    storage_report.write(results, doc)  # a second run replaces its section, once
    assert doc.read_text().count(storage_report.HEADING) == 1

    # `python -m bench` rewrites the file around both sections and keeps this one after section 7
    report.write(Results(mode="quick", log=["a quick run"]), tmp_path)
    again = doc.read_text(encoding="utf-8")
    assert storage_report.current(doc) == section and "a quick run" in again
    assert again.index(scaleout_report.HEADING) < again.index(storage_report.HEADING)
