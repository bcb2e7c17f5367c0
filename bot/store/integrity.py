"""Is the database whole? SQLite's PRAGMA integrity_check and foreign_key_check, and their counterpart on
PostgreSQL (pages are the server's business there; rows whose foreign key points at nothing are ours to find)."""

from __future__ import annotations

from bot.store.copy import foreign_keys
from bot.store.db import Database


async def integrity_problems(db: Database) -> list[str]:
    """Empty when the database is whole; else one line per problem."""
    if db.dialect == "sqlite":
        problems = [str(r[0]) for r in await db.fetchall("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"{r[0]} row {r[1]} → {r[2]}" for r in await db.fetchall("PRAGMA foreign_key_check")]
        return problems
    problems = []
    for table, refs in (await foreign_keys(db)).items():
        for column, parent in refs:
            row = await db.fetchone(
                f'SELECT COUNT(*) FROM "{table}" c WHERE c."{column}" IS NOT NULL'
                f' AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p.id = c."{column}")'
            )
            if row[0]:
                problems.append(f"{table}.{column}: {row[0]} rows without their {parent}")
    return problems
