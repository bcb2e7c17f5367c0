"""`rider-bot stations stale --days 90`: the places whose data nobody has confirmed for that long."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from bot.config import Settings
from bot.keepers.stale import stale
from bot.store.db import Database
from bot.texts import t


async def run_stale(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    if args.days < 1:
        print("--days must be at least 1", file=sys.stderr)
        return 2
    async with Database(settings.database) as db:
        rows = await stale(db, datetime.now(settings.tz), args.days)
    if not rows:
        print(t(lang, "cli.stale_none", days=args.days))
        return 0
    print(t(lang, "cli.stale_header", n=len(rows), days=args.days))
    for r in rows:
        when = datetime.fromisoformat(r.confirmed_at).astimezone(settings.tz).strftime("%Y-%m-%d")
        print(f"{r.place_id}\t{r.name}\t{when}\t{r.confirmed_by}")
    return 0
