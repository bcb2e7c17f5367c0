"""Is the database whole? SQLite's PRAGMA integrity_check and foreign_key_check, and their counterpart on
PostgreSQL (pages are the server's business there; rows whose foreign key points at nothing are ours to find)."""

from __future__ import annotations

from bot.store.db import Database


async def integrity_problems(db: Database) -> list[str]:
    """Empty when the database is whole; else one line per problem."""
    if db.dialect == "sqlite":
        problems = [str(r[0]) for r in await db.fetchall("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"{r[0]} row {r[1]} → {r[2]}" for r in await db.fetchall("PRAGMA foreign_key_check")]
        return problems
    problems = []
    for table, column, parent, key in await _references(db):
        row = await db.fetchone(
            f'SELECT COUNT(*) FROM "{table}" c WHERE c."{column}" IS NOT NULL'
            f' AND NOT EXISTS (SELECT 1 FROM "{parent}" p WHERE p."{key}" = c."{column}")'
        )
        if row[0]:
            problems.append(f"{table}.{column}: {row[0]} rows without their {parent}")
    return problems


async def _references(db: Database) -> list[tuple[str, str, str, str]]:
    """(table, column, referenced table, referenced column) of every foreign key — most point at an `id`, the
    photo store's at a `sha256`."""
    rows = await db.fetchall(
        "SELECT kcu.table_name, kcu.column_name, ccu.table_name, ccu.column_name"
        " FROM information_schema.table_constraints tc"
        " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
        " AND kcu.table_schema = tc.table_schema"
        " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name"
        " AND ccu.table_schema = tc.table_schema"
        " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
        " ORDER BY 1, 2"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]
