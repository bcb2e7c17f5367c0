"""Looking at a database from outside, without opening it as a `Database` (which would migrate it): for
`rider-bot doctor`, which must change nothing it examines."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.store import dialect
from bot.store.db import _migrations
from bot.store.leadership import LEADER_KEY, LEADER_QUERY, LOCK_CLASS, leader_name


class ProbeFailed(Exception):
    """The database could not be read; the message is safe to show (no password)."""


@dataclass(frozen=True)
class Probe:
    version: int  # schema version found
    latest: int  # the newest this program knows
    check: str = "ok"  # SQLite's quick_check
    writable: str = ""  # PostgreSQL: why writes would fail ("" when they would not)
    leader: str | None = None  # PostgreSQL: the process (host:pid) that dispatches and runs the jobs, if one does


def latest_version() -> int:
    return len(_migrations())


def sqlite_file(path: Path) -> Probe:
    """quick_check and the schema version, read-only."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ProbeFailed(f"{path}: {exc}"[:200]) from None
    return Probe(int(version), latest_version(), str(check))


async def postgres(url: str) -> Probe:
    try:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            version = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") if exists else 0
            # Writes, without writing: what a new session of this role would get, on this server.
            row = await conn.fetchrow(
                "SELECT current_setting('default_transaction_read_only') = 'on', pg_is_in_recovery(),"
                " to_regclass('outbox') IS NULL OR has_table_privilege('outbox', 'INSERT, UPDATE, DELETE')"
            )
            leader = await conn.fetchval(dialect.query(LEADER_QUERY), LOCK_CLASS, LEADER_KEY)
        finally:
            await conn.close()
    except Exception as exc:  # the driver's messages may quote the URL: name the kind only
        raise ProbeFailed(type(exc).__name__) from None
    read_only, standby, allowed = row
    reason = (
        "default_transaction_read_only = on"
        if read_only
        else "a standby (read-only replica)"
        if standby
        else "no INSERT/UPDATE/DELETE privilege on outbox"
        if not allowed
        else ""
    )
    return Probe(int(version), latest_version(), writable=reason, leader=leader_name(leader))
