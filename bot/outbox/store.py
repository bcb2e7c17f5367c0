"""Outbox rows: enqueued inside the caller's transaction, claimed and settled by the dispatcher.

Writing the message in the same transaction as the state change it announces is what makes delivery
durable: either both are committed or neither is, and a crash afterwards leaves a pending row to send.
The idempotency key makes enqueuing the same notice twice a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.outbox.messages import Message
from bot.store.db import Connection


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
    due: datetime = field(default_factory=lambda: utcnow())  # when it first became due (for delivery latency)


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def enqueue(
    conn: Connection,
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
        due=_first_due(record),
    )


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _first_due(record: Any) -> datetime:
    """next_at until the first attempt (it may be a quiet-hours hold), else created_at: retries move next_at, and
    the time spent retrying is part of the delivery latency."""
    keys = record.keys()
    if "next_at" not in keys or "created_at" not in keys:
        return utcnow()
    return _parse(record["next_at"] if record["attempts"] == 0 else record["created_at"])
