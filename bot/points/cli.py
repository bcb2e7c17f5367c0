"""`rider-bot rewards import FILE` and `rider-bot points show|export|adjust`: the admins' side of points."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from datetime import datetime
from pathlib import Path

from bot.cli import describe_error
from bot.config import Settings
from bot.people.model import utc_stamp
from bot.places.csv_io import RowError
from bot.points.rewards import import_rewards
from bot.store import points as store
from bot.store import users as user_store
from bot.store.db import Database
from bot.texts import t

EXPORT_COLUMNS = ("id", "user_id", "channel", "external_id", "kind", "delta", "reason", "ref", "note", "actor", "at")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    rewards = sub.add_parser("rewards", help="the rewards catalogue (docs/KEEPERS.md)").add_subparsers(
        dest="action", required=True
    )
    rewards.add_parser(
        "import", help="validate a rewards CSV, then replace the catalogue (all or nothing)"
    ).add_argument("file")
    points = sub.add_parser("points", help="the points ledger").add_subparsers(dest="action", required=True)
    points.add_parser("show", help="a user's balance and every movement").add_argument(
        "user", help="our user id, or CHANNEL:EXTERNAL_ID (e.g. telegram:123456)"
    )
    export = points.add_parser("export", help="every movement as CSV")
    export.add_argument("--out", help="file to write (default: standard output)")
    adjust = points.add_parser("adjust", help="add or take points by hand, with a reason")
    adjust.add_argument("user")
    adjust.add_argument("delta", type=int)
    adjust.add_argument("--reason", default="")
    adjust.add_argument("--expire", action="store_true", help="record it as expired points instead of adjusted")


async def _user(db: Database, ref: str) -> tuple[int, str] | None:
    if ref.isdigit():
        user = await user_store.get_user(db, int(ref))
    elif ":" in ref:
        user = await user_store.find_user(db, *ref.split(":", 1))
    else:
        user = None
    return (user.id, user.display_name) if user else None


def _print_errors(lang: str, errors: list[RowError]) -> None:
    for error in errors:
        print(describe_error(lang, error), file=sys.stderr)


async def run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    async with Database(settings.database) as db:
        now = utc_stamp(datetime.now(settings.tz))
        if args.command == "rewards":
            result = await import_rewards(db, args.file, now)
            if not result.ok:
                _print_errors(lang, result.parsed.errors)
                print(t(lang, "cli.rewards_not_imported"), file=sys.stderr)
                return 1
            print(
                t(lang, "cli.rewards_imported", path=args.file, rows=len(result.parsed.items), retired=result.retired)
            )
            return 0
        if args.action == "export":
            return await _export(db, args.out)
        found = await _user(db, args.user)
        if found is None:
            print(t(lang, "cli.points_unknown_user", user=args.user), file=sys.stderr)
            return 1
        user_id, name = found
        if args.action == "adjust":
            if not args.reason.strip() or args.delta == 0:
                print(t(lang, "cli.points_need_reason"), file=sys.stderr)
                return 2
            kind = "expired" if args.expire else "adjusted"
            async with db.transaction() as conn:
                await store.append(conn, user_id, kind, args.delta, "adjusted", now, note=args.reason.strip()[:200],
                                   actor="cli")  # fmt: skip
                balance = await store.balance(conn, user_id)
            print(t(lang, "cli.points_adjusted", delta=args.delta, balance=balance))
            return 0
        print(t(lang, "cli.points_balance", user=args.user, name=name, balance=await store.balance(db.conn, user_id)))
        for m in await store.movements(db, user_id):
            print(f"{m.at}\t{m.kind}\t{m.delta:+d}\t{m.reason}\t{m.note or m.ref or m.report_id or ''}")
        return 0


async def _export(db: Database, path: str | None) -> int:
    rows = await store.ledger(db)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([row[c] if row[c] is not None else "" for c in EXPORT_COLUMNS])
    if path:
        await asyncio.to_thread(Path(path).write_text, buffer.getvalue(), encoding="utf-8-sig")
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
