"""What the store's callers may catch, whatever the backend: services never import a database driver.

SQLite's driver raises `sqlite3.IntegrityError` / `sqlite3.OperationalError`; the PostgreSQL backend translates
asyncpg's errors into the classes below. `INTEGRITY_ERRORS` and `is_storage_error()` cover both.
"""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """Base of the errors the PostgreSQL backend raises (SQLite's driver raises sqlite3's own)."""


class IntegrityError(StoreError):
    """A constraint refused the change (unique key, foreign key, check, append-only trigger)."""


class StorageError(StoreError):
    """The database cannot take a write now: disk full, read-only, connection lost, server shutting down."""


class DatabaseUnavailable(StoreError):
    """The database could not be reached or opened at start; names it without a password."""

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(f"cannot open the database {database}: {reason}")
        self.database = database
        self.reason = reason


INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, IntegrityError)

# SQLite result codes meaning "we could not write now" (disk full, read-only file or mount, I/O error, locked):
# the rider is told honestly that nothing was saved, rather than a vague "something went wrong".
_SQLITE_STORAGE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN")
_SQLITE_STORAGE_TEXT = ("database or disk is full", "readonly database", "disk i/o error", "database is locked")


def is_storage_error(error: BaseException | None) -> bool:
    """True when a write failed because the storage could not take it (not because of a bug or bad data)."""
    if isinstance(error, StorageError):
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error).lower()
    return name.startswith(_SQLITE_STORAGE) or any(k in text for k in _SQLITE_STORAGE_TEXT)
