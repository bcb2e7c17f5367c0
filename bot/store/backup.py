"""`rider-bot backup DEST` and `rider-bot restore SRC`: a consistent copy while the bot runs, checked before it is
trusted, and a restore that will not clobber a running bot by accident.

Consistency: the copy is made with SQLite's online backup API from a connection that first opens a read
transaction, so the copy, the row counts and the list of photos in the manifest all come from one snapshot
(WAL lets the bot keep writing meanwhile). Photos are written to disk before the report that names them commits,
so every photo the snapshot names is already on disk when the photo store is copied after it.

Liveness: a running bot (`Runtime`) holds a shared `flock` on `<database>.lock` and writes its pid there. The
kernel drops the lock when the process dies, SIGKILL included, so a stale pid file never blocks a restore and
a live bot is never mistaken for a dead one. Restore asks for the lock exclusively, without waiting: if it
cannot have it, the database is live. (A leftover `-wal` file is no sign of life: a crashed bot leaves one.)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.store.private_files import private_dir, private_file, tighten

DB_NAME = "rider-bot.sqlite3"
PHOTOS = "photos"
MANIFEST = "MANIFEST.json"
_PHOTO_EXTENSIONS = (".jpg", ".png", ".webp")


class BackupError(Exception):
    """`code` names the text (ops.backup.<code>); `detail` fills it in."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


@dataclass
class BackupReport:
    path: Path
    db_bytes: int = 0
    schema_version: int = 0
    integrity: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    photo_files: int = 0
    photo_bytes: int = 0
    report_photos: int = 0  # distinct photos the reports name, each checked against its hash


# ---------------------------------------------------------------------------------------------- liveness


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class LiveMarker:
    """Held by a running bot: a shared flock on `<db>.lock` (several readers may hold it), pid inside."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def hold(self) -> LiveMarker:
        private_dir(self.path.parent)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # never waits: only a restore holds it exclusively
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise RuntimeError(f"{self.path}: a restore is writing this database; start when it is done") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def exclusive(db_path: Path) -> Iterator[bool]:
    """Yields True with the lock held exclusively (no bot can start meanwhile), False if a bot holds it."""
    path = lock_path(db_path)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def holder_pid(db_path: Path) -> str:
    with contextlib.suppress(OSError):
        return lock_path(db_path).read_text().strip() or "?"
    return "?"


# ---------------------------------------------------------------------------------------------- helpers


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [r[0] for r in rows]


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in _tables(conn)}


def _named_photos(conn: sqlite3.Connection) -> list[str]:
    if "report_photos" not in _tables(conn):
        return []
    return [r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM report_photos ORDER BY sha256")]


def _photo_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*") if p.is_file() and p.suffix in _PHOTO_EXTENSIONS)


def _original(folder: Path, sha: str) -> Path | None:
    for ext in _PHOTO_EXTENSIONS:
        candidate = folder / sha[:2] / f"{sha}{ext}"
        if candidate.is_file():
            return candidate
    return None


def _check_photos(root: Path, shas: list[str], hashes: dict[str, str]) -> None:
    """Every photo a report names is there: the original hashes to its name, the shared copy to the manifest."""
    for sha in shas:
        original = _original(root, sha)
        if original is None or _sha256_file(original) != sha:
            raise BackupError("photo_bad", sha)
        shared = root / sha[:2] / f"{sha}.shared.jpg"
        relative = f"{sha[:2]}/{sha}.shared.jpg"
        if not shared.is_file() or (relative in hashes and _sha256_file(shared) != hashes[relative]):
            raise BackupError("photo_bad", relative)


def _integrity(conn: sqlite3.Connection) -> str:
    result = conn.execute("PRAGMA integrity_check").fetchall()
    text = "; ".join(str(r[0]) for r in result)
    if text != "ok":
        raise BackupError("integrity", text[:300])
    if conn.execute("PRAGMA foreign_key_check").fetchall():
        raise BackupError("integrity", "foreign_key_check failed")
    return text


# ---------------------------------------------------------------------------------------------- backup


def backup(db_path: Path, photo_root: Path, dest: Path) -> BackupReport:
    """Blocking (run it in a thread): copy, then verify the copy against the snapshot it was made from."""
    if not db_path.is_file():
        raise BackupError("no_database", str(db_path))
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError("dest_not_empty", str(dest))
    private_dir(dest)
    target = dest / DB_NAME
    private_file(target)
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
    try:
        source.execute("BEGIN")  # one read snapshot for the copy, the counts and the photo list
        counts = _counts(source)
        shas = _named_photos(source)
        schema = source.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file (the bot turns WAL on again)
        finally:
            copy.close()
        source.execute("COMMIT")
    finally:
        source.close()
    # photos: after the snapshot, so every photo it names is already on disk
    hashes: dict[str, str] = {}
    report = BackupReport(dest, schema_version=schema, tables=counts, report_photos=len(shas))
    for path in _photo_files(photo_root):
        relative = path.relative_to(photo_root)
        out = dest / PHOTOS / relative
        private_dir(out.parent)
        shutil.copyfile(path, out)
        tighten(out)
        hashes[relative.as_posix()] = _sha256_file(out)
        report.photo_files += 1
        report.photo_bytes += out.stat().st_size
    manifest = {
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(db_path),
        "schema_version": schema,
        "tables": counts,
        "report_photos": shas,
        "photo_files": hashes,
    }
    manifest_path = dest / MANIFEST
    private_file(manifest_path)
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    verified = verify(dest)
    verified.photo_bytes = report.photo_bytes
    return verified


def verify(folder: Path) -> BackupReport:
    """A backup folder is trusted only if its database is sound, its row counts are the manifest's, and every
    photo file hashes to what the manifest (and, for originals, its own name) says."""
    manifest_path, db_file = folder / MANIFEST, folder / DB_NAME
    if not manifest_path.is_file() or not db_file.is_file():
        raise BackupError("not_a_backup", str(folder))
    manifest = json.loads(manifest_path.read_text("utf-8"))
    report = BackupReport(folder, db_bytes=db_file.stat().st_size, schema_version=manifest["schema_version"])
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        report.integrity = _integrity(conn)
        report.tables = _counts(conn)
        if report.tables != manifest["tables"]:
            raise BackupError("counts", json.dumps({k: (report.tables.get(k), v) for k, v in manifest["tables"].items()
                                                    if report.tables.get(k) != v}))  # fmt: skip
        shas = _named_photos(conn)
    finally:
        conn.close()
    photos = folder / PHOTOS
    for relative, digest in manifest["photo_files"].items():
        path = photos / relative
        if not path.is_file() or _sha256_file(path) != digest:
            raise BackupError("photo_bad", relative)
    _check_photos(photos, shas, manifest["photo_files"])
    report.photo_files = len(manifest["photo_files"])
    report.report_photos = len(shas)
    return report


# ---------------------------------------------------------------------------------------------- restore


@dataclass
class RestoreReport:
    backup: BackupReport
    target: Path
    previous: Path | None  # where the database that was there before was moved (not live) or None
    photos_added: int
    live: bool


def restore(folder: Path, db_path: Path, photo_root: Path, *, force: bool = False) -> RestoreReport:
    """Verify the backup, then put it in place. Not live: the old file is moved aside and the copy takes its
    place. Live (only with `force`): SQLite's backup API writes into the open database, under its own write
    lock, so the running bot reads the restored data from its next query (restart it anyway: places and grids
    are cached in memory). Photos are content-addressed: missing ones are added, none overwritten."""
    checked = verify(folder)
    with exclusive(db_path) as ours:
        if not ours and not force:
            raise BackupError("live", holder_pid(db_path))
        previous = None
        source = sqlite3.connect(f"file:{folder / DB_NAME}?mode=ro", uri=True)
        try:
            if ours and db_path.exists():
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                previous = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
                _checkpoint(db_path)
                os.replace(db_path, previous)
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(db_path.with_name(db_path.name + suffix))
            private_dir(db_path.parent)
            private_file(db_path)
            target = sqlite3.connect(db_path, timeout=30)
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
    return RestoreReport(checked, db_path, previous, restore_photo_files(folder, photo_root), live=not ours)


def restore_photo_files(folder: Path, photo_root: Path) -> int:
    """Copy the backup's photo files that the photo folder lacks (0600 in 0700 folders); returns how many."""
    added = 0
    for relative in json.loads((folder / MANIFEST).read_text("utf-8"))["photo_files"]:
        out = photo_root / relative
        if not out.exists():
            private_dir(out.parent)
            shutil.copyfile(folder / PHOTOS / relative, out)
            tighten(out)
            added += 1
    return added


def _checkpoint(db_path: Path) -> None:
    """Fold the WAL into the file before moving it aside, so the kept copy is whole on its own."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
