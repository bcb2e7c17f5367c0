"""One chat's updates in order across N processes on one PostgreSQL database, whoever received them.

Behind a load balancer, two updates of one chat can reach two processes at the same moment (Telegram keeps up to
`max_connections` deliveries in flight). An in-process lock cannot order them. Here:

- Every update is recorded in the shared ledger with its chat and number before the webhook answers 2xx
  (bot/services/guard.py `InboundLedger`; one INSERT … ON CONFLICT DO NOTHING, so a redelivery to any process is
  recognised once).
- The process that holds a chat's lock (a PostgreSQL advisory lock, bot/store/chatlocks.py) handles all of that
  chat's unfinished recorded updates, lowest update number first, then lets go. Its own updates run as the
  coroutines the door gave it; another process's run from their recorded contents (`run_payload`).
- A process that finds the chat locked leaves its update to the holder, which sees it: it was recorded before
  the try, and the holder looks again after letting go (so an update recorded while it held the lock is never
  stranded). Waiting for a chat holds no worker slot and no pooled connection.
- A periodic sweep picks up chats whose unfinished updates nobody is working on — their receiver died (kill -9)
  — so they run within seconds on another process, not at the dead one's restart. At start the sweep is the
  "replay" of updates left behind.

An update recorded without its contents (an invite code: never stored) can run only in its receiver: a holder
reaching it stops there and lets go, and the receiver waits for the chat. If the receiver is gone, the update
is given up (the person sends it again), as after a crash on SQLite. An update that took processes down
`max_tries` times is given up too. Handling stays at least once: a process killed inside a handler leaves the
update unfinished, and another runs it again (docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Generator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.services.guard import InboundLedger
from bot.store import inbound
from bot.store.chatlocks import ChatLocks
from bot.store.db import Database
from bot.store.inbound import OpenUpdate

log = logging.getLogger(__name__)


class Work(Protocol):
    """An update's handlers as the door hands them over (a coroutine, or one wrapped for metering)."""

    def __await__(self) -> Generator[Any, None, Any]: ...

    def close(self) -> None: ...


_RECEIVER_WAIT = 0.05  # how often a receiver-only update asks for its chat again
_STOP = object()  # _adopt: stop the drain here (the update belongs to a live receiver)
_SKIP = object()  # _adopt: given up, go on with the next


class SharedChatOrder:
    """Per-chat order for one channel's updates across every process on the database."""

    def __init__(
        self,
        db: Database,
        ledger: InboundLedger,
        channel: str,
        run_payload: Callable[[str], Awaitable[None]],
        *,
        slots: asyncio.Semaphore,
        sweep_every: float = 2.0,
        grace: float = 1.0,
        sweep_limit: int = 64,
        batch: int = 16,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.channel = channel
        self.run_payload = run_payload
        self.slots = slots
        self.sweep_every = sweep_every
        self.grace = grace
        self.sweep_limit = sweep_limit
        self.batch = batch
        self.locks = ChatLocks(db.url, ledger.boot)  # type: ignore[attr-defined]  # PostgresDatabase.url
        self._pending: dict[str, dict[int, Work]] = {}  # chat → update number → its handlers, not yet run
        self._receiver_only: set[tuple[str, int]] = set()
        self._draining: set[str] = set()
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Take the lock connection; hand out what earlier processes left unfinished; sweep from now on.
        Returns how many chats had unfinished updates."""
        await self.locks.open()
        found = await self.sweep(grace=0.0)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name=f"{self.channel}-chat-sweep")
        return found

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:  # cut off: its update stays unfinished and another process runs it again
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for chat in list(self._pending):
            self._discard(chat)
        await self.locks.close()

    # ------------------------------------------------------------------------------------------- arrivals

    async def submit(self, chat: str, seq: int, work: Work, *, receiver_only: bool = False) -> None:
        """A recorded update's handlers (`work`): run here in the chat's order, or closed unrun when another
        process runs the update from the ledger. Returns once this process has nothing more to do for it."""
        self._pending.setdefault(chat, {})[seq] = work
        if receiver_only:
            self._receiver_only.add((chat, seq))
        if chat in self._draining:  # this process is working the chat: that drain finds the update
            self._again.add(chat)
            return
        await self._drain(chat)

    # ------------------------------------------------------------------------------------------- the sweep

    async def sweep(self, grace: float | None = None) -> int:
        """Start a drain for every chat with updates unfinished for longer than `grace` seconds that this
        process is not working on already (another process's try fails at once if it is working on it)."""
        wait = self.grace if grace is None else grace
        cutoff = (datetime.now(UTC) - timedelta(seconds=wait)).isoformat(timespec="seconds")
        chats = await inbound.open_chats(self.db, self.channel, cutoff, self.sweep_limit)
        for chat in chats:
            if chat not in self._draining:
                self._draining.add(chat)  # at once: a submit for it meanwhile joins this drain
                task = asyncio.create_task(self._drain(chat, claimed=True), name=f"{self.channel}-chat-{chat}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return len(chats)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                await self.sweep()
            except Exception as exc:  # the database is away for a moment: the next sweep tries again
                log.warning("%s chat sweep failed: %s", self.channel, type(exc).__name__)

    # ------------------------------------------------------------------------------------------- draining

    async def _drain(self, chat: str, *, claimed: bool = False) -> None:
        if not claimed:
            self._draining.add(chat)
        try:
            while True:
                self._again.discard(chat)
                rows = await self.locks.lock_open(self.channel, chat, self.batch)
                if rows is not None:
                    try:
                        finished = await self._run_open(chat, rows)
                    except BaseException:
                        with contextlib.suppress(Exception):
                            await self.locks.unlock_open(self.channel, chat)
                        raise
                    # Looked at again after letting go: an update recorded while we held the lock, whose receiver
                    # then found the chat locked and left it to us.
                    still_open = await self.locks.unlock_open(self.channel, chat)
                    if chat in self._again:  # handed an update meanwhile (no await from here to the end)
                        continue
                    if not finished:  # stopped at an update only its (live) receiver can run: it goes on
                        break
                    if still_open:
                        continue
                    break
                # Another process holds the chat and runs every recorded update of it, ours too, from the ledger;
                # only an update recorded without its contents has to wait here for its turn.
                if not any(c == chat for c, _ in self._receiver_only):
                    break
                await asyncio.sleep(_RECEIVER_WAIT)
        except Exception as exc:  # storage trouble: what is unfinished stays so, and the sweep comes back to it
            log.warning("%s chat %s: handling stopped: %s: %s", self.channel, chat, type(exc).__name__, exc)
        finally:
            self._draining.discard(chat)
            self._discard(chat)

    def _discard(self, chat: str) -> None:
        """The updates left in `_pending` were run by another process (or given up): close them unrun."""
        for seq, work in self._pending.pop(chat, {}).items():
            self._receiver_only.discard((chat, seq))
            work.close()

    async def _run_open(self, chat: str, rows: list[OpenUpdate]) -> bool:
        """With the chat's lock: its unfinished updates in order. False if it stopped at one it cannot run."""
        while True:
            for row in rows:
                if not self.locks.holds(chat):  # the lock's connection was lost: another process may have the chat
                    return True
                work: Any = self._pending.get(chat, {}).pop(row.seq, None)
                if work is not None:
                    self._receiver_only.discard((chat, row.seq))
                else:
                    work = await self._adopt(row)
                    if work is _STOP:
                        return False
                    if work is _SKIP:
                        continue
                async with self.slots:
                    try:
                        await work
                    except Exception:  # past the door's own error handling: running it again would fail again
                        log.exception("%s update %s failed", self.channel, row.key)
                await self.ledger.finish(self.channel, row.key)
            if len(rows) < self.batch:  # the rest (recorded meanwhile) is seen by the look after letting go
                return True
            rows = await inbound.open_in_chat(self.db, self.channel, chat, self.batch)

    async def _adopt(self, row: OpenUpdate) -> Any:
        """An update this process has no coroutine for: recorded by another process (alive or not), or by this
        one and not yet handed over by the door. Its handlers, built from the recorded contents."""
        if row.payload is None:
            if await self.locks.alive(row.boot):
                return _STOP
            log.warning("giving up update %s: recorded without its contents by a process that is gone", row.key)
            await self.ledger.finish(self.channel, row.key)
            return _SKIP
        if row.boot != self.ledger.boot:
            if row.tries >= self.ledger.max_tries:
                log.warning("giving up inbound %s %s after %d interrupted tries", self.channel, row.key, row.tries)
                await self.ledger.finish(self.channel, row.key)
                return _SKIP
            if not await self.locks.alive(row.boot):
                log.info("re-running interrupted update %s", row.key)
            await inbound.take(self.db, self.channel, row.key, self.ledger.boot)
        return self.run_payload(row.payload)
