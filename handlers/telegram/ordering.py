"""Updates from different chats are handled side by side; updates from one chat stay strictly in order; one chat
holds at most one worker.

PTB handles one update at a time by default, so one rider's slow step (a geocoder lookup, a photo download)
would make every other rider wait. Running everything concurrently would instead let a rider's "photo" and
"location" race each other. A lock per chat gives both: asyncio locks are first-come first-served, and PTB
starts the update tasks in arrival order, so a chat's updates enter their lock in the order they arrived.

The order of the gates is what keeps a flood from slowing everyone. The flood guard decides when an update
arrives, before it waits for anything, so a refused update is stopped at once instead of queueing. An admitted
update then waits for its chat, and only then for one of the `workers` slots: a chat's queued updates wait without
holding a slot, so one busy chat (80 photos with slow downloads) holds one slot, never all of them. PTB's own
semaphore (`waiting`) only bounds how many updates may wait at all.

With PostgreSQL (many processes behind a load balancer) the chat's order is kept across processes by the core
(bot/services/chat_order.py): a recorded update is handed to it, and it runs the chat's updates in update order
in whichever process holds the chat, each in one of that process's `workers` slots.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class UpdateGate(Protocol):
    def flooded(self, update: object) -> bool: ...
    async def hand_over(self, update: object, coroutine: Awaitable[Any]) -> bool: ...
    async def finish(self, update: object) -> None: ...


def chat_key(update: object) -> str:
    """The chat an update belongs to, as the ledger records it (the same in every process)."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return str(update.effective_chat.id)
        if update.effective_user is not None:
            return f"user:{update.effective_user.id}"
    return "other"


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, gate: UpdateGate | None = None, workers: int = 64, waiting: int = 4096) -> None:
        super().__init__(waiting)
        self.gate = gate
        self.workers = workers
        self.slots = asyncio.Semaphore(workers)
        self._locks: dict[str, asyncio.Lock] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        gate = self.gate
        if gate is not None and gate.flooded(update):
            await coroutine  # refused when it arrived: the guard handler stops it at once (no chat, no worker slot)
            await gate.finish(update)
            return
        if gate is not None and await gate.hand_over(update, coroutine):
            return  # many processes: ordered across them by the core (bot/services/chat_order.py)
        key = chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                async with self.slots:
                    await coroutine
                if gate is not None:  # only after its handlers ran: a kill before this re-runs the update
                    await gate.finish(update)
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)  # memory bounded by the chats active right now

    async def initialize(self) -> None:
        """Nothing to set up: the locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to tear down: PTB awaits the running updates itself."""
