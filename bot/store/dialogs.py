"""Conversation state in SQLite, so a half-finished report or a pending question survives a restart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Connection, Database


@dataclass(frozen=True)
class Dialog:
    kind: str
    data: dict[str, Any]
    updated_at: str


async def get_dialog(db: Database, user_id: int) -> Dialog | None:
    row = await db.fetchone("SELECT kind, data, updated_at FROM dialogs WHERE user_id = ?", (user_id,))
    return Dialog(row["kind"], json.loads(row["data"]), row["updated_at"]) if row else None


async def put_dialog(db: Database, user_id: int, kind: str, data: dict[str, Any], now: str) -> None:
    await db.write(
        "INSERT INTO dialogs (user_id, kind, data, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET kind = excluded.kind, data = excluded.data,"
        " updated_at = excluded.updated_at",
        (user_id, kind, json.dumps(data, ensure_ascii=False), now),
    )


async def clear_dialog(db: Database, user_id: int) -> None:
    await db.write("DELETE FROM dialogs WHERE user_id = ?", (user_id,))


async def clear_dialog_in(conn: Connection, user_id: int) -> None:
    """Inside a transaction: the dialog ends with the change that finished it."""
    await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,))
