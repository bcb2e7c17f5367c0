"""Outbox rows: enqueued inside the caller's transaction, claimed and settled by the dispatcher.

Writing the message in the same transaction as the state change it announces is what makes delivery
durable: either both are committed or neither is, and a crash afterwards leaves a pending row to send.
The idempotency key makes enqueuing the same notice twice a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.outbox.messages import Message


@dataclass(frozen=True)
class Recipient:
    user_id: int | None
    channel: str
    address: str
    lang: str = "zh-CN"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    idem_key: str
    channel: str
    address: str
    payload: Message
    attempts: int


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def enqueue(
    conn: aiosqlite.Connection,
    idem_key: str,
    to: Recipient,
    payload: Message,
    now: datetime | None = None,
    not_before: datetime | None = None,
) -> bool:
    """Queue one message; False if this idempotency key was queued before (nothing is added twice).

    `not_before` holds a message back (quiet hours); it is still durable from this moment on."""
    created = now or utcnow()
    when = stamp(max(created, not_before) if not_before else created)
    cursor = await conn.execute(
        "INSERT INTO outbox (idem_key, user_id, channel, address, payload, next_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING",
        (idem_key, to.user_id, to.channel, to.address, json.dumps(payload, ensure_ascii=False), when, stamp(created)),
    )
    return cursor.rowcount == 1


def row_from(record: Any) -> OutboxRow:
    return OutboxRow(
        id=record["id"],
        idem_key=record["idem_key"],
        channel=record["channel"],
        address=record["address"],
        payload=json.loads(record["payload"]),
        attempts=record["attempts"],
    )
