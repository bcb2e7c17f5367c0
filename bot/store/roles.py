"""Roles, invite codes and failed /join attempts in SQLite.

Plain functions over the one `Database`: reads may use `db` directly; anything that must be atomic with other
writes (claiming an invite *and* granting its role, counting failures *and* recording one) takes the
connection handed out by `Database.transaction()`, so the caller decides where the transaction begins and ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.store.db import Connection, Database
from bot.store.users import User, user_from_row

_USER_COLUMNS = (
    "u.id, u.channel, u.external_id, u.display_name, u.lang, u.last_lat, u.last_lon, u.last_loc_at, u.dialog_step"
)


@dataclass(frozen=True)
class GridRef:
    """Just enough of a grid to validate a scope and name it; the grid importer owns the rest."""

    id: str
    name: str
    level: str
    parent_id: str | None


@dataclass(frozen=True)
class InviteRow:
    code_hash: str
    role: str
    scope: str
    created_at: str
    expires_at: str
    created_by: str
    used_by: int | None
    used_at: str | None


# --- roles -------------------------------------------------------------------------------------------------


async def role_rows(db: Database, user_id: int) -> list[tuple[str, str]]:
    rows = await db.fetchall("SELECT role, scope FROM roles WHERE user_id = ? ORDER BY granted_at, rowid", (user_id,))
    return [(row["role"], row["scope"]) for row in rows]


async def supervised_scopes(db: Database) -> list[str]:
    """Every community or street somebody supervises."""
    rows = await db.fetchall("SELECT DISTINCT scope FROM roles WHERE role = 'supervisor' ORDER BY scope")
    return [row[0] for row in rows]


async def first_role(db: Database, user_id: int) -> str | None:
    """The role a person was granted first (how a timeline names them), None for a rider."""
    row = await db.fetchone("SELECT role FROM roles WHERE user_id = ? ORDER BY granted_at LIMIT 1", (user_id,))
    return row[0] if row else None


async def insert_role(conn: Connection, user_id: int, role: str, scope: str, granted_at: str, granted_by: str) -> bool:
    """Inside the caller's transaction; False when the user already had exactly this role and scope."""
    cur = await conn.execute(
        "INSERT INTO roles (user_id, role, scope, granted_at, granted_by) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(user_id, role, scope) DO NOTHING",
        (user_id, role, scope, granted_at, granted_by),
    )
    return cur.rowcount == 1


async def delete_role(db: Database, user_id: int, role: str, scope: str) -> bool:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "DELETE FROM roles WHERE user_id = ? AND role = ? AND scope = ?", (user_id, role, scope)
        )
        return cur.rowcount == 1


async def users_with_role(db: Database, role: str, scope: str) -> list[User]:
    rows = await db.fetchall(
        f"SELECT {_USER_COLUMNS} FROM roles r JOIN users u ON u.id = r.user_id"
        " WHERE r.role = ? AND r.scope = ? ORDER BY r.granted_at, r.rowid",
        (role, scope),
    )
    return [user_from_row(row) for row in rows]


async def users_by_external_ids(db: Database, channel: str, external_ids: Iterable[str]) -> list[User]:
    """Users we already know by their channel id (configured admins may never have been granted a row)."""
    ids = list(external_ids)
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = await db.fetchall(
        f"SELECT {_USER_COLUMNS} FROM users u WHERE u.channel = ? AND u.external_id IN ({marks}) ORDER BY u.id",
        (channel, *ids),
    )
    return [user_from_row(row) for row in rows]


# --- what a scope may name ---------------------------------------------------------------------------------


async def departments(db: Database) -> list[tuple[str, str, str]]:
    rows = await db.fetchall("SELECT code, name_zh, name_en FROM departments ORDER BY rowid")
    return [(row["code"], row["name_zh"], row["name_en"]) for row in rows]


async def grid(db: Database, grid_id: str) -> GridRef | None:
    row = await db.fetchone("SELECT id, name, level, parent_id FROM grids WHERE id = ?", (grid_id,))
    if row is None:
        return None
    return GridRef(id=row["id"], name=row["name"], level=row["level"], parent_id=row["parent_id"])


# --- invites -----------------------------------------------------------------------------------------------


async def insert_invite(
    conn: Connection,
    code_hash: str,
    role: str,
    scope: str,
    created_at: str,
    expires_at: str,
    created_by: str,
) -> bool:
    """False on a hash collision with any earlier invite (the caller draws a new code)."""
    cur = await conn.execute(
        "INSERT INTO invites (code_hash, role, scope, created_at, expires_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(code_hash) DO NOTHING",
        (code_hash, role, scope, created_at, expires_at, created_by),
    )
    return cur.rowcount == 1


async def invite_by_hash(conn: Connection, code_hash: str) -> InviteRow | None:
    async with conn.execute(
        "SELECT code_hash, role, scope, created_at, expires_at, created_by, used_by, used_at"
        " FROM invites WHERE code_hash = ?",
        (code_hash,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return InviteRow(
        code_hash=row["code_hash"], role=row["role"], scope=row["scope"], created_at=row["created_at"],
        expires_at=row["expires_at"], created_by=row["created_by"], used_by=row["used_by"], used_at=row["used_at"],
    )  # fmt: skip


async def claim_invite(conn: Connection, code_hash: str, user_id: int, now: str) -> bool:
    """Mark the invite used by `user_id`; True only if this call was the one that used it (and it is unexpired).

    The `used_by IS NULL` condition makes the claim one-time even if two redemptions race: only one UPDATE can
    change the row.
    """
    cur = await conn.execute(
        "UPDATE invites SET used_by = ?, used_at = ? WHERE code_hash = ? AND used_by IS NULL AND expires_at > ?",
        (user_id, now, code_hash, now),
    )
    return cur.rowcount == 1


# --- failed attempts ---------------------------------------------------------------------------------------


async def failures_since(conn: Connection, user_id: int, since: str) -> int:
    async with conn.execute(
        "SELECT COUNT(*) AS n FROM join_attempts WHERE user_id = ? AND at > ?", (user_id, since)
    ) as cur:
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def guesses_since(conn: Connection, since: str) -> int:
    """Wrong well-formed codes from everyone together since `since`: the global /join budget."""
    async with conn.execute("SELECT COUNT(*) AS n FROM join_attempts WHERE guessed = 1 AND at > ?", (since,)) as cur:
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def guessers_since(conn: Connection, since: str) -> int:
    """How many accounts those guesses came from (for the admins' alert)."""
    async with conn.execute(
        "SELECT COUNT(DISTINCT user_id) AS n FROM join_attempts WHERE guessed = 1 AND at > ?", (since,)
    ) as cur:
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def record_failure(conn: Connection, user_id: int, at: str, forget_before: str, *, guessed: bool = True) -> None:
    """Record one failed attempt (`guessed`: a well-formed code, which counts against the global budget too)
    and drop everyone's attempts too old to matter, so the table stays small."""
    await conn.execute("DELETE FROM join_attempts WHERE at <= ?", (forget_before,))
    await conn.execute(
        "INSERT INTO join_attempts (user_id, at, guessed) VALUES (?, ?, ?)", (user_id, at, 1 if guessed else 0)
    )


async def clear_failures(conn: Connection, user_id: int) -> None:
    await conn.execute("DELETE FROM join_attempts WHERE user_id = ?", (user_id,))
