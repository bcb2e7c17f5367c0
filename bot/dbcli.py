"""`rider-bot db copy`: move a city's data between SQLite and PostgreSQL (bot/store/copy.py does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
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
    rows = sum(table.rows for table in result.tables)
    print(t(lang, "db.copy_done", tables=len(result.tables), rows=rows, source=_name(source), target=_name(target)))
    return 0
