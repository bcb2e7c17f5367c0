"""`rider-bot db copy`: a city's SQLite file (reports with photos, audit logs, roles, outbox, keepers' edits) moved
to PostgreSQL and back with the real command, every table equal afterwards; a non-empty target is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.media.photos import PhotoStore
from bot.store.copy import PHOTO_TABLES, checksum, insertion_order, tables
from bot.store.db import Database
from tests import pgcluster
from tests.chat import ChatUser
from tests.reporting import bind, file_report, grid_at

REPO = Path(__file__).resolve().parent.parent
HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids

pytestmark = pytest.mark.sqlite_only("copies a SQLite file to PostgreSQL: the source must be a SQLite file")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


async def _city(runtime: Runtime) -> None:
    """A working day in miniature, through the chat: an invite, a report with a photo, accepted and resolved."""
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    seen = runtime.standin.last_seq(worker.user_id)
    await file_report(rider, new_if_offered=False)
    await runtime.services.outbox.wait_idle()
    [card, _pin] = await runtime.standin.wait_for_bot_messages(worker.user_id, 2, after_seq=seen, timeout=8)
    await worker.tap(card, "接单")
    await runtime.services.outbox.wait_idle()


async def _contents(db: Database) -> dict[str, tuple[int, str]]:
    """Every table but the photo store's (files on SQLite, rows on PostgreSQL: compared by `_photos_equal`)."""
    out = {}
    for name, columns in (await tables(db)).items():
        if name in PHOTO_TABLES:
            continue
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = [tuple(r) for r in await db.fetchall(f'SELECT {cols} FROM "{name}"')]
        out[name] = (len(rows), checksum(rows))
    return out


async def test_sqlite_to_postgresql_and_back_with_everything_equal(
    runtime: Runtime, pg_url: str, tmp_path: Path
) -> None:
    await _city(runtime)
    db_path = runtime.settings.db_path
    await runtime.stop()
    async with Database(db_path) as source:
        before = await _contents(source)
    for table in ("reports", "report_photos", "report_events", "outbox", "roles", "invites", "users", "places"):
        assert before[table][0] > 0, f"the sample city has no {table}"
    files = PhotoStore(db_path.parent / "photos")
    shas = await files.digests()
    assert shas and set(shas) >= {r[0] for r in pgcluster.read(db_path, "SELECT sha256 FROM report_photos")}

    done = cli("--db", str(db_path), "db", "copy", "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "SHA-256" in done.stdout or "校验和" in done.stdout
    async with Database(pg_url) as target:
        assert await _contents(target) == before
        # the photos travelled into the database: both forms, byte for byte
        in_pg = PhotoStore(db=target)
        assert await in_pg.digests() == shas
        for sha in shas:
            assert await in_pg.original(sha) == await files.original(sha)
            assert await in_pg.shareable(sha) == await files.shareable(sha)
        # the identity sequences follow the copied ids: the next report gets a fresh number
        async with target.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO reports (reporter_id, category, lat, lon, status, created_at, updated_at)"
                " SELECT reporter_id, category, lat, lon, status, created_at, updated_at FROM reports LIMIT 1"
            )
            assert cur.lastrowid == before["reports"][0] + 1
            await conn.execute("DELETE FROM reports WHERE id = ?", (cur.lastrowid,))

    again = cli("--db", str(db_path), "db", "copy", "--to", pg_url)
    assert again.returncode == 1 and "reports" in again.stderr and "--force" in again.stderr
    forced = cli("--db", str(db_path), "--lang", "en", "db", "copy", "--to", pg_url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "checksums (SHA-256) match" in forced.stdout

    back = tmp_path / "home" / "back.sqlite3"
    home = cli("db", "copy", "--from", pg_url, "--to", str(back))
    assert home.returncode == 0, home.stderr
    assert f"{len(shas)} " in home.stdout
    async with Database(back) as copy:
        assert await _contents(copy) == before
        assert (await copy.fetchone("PRAGMA foreign_key_check")) is None
    returned = PhotoStore(back.parent / "photos")  # files again, beside the SQLite file, as the bot keeps them
    assert await returned.digests() == shas
    for sha in shas:
        assert await returned.original(sha) == await files.original(sha)
        assert await returned.shareable(sha) == await files.shareable(sha)


async def test_refusals_name_the_problem_without_writing(tmp_path: Path, pg_url: str) -> None:
    missing = cli("--db", str(tmp_path / "nope.sqlite3"), "db", "copy", "--to", pg_url)
    assert missing.returncode == 1 and "nope.sqlite3" in missing.stderr
    same = cli("db", "copy", "--from", pg_url, "--to", pg_url)
    assert same.returncode == 2
    wrong = cli("--db", str(tmp_path / "x.sqlite3"), "db", "copy", "--to", "mysql://u:secret-pw@h/db")
    assert wrong.returncode == 2 and "postgresql://" in wrong.stderr and "secret-pw" not in wrong.stderr


def test_parents_are_copied_before_children() -> None:
    fks = {
        "reports": [("reporter_id", "users"), ("merged_into", "reports")],
        "report_events": [("report_id", "reports")],
    }
    assert insertion_order(["report_events", "reports", "users"], fks) == ["users", "reports", "report_events"]
