"""People, one row per chat identity; the core addresses them by our own id, never a chat library's object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.store.db import Connection, Database, Row


@dataclass(frozen=True)
class User:
    id: int
    channel: str
    external_id: str
    display_name: str
    lang: str
    last_lat: float | None
    last_lon: float | None
    last_loc_at: str | None = None  # when the last location was shared (ISO, with offset)
    # The update ("channel:id", bot.observe.step()) whose words last closed this person's pending question: the
    # same update run again is answered as done (`Services.text_answer`), not read afresh.
    dialog_step: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def user_from_row(row: Row) -> User:
    """A `users` row (or a query selecting all of its columns) as the core's `User`: the one place that knows how
    a row becomes a person, for this module and for the role queries in bot/store/roles.py."""
    return User(
        id=row["id"], channel=row["channel"], external_id=row["external_id"], display_name=row["display_name"],
        lang=row["lang"], last_lat=row["last_lat"], last_lon=row["last_lon"], last_loc_at=row["last_loc_at"],
        dialog_step=row["dialog_step"],
    )  # fmt: skip


async def get_or_create_user(db: Database, channel: str, external_id: str, display_name: str = "") -> User:
    row = await db.fetchone("SELECT * FROM users WHERE channel = ? AND external_id = ?", (channel, external_id))
    if row is not None:
        return user_from_row(row)
    await db.write(
        "INSERT INTO users (channel, external_id, display_name, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(channel, external_id) DO NOTHING",
        (channel, external_id, display_name[:200], _now()),
    )
    row = await db.fetchone("SELECT * FROM users WHERE channel = ? AND external_id = ?", (channel, external_id))
    assert row is not None
    return user_from_row(row)


async def get_user(db: Database, user_id: int) -> User | None:
    row = await db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
    return user_from_row(row) if row else None


async def find_user(db: Database, channel: str, external_id: str) -> User | None:
    row = await db.fetchone("SELECT * FROM users WHERE channel = ? AND external_id = ?", (channel, external_id))
    return user_from_row(row) if row else None


async def role_holders(db: Database, channel: str) -> list[User]:
    """Everyone on a channel who holds at least one role, by id."""
    rows = await db.fetchall(
        "SELECT * FROM users WHERE channel = ? AND id IN (SELECT user_id FROM roles) ORDER BY id", (channel,)
    )
    return [user_from_row(row) for row in rows]


async def lang_in(conn: Connection, user_id: int) -> str | None:
    """Inside a transaction: the person's language, None for an unknown id."""
    row = await (await conn.execute("SELECT lang FROM users WHERE id = ?", (user_id,))).fetchone()
    return row[0] if row else None


async def set_lang(db: Database, user_id: int, lang: str, step: str | None = None) -> str:
    """Sets the language, unless the update `step` set it already (its re-run): the language it has now."""
    if step is None:
        await db.write("UPDATE users SET lang = ?, lang_step = NULL WHERE id = ?", (lang, user_id))
        return lang
    await db.write(
        "UPDATE users SET lang = ?, lang_step = ? WHERE id = ? AND (lang_step IS NULL OR lang_step <> ?)",
        (lang, step, user_id, step),
    )
    row = await db.fetchone("SELECT lang FROM users WHERE id = ?", (user_id,))
    return row[0] if row else lang


async def set_last_location(db: Database, user_id: int, lat: float, lon: float, at: str | None = None) -> None:
    await db.write(
        "UPDATE users SET last_lat = ?, last_lon = ?, last_loc_at = ? WHERE id = ?", (lat, lon, at or _now(), user_id)
    )
