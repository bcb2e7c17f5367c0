"""Conversation state in the database, so a half-finished report or a pending question survives a restart.

Typed words that answer a pending question are taken once: an update cut off by a kill is run again after the
restart (docs/RELIABILITY.md, promise 18), and by then its words may already have moved the question on or
closed it. So the write that takes them also records their update (bot.observe.step()): a dialog they moved on
carries it in its data (`BY`), and one they closed leaves it on the person's row with what the question was
(`Answered`). The same update run again is recognised (`Services.text_answer`, bot/services/container.py) and
answered as done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Connection, Database

# In a dialog's data: the update whose words last moved it on (a typed answer, a report's description).
BY = "by"


@dataclass(frozen=True)
class Dialog:
    kind: str
    data: dict[str, Any]
    updated_at: str

    def moved_by(self, step: str | None) -> bool:
        """Whether this update's words already moved the dialog on (it is being run again)."""
        return step is not None and self.data.get(BY) == step


@dataclass(frozen=True)
class Answered:
    """A question some typed words closed: the update they came in (`step`) and the question as it was (its kind
    and data), which its owner needs to answer the same update again (e.g. the report a worker's note resolved)."""

    step: str | None  # None: no update to record (a call from outside a chat update); the dialog still closes
    kind: str
    data: dict[str, Any]


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


async def clear_dialog(db: Database, user_id: int, answered: Answered | None = None) -> None:
    """`answered`: the words that closed it, recorded with the close (see `clear_dialog_in`)."""
    if answered is None or answered.step is None:
        await db.write("DELETE FROM dialogs WHERE user_id = ?", (user_id,))
        return
    async with db.transaction() as conn:
        await clear_dialog_in(conn, user_id, answered)


async def clear_dialog_in(conn: Connection, user_id: int, answered: Answered | None = None) -> None:
    """Inside a transaction: the dialog ends with the change that finished it; `answered` records the update
    whose words closed it, in the same commit, so that update run again finds it (`answered`)."""
    await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,))
    if answered is not None and answered.step is not None:
        what = json.dumps({"kind": answered.kind, "data": answered.data}, ensure_ascii=False)
        await conn.execute(
            "UPDATE users SET dialog_step = ?, dialog_answered = ? WHERE id = ?", (answered.step, what, user_id)
        )


async def answered(db: Database, user_id: int) -> Answered | None:
    """The question the person's last closing words answered (read only when an update is run again)."""
    row = await db.fetchone("SELECT dialog_step, dialog_answered FROM users WHERE id = ?", (user_id,))
    if row is None or row[0] is None or row[1] is None:
        return None
    what = json.loads(row[1])
    return Answered(row[0], what["kind"], what["data"])
