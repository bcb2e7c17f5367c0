"""Files only the bot's own user may read: the database holds chat ids, names, locations and reports.

SQLite creates the `-wal` and `-shm` files later, when it needs them, with the permissions of the database file
itself (it copies them, whatever the umask says), so making the main file 0600 before the first connection
covers them too; files and directories left by an older version (0644 / 0755) are tightened on open.
Directories we create are 0700. A directory that already existed (say `/var/lib/rider-bot`, or a home
directory) is the operator's and is left alone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Create `path` and any missing parents, each 0700 (parents that exist are not touched)."""
    missing: list[Path] = []
    current = Path(path)
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(folder, DIR_MODE)
        os.chmod(folder, DIR_MODE)  # the umask may have taken bits we did not ask to drop; none to add here


def private_file(path: Path) -> None:
    """Make sure `path` exists with mode 0600 (created empty if missing, tightened if it was wider).

    An existing file is never opened here: closing any descriptor of a file drops every POSIX lock this process
    holds on it, so opening and closing a live SQLite database (a second connection in the same process) would
    take away the first connection's locks — and another process would then checkpoint and delete the WAL and
    shared-memory files under it, leaving it reading an old snapshot for ever."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
        return
    try:
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """0600 for a file that exists; nothing for one that does not."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)


def prepare_database_files(db_path: Path) -> None:
    """Before SQLite opens `db_path`: a 0700 directory if we make it, a 0600 file, and 0600 sidecars."""
    private_dir(db_path.parent)
    private_file(db_path)
    for suffix in SQLITE_SIDECARS:
        tighten(db_path.with_name(db_path.name + suffix))
