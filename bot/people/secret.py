"""The server secret invite codes are hashed with: configured, or made once and kept beside the database.

With a plain hash, a copy of the database is enough to test guesses offline as fast as a GPU can hash. Keyed
with a secret that is *not* in the database (HMAC-SHA256), the stored hashes are useless without that secret
too. Either the operator configures it (`RIDER_INVITE_SECRET`, e.g. from a secrets manager), or the first
process that needs it writes 32 random bytes to `<database>.invite-secret`, mode 0600, and every later process
(the bot, the CLI) reads the same file. Keep that file out of database copies you hand around; losing it only
invalidates outstanding codes (make new ones), never a role already granted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from bot.store.private_files import FILE_MODE, private_dir, tighten

SUFFIX = ".invite-secret"


def secret_path(db_path: Path) -> Path:
    """Beside the SQLite file (`RIDER_DB_PATH`; with PostgreSQL that setting only places this file)."""
    return db_path.with_name(db_path.name + SUFFIX)


def invite_key(key_file: Path | None, configured: str | None = None) -> bytes:
    """The HMAC key: the configured secret, else the key file (created on first use), else — no file to keep it
    in, as for an in-memory database that dies with the process — a key that lives as long as the process."""
    if configured:
        return configured.encode("utf-8")
    if key_file is None:
        return secrets.token_bytes(32)
    path = Path(key_file)
    for _ in range(3):  # bounded: another process may be writing it right now
        with contextlib.suppress(FileNotFoundError):
            return _read(path)
        _create(path)
    return _read(path)


def _read(path: Path) -> bytes:
    tighten(path)
    text = path.read_text(encoding="ascii").strip()
    key = bytes.fromhex(text)
    if len(key) < 16:
        raise ValueError(f"{path}: the invite secret is too short (delete it to make a new one)")
    return key


def _create(path: Path) -> None:
    """Write the key to a temporary file, then link it into place: a reader sees the whole key or no file,
    and of two processes racing, the first link wins and the other reads the winner's key."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
