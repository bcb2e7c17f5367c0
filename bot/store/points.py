"""The points ledger, rewards and redemption codes in SQLite.

The `points` table is append-only (triggers refuse UPDATE and DELETE): a balance is always the sum of its
movements, and a correction is a new movement, never an edit.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Connection, Database, Row

KINDS = ("earned", "spent", "expired", "adjusted")


@dataclass(frozen=True)
class Movement:
    id: int
    user_id: int
    kind: str
    delta: int
    reason: str
    report_id: int | None
    ref: str | None
    note: str
    actor: str
    at: str


@dataclass(frozen=True)
class Reward:
    id: int
    place_id: str
    name: str
    cost: int
    daily_stock: int
    valid_from: str
    valid_to: str


@dataclass(frozen=True)
class Redemption:
    id: int
    code: str
    user_id: int
    reward_id: int
    place_id: str
    cost: int
    created_at: str
    expires_at: str
    state: str


_MOVEMENT = "id, user_id, kind, delta, reason, report_id, ref, note, actor, at"
_REWARD = "id, place_id, name, cost, daily_stock, valid_from, valid_to"
_REDEMPTION = "id, code, user_id, reward_id, place_id, cost, created_at, expires_at, state"


def _movement(r: Row) -> Movement:
    return Movement(*(r[c.strip()] for c in _MOVEMENT.split(",")))


def _reward(r: Row) -> Reward:
    return Reward(*(r[c.strip()] for c in _REWARD.split(",")))


def _redemption(r: Row) -> Redemption:
    return Redemption(*(r[c.strip()] for c in _REDEMPTION.split(",")))


# --- the ledger ------------------------------------------------------------------------------------------


async def ledger(db: Database) -> list[Row]:
    """Every movement with the person's channel identity, oldest first: id, user_id, channel, external_id, kind,
    delta, reason, ref, note, actor, at."""
    return await db.fetchall(
        "SELECT p.id, p.user_id, u.channel, u.external_id, p.kind, p.delta, p.reason, p.ref, p.note, p.actor, p.at"
        " FROM points p JOIN users u ON u.id = p.user_id ORDER BY p.id"
    )


async def balance(conn: Connection, user_id: int) -> int:
    async with conn.execute("SELECT COALESCE(SUM(delta), 0) FROM points WHERE user_id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def movements(db: Database, user_id: int, limit: int | None = None) -> list[Movement]:
    sql = f"SELECT {_MOVEMENT} FROM points WHERE user_id = ? ORDER BY id DESC"
    rows = await db.fetchall(sql + (" LIMIT ?" if limit else ""), (user_id, limit) if limit else (user_id,))
    return [_movement(r) for r in rows]


async def all_movements(db: Database) -> list[Movement]:
    return [_movement(r) for r in await db.fetchall(f"SELECT {_MOVEMENT} FROM points ORDER BY id")]


async def append(
    conn: Connection,
    user_id: int,
    kind: str,
    delta: int,
    reason: str,
    at: str,
    *,
    ref: str | None = None,
    note: str = "",
    actor: str = "",
) -> bool:
    """One movement; False when `ref` was already used (the same redemption or correction never counts twice)."""
    if kind not in KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    cur = await conn.execute(
        "INSERT INTO points (user_id, kind, delta, reason, ref, note, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (user_id, kind, delta, reason, ref, note, actor, at),
    )
    return cur.rowcount == 1


# --- rewards ---------------------------------------------------------------------------------------------


async def replace_rewards(conn: Connection, rows: list[tuple[str, str, int, int, str, str]], at: str) -> int:
    """Upsert the file's rewards by (place, name) and retire the ones it no longer lists; returns the retired."""
    async with conn.execute("SELECT id FROM rewards WHERE active = 1") as cur:
        before = {r[0] for r in await cur.fetchall()}
    await conn.execute("UPDATE rewards SET active = 0 WHERE active = 1")
    await conn.executemany(
        "INSERT INTO rewards (place_id, name, cost, daily_stock, valid_from, valid_to, active, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT(place_id, name) DO UPDATE SET cost = excluded.cost,"
        " daily_stock = excluded.daily_stock, valid_from = excluded.valid_from, valid_to = excluded.valid_to,"
        " active = 1, updated_at = excluded.updated_at",
        [(*row, at) for row in rows],
    )
    async with conn.execute("SELECT id FROM rewards WHERE active = 1") as cur:
        after = {r[0] for r in await cur.fetchall()}
    return len(before - after)


async def active_rewards(db: Database, day: str) -> list[Reward]:
    rows = await db.fetchall(
        f"SELECT {_REWARD} FROM rewards WHERE active = 1 AND valid_from <= ? AND valid_to >= ? ORDER BY id",
        (day, day),
    )
    return [_reward(r) for r in rows]


async def reward(conn: Connection, reward_id: int) -> tuple[Reward, bool] | None:
    async with conn.execute(f"SELECT {_REWARD}, active FROM rewards WHERE id = ?", (reward_id,)) as cur:
        row = await cur.fetchone()
    return (_reward(row), bool(row["active"])) if row else None


async def used_today(conn: Connection, reward_id: int, day: str) -> int:
    async with conn.execute(
        "SELECT COUNT(*) FROM redemptions WHERE reward_id = ? AND local_day = ? AND state = 'used'", (reward_id, day)
    ) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


# --- redemption codes ------------------------------------------------------------------------------------


async def code_in_use(conn: Connection, code: str, now: str) -> bool:
    async with conn.execute(
        "SELECT 1 FROM redemptions WHERE code = ? AND state = 'pending' AND expires_at > ?", (code, now)
    ) as cur:
        return await cur.fetchone() is not None


async def insert_redemption(
    conn: Connection, code: str, user_id: int, item: Reward, created_at: str, expires_at: str
) -> int:
    cur = await conn.execute(
        "INSERT INTO redemptions (code, user_id, reward_id, place_id, cost, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (code, user_id, item.id, item.place_id, item.cost, created_at, expires_at),
    )
    return int(cur.lastrowid or 0)


async def redemption_by_code(conn: Connection, code: str) -> Redemption | None:
    """The latest redemption with this code (an old, expired one may share the digits)."""
    async with conn.execute(
        f"SELECT {_REDEMPTION} FROM redemptions WHERE code = ? ORDER BY id DESC LIMIT 1", (code,)
    ) as cur:
        row = await cur.fetchone()
    return _redemption(row) if row else None


async def claim_redemption(conn: Connection, redemption_id: int, keeper_id: int, at: str, day: str) -> bool:
    """Mark it used; True only for the one call that did (two keepers at once: one wins)."""
    cur = await conn.execute(
        "UPDATE redemptions SET state = 'used', confirmed_by = ?, confirmed_at = ?, local_day = ?"
        " WHERE id = ? AND state = 'pending'",
        (keeper_id, at, day, redemption_id),
    )
    return cur.rowcount == 1
