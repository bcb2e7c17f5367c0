"""One message of a WeChat user at a time, and each at least once — the machinery the Telegram door uses.

Every message is recorded in the inbound ledger (bot/services/guard.py `InboundLedger`: channel 'wechat', chat =
the openid, seq = its CreateTime and MsgId, the parsed message as JSON) before it is worked on, and marked done in
the transaction that records its answer (handlers/wechat/door.py `_finish`). Then:

- SQLite (one process): an in-process lock per openid runs a user's messages one after the other, in arrival
  order; at start, the messages an earlier process took in and did not finish (killed mid-way) run again before
  any new one arrives, and answer as customer-service messages.
- PostgreSQL (any number of processes behind a load balancer, whatever the Telegram mode): the core's per-chat
  order (bot/services/chat_order.py `SharedChatOrder`). Whichever process holds the user's lock runs the user's
  recorded messages in order, its own and other processes' (from the ledger), and a dead process's unfinished
  messages are run again by the sweep within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from bot.services.chat_order import SharedChatOrder, Work
from bot.services.container import Services
from bot.services.guard import InboundLedger
from handlers.wechat.conversation import CHANNEL
from handlers.wechat.parsing import decode

log = logging.getLogger(__name__)

WORKERS = 16  # messages of different users this process works on at once (PostgreSQL's per-chat order)


class MessageOrder:
    """The door's bookkeeping for inbound messages: the ledger, and the order a user's messages run in."""

    def __init__(self, services: Services, run_payload: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        self.services = services
        self.ledger = InboundLedger(services.db)
        self.run_payload = run_payload
        self.shared: SharedChatOrder | None = None
        if services.db.dialect == "postgresql":
            self.shared = SharedChatOrder(
                services.db, self.ledger, CHANNEL, run_payload, slots=asyncio.Semaphore(WORKERS)
            )
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._replays: set[asyncio.Task[None]] = set()

    async def admit(self, who: str | None, key: str, payload: str | None, *, chat: str, seq: int) -> tuple[str, bool]:
        """Flood-check and record a message: (verdict, fresh). A refused one is recorded as done (never run); a
        retry of one recorded before, by this process or any other, is not fresh."""
        return await self.ledger.admit(self.services.flood, who, CHANNEL, key, payload, chat=chat, seq=seq)

    async def run(self, openid: str, seq: int, work: Work, *, receiver_only: bool) -> None:
        """`work` (a recorded message's handling) run in its user's order here — or, on PostgreSQL, closed unrun
        when the process holding the user runs the message from the ledger. Returns when this process has
        nothing more to do for it."""
        if self.shared is not None:
            await self.shared.submit(openid, seq, work, receiver_only=receiver_only)
            return
        try:
            async with self._lock(openid):
                await work
        finally:
            work.close()  # cancelled while waiting for the user's turn: never started (no-op once it ran)

    async def start(self) -> int:
        """Before messages are taken in: hand out what earlier processes took in and did not finish. Returns how
        many messages (SQLite) or users (PostgreSQL, where the sweep goes on every few seconds)."""
        if self.shared is not None:
            return await self.shared.start()
        unfinished = await self.ledger.unfinished(CHANNEL)
        for key, payload in unfinished:  # tasks start in this order and queue on their user's lock in it
            log.info("re-running interrupted WeChat message %s", key)
            task = asyncio.create_task(self._replay(decode(payload)[1].openid, payload), name=f"wechat-replay-{key}")
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)
        return len(unfinished)

    async def _replay(self, openid: str, payload: str) -> None:
        try:
            await self.run(openid, 0, self.run_payload(payload), receiver_only=False)
        except Exception:  # still unfinished: the next start runs it again (up to the ledger's max_tries)
            log.exception("re-running an interrupted WeChat message failed")

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if self._replays:
            _, late = await asyncio.wait(set(self._replays), timeout=timeout)
            for task in late:  # cut off: unfinished in the ledger, run again at the next start
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self.shared is not None:
            await self.shared.stop()

    @contextlib.asynccontextmanager
    async def _lock(self, openid: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(openid) or (asyncio.Lock(), 0)
        self._locks[openid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[openid]
            if users <= 1:
                del self._locks[openid]
            else:
                self._locks[openid] = (lock, users - 1)
