"""Outbox rows: enqueued inside the caller's transaction, claimed and settled by the dispatcher.

Writing the message in the same transaction as the state change it announces is what makes delivery
durable: either both are committed or neither is, and a crash afterwards leaves a pending row to send.
The idempotency key makes enqueuing the same notice twice a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from bot.outbox.messages import Message
from bot.store import outbox as rows
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
    grace: timedelta | None = None,
) -> bool:
    """Queue one message; False if this idempotency key was queued before (nothing is added twice).

    `not_before` holds a message back (quiet hours): it is due then, and still durable from this moment on.
    `grace` leaves a message that is due now to whoever answers the person in the next moments (the door sends a
    receipt itself, `OutboxDispatcher.deliver_now`): the passes try it only after that, but its delivery latency
    counts from when it was due, not from the end of the grace."""
    created = now or utcnow()
    due = max(created, not_before) if not_before else created
    attempt = due + grace if grace else due
    payload_text = json.dumps(payload, ensure_ascii=False)
    return await rows.insert(
        conn, idem_key, to.user_id, to.channel, to.address, payload_text, stamp(attempt), stamp(created), stamp(due)
    )


class Queued(NamedTuple):
    """One message for `enqueue_many`: due now, or after `grace` (see `enqueue`)."""

    key: str
    to: Recipient
    message: Message
    grace: timedelta | None = None


async def enqueue_many(conn: Connection, items: list[Queued]) -> None:
    """Queue several messages, in this order, in one batch (one round trip to the database); a key queued before
    is skipped, as with `enqueue`."""
    if not items:
        return
    now = utcnow()
    at = stamp(now)
    await rows.insert_many(
        conn,
        [
            (q.key, q.to.user_id, q.to.channel, q.to.address, json.dumps(q.message, ensure_ascii=False),
             stamp(now + q.grace) if q.grace else at, at, at)
            for q in items
        ],
    )  # fmt: skip


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
    """When the message became due to its person (`due_at`): retries move next_at, and the time spent retrying is
    part of the delivery latency, as is a door's grace. Rows queued before `due_at` existed: next_at until the first
    attempt (it may be a quiet-hours hold), else created_at."""
    keys = record.keys()
    if "due_at" in keys and record["due_at"]:
        return _parse(record["due_at"])
    if "next_at" not in keys or "created_at" not in keys:
        return utcnow()
    return _parse(record["next_at"] if record["attempts"] == 0 else record["created_at"])
