"""`rider-bot db copy`: move a city's data between SQLite and PostgreSQL (bot/store/copy.py does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.media.photo_copy import PhotoCopyMismatch, copy_photos
from bot.media.photos import PhotoStore
from bot.store.copy import CopyMismatch, CopyRefused, copy_database
from bot.store.db import Database
from bot.store.errors import DatabaseUnavailable
from bot.store.url import check_url, is_postgres_url, redact
from bot.texts import t


def add_db_parser(sub: Any) -> None:
    db = sub.add_parser("db", help="the database (docs/SCALING.md)").add_subparsers(dest="action", required=True)
    copy = db.add_parser("copy", help="copy every table to another database, verified by row counts and checksums")
    copy.add_argument("--to", required=True, help="target: postgresql://… or a SQLite file")
    copy.add_argument("--from", dest="source", help="source (default: the configured database)")
    copy.add_argument("--force", action="store_true", help="empty a non-empty target first")


def _target(text: str) -> str | Path:
    return text if is_postgres_url(text) or "://" in text else Path(text)


def _photo_store(db: Database, target: str | Path, settings: Settings) -> PhotoStore:
    """Where this side keeps its photos: the database on PostgreSQL; on SQLite the configured photo_dir for the
    configured database, else the `photos` folder beside the file (where the bot would look for them)."""
    if db.dialect == "postgresql":
        return PhotoStore(db=db)
    path = Path(target)
    if path.resolve() == Path(settings.db_path).resolve() and settings.photo_dir:
        return PhotoStore(settings.photo_dir)
    return PhotoStore(path.parent / "photos")


def _photo_place(store: PhotoStore, lang: str) -> str:
    return t(lang, "db.photos_in_database") if store.root is None else str(store.root)


def _name(target: str | Path) -> str:
    return redact(target) if isinstance(target, str) else str(target)


async def run_db(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    source = _target(args.source) if args.source else settings.database
    target = _target(args.to)
    for url in (source, target):
        if isinstance(url, str):
            try:
                check_url(url)
            except ValueError as exc:
                print(t(lang, "db.bad_url", reason=exc), file=sys.stderr)
                return 2
    if _name(source) == _name(target) or (
        isinstance(source, Path) and isinstance(target, Path) and source.resolve() == target.resolve()
    ):
        print(t(lang, "db.copy_same", database=_name(source)), file=sys.stderr)
        return 2
    if isinstance(source, Path) and not source.exists():
        print(t(lang, "rcli.no_db", path=source), file=sys.stderr)
        return 1
    try:
        async with Database(source) as src, Database(target) as dst:
            result = await copy_database(
                src,
                dst,
                force=args.force,
                progress=lambda table, rows: print(t(lang, "db.copy_table", table=table, rows=rows), file=sys.stderr),
            )
            from_photos, to_photos = _photo_store(src, source, settings), _photo_store(dst, target, settings)
            photos = await copy_photos(from_photos, to_photos)
    except ValueError as exc:
        print(t(lang, "db.bad_url", reason=exc), file=sys.stderr)
        return 2
    except DatabaseUnavailable as exc:
        print(t(lang, "db.unavailable", database=exc.database, reason=exc.reason), file=sys.stderr)
        return 1
    except CopyRefused as exc:
        print(t(lang, "db.copy_refused", reason=exc), file=sys.stderr)
        return 1
    except CopyMismatch as exc:
        print(t(lang, "db.copy_mismatch", reason=exc), file=sys.stderr)
        return 1
    except PhotoCopyMismatch as exc:
        print(t(lang, "db.copy_photos_mismatch", reason=exc), file=sys.stderr)
        return 1
    rows = sum(table.rows for table in result.tables)
    print(t(lang, "db.copy_photos", n=photos.photos, size=f"{photos.bytes / 1024 / 1024:.1f}",
            source=_photo_place(from_photos, lang), target=_photo_place(to_photos, lang)))  # fmt: skip
    print(t(lang, "db.copy_done", tables=len(result.tables), rows=rows, source=_name(source), target=_name(target)))
    return 0
