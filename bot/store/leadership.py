"""Who dispatches the outbox and runs the scheduled jobs, and who may poll Telegram: one process per database.

Telegram's flood limits belong to the bot token, and only one getUpdates consumer per token is allowed, so with N
processes on one PostgreSQL database exactly one of them — the leader — sends and runs deadline ticks, and at most
one polls. Both are decided by the database itself, with no extra service:

- Leadership is `pg_try_advisory_lock` held by a dedicated connection for as long as it lives. The server drops the
  lock the moment that connection dies (kill -9 closes the socket; a lost network is noticed through the TCP
  keepalives and user timeout set below, within about 6 s). Standbys try the lock every `RETRY` seconds.
- A leader checks its connection every second; it counts as leader only while the last check is younger than
  `LEASE` (shorter than the server's keepalive verdict, so an old leader has stopped before a new one can start),
  and every outbox claim is fenced by `fence()`: it succeeds only while this process's lock connection holds the
  lock in the server's lock table, so two dispatchers can never claim rows, whatever the timing.
- Other processes wake the leader with NOTIFY on `CHANNEL` (the leader LISTENs on its lock connection). A door's
  answer queued in a commit (`deliver_now`) is named in the payload: the leader sends it at once and says so on
  `DONE_CHANNEL`, and the asking process waits for that (bounded) before it handles the chat's next update, so the
  answer keeps its place before whatever that update makes another process send directly.

On SQLite (the embedded default: one process) this process simply is the leader. The right to poll Telegram is
the same kind of lock, in bot/store/polling.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from bot.store.db import Database

log = logging.getLogger(__name__)

LOCK_CLASS = 0x72696465  # 'ride': the first key of our two-key advisory locks (migrations use a one-key lock)
LEADER_KEY, POLLING_KEY = 1, 2  # the second keys: the leader, the poller (bot/store/polling.py)
CHANNEL = "rider_outbox"  # to the leader: '' = look now, else an idem_key to send at once (a door's answer)
DONE_CHANNEL = "rider_outbox_done"  # from the leader: that idem_key's direct send is over
RETRY = 1.0  # seconds between a standby's attempts at the lock
CHECK_EVERY, CHECK_TIMEOUT = 1.0, 2.0  # the leader's health check of its lock connection
LEASE = 4.0  # a leader without a good check for this long stops at once (the server's verdict takes >= 6 s)
# Server side of the lock connection: a peer gone silent (host down, network lost) is dropped after about 6 s,
# which releases the lock; the tests and docs/SCALING.md rely on these numbers for the 10 s fail-over.
KEEPALIVES = {
    "tcp_keepalives_idle": "3",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "6000",
}


def whoami() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership:
    """This process alone (SQLite): always the leader. The PostgreSQL subclass elects one among many."""

    def __init__(self) -> None:
        self._leading = False
        self._gained = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost.set()
        self._listeners: list[Callable[[bool], None]] = []
        # The dispatcher's "look now" ('') or "send this idem_key now" (NOTIFY from other processes).
        self.on_wake: Callable[[str], None] = lambda _key: None

    @property
    def is_leader(self) -> bool:
        return self._leading

    def subscribe(self, listener: Callable[[bool], None]) -> None:
        """Called with True on gaining and False on losing leadership (in the event loop, must not block)."""
        self._listeners.append(listener)

    async def wait_gained(self) -> None:
        await self._gained.wait()

    async def wait_lost(self) -> None:
        await self._lost.wait()

    def fence(self) -> tuple[str, tuple[Any, ...]]:
        """A condition to AND into a claim: true only while this process still holds the lock ('' on SQLite)."""
        return "", ()

    def nudge(self) -> None:
        """Something was queued here: make the leader look (on SQLite the leader is us: nothing to do)."""

    async def ask(self, idem_key: str, timeout: float) -> None:  # noqa: ASYNC109
        """Have the leader send this row now, and wait (at most `timeout`) until it tried. Alone: nothing to ask."""

    async def done(self, idem_key: str) -> None:
        """Tell the process that asked that its row's direct send is over (leader side)."""

    def describe(self) -> str:
        return "leader: this process dispatches the outbox and runs the scheduled jobs"

    async def start(self) -> None:
        self._set(True)

    async def stop(self) -> None:
        self._set(False)

    def _set(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            self._lost.clear()
            self._gained.set()
        else:
            self._gained.clear()
            self._lost.set()
        for listener in list(self._listeners):
            try:
                listener(leading)
            except Exception:
                log.exception("leadership listener failed")


class PgLeadership(Leadership):
    """Elected through `pg_try_advisory_lock` on a dedicated connection (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.url: str = db.url  # type: ignore[attr-defined]
        self.name = whoami()
        self._conn: Any = None
        self._backend_pid: int | None = None
        self._last_ok = 0.0
        self._task: asyncio.Task[None] | None = None
        self._nudging: asyncio.Task[None] | None = None
        self._nudge_again = False
        self._stopping = False
        self._asked: dict[str, list[asyncio.Future[None]]] = {}

    @property
    def is_leader(self) -> bool:
        if not self._leading:
            return False
        if asyncio.get_running_loop().time() - self._last_ok > LEASE:
            self._step_down("no answer from the database on the lock connection")
            return False
        return True

    def fence(self) -> tuple[str, tuple[Any, ...]]:
        return (
            " AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND objid = ?"
            " AND objsubid = 2 AND pid = ? AND granted)",
            (LOCK_CLASS, LEADER_KEY, self._backend_pid or 0),
        )

    def describe(self) -> str:
        if self.is_leader:
            return f"leader ({self.name}): this process dispatches the outbox and runs the scheduled jobs"
        return f"standby ({self.name}): another process leads; this one takes over if it goes"

    async def start(self) -> None:
        self._stopping = False
        # One attempt before returning: a lone process is the leader from its first moment, as on SQLite.
        with contextlib.suppress(Exception):
            await self._attempt()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._task, self._nudging):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._nudging = None
        self._step_down("stopping")
        await self._close()

    # ------------------------------------------------------------------ the election

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if self._leading:
                    await self._check()
                    await asyncio.sleep(CHECK_EVERY)
                else:
                    await self._attempt()
                    if not self._leading:
                        await asyncio.sleep(RETRY)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._step_down(f"lock connection failed: {type(exc).__name__}: {exc}")
                await self._close()
                await asyncio.sleep(RETRY)

    async def _attempt(self) -> None:
        if self._conn is None or self._conn.is_closed():
            await self._connect()
        got = await asyncio.wait_for(
            self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, LEADER_KEY), CHECK_TIMEOUT
        )
        if got:
            self._last_ok = asyncio.get_running_loop().time()
            await self._conn.add_listener(CHANNEL, self._notified)
            log.warning("leadership gained by %s: this process now dispatches the outbox and runs the jobs", self.name)
            self._set(True)

    async def _check(self) -> None:
        if self._conn is None or self._conn.is_closed():
            raise ConnectionError("the lock connection is closed")
        await asyncio.wait_for(self._conn.fetchval("SELECT 1"), CHECK_TIMEOUT)
        self._last_ok = asyncio.get_running_loop().time()

    async def _connect(self) -> None:
        import asyncpg  # only PostgreSQL deployments load the driver

        await self._close()
        self._conn = await asyncpg.connect(
            self.url,
            timeout=5,
            server_settings={**KEEPALIVES, "application_name": f"rider-bot leader {self.name}"[:63]},
        )
        self._backend_pid = self._conn.get_server_pid()
        self._conn.add_termination_listener(self._terminated)
        await self._conn.add_listener(DONE_CHANNEL, self._answered)

    def _terminated(self, _conn: Any) -> None:
        """The server closed our lock connection (pg_terminate_backend, restart): the lock is gone this instant."""
        self._step_down("the lock connection was closed by the server")

    def _step_down(self, why: str) -> None:
        if self._leading:
            log.warning("leadership lost by %s (%s): dispatching stopped", self.name, why)
            self._set(False)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    # ------------------------------------------------------------------ waking the leader

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._leading:
            self.on_wake(payload)

    def _answered(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        for waiter in self._asked.pop(payload, []):
            if not waiter.done():
                waiter.set_result(None)

    async def ask(self, idem_key: str, timeout: float) -> None:  # noqa: ASYNC109
        if self._stopping or self._conn is None or self._conn.is_closed():
            self.nudge()  # no way to hear the answer: the leader's pass sends it
            return
        waiter = asyncio.get_running_loop().create_future()
        self._asked.setdefault(idem_key, []).append(waiter)
        try:
            await notify_leader(self.db, idem_key)
            await asyncio.wait_for(waiter, timeout)
        except Exception as exc:  # no leader right now, or a slow one: the row is durable and goes out anyway
            log.info("the leader did not send %s within %g s (%s); it stays queued", idem_key, timeout, exc)
        finally:
            waiters = self._asked.get(idem_key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            if not waiters:
                self._asked.pop(idem_key, None)

    async def done(self, idem_key: str) -> None:
        await self.db.fetchone("SELECT pg_notify(?, ?)", (DONE_CHANNEL, idem_key))

    def nudge(self) -> None:
        """NOTIFY the leader, coalesced: at most one in flight and one more after it."""
        if self._stopping:
            return
        if self._nudging is not None and not self._nudging.done():
            self._nudge_again = True
            return
        self._nudging = asyncio.create_task(self._nudge(), name="leadership-nudge")

    async def _nudge(self) -> None:
        while True:
            self._nudge_again = False
            try:
                await notify_leader(self.db)
            except Exception as exc:  # the rows are durable; the leader's own pass finds them a few seconds later
                log.warning("could not wake the outbox leader: %s", exc)
            if not self._nudge_again:
                return


def leadership_for(db: Database) -> Leadership:
    return PgLeadership(db) if db.dialect == "postgresql" else Leadership()


async def notify_leader(db: Database, idem_key: str = "") -> None:
    """Wake whichever process dispatches (after rows were queued elsewhere, e.g. by the CLI), or ask it to send one
    row at once. No-op on SQLite."""
    if db.dialect == "postgresql":
        await db.fetchone("SELECT pg_notify(?, ?)", (CHANNEL, idem_key))


# Who holds the leader's lock, as the server sees it: the holder's connection is named "rider-bot leader HOST:PID".
LEADER_QUERY = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.classid = ? AND l.objid = ? AND l.objsubid = 2 AND l.granted"
)


def leader_name(application_name: object) -> str | None:
    return None if application_name is None else str(application_name).removeprefix("rider-bot leader ")


async def current_leader(db: Database) -> str | None:
    """The leader's name (host:pid) as the server sees it; None when nobody holds the lock (or on SQLite)."""
    if db.dialect != "postgresql":
        return None
    row = await db.fetchone(LEADER_QUERY, (LOCK_CLASS, LEADER_KEY))
    return leader_name(row[0] if row else None)
