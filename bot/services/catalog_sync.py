"""Keeps this process's in-memory place catalogue and grid index in step with the database (issue 12).

Every process answers "nearest stations" and routes reports from memory, so an import made by another process or
by the CLI (`rider-bot stations import`, `grids import`) must reach it without a restart. The writer bumps a
version in its own transaction (bot/store/catalog.py); this watcher compares the database's versions with the
ones this process loaded and reloads what is behind. It looks when told to — a PostgreSQL NOTIFY, delivered at
the writer's commit to every listening process — and every `poll_s` anyway, which on SQLite (one bot process,
the CLI beside it) is the whole mechanism and on PostgreSQL the fallback for a notification missed while the
listener reconnected. Answering stays free of any database round trip: the check runs here, not per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.store import catalog
from bot.store.db import Database

log = logging.getLogger(__name__)

SQLITE_POLL_S = 2.0  # the CLI's import shows within this (the bound is 5 s)
POSTGRES_POLL_S = 30.0  # NOTIFY does the work; this only catches what a reconnecting listener missed


class CatalogWatcher:
    def __init__(
        self,
        db: Database,
        reloaders: dict[str, Callable[[], Awaitable[None]]],
        loaded: Callable[[], dict[str, int]],
        *,
        poll_s: float | None = None,
    ) -> None:
        self.db = db
        self.reloaders = reloaders
        self.loaded = loaded
        self.poll_s = poll_s or (POSTGRES_POLL_S if db.dialect == "postgresql" else SQLITE_POLL_S)
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None

    async def start(self) -> None:
        self._listener = catalog.listen(self.db, lambda _name: self._poke.set(), self._poke.set)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="catalog-watch")

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> list[str]:
        """Reload whatever this process holds an older version of; returns what was reloaded."""
        current = await catalog.versions(self.db)
        done = []
        for name, reload in self.reloaders.items():
            if current.get(name) != self.loaded().get(name):
                await reload()
                done.append(name)
        return done

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.poll_s)
            self._poke.clear()
            try:
                reloaded = await self.check()
            except Exception:  # the database away for a moment: the next poke or poll tries again
                log.warning("could not check the catalogue's version", exc_info=True)
                continue
            if reloaded:
                log.info("reloaded %s after a change by another process", " and ".join(reloaded))
