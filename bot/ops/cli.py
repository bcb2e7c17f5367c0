"""`rider-bot outbox …`, `backup`, `restore` and `doctor`: the operator's commands (docs/OPERATIONS.md).

bot/cli.py registers the parsers and dispatches here, so these commands live beside what they operate on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.ops import doctor
from bot.ops import outbox_admin as admin
from bot.store import backup as bk
from bot.store import pgbackup
from bot.store.db import Database
from bot.store.url import redact
from bot.texts import t


async def run_doctor(settings: Settings, lang: str, wechat_token: Callable[[], Awaitable[str]] | None) -> int:
    """Exit status 1 when any check fails, so a deploy script or a cron job can stop on it."""
    findings = await doctor.examine(settings, lang, wechat_token=wechat_token)
    print(doctor.table(lang, findings))
    bad = sum(not f.ok for f in findings)
    print(t(lang, "ops.doctor.summary_bad", bad=bad, n=len(findings)) if bad else
          t(lang, "ops.doctor.summary_ok", n=len(findings)))  # fmt: skip
    return 1 if bad else 0


def add_parsers(sub: Any) -> None:
    sub.add_parser("doctor", help="check token, webhook, database, disk, photos, clock, WeChat: ✅/❌ and what to do")
    backup = sub.add_parser("backup", help="consistent copy of the database and photos, verified (runs live)")
    backup.add_argument("dest", help="a new (or empty) directory")
    restore = sub.add_parser("restore", help="put a verified backup in place (refuses a running bot's database)")
    restore.add_argument("src", help="a directory made by rider-bot backup")
    restore.add_argument("--force", action="store_true", help="even while a bot runs on it (in place)")
    outbox = sub.add_parser("outbox", help="dead letters: list, retry, drop (audited)")
    actions = outbox.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="messages not yet delivered (pending, sending, dead)")
    listing.add_argument("--dead", action="store_true", help="only dead letters")
    listing.add_argument("--limit", type=int, default=100)
    retry = actions.add_parser("retry", help="send dead messages again")
    retry.add_argument("id", nargs="?", type=int)
    retry.add_argument("--all-dead", action="store_true", help="every dead letter")
    retry.add_argument("--by", default=None, help="who did it, for the audit (default: the system user)")
    drop = actions.add_parser("drop", help="delete a pending or dead message (kept in the audit)")
    drop.add_argument("id", type=int)
    drop.add_argument("--by", default=None, help="who did it, for the audit (default: the system user)")


async def run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    if args.command in {"backup", "restore"}:
        return await _backup_or_restore(args, settings, lang)
    async with Database(settings.database) as db:
        return await _outbox(args, db, lang)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"


def _print_backup(lang: str, report: bk.BackupReport, db_name: str = bk.DB_NAME) -> None:
    tables = " · ".join(f"{name} {n}" for name, n in report.tables.items() if n)
    print(t(lang, "ops.backup.db", name=db_name, size=_size(report.db_bytes), schema=report.schema_version,
            integrity=report.integrity))  # fmt: skip
    print(t(lang, "ops.backup.tables", tables=tables))
    print(t(lang, "ops.backup.photos", files=report.photo_files, size=_size(report.photo_bytes),
            named=report.report_photos))  # fmt: skip
    print(t(lang, "ops.backup.manifest", path=report.path / bk.MANIFEST))


async def _backup_or_restore(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    photos = settings.photo_dir or settings.db_path.parent / "photos"
    if settings.database_url:  # pg_dump / pg_restore (bot/store/pgbackup.py)
        return await _pg_backup_or_restore(args, settings.database_url, photos, lang)
    try:
        if args.command == "backup":
            dest = Path(args.dest)
            report = await asyncio.to_thread(bk.backup, settings.db_path, photos, dest)
            print(t(lang, "ops.backup.done", path=dest))
            _print_backup(lang, report)
            return 0
        src = Path(args.src)
        restored = await asyncio.to_thread(bk.restore, src, settings.db_path, photos, force=args.force)
    except bk.BackupError as exc:
        print(t(lang, f"ops.backup.{exc.code}", detail=exc.detail), file=sys.stderr)
        return 1
    print(t(lang, "ops.restore.done", path=src, target=restored.target))
    _print_backup(lang, restored.backup)
    if restored.previous is not None:
        print(t(lang, "ops.restore.previous", path=restored.previous))
    if restored.live:
        print(t(lang, "ops.restore.live"))
    print(t(lang, "ops.restore.photos", n=restored.photos_added))
    return 0


async def _pg_backup_or_restore(args: argparse.Namespace, url: str, photos: Path, lang: str) -> int:
    try:
        if args.command == "backup":
            dest = Path(args.dest)
            report = await pgbackup.backup(url, photos, dest)
            print(t(lang, "ops.backup.done", path=dest))
            _print_backup(lang, report, pgbackup.DUMP_NAME)
            return 0
        src = Path(args.src)
        checked, added = await pgbackup.restore(src, url, photos)
    except bk.BackupError as exc:
        print(t(lang, f"ops.backup.{exc.code}", detail=exc.detail), file=sys.stderr)
        return 1
    print(t(lang, "ops.restore.done", path=src, target=redact(url)))
    _print_backup(lang, checked, pgbackup.DUMP_NAME)
    print(t(lang, "ops.restore.photos", n=added))
    return 0


async def _outbox(args: argparse.Namespace, db: Database, lang: str) -> int:
    actor = getattr(args, "by", None) or admin.whoami()
    try:
        if args.action == "list":
            entries = await admin.list_rows(db, dead_only=args.dead, limit=max(1, args.limit))
            if not entries:
                print(t(lang, "ops.outbox.none_dead" if args.dead else "ops.outbox.none"))
            for e in entries:
                error = t(lang, "ops.outbox.error", error=e.last_error[:120]) if e.last_error else ""
                print(t(lang, "ops.outbox.row", id=e.id, status=e.status, channel=e.channel, address=e.address,
                        attempts=e.attempts, next_at=e.next_at, idem=e.idem_key, error=error))  # fmt: skip
            return 0
        if args.action == "retry":
            if (args.id is None) == (not args.all_dead):
                print(t(lang, "ops.outbox.retry_what"), file=sys.stderr)
                return 2
            ids = await admin.retry(db, None if args.all_dead else [args.id], actor)
            if not ids:
                print(t(lang, "ops.outbox.none_dead"))
                return 0
            print(t(lang, "ops.outbox.retried", n=len(ids), ids=", ".join(f"#{i}" for i in ids)))
            return 0
        status, audit_id = await admin.drop(db, args.id, actor)
        print(t(lang, "ops.outbox.dropped", id=args.id, status=status, audit=audit_id))
        return 0
    except admin.OutboxAdminError as exc:
        print(t(lang, f"ops.outbox.{exc.code}", id=exc.row_id, status=exc.status), file=sys.stderr)
        return 1
