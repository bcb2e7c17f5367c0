"""`rider-bot outbox …`, `backup`, `restore` and `doctor`: the operator's commands (docs/OPERATIONS.md).

bot/cli.py registers the parsers and dispatches here, so these commands live beside what they operate on.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.config import Settings
from bot.ops import outbox_admin as admin
from bot.store.db import Database
from bot.texts import t

COMMANDS = frozenset({"outbox"})


def add_parsers(sub: Any) -> None:
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
    async with Database(settings.database) as db:
        return await _outbox(args, db, lang)


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
