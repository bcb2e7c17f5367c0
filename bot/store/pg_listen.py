"""LISTEN on a dedicated PostgreSQL connection, reconnecting by itself when it is lost.

Notifications go to the sessions that LISTEN at the moment of the commit, so the connection is our own (not one
from the pool, where LISTEN would stick to whichever task borrowed it next) and kept open for the process's life.
A connection can die without a word (server restart, network cut): a ping every `ping_s` finds that out, and
after every (re)connect `on_connect` runs, so the caller can check for what it may have missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from .url import redact

log = logging.getLogger(__name__)


class Listener:
    def __init__(
        self,
        url: str,
        channel: str,
        on_notify: Callable[[str], None],
        on_connect: Callable[[], None],
        *,
        ping_s: float = 10.0,
    ) -> None:
        self.url = url
        self.channel = channel
        self.on_notify = on_notify
        self.on_connect = on_connect
        self.ping_s = ping_s
        self.connects = 0  # how many times a connection was made (1 + reconnects)
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"listen:{self.channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.on_notify(payload)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            lost = asyncio.Event()
            try:
                self._conn = await asyncpg.connect(
                    self.url, timeout=10, server_settings={"application_name": "rider-bot listen"}
                )
                self._conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await self._conn.add_listener(self.channel, self._notified)
                self.connects += 1
                delay = 0.5
                self.on_connect()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.ping_s)
                    if not lost.is_set():
                        await self._conn.execute("SELECT 1", timeout=self.ping_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "LISTEN %s on %s lost (%s); reconnecting", self.channel, redact(self.url), type(exc).__name__
                )
            finally:
                conn, self._conn = self._conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
