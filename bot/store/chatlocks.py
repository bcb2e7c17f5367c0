"""Per-chat locks shared by every process on one PostgreSQL database: session advisory locks on one connection.

Why one dedicated connection per process, not one per locked chat: an advisory lock lives as long as the
session that took it, and a session may hold any number of them. Holding a pooled connection per active chat
would let a busy minute (hundreds of chats) starve the pool; here the whole process holds its chats' locks on a
single connection and borrows it only for the instant of `pg_try_advisory_lock` / `pg_advisory_unlock`. When
the process dies (kill -9, a lost host) the server ends the session and every lock it held is free at once.

Each process also holds a lock named after its boot id for its whole life, so another process can tell whether
the receiver of an update is still alive (`alive`) from `pg_locks`, without asking it.

Keys are 64-bit hashes of "rider:<kind>:<name>" (blake2b, the same in every process); a collision between two
chats only makes them wait for each other, and the periodic sweep still finds both. Advisory locks are per
database, so test databases on one server never see each other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import asyncpg

from .errors import StorageError
from .inbound import OpenUpdate
from .url import redact

log = logging.getLogger(__name__)


def lock_key(kind: str, name: str) -> int:
    digest = hashlib.blake2b(f"rider:{kind}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _halves(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


class ChatLocks:
    """Try-locks per chat for this process (each with a read of the chat's unfinished updates in the inbound
    ledger), and the liveness of other processes (by their boot id)."""

    def __init__(self, url: str, boot: str) -> None:
        self.url = url
        self.boot = boot
        self._conn: asyncpg.Connection | None = None
        self._use = asyncio.Lock()  # one statement at a time on the connection
        self._held: set[int] = set()

    async def open(self) -> ChatLocks:
        await self._connect()
        return self

    async def _connect(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        if self._held:  # the old session ended: the server released them; our drains stop on their next call
            log.warning("chat lock connection lost with %d chats locked; reconnecting", len(self._held))
            self._held.clear()
        try:
            conn = await asyncpg.connect(
                self.url, timeout=10, server_settings={"application_name": "rider-bot chat locks"}
            )
            await conn.execute("SELECT pg_advisory_lock($1)", lock_key("boot", self.boot))
        except Exception as exc:
            raise StorageError(f"chat locks: cannot connect to {redact(self.url)}: {type(exc).__name__}") from None
        self._conn = conn
        return conn

    async def _call(self, sql: str, *args: Any) -> Any:
        async with self._use:
            conn = await self._connect()
            return await self._guarded(conn, conn.fetchval(sql, *args))

    async def lock_open(self, channel: str, chat: str, most: int) -> list[OpenUpdate] | None:
        """Lock the chat if no process holds it, and then (fresh snapshot) read its first `most` unfinished
        updates; None if another process holds it. One round trip (chatlocks_sql.py)."""
        key = lock_key("chat", chat)
        async with self._use:
            conn = await self._connect()
            rows = await self._guarded(conn, conn.fetch("SELECT * FROM rider_chat_lock($1, $2, $3, $4)", key,
                                                        channel, chat, most))  # fmt: skip
        if not rows or not rows[0]["locked"]:
            return None
        self._held.add(key)
        return [
            OpenUpdate(r["u_key"], int(r["u_seq"]), r["u_payload"], r["u_boot"], int(r["u_tries"]))
            for r in rows
            if r["u_key"] is not None
        ]

    async def unlock_open(self, channel: str, chat: str) -> bool:
        """Let go of the chat, and then (fresh snapshot) whether it has unfinished updates: one recorded while
        this process held it, whose receiver found the chat locked and left it to the holder."""
        key = lock_key("chat", chat)
        if key not in self._held:  # lost with the connection: the server let go already
            raise StorageError("chat locks: the connection holding the lock was lost")
        self._held.discard(key)
        async with self._use:
            conn = await self._connect()
            return bool(await self._guarded(conn, conn.fetchval("SELECT rider_chat_unlock($1, $2, $3)", key,
                                                                channel, chat)))  # fmt: skip

    async def _guarded(self, conn: asyncpg.Connection, call: Any) -> Any:
        try:
            return await call
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as exc:
            self._held.clear()
            with contextlib.suppress(Exception):
                conn.terminate()
            self._conn = None
            raise StorageError(f"chat locks: {type(exc).__name__}") from None

    def holds(self, chat: str) -> bool:
        """False once the connection holding the lock was lost (another process may have the chat now)."""
        return lock_key("chat", chat) in self._held

    async def alive(self, boot: str) -> bool:
        """Whether the process that started as `boot` still runs (holds its boot lock)."""
        if boot == self.boot:
            return True
        high, low = _halves(lock_key("boot", boot))
        return bool(
            await self._call(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1)",
                high,
                low,
            )
        )

    async def close(self) -> None:
        async with self._use:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                self._held.clear()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5)
