"""The scale-out benchmark (`python -m bench.scaleout`) in its smallest plan: correctness only, never a timing.

It must run on both backends through the real stack (the same harness the figures come from), count what it
claims to count, and write its section of docs/PERFORMANCE.md without touching the rest of the file — and
`python -m bench`'s report must keep that section when it rewrites the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report, scaleout, scaleout_report, single
from bench.report import Results
from tests import pgcluster

pytestmark = pytest.mark.sqlite_only("compares a SQLite file with PostgreSQL: the SQLite side must stay SQLite")


async def test_smoke_plan_measures_both_backends_and_writes_its_section(pg_server: str, tmp_path: Path) -> None:
    plan = scaleout.SMOKE
    lines: list[str] = []
    results = await scaleout.measure(plan, pg_server, lambda: 0.0, lines.append)
    assert results.single is not None and len(results.single.rounds) == plan.rounds
    for round_ in results.single.rounds:
        assert set(round_) == {(b, w) for b in single.BACKENDS for w in ("answers", "submits")}
        for (backend, work), run in round_.items():
            assert run.backend == backend and run.work == work
            assert run.done == (plan.queries if work == "answers" else plan.submits), (backend, work)
            assert run.elapsed_s > 0 and run.round_trips >= 1  # every operation reached its database
    # The PostgreSQL runs wrote into PostgreSQL (the SQLite run into its file): every submit is a report there
    for k, _backend in enumerate(single.BACKENDS[1:], start=1):
        async with pgcluster.connected(f"{pg_server}/submits_0_{k}") as conn:
            assert await conn.fetchval("SELECT COUNT(*) FROM reports") == plan.submits

    # One dispatcher delivered the whole backlog within Telegram's cap; each kill of the leader was followed by a
    # delivery from another process (timings are not asserted: only that it happened)
    assert results.rate is not None and results.rate.delivered == results.rate.queued == plan.dispatch_messages
    assert results.rate.max_in_any_second <= 30
    assert results.failover is not None and len(results.failover.kills) == plan.kills

    results.log = lines
    doc = tmp_path / "PERFORMANCE.md"
    doc.write_text("# Performance\n\nkept words\n", encoding="utf-8")
    scaleout_report.write(results, doc)
    text = doc.read_text(encoding="utf-8")
    assert "kept words" in text and scaleout_report.HEADING in text
    section = scaleout_report.current(doc)
    assert "one process, 随手拍 submits, PostgreSQL" in section and "load average" in section

    # `python -m bench` rewrites the file around the section and keeps it
    report.write(Results(mode="quick", log=["a quick run"]), tmp_path)
    again = doc.read_text(encoding="utf-8")
    assert scaleout_report.current(doc) == section
    assert again.count(scaleout_report.HEADING) == 1 and "a quick run" in again
