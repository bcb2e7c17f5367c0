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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class UpdateGate(Protocol):
    def admit(self, update: object) -> bool: ...
    async def finish(self, update: object) -> None: ...


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, gate: UpdateGate | None = None, workers: int = 64, waiting: int = 4096) -> None:
        super().__init__(waiting)
        self.gate = gate
        self.workers = workers
        self._slots = asyncio.Semaphore(workers)
        self._locks: dict[object, asyncio.Lock] = {}

    @staticmethod
    def _key(update: object) -> object:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return update.effective_chat.id
            if update.effective_user is not None:
                return ("user", update.effective_user.id)
        return "other"

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        gate = self.gate
        if gate is not None and not gate.admit(update):
            await coroutine  # refused: the guard handler stops it at once (no chat lock, no worker slot)
            await gate.finish(update)
            return
        key = self._key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                async with self._slots:
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
