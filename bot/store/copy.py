"""`rider-bot db copy`: every table from one database to another (SQLite ↔ PostgreSQL), in one go, verified.

The source is read inside one of its transactions (a consistent snapshot; on SQLite it also holds writers off
until the copy is read), the target is written in one transaction (all or nothing), then both are compared table
by table: row count and a SHA-256 over the rows. Both sides are migrated to the same schema version by opening
them, so the tables and columns match; `schema_migrations` is the target's own.

Photos are not rows of a table on SQLite (files beside the database): `rider-bot db copy` copies them after the
tables (bot/media/photo_copy.py); here their tables are only emptied in the target.

Rows are normalised for the checksum (None, int, float, text each tagged; rows sorted), so the same data gives the
same sum on both backends whatever order or driver types they return.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .db import Database

# Filled by migrations themselves: a fresh target has them, and the copy replaces them with the source's rows.
SEEDED = frozenset({"departments", "category_limits", "catalog_versions"})
SKIPPED = frozenset({"schema_migrations"})
# The photo store's tables: emptied with the rest, but filled by the photo step (bot/media/photo_copy.py), one
# photo at a time from whichever store the source keeps them in (files on SQLite, these tables on PostgreSQL).
PHOTO_TABLES = frozenset({"photo_shared", "photo_originals"})


class CopyRefused(Exception):
    """The copy did not start (target not empty, schema versions differ); nothing was written."""


class CopyMismatch(Exception):
    """The target does not match the source after the copy (counts or checksums differ)."""


@dataclass
class TableCopy:
    name: str
    rows: int
    checksum: str
    target_rows: int = -1
    target_checksum: str = ""

    @property
    def ok(self) -> bool:
        return self.rows == self.target_rows and self.checksum == self.target_checksum


@dataclass
class CopyResult:
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)


async def tables(db: Database) -> dict[str, list[str]]:
    """Table → columns (in declared order), without SQLite's own tables."""
    out: dict[str, list[str]] = {}
    if db.dialect == "sqlite":
        for (name,) in await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ):
            out[name] = [r[1] for r in await db.fetchall(f'PRAGMA table_info("{name}")')]
    else:
        for name, column in await db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " ORDER BY table_name, ordinal_position"
        ):
            out.setdefault(name, []).append(column)
    return {name: cols for name, cols in sorted(out.items()) if name not in SKIPPED}


async def foreign_keys(db: Database) -> dict[str, list[tuple[str, str]]]:
    """Table → [(column, referenced table)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    if db.dialect == "sqlite":
        for name in await tables(db):
            rows = await db.fetchall(f'PRAGMA foreign_key_list("{name}")')
            out[name] = [(r[3], r[2]) for r in rows]
    else:
        rows = await db.fetchall(
            "SELECT kcu.table_name, kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name"
            " AND kcu.table_schema = tc.table_schema"
            " JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name"
            " AND ccu.table_schema = tc.table_schema"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
        )
        for table, column, parent in rows:
            out.setdefault(table, []).append((column, parent))
    return out


def insertion_order(names: Iterable[str], fks: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Parents before children (self-references are handled row by row)."""
    pending = sorted(names)
    done: list[str] = []
    while pending:
        ready = [n for n in pending if all(p == n or p in done or p not in pending for _, p in fks.get(n, []))]
        if not ready:  # a cycle between tables: none in our schema; keep going in name order
            ready = pending[:1]
        for n in ready:
            done.append(n)
            pending.remove(n)
    return done


def _parents_first(rows: list[Sequence[Any]], columns: list[str], self_refs: list[str]) -> list[Sequence[Any]]:
    """Rows of a table that references itself (grids.parent_id, reports.merged_into): referenced rows first."""
    if not self_refs or not rows:
        return rows
    key = columns.index("id")
    refs = [columns.index(c) for c in self_refs]
    placed: set[Any] = set()
    ids = {row[key] for row in rows}
    ordered: list[Sequence[Any]] = []
    pending = rows
    while pending:
        later = []
        for row in pending:
            if all(row[i] is None or row[i] in placed or row[i] not in ids or row[i] == row[key] for i in refs):
                ordered.append(row)
                placed.add(row[key])
            else:
                later.append(row)
        if len(later) == len(pending):  # a cycle: let the database say what is wrong
            ordered.extend(later)
            break
        pending = later
    return ordered


def _encode(value: Any) -> str:
    if value is None:
        return "N"
    if isinstance(value, bool):
        return f"i{int(value)}"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, float):
        return f"i{int(value)}" if value.is_integer() else f"f{value!r}"
    if isinstance(value, bytes | bytearray | memoryview):
        return "b" + bytes(value).hex()
    return "s" + str(value).replace("\\", "\\\\").replace("\x1f", "\\x1f").replace("\x1e", "\\x1e")


def checksum(rows: Iterable[Sequence[Any]]) -> str:
    encoded = sorted("\x1f".join(_encode(v) for v in row) for row in rows)
    digest = hashlib.sha256()
    for line in encoded:
        digest.update(line.encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


async def _read(db: Database, name: str, columns: list[str]) -> list[Sequence[Any]]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return [tuple(r) for r in await db.fetchall(f'SELECT {cols} FROM "{name}"')]


async def non_empty(db: Database, names: Iterable[str]) -> list[str]:
    found = []
    for name in names:
        if name in SEEDED:
            continue
        if await db.fetchone(f'SELECT 1 FROM "{name}" LIMIT 1'):
            found.append(name)
    return found


async def copy_database(
    source: Database, target: Database, *, force: bool = False, progress: Callable[[str, int], None] | None = None
) -> CopyResult:
    """Copy every table; raises CopyRefused before writing anything, CopyMismatch if verification fails."""
    if await source.schema_version() != await target.schema_version():
        raise CopyRefused(
            f"schema versions differ: source {await source.schema_version()}, target {await target.schema_version()}"
        )
    source_tables = await tables(source)
    target_tables = await tables(target)
    if source_tables.keys() != target_tables.keys() or any(
        set(source_tables[n]) != set(target_tables[n]) for n in source_tables
    ):
        raise CopyRefused("the two databases have different tables or columns")
    busy = await non_empty(target, target_tables)
    if busy and not force:
        raise CopyRefused("target is not empty: " + ", ".join(busy))
    fks = await foreign_keys(source)
    order = insertion_order(source_tables, fks)
    result = CopyResult()
    identities: set[str] = set()
    if target.dialect == "postgresql":
        rows = await target.fetchall(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND column_name = 'id' AND is_identity = 'YES'"
        )
        identities = {r[0] for r in rows}
    async with source.transaction() as snapshot:  # one snapshot of the source, writers held off while read
        if source.dialect == "postgresql":
            await snapshot.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        data = {name: await _read(source, name, source_tables[name]) for name in order if name not in PHOTO_TABLES}
    async with target.transaction() as conn:
        if target.dialect == "postgresql":
            await conn.execute("TRUNCATE " + ", ".join(f'"{n}"' for n in order) + " RESTART IDENTITY CASCADE")
        else:
            for name in reversed(order):
                await conn.execute(f'DELETE FROM "{name}"')
        for name in order:
            if name in PHOTO_TABLES:
                continue
            columns = source_tables[name]
            self_refs = [c for c, parent in fks.get(name, []) if parent == name]
            rows = _parents_first(data[name], columns, self_refs)
            if rows:
                cols = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join("?" for _ in columns)
                await conn.executemany(f'INSERT INTO "{name}" ({cols}) VALUES ({marks})', rows)
            if name in identities:  # the next id after the copied ones, as SQLite's max(rowid) + 1
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), COALESCE(MAX(id), 1),"
                    f' MAX(id) IS NOT NULL) FROM "{name}"'
                )
            result.tables.append(TableCopy(name, len(rows), checksum(rows)))
            if progress is not None:
                progress(name, len(rows))
    for table in result.tables:
        copied = await _read(target, table.name, source_tables[table.name])
        table.target_rows, table.target_checksum = len(copied), checksum(copied)
    if not result.ok:
        bad = ", ".join(t.name for t in result.tables if not t.ok)
        raise CopyMismatch(f"the copy differs from the source in: {bad}")
    return result
