"""One process per database may poll Telegram: a second one refuses to start instead of fighting over 409s.

Telegram answers a second concurrent getUpdates consumer of a token with "409 Conflict: terminated by other
getUpdates request"; two pollers would take turns failing. So a process in polling mode holds, for its whole life,
an exclusive flock on `<db>.polling` beside the SQLite file, or on PostgreSQL an advisory lock (the leadership
lock's class, second key POLLING_KEY) on a connection of its own. If that connection is lost (a database restart)
the lock is taken again as soon as the database is back; if meanwhile another process took it, that is logged as
an error every time it is seen, since then two processes poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

from bot.store.db import Database
from bot.store.leadership import KEEPALIVES, LOCK_CLASS, POLLING_KEY, whoami
from bot.store.url import redact

log = logging.getLogger(__name__)

KEEP_EVERY = 5.0  # seconds between checks of the lock's connection

POLLING_REFUSED = (
    "another rider-bot process is already polling Telegram for this database ({holder}); Telegram allows one "
    'getUpdates consumer per bot token. To run several processes, use webhook mode (mode = "webhook", '
    "RIDER_MODE=webhook; see docs/SCALING.md)."
)


class AnotherPoller(RuntimeError):
    """A second process tried to poll Telegram for the same database: an operator error, reported without a trace."""


class PollingGuard:
    """Held for the life of a polling process: an exclusive flock (SQLite) or an advisory lock (PostgreSQL)."""

    def __init__(self, fd: int | None = None, url: str | None = None, conn: Any = None) -> None:
        self._fd = fd
        self._url = url
        self._conn = conn
        self._keeper: asyncio.Task[None] | None = None
        if url is not None:
            self._keeper = asyncio.create_task(self._keep(), name="polling-lock")

    async def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
            self._keeper = None
        if self._conn is not None:
            await _close(self._conn)
            self._conn = None

    async def _keep(self) -> None:
        """Take the lock again after its connection was lost (the server forgot it with the connection)."""
        assert self._url is not None
        while True:
            await asyncio.sleep(KEEP_EVERY)
            if self._conn is not None and not self._conn.is_closed():
                continue
            log.warning("the polling lock's database connection was lost; taking the lock again")
            try:
                self._conn = await _take(self._url)
                log.warning("the polling lock is held again")
            except AnotherPoller as exc:
                log.error("two processes poll Telegram for this database now: %s", exc)
            except Exception as exc:  # the database is still away: try again at the next check
                log.warning("could not take the polling lock again yet: %s", type(exc).__name__)


def polling_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".polling")


async def hold_polling(db: Database) -> PollingGuard:
    """Refuse (AnotherPoller) when another process polls Telegram for this database; else hold the right to."""
    if db.dialect == "postgresql":
        url: str = db.url  # type: ignore[attr-defined]
        return PollingGuard(url=url, conn=await _take(url))
    path = polling_lock_path(Path(db.path))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise AnotherPoller(POLLING_REFUSED.format(holder=f"pid {holder}")) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return PollingGuard(fd=fd)


async def _take(url: str) -> Any:
    import asyncpg  # only PostgreSQL deployments load the driver

    name = f"rider-bot poller {whoami()}"[:63]
    conn = await asyncpg.connect(url, timeout=5, server_settings={**KEEPALIVES, "application_name": name})
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, POLLING_KEY):
            holder = await conn.fetchval(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted",
                LOCK_CLASS,
                POLLING_KEY,
            )
            holder = str(holder or "?").removeprefix("rider-bot poller ")
            raise AnotherPoller(POLLING_REFUSED.format(holder=f"{holder} on {redact(url)}"))
    except BaseException:
        conn.terminate()
        raise
    return conn


async def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 2)
    if not conn.is_closed():
        conn.terminate()


def _read_pid(fd: int) -> str:
    with contextlib.suppress(OSError):
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip() or "?"
    return "?"
