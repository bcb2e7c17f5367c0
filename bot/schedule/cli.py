"""`rider-bot stats` and `rider-bot sla list|set`: the digest's numbers and the time limits, from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.console.numbers import collect_numbers
from bot.reports.categories import CATEGORY_BY_TOKEN
from bot.reports.categories import category as category_of
from bot.schedule.stats import collect_stats, summary_values, where_for
from bot.store import reports as report_store
from bot.texts import t


def add_parsers(sub: Any) -> None:
    stats = sub.add_parser("stats", help="new / open / overdue / resolved / on-time / satisfaction")
    stats.add_argument("--scope", help="a community or street id (default: everything)")
    stats.add_argument(
        "--json", action="store_true", help="the web console's figures (per grid/category, per day, medians) as JSON"
    )
    stats.add_argument("--at", help="as of this ISO moment instead of now (to reproduce a day's figures)")
    sla = sub.add_parser("sla", help="per-category time limits (限时办结)").add_subparsers(dest="action", required=True)
    sla.add_parser("list", help="show every category's limits")
    setter = sla.add_parser("set", help="change one category's limits")
    setter.add_argument("category", help="e.g. fire_lane, sanitation")
    setter.add_argument("--accept", type=int, help="minutes to accept")
    setter.add_argument("--resolve", type=int, help="minutes to resolve")
    setter.add_argument("--urgent", choices=["yes", "no"], help="urgent categories ignore quiet hours")


async def run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    from bot.services.container import open_services

    services = await open_services(settings)
    try:
        if args.command == "stats":
            try:
                now = datetime.fromisoformat(args.at) if args.at else services.clock.now()
            except ValueError:
                print(f"--at: not an ISO moment: {args.at!r}", file=sys.stderr)
                return 2
            now = now if now.tzinfo else now.replace(tzinfo=settings.tz)
            stats = await collect_stats(services.db, services.grids, args.scope, now)
            grid = services.grids.get(args.scope) if args.scope else None
            scope = grid.name if grid else (args.scope or t(lang, "digest.scope_all"))
            if args.json:
                where, params = where_for(services.grids, args.scope)
                numbers = await collect_numbers(services.db, services.grids, where, params, now, settings.tz)
                print(json.dumps(numbers.as_dict(), ensure_ascii=False, indent=1))
                return 0
            print(t(lang, "cli.stats", scope=scope, **summary_values(lang, stats)))
            return 0
        if args.action == "list":
            rows = await report_store.all_category_limits(services.db)
            for row in rows:
                name = category_of(row["category"]).label(lang)
                urgent = t(lang, "cli.sla_urgent") if row["urgent"] else ""
                print(t(lang, "cli.sla_line", category=name, accept=row["accept_minutes"],
                        resolve=row["resolve_minutes"], urgent=urgent))  # fmt: skip
            return 0
        if args.category not in CATEGORY_BY_TOKEN:
            print(t(lang, "cli.sla_unknown", category=args.category), file=sys.stderr)
            return 1
        changes = {"accept_minutes": args.accept, "resolve_minutes": args.resolve}
        if args.urgent:
            changes["urgent"] = int(args.urgent == "yes")
        changes = {k: v for k, v in changes.items() if v is not None}
        if any(v <= 0 for k, v in changes.items() if k != "urgent"):
            print("minutes must be positive", file=sys.stderr)
            return 2
        if changes:
            async with services.db.transaction() as conn:
                await report_store.set_category_limits(conn, args.category, changes)
        print(t(lang, "cli.sla_set", category=category_of(args.category).label(lang)))
        return 0
    finally:
        await services.close()
