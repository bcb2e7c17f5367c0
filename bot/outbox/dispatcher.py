"""Sends what the outbox holds: in order per chat, paced, retried with back-off, never twice on purpose.

Telegram allows about one message a second per chat and thirty a second overall, and answers 429 with a
retry_after when pushed; the dispatcher paces each chat itself and honours retry_after for that chat, so one
busy grid worker never delays everyone else. A row is marked 'sending' before the call and 'sent' after it:
after a crash between the two, the row is sent again (at most one extra copy — the one case where the Bot
API gives no way to know; see docs/RELIABILITY.md).

With several processes on one database only the leader (bot/store/leadership.py) sends: the others' `wake` and
`deliver_now` ask the leader to look. A leader that loses the lock stops at once (its pass is cancelled and every
claim is fenced by the lock), and a new leader first puts back what the old one left 'sending': at most one extra
copy per fail-over, and per-chat order holds because only one process ever claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot import metrics
from bot.outbox.messages import Message
from bot.outbox.store import OutboxRow, row_from, stamp, utcnow
from bot.store import outbox as store
from bot.store.db import Database
from bot.store.leadership import Leadership

log = logging.getLogger(__name__)
ASK_TIMEOUT = 5.0  # how long a process that does not lead waits for the leader to send its door's answer


@dataclass(frozen=True)
class SendResult:
    ok: bool
    ref: str = ""  # e.g. the sent message id
    retry_after: float | None = None  # the channel asked us to wait this long
    permanent: bool = False  # retrying cannot help (blocked by the user, chat gone, bad request)
    error: str = ""


class Sender(Protocol):
    async def send(self, address: str, payload: Message) -> SendResult: ...


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender],
        *,
        per_chat_interval: float = 1.0,
        global_rate: float = 25.0,
        max_attempts: int | None = None,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        now: Callable[[], datetime] = utcnow,
        leader: Leadership | None = None,
    ) -> None:
        self.db = db
        self.leader = leader or Leadership()  # alone on SQLite: this process
        self.senders = senders
        self.per_chat_interval = per_chat_interval
        self.global_interval = 1.0 / global_rate if global_rate > 0 else 0.0
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.now = now
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sent: dict[tuple[str, str], float] = {}
        self._direct: dict[tuple[str, str], int] = {}  # chats with a `deliver_now` in flight
        self._idle = asyncio.Event()
        self._idle.set()
        self._serving = False  # leader, and what an earlier leader left 'sending' was put back
        self._asking: set[asyncio.Task[None]] = set()  # direct sends other processes asked for

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next tick (or ask the leader to)."""
        if self._serving:
            self._wake.set()
        else:
            self.leader.nudge()

    async def start(self) -> None:
        self.leader.on_wake = self._on_notify
        leading = self.leader.is_leader
        if leading:  # alone (SQLite) or already elected: serve before the first update is handled
            await self._recover()
        self._task = asyncio.create_task(self._lead(leading), name="outbox-dispatcher")

    async def stop(self) -> None:
        self._serving = False
        for task in list(self._asking):
            task.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notify(self, idem_key: str) -> None:
        """Another process queued something ('') or asks for one row to go at once (a door's answer)."""
        if not idem_key:
            self._wake.set()
        elif self._serving:
            task = asyncio.create_task(self._send_for_other(idem_key))
            self._asking.add(task)
            task.add_done_callback(self._asking.discard)

    async def _send_for_other(self, idem_key: str) -> None:
        try:
            await self.deliver_now(idem_key)
        except Exception:
            log.exception("could not send %s at once for another process; the passes will", idem_key)
            self._wake.set()
        finally:
            with contextlib.suppress(Exception):
                await self.leader.done(idem_key)

    async def _recover(self) -> None:
        """Rows left 'sending' by a crash or by the previous leader are sent again: at least once across crashes."""
        async with self.db.transaction() as conn:
            await store.requeue_sending(conn, self.leader.fence())
        self._serving = True

    async def _lead(self, recovered: bool) -> None:
        """Dispatch while this process leads; on losing the lead, stop at once (the pass in flight is cancelled)."""
        while True:
            await self.leader.wait_gained()
            try:
                if not recovered:
                    await self._recover()
                recovered = False
                passes = asyncio.create_task(self._run(), name="outbox-passes")
                lost = asyncio.create_task(self.leader.wait_lost())
                try:
                    await asyncio.wait({passes, lost}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self._serving = False
                    for task in (passes, lost):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher could not take over; retrying shortly")
                recovered = False
                await asyncio.sleep(1.0)
                continue
            await self.leader.wait_lost()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox pass failed; retrying shortly")
                delay = 1.0
            if delay is None:
                self._idle.set()
                delay = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """For tests and shutdown: until nothing pending is due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            _, due = await store.due(self.db, stamp(self.now()))
            if due == 0:
                return
            self.wake()
            await asyncio.sleep(0.02)
        raise TimeoutError("outbox still has due messages")

    async def run_once(self) -> float | None:
        """One pass: send the first due message of each chat. Returns seconds until the next due row, or None."""
        self._idle.clear()
        now = self.now()
        # The oldest pending row of each chat (per-chat order: only it may go). Selecting heads rather than the
        # first N pending rows keeps one chat's long backlog from hiding every other chat's messages.
        records = await store.chat_heads(self.db)
        seen: set[tuple[str, str]] = set()
        next_due: float | None = None
        loop = asyncio.get_running_loop()
        for record in records:
            chat = (record["channel"], record["address"])
            if chat in seen:  # per-chat order: only the oldest pending row of a chat may go
                continue
            seen.add(chat)
            if chat in self._direct:  # its head is being sent right now by `deliver_now`: look again soon
                next_due = 0.05 if next_due is None else min(next_due, 0.05)
                continue
            due_in = (datetime.fromisoformat(record["next_at"].replace("Z", "+00:00")) - now).total_seconds()
            pace_in = self._last_sent.get(chat, -1e9) + self.per_chat_interval - loop.time()
            wait = max(due_in, pace_in)
            if wait > 0:
                next_due = wait if next_due is None else min(next_due, wait)
                continue
            await self._deliver(row_from(record))
            if self.global_interval:
                await asyncio.sleep(self.global_interval)
            next_due = 0.0 if next_due is None else min(next_due, 0.0)
        if next_due is None and records:
            next_due = 0.0
        return next_due

    async def deliver_now(self, idem_key: str) -> None:
        """Send one row at once, outside the passes (even before its `next_at`): an answer to the person who just
        acted, queued in the same commit as what it confirms. Only if it is first in its chat (per-chat order
        holds); otherwise, or if this send fails, the passes deliver it as any other row."""
        if not self._serving:  # another process leads: it sends now, and we wait for it as for our own send
            await self.leader.ask(idem_key, ASK_TIMEOUT)
            return
        record = await store.pending_by_key(self.db, idem_key)
        if record is None:
            return
        if record["behind"]:
            self.wake()
            return
        chat = (record["channel"], record["address"])
        self._direct[chat] = self._direct.get(chat, 0) + 1  # the passes leave this chat alone meanwhile
        try:
            await self._deliver(row_from(record))
        finally:
            self._direct[chat] -= 1
            if not self._direct[chat]:
                del self._direct[chat]

    async def _deliver(self, row: OutboxRow) -> None:
        sender = self.senders.get(row.channel)
        if not (self._serving and self.leader.is_leader):
            return
        # One statement each (claim, settle): atomic on its own, and one trip to the database thread, not three.
        # The claim is fenced: it cannot succeed once this process no longer holds the leader's lock.
        if not await store.claim(self.db, row.id, self.leader.fence()):
            return
        if sender is None:
            result = SendResult(False, permanent=True, error=f"no sender for channel {row.channel}")
        else:
            try:
                result = await sender.send(row.address, row.payload)
            except Exception as exc:  # a sender bug must not stop the queue; retry with back-off
                log.exception("sender raised for outbox row %s", row.id)
                result = SendResult(False, error=type(exc).__name__)
        self._last_sent[(row.channel, row.address)] = asyncio.get_running_loop().time()
        await self._settle(row, result)

    async def _settle(self, row: OutboxRow, result: SendResult) -> None:
        now = self.now()
        if result.ok:
            await store.mark_sent(self.db, row.id, stamp(now), result.ref)
            metrics.outbox_settled(row.channel, "sent", due_for=(now - row.due).total_seconds())
            return
        attempts = row.attempts + 1
        # Transient failures are retried for as long as it takes (back-off capped at max_backoff): a notice
        # the core promised is never dropped because Telegram or the network was down for a while.
        if result.permanent or (self.max_attempts is not None and attempts >= self.max_attempts):
            log.warning("outbox row %s is dead after %d attempts: %s", row.id, attempts, result.error)
            await store.mark_dead(self.db, row.id, result.error[:500])
            metrics.outbox_settled(row.channel, "dead")
            return
        if result.retry_after is not None:
            delay = result.retry_after
        else:
            delay = min(self.max_backoff, self.base_backoff * 2 ** (attempts - 1))
        await store.retry_at(self.db, row.id, stamp(now + timedelta(seconds=delay)), result.error[:500])
        metrics.outbox_settled(row.channel, "retry", rate_limited=result.retry_after is not None)
