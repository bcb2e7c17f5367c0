"""`rider-bot apikey create NAME | list | revoke NAME`: the keys a city platform uses to file Open311 requests.

The arguments are parsed in bot/cli.py (so other commands do not import the doors); this module runs them.

`create` prints the key once, alone on standard output (so a script can capture it); only its SHA-256 is
stored. `list` shows names and dates, never a key. The database must exist (start the bot once first): a
mistyped `--db` must not create a new, empty database that the running bot never reads.
Exit status: 0 done, 1 nothing to act on (no database, no live key of that name), 2 a bad or taken name.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from bot.config import Settings
from bot.store import apikeys
from bot.store.db import Database


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def run_apikey(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url and not settings.db_path.exists():
        print(f"no database at {settings.db_path} (start the bot once, or pass --db)", file=sys.stderr)
        return 1
    async with Database(settings.database) as db:
        if args.action == "create":
            try:
                key = await apikeys.create_key(db, args.name, _now())
            except apikeys.KeyNameError as exc:
                if exc.code == "taken":
                    print(f"{args.name} already has a live key; revoke it first", file=sys.stderr)
                else:
                    print("a name is 1-64 letters, digits, '.', '_' or '-'", file=sys.stderr)
                return 2
            print(key)
            print(f"API key for {args.name}: shown once, stored only as a hash. Keep it secret.", file=sys.stderr)
            return 0
        if args.action == "revoke":
            if await apikeys.revoke_key(db, args.name, _now()):
                print(f"revoked the key of {args.name}")
                return 0
            print(f"{args.name} has no live key", file=sys.stderr)
            return 1
        found = await apikeys.list_keys(db)
        if not found:
            print("no API keys")
        width = max((len(k.name) for k in found), default=4)
        for k in found:
            print(
                f"{k.name:<{width}}  created {k.created_at}  " + (f"revoked {k.revoked_at}" if k.revoked_at else "live")
            )
        return 0
