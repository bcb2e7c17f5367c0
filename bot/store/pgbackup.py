"""`rider-bot backup` and `rider-bot restore` on PostgreSQL: pg_dump's custom format, and pg_restore into an empty
database, with the same folder, manifest and photo checks as the SQLite backup (bot/store/backup.py).

Consistency: a connection opens a REPEATABLE READ transaction and exports its snapshot; pg_dump dumps that very
snapshot (`--snapshot`), and the row counts and the list of photos in the manifest are read in the same
transaction, so all three describe one moment while the bot keeps writing. Photos are copied after it, as on
SQLite (a photo is on disk before the report naming it commits).

Secrets: the password never goes on a command line (which any local user can read in /proc): pg_dump and
pg_restore get the URL without it and the password in PGPASSWORD. The dump is 0600 in a 0700 folder.

Restore goes into an empty database only (no table in its schema): pg_restore cannot merge into a live one, and
replacing a database that other processes are connected to is the DBA's decision (DROP/CREATE DATABASE), not ours.
After it, the restored row counts must equal the manifest's.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from bot.store.backup import (
    MANIFEST,
    PHOTOS,
    BackupError,
    BackupReport,
    _check_photos,
    _photo_files,
    _sha256_file,
    restore_photo_files,
)
from bot.store.private_files import private_dir, private_file, tighten
from bot.store.url import redact, scrub

DUMP_NAME = "rider-bot.pgdump"
PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's postgresql-client-15; else whatever is on PATH
_TIMEOUT = 3600


def tool(name: str) -> str:
    """pg_dump / pg_restore: Debian's version-15 binaries (they match the server), else the one on PATH."""
    candidate = PG_BIN / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BackupError("pg_tool_missing", name)
    return found


def command(name: str, url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment for a PostgreSQL client tool: the URL without its password in argv, the password in
    PGPASSWORD (the environment of one child process, not a command line every local user can read)."""
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    netloc = parts.netloc
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return [tool(name), *args, f"--dbname={bare}"], env


def _run(argv: list[str], env: dict[str, str], url: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        detail = scrub((done.stderr or done.stdout).strip().replace(url, redact(url)))[-500:]
        raise BackupError("pg_tool_failed", f"{Path(argv[0]).name}: {detail}")


async def _connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10)
    except Exception as exc:  # the driver's message may quote the URL
        raise BackupError("pg_unreachable", f"{redact(url)}: {type(exc).__name__}") from None


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    ]
    return {name: int(await conn.fetchval(f'SELECT COUNT(*) FROM "{name}"')) for name in names}


async def _named_photos(conn: asyncpg.Connection) -> list[str]:
    return [r[0] for r in await conn.fetch("SELECT DISTINCT sha256 FROM report_photos ORDER BY sha256")]


async def _photos_not_in_database(conn: asyncpg.Connection) -> list[str]:
    """Photos a report names without a row in the photo store (on PostgreSQL photos are rows: bot/store/photos.py,
    so the dump holds them); none in a healthy database."""
    rows = await conn.fetch(
        "SELECT DISTINCT r.sha256 FROM report_photos r LEFT JOIN photo_shared s ON s.sha256 = r.sha256"
        " LEFT JOIN photo_originals o ON o.sha256 = r.sha256 WHERE s.sha256 IS NULL OR o.sha256 IS NULL"
    )
    return sorted(r[0] for r in rows)


def _prepare(dest: Path) -> Path:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError("dest_not_empty", str(dest))
    private_dir(dest)
    target = dest / DUMP_NAME
    private_file(target)  # 0600 before pg_dump writes into it (it keeps an existing file's mode)
    return target


async def backup(url: str, photo_root: Path, dest: Path) -> BackupReport:
    """pg_dump of one exported snapshot, the manifest from the same snapshot, then the photos; checked after."""
    target = await asyncio.to_thread(_prepare, dest)
    conn = await _connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            counts = await _counts(conn)
            shas = await _named_photos(conn)
            missing = await _photos_not_in_database(conn)
            if missing:
                raise BackupError("photo_bad", missing[0])
            schema = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
            argv, env = command("pg_dump", url, "--format=custom", f"--snapshot={snapshot}", f"--file={target}",
                                "--no-owner", "--no-privileges")  # fmt: skip
            # The exported snapshot lives as long as this transaction: pg_dump runs in a thread meanwhile.
            await asyncio.to_thread(_run, argv, env, url)
    finally:
        await conn.close()
    manifest = {
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": redact(url),
        "format": "pg_dump custom",
        "schema_version": schema,
        "tables": counts,
        "report_photos": shas,
        "photos_in_database": True,  # in the dump: checked above in the same snapshot, counted in "tables"
    }
    return await asyncio.to_thread(_finish, dest, photo_root, manifest)


def _finish(dest: Path, photo_root: Path, manifest: dict[str, Any]) -> BackupReport:
    """Photo files left from before photos moved into the database (normally none: they are rows in the dump),
    the manifest, and the check."""
    tighten(dest / DUMP_NAME)
    hashes: dict[str, str] = {}
    photo_bytes = 0
    for path in _photo_files(photo_root):
        relative = path.relative_to(photo_root)
        out = dest / PHOTOS / relative
        private_dir(out.parent)
        shutil.copyfile(path, out)
        tighten(out)
        hashes[relative.as_posix()] = _sha256_file(out)
        photo_bytes += out.stat().st_size
    manifest["photo_files"] = hashes
    manifest_path = dest / MANIFEST
    private_file(manifest_path)
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    report = verify(dest)
    report.photo_bytes = photo_bytes
    return report


def verify(folder: Path) -> BackupReport:
    """The dump's table of contents reads back (pg_restore --list) and names every table of the manifest; every
    photo hashes to what the manifest says. (Row counts are checked after a restore, against the manifest.)"""
    manifest_path, dump = folder / MANIFEST, folder / DUMP_NAME
    if not manifest_path.is_file() or not dump.is_file():
        raise BackupError("not_a_backup", str(folder))
    manifest = json.loads(manifest_path.read_text("utf-8"))
    done = subprocess.run([tool("pg_restore"), "--list", str(dump)], capture_output=True, text=True,
                          timeout=_TIMEOUT, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BackupError("pg_tool_failed", f"pg_restore --list: {done.stderr.strip()[-300:]}")
    listed = {line.split()[-2] for line in done.stdout.splitlines() if " TABLE DATA " in line}
    missing = sorted(set(manifest["tables"]) - listed)
    if missing:
        raise BackupError("counts", json.dumps({"missing from the dump": missing}))
    photos = folder / PHOTOS
    for relative, digest in manifest["photo_files"].items():
        path = photos / relative
        if not path.is_file() or _sha256_file(path) != digest:
            raise BackupError("photo_bad", relative)
    if not manifest.get("photos_in_database"):  # a backup made while photos were files
        _check_photos(photos, manifest["report_photos"], manifest["photo_files"])
    return BackupReport(
        folder,
        db_bytes=dump.stat().st_size,
        schema_version=manifest["schema_version"],
        integrity="pg_restore --list ok",
        tables=manifest["tables"],
        photo_files=len(manifest["photo_files"]),
        report_photos=len(manifest["report_photos"]),
    )


async def restore(folder: Path, url: str, photo_root: Path) -> tuple[BackupReport, int]:
    """Into an empty database only; afterwards its row counts must be the manifest's. Returns (the backup, photos
    added). Photos are content-addressed: missing ones are added, none overwritten."""
    checked = await asyncio.to_thread(verify, folder)
    conn = await _connect(url)
    try:
        tables = await conn.fetchval(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        if tables:
            raise BackupError("pg_target_not_empty", f"{redact(url)} ({tables})")
        argv, env = command("pg_restore", url, "--exit-on-error", "--single-transaction", "--no-owner",
                            "--no-privileges", str(folder / DUMP_NAME))  # fmt: skip
        await asyncio.to_thread(_run, argv, env, url)
        restored = await _counts(conn)
    finally:
        await conn.close()
    expected = checked.tables
    if restored != expected:
        diff = {k: (restored.get(k), v) for k, v in expected.items() if restored.get(k) != v}
        raise BackupError("counts", json.dumps(diff))
    return checked, await asyncio.to_thread(restore_photo_files, folder, photo_root)
