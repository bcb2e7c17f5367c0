"""The store (SQLite; PostgreSQL in the second pass): migrations that apply once, WAL on SQLite, atomic
transactions, an append-only audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.db import Database, _migrations
from bot.store.errors import INTEGRITY_ERRORS


async def test_migrations_apply_once_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path) as db:
        version = await db.schema_version()
        assert version == len(_migrations())
        if db.dialect == "sqlite":  # WAL is SQLite's; the PostgreSQL pass checks the same migrations otherwise
            row = await db.fetchone("PRAGMA journal_mode")
            assert row[0] == "wal"
    async with Database(path) as db:  # reopening applies nothing twice
        assert await db.schema_version() == version
        rows = await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in rows] == list(range(1, version + 1))


async def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO users (channel, external_id, created_at) VALUES ('telegram', '1', 'now')"
                )
                raise RuntimeError("boom")
        assert (await db.fetchone("SELECT COUNT(*) FROM users"))[0] == 0


async def test_the_audit_log_is_append_only(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3") as db:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO users (channel, external_id, created_at) VALUES ('t', '1', 'now')")
            await conn.execute(
                "INSERT INTO reports (reporter_id, category, lat, lon, status, created_at, updated_at)"
                " VALUES (1, 'other', 34.2, 117.1, 'new', 'now', 'now')"
            )
            await conn.execute(
                "INSERT INTO report_events (report_id, at, action, to_status) VALUES (1, 'now', 'create', 'new')"
            )
        for sql in ("UPDATE report_events SET note = 'x'", "DELETE FROM report_events"):
            with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
                async with db.transaction() as conn:
                    await conn.execute(sql)
        assert (await db.fetchone("SELECT COUNT(*) FROM report_events"))[0] == 1
