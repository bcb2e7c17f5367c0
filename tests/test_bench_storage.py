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
    _, chat, files, lived = plan.reports
    for run in results.runs:
        assert [(p.name, p.reports) for p in run.phases] == list(zip(storage.PHASES, plan.reports, strict=True))
        rows, chat_phase, camera_phase, _ = run.phases
        # Rows only: the one photo was stored before the phase. (A few rows may fit in pages the file has already:
        # only PostgreSQL's empty tables, below, must grow.)
        assert rows.photos == 0 and rows.grew >= 0
        for phase in (chat_phase, camera_phase):
            # Both forms are kept, the original byte for byte: a photo costs at least what the rider sent
            assert phase.photos == phase.reports and phase.input_bytes > 0
            assert run.per_photo(phase.name) > run.input_per_photo(phase.name)
        assert run.input_per_photo("camera files") > run.input_per_photo("chat photos")
        assert run.per_year("camera files") > run.per_year("chat photos") > run.per_year(None) > 0
        # A resolved report's life: its rows (accepted, resolved, rated); its one after-photo was stored before
        resolved = run.phase("resolved")
        assert resolved.photos == 0 and run.per_life >= 0

    pg, lite = results.run("postgresql"), results.run("sqlite")
    # Before the rows phase no report existed, before the resolved one no rider had points: their first rows take
    # new pages of PostgreSQL's tables
    assert pg.per_report > 0 and pg.per_life > 0
    # PostgreSQL keeps photos in its two tables (the SQLite run's files are not counted there), SQLite as files
    camera_pg = pg.phase("camera files")
    grown = camera_pg.table_growth()
    assert grown.get("photo_originals", 0) >= camera_pg.input_bytes and grown.get("photo_shared", 0) > 0
    assert all(p.after.photo_files == 0 for p in pg.phases)
    assert all(p.table_growth().get("photo_originals", 0) == 0 for p in lite.phases)
    assert lite.phase("resolved").after.photo_file_count - lite.phase("chat photos").before.photo_file_count == (
        2 * (chat + files)
    )
    conn = await asyncpg.connect(f"{pg_server}/storage")
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM reports") == sum(plan.reports[:3])  # filed
        assert await conn.fetchval("SELECT COUNT(*) FROM reports WHERE status = 'confirmed'") == lived
        assert await conn.fetchval("SELECT COUNT(*) FROM photo_originals") == 2 + chat + files
        assert await conn.fetchval("SELECT COUNT(*) FROM photo_shared") == 2 + chat + files
        after = await conn.fetchval("SELECT COUNT(DISTINCT sha256) FROM report_photos WHERE phase = 'after'")
        assert after == 1 and await conn.fetchval("SELECT COUNT(*) FROM report_photos WHERE phase = 'after'") == lived
    finally:
        await conn.close()

    results.log = lines
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text(f"# Performance\n\nkept words\n\n{scaleout_report.HEADING}\n\n{scaleout_report.NOT_RUN}\n")
    storage_report.write(results, doc)
    section = storage_report.current(doc)
    assert "kept words" in doc.read_text() and section.startswith(storage_report.HEADING)
    assert "a camera file" in section and "a year of 1 000 reports/day" in section and results.machine in section
    storage_report.write(results, doc)  # a second run replaces its section, once
    assert doc.read_text().count(storage_report.HEADING) == 1

    # `python -m bench` rewrites the file around both sections and keeps this one after section 7
    report.write(Results(mode="quick", log=["a quick run"]), tmp_path)
    again = doc.read_text(encoding="utf-8")
    assert storage_report.current(doc) == section and "a quick run" in again
    assert again.index(scaleout_report.HEADING) < again.index(storage_report.HEADING)
