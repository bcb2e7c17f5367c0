"""A full disk under PostgreSQL, made for real: the bot's database moved onto a small file system that fills up.

A tmpfs of a few megabytes is mounted (the tests run as root, as CI does), made a tablespace, and every table
and index of the bot's database moved onto it; a filler table on it then takes every free byte. From then on any
write that needs a new page fails as it does when the server's disk is full — `could not extend file …: No space
left on device`, SQLSTATE 53100 — while writes that fit in pages already there still succeed. `lift` drops the
filler (its files are given back at once; TRUNCATE would need a new page itself); `close` moves everything back,
drops the tablespace and unmounts. The write-ahead log stays in the cluster's data directory: PostgreSQL itself
keeps running, as it does when only a tablespace's disk is full.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import pytest

SIZE_MB = 48
SPACE = "rider_test_full"


class PgDiskFull:
    def __init__(self, db: Any) -> None:
        self.url: str = db.url
        self.mount: Path | None = None
        self.conn: Any = None

    async def _start(self) -> None:
        self.mount = await asyncio.to_thread(_mount)
        self.conn = await asyncpg.connect(self.url)
        await self.conn.execute(f"CREATE TABLESPACE {SPACE} LOCATION '{self.mount}'")
        await self.conn.execute(f"ALTER TABLE ALL IN TABLESPACE pg_default SET TABLESPACE {SPACE}")
        await self.conn.execute(f"ALTER INDEX ALL IN TABLESPACE pg_default SET TABLESPACE {SPACE}")

    async def fill(self) -> None:
        if self.conn is None:
            await self._start()
        await self.conn.execute(f"CREATE TABLE IF NOT EXISTS test_disk_filler (b bytea) TABLESPACE {SPACE}")
        for size in (1 << 20, 1 << 16, 6000, 400):  # big rows first, then page-sized, then scraps
            for _ in range(SIZE_MB * 4096):  # bounded: more rows than could ever fit
                try:
                    await self.conn.execute("INSERT INTO test_disk_filler VALUES ($1)", os.urandom(size))
                except asyncpg.DiskFullError:
                    break

    async def lift(self) -> None:
        if self.conn is not None:
            await self.conn.execute("DROP TABLE IF EXISTS test_disk_filler")

    async def close(self) -> None:
        try:
            if self.conn is not None:
                try:
                    await self.lift()
                    await self.conn.execute(f"ALTER TABLE ALL IN TABLESPACE {SPACE} SET TABLESPACE pg_default")
                    await self.conn.execute(f"ALTER INDEX ALL IN TABLESPACE {SPACE} SET TABLESPACE pg_default")
                    await self.conn.execute(f"DROP TABLESPACE {SPACE}")
                finally:
                    await self.conn.close()
                    self.conn = None
        finally:
            if self.mount is not None:
                await asyncio.to_thread(_unmount, self.mount)
                self.mount = None


def _mount() -> Path:
    mount = Path(tempfile.mkdtemp(prefix="rider-pgfull-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m,mode=0700", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a small file system to fill here ({done.stderr.strip()[:120]})")
    if os.geteuid() == 0:
        shutil.chown(mount, "postgres", "postgres")
    return mount


def _unmount(mount: Path) -> None:
    subprocess.run(["umount", str(mount)], check=False)
    mount.rmdir()
