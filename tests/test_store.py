"""The store (SQLite; PostgreSQL in the second pass): migrations that apply once, WAL on SQLite, atomic
transactions, an append-only audit log."""

from __future__ import annotations

import tracemalloc
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


async def test_write_each_runs_in_order_all_or_nothing(tmp_path: Path) -> None:
    """`Database.write_each` (a getUpdates batch's recording): one statement per row, each run seeing the runs
    before it, the rows they return in order, and a failing run undoing the whole batch. `write_returning`: the
    rows one statement's RETURNING gives."""
    async with Database(tmp_path / "db.sqlite3") as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE test_counter (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            await conn.execute("INSERT INTO test_counter (k, n) VALUES ('a', 0), ('b', 0)")
        bump = "UPDATE test_counter SET n = n + ? WHERE k = ? RETURNING k, n"
        rows = await db.write_each(bump, [(1, "a"), (10, "b"), (100, "a")])
        assert [tuple(r) for r in rows] == [("a", 1), ("b", 10), ("a", 101)]
        with pytest.raises(INTEGRITY_ERRORS):
            await db.write_each("INSERT INTO test_counter (k, n) VALUES (?, ?) RETURNING k", [("c", 1), ("a", 1)])
        assert (await db.fetchone("SELECT COUNT(*) FROM test_counter WHERE k = 'c'"))[0] == 0
        assert await db.write_each(bump, []) == []
        rows = await db.write_returning(
            "INSERT INTO test_counter (k, n) VALUES (?, ?), (?, ?) ON CONFLICT DO NOTHING RETURNING k", ("a", 0, "d", 0)
        )
        assert [r[0] for r in rows] == ["d"]


async def test_stream_holds_one_batch_not_the_whole_result(tmp_path: Path) -> None:
    """`Database.stream` (what exports read through) fetches `batch` rows at a time from one cursor, on both
    backends: reading 200 000 rows costs about one batch of memory; fetching them all at once (what asyncpg's
    `fetch` does) would cost tens of MB. Stopping early closes the cursor, and parameters bind as everywhere."""
    sql = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)"
        " SELECT x, 'row ' || x AS label FROM c WHERE x % ? = 0"
    )
    async with Database(tmp_path / "db.sqlite3") as db:
        assert [tuple(r) async for r in db.stream(sql, (10, 3), batch=2)] == [(3, "row 3"), (6, "row 6"), (9, "row 9")]
        tracemalloc.start()
        try:
            count = total = 0
            async for row in db.stream(sql, (200_000, 1), batch=500):
                count += 1
                total += row[0]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == 200_000 and total == 200_000 * 200_001 // 2
        assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB while streaming: the whole result was fetched"
        first = []
        async for row in db.stream(sql, (200_000, 1), batch=100):
            first.append(row[0])
            if len(first) == 3:
                break
        assert first == [1, 2, 3]
        async with db.transaction() as conn:  # inside a write transaction: its own uncommitted rows are seen
            await conn.execute("INSERT INTO users (channel, external_id, created_at) VALUES ('telegram', '7', 'now')")
            seen = [r[0] async for r in db.stream("SELECT external_id FROM users", batch=1)]
        assert seen == ["7"]
