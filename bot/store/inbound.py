"""The inbound ledger's SQL (table inbound_seen): each update from arrival to done, per channel and chat.

A row is written when an update arrives (before the platform is told it was received), marked done after its
handlers ran, and carries its contents (`payload`) only while it is not done. `chat` and `seq` (the update's
number) let any process find a chat's unfinished updates in order (bot/services/chat_order.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.db import Connection, Database


@dataclass(frozen=True)
class OpenUpdate:
    """An update recorded and not yet done."""

    key: str
    seq: int
    payload: str | None  # None: recorded without its contents (an invite code): only its receiver can run it
    boot: str  # the process that received it, or took it over last
    tries: int


@dataclass(frozen=True)
class Arrival:
    """One inbound update as its door took it in, before it is recorded."""

    key: str
    payload: str | None  # None: recorded without its contents (an invite code)
    chat: str = ""
    seq: int = 0
    who: str | None = None  # whose flood budget it spends (bot/store/flood.py); None: nobody's


_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"
_BATCH = 100  # rows per INSERT (getUpdates hands out at most 100): 800 parameters, within any SQLite's limit


async def record_many(
    db: Database, channel: str, arrivals: Sequence[Arrival], *, at: str, boot: str, done: Sequence[bool]
) -> list[bool]:
    """Record a batch of updates, in order: for each, True the first time its (channel, key) is recorded, False for
    a redelivery (recorded before, or earlier in this batch). One atomic statement for the whole batch, so a batch
    costs one round trip and two processes given the same update at once cannot both see it as new (the primary
    key decides). `done[i]`: recorded only to recognise a redelivery (a flooded update, never run), without its
    contents."""
    fresh: list[bool] = []
    for start in range(0, len(arrivals), _BATCH):
        chunk, flags = arrivals[start : start + _BATCH], done[start : start + _BATCH]
        params: list[object] = []
        for a, d in zip(chunk, flags, strict=True):
            params += [channel, a.key, at, int(d), None if d else a.payload, boot, a.chat, a.seq]
        rows = await db.write_returning(
            "INSERT INTO inbound_seen (channel, key, at, done, payload, boot, chat, seq) VALUES "
            + ", ".join([_ROW] * len(chunk))
            + " ON CONFLICT DO NOTHING RETURNING key",
            params,
        )
        recorded = {r[0] for r in rows}
        for a in chunk:  # a key twice in one batch: the first is the arrival, the second a redelivery
            fresh.append(a.key in recorded)
            recorded.discard(a.key)
    return fresh


async def prune(db: Database, before: str) -> None:
    await db.write("DELETE FROM inbound_seen WHERE at < ? AND done = 1", (before,))


async def finish(db: Database, channel: str, key: str) -> None:
    await db.write("UPDATE inbound_seen SET done = 1, payload = NULL WHERE channel = ? AND key = ?", (channel, key))


async def finish_in(conn: Connection, channel: str, key: str) -> None:
    """`finish` inside a transaction that records the update's effect (the WeChat door's answer with it)."""
    await conn.execute("UPDATE inbound_seen SET done = 1, payload = NULL WHERE channel = ? AND key = ?", (channel, key))


async def take(db: Database, channel: str, key: str, boot: str) -> None:
    """This process runs an update another one recorded (or left behind): counted as one more try."""
    await db.write(
        "UPDATE inbound_seen SET boot = ?, tries = tries + 1 WHERE channel = ? AND key = ? AND done = 0",
        (boot, channel, key),
    )


async def open_in_chat(db: Database, channel: str, chat: str, limit: int = 32) -> list[OpenUpdate]:
    """The chat's unfinished updates, oldest (lowest update number) first."""
    rows = await db.fetchall(
        "SELECT key, seq, payload, boot, tries FROM inbound_seen WHERE channel = ? AND chat = ? AND done = 0"
        " ORDER BY seq LIMIT ?",
        (channel, chat, limit),
    )
    return [OpenUpdate(r[0], int(r[1]), r[2], r[3], int(r[4])) for r in rows]


async def open_chats(db: Database, channel: str, arrived_before: str, limit: int) -> list[str]:
    """Chats with unfinished updates recorded before `arrived_before` (ISO), longest waiting first."""
    rows = await db.fetchall(
        "SELECT chat, MIN(at) AS first FROM inbound_seen WHERE channel = ? AND done = 0 AND at <= ?"
        " GROUP BY chat ORDER BY first LIMIT ?",
        (channel, arrived_before, limit),
    )
    return [r[0] for r in rows]


async def unfinished_elsewhere(conn: Connection, channel: str, boot: str) -> list[tuple[str, str | None, int]]:
    """(key, payload, tries) of the updates other processes took in and did not finish, in arrival order."""
    rows = await conn.execute_fetchall(
        "SELECT key, payload, tries FROM inbound_seen WHERE channel = ? AND done = 0 AND boot != ? ORDER BY at, rowid",
        (channel, boot),
    )
    return [(r[0], r[1], int(r[2])) for r in rows]


async def give_up(conn: Connection, channel: str, key: str) -> None:
    await conn.execute("UPDATE inbound_seen SET done = 1, payload = NULL WHERE channel = ? AND key = ?", (channel, key))


async def take_in(conn: Connection, channel: str, key: str, boot: str) -> None:
    await conn.execute(
        "UPDATE inbound_seen SET boot = ?, tries = tries + 1 WHERE channel = ? AND key = ?", (boot, channel, key)
    )
