"""`rider-bot questions check [FILE]`, and moderation: `rider-bot hide REF [--photo N] --reason …`,
`rider-bot users ban ID --days 7 --reason …` / `users unban ID`, `rider-bot audit --user ID`. The commands this
package adds to the CLI, registered and dispatched from bot/cli.py with one hook each so they live beside their
code. The command line is the operator: it may do what an admin may, and its acts are logged with no actor.
Exit status: 0 done, 1 the file (or the thing asked about) is not usable, 2 bad arguments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.clock import SystemClock
from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from bot.reports import export as ex
from bot.reports import questions_file as q
from bot.reports.cli import read_ref
from bot.reports.model import ref_of
from bot.reports.moderation import Moderation
from bot.store import moderation as mod_store
from bot.store.db import Database
from bot.texts import t

COMMANDS = frozenset({"questions", "hide", "users", "audit"})
_DEPARTMENTS = {"zhujian", "chengguan", "gongan", "wuye", "xiaofang", "shizheng"}  # the migration's seed


def add_parsers(sub: argparse._SubParsersAction) -> None:
    questions = sub.add_parser("questions", help="category questions (data/categories.toml)")
    actions = questions.add_subparsers(dest="questions_action", required=True)
    check = actions.add_parser("check", help="report every mistake in a categories file, with its line and key")
    check.add_argument("file", nargs="?", help="default: the configured categories_toml")
    hide = sub.add_parser("hide", help="hide a report (or one of its photos) from everyone but admins")
    hide.add_argument("ref", help="SP-000123, sp123 or 123")
    hide.add_argument("--photo", type=int, metavar="N", help="only the rider's photo number N (1-based)")
    hide.add_argument("--reason", required=True)
    users = sub.add_parser("users", help="ban or unban a person from reporting (finding stations stays)")
    users_sub = users.add_subparsers(dest="users_action", required=True)
    ban = users_sub.add_parser("ban", help="no reports from this user for DAYS days")
    ban.add_argument("user_id", type=int, help="our user id (as in `reports show`)")
    ban.add_argument("--days", type=int, required=True)
    ban.add_argument("--reason", required=True)
    unban = users_sub.add_parser("unban", help="lift the user's ban now")
    unban.add_argument("user_id", type=int)
    unban.add_argument("--reason", default="")
    audit = sub.add_parser("audit", help="what happened to and by a person: moderation, report actions, refusals")
    audit.add_argument("--user", type=int, required=True, metavar="ID")


async def run(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    if args.command == "questions":
        return check_file(Path(args.file) if args.file else settings.categories_toml or DEFAULT_CATEGORIES_TOML, lang)
    if args.command == "hide" and read_ref(args.ref) is None:
        print(t(lang, "rcli.bad_ref", value=args.ref), file=sys.stderr)
        return 2
    if not settings.database_url and not settings.db_path.exists():
        print(t(lang, "ucli.no_db", path=settings.db_path), file=sys.stderr)
        return 1
    async with Database(settings.database) as db:
        moderation = Moderation(db, SystemClock(settings.tz), None)
        if args.command == "audit":
            return await _audit(db, moderation, args.user, settings, lang)
        if args.command == "hide":
            report_id = read_ref(args.ref) or 0
            if args.photo is not None:
                done = await moderation.hide_photo(None, report_id, args.photo, args.reason)
            else:
                done = await moderation.hide_report(None, report_id, args.reason)
        elif args.users_action == "ban":
            done = await moderation.ban(None, args.user_id, args.days, args.reason)
        else:
            done = await moderation.unban(None, args.user_id, args.reason)
    print(done.text(lang), file=sys.stdout if done.ok else sys.stderr)
    return 0 if done.ok else 1


async def _audit(db: Database, moderation: Moderation, user_id: int, settings: Settings, lang: str) -> int:
    rows = await mod_store.history(db, user_id)
    print(t(lang, "audit.header", id=user_id, n=len(rows), tz=settings.timezone))
    for at, kind, f in rows:
        when = ex.local_text(at, settings.tz, seconds=True)
        report = f" {ref_of(f['report_id'])}" if f.get("report_id") else ""
        actor = "cli" if f.get("actor_id") is None else f"#{f['actor_id']}"
        if kind == "moderation":
            print(t(lang, "audit.moderation", at=when, actor=actor, action=f["action"], user=f["user_id"] or "-",
                    report=report, detail=f" [{f['detail']}]" if f["detail"] else "",
                    reason=f" — {f['reason']}" if f["reason"] else ""))  # fmt: skip
        elif kind == "report":
            print(t(lang, "audit.report", at=when, actor=actor, action=f["action"], report=report.strip(),
                    from_status=f["from_status"] or "-", to_status=f["to_status"] or "-",
                    note=f" — {f['note']}" if f["note"] else ""))  # fmt: skip
        else:
            print(t(lang, "audit.refusal", at=when, action=f["action"], report=report, reason=f["reason"]))
    if not rows:
        print(t(lang, "audit.none"))
    ban = await moderation.ban_of(user_id)
    if ban is not None:
        print(t(lang, "audit.ban_now", until=ex.local_text(ban[0], settings.tz), reason=ban[1]))
    return 0


def check_file(path: Path, lang: str) -> int:
    if not path.exists():
        print(t(lang, "qdef.errors", path=path, n=1))
        print(t(lang, "qdef.line", line=0, where="", message=t(lang, "qdef.unreadable", value="FileNotFoundError")))
        return 1
    parsed = q.load(path, _DEPARTMENTS)
    if parsed.ok:
        print(t(lang, "qdef.ok", path=path, n=len(parsed.questionnaire.questions)))
        return 0
    print(t(lang, "qdef.errors", path=path, n=len(parsed.errors)))
    for error in parsed.errors:
        message = t(lang, f"qdef.{error.code}", value=error.value)
        print(t(lang, "qdef.line", line=error.line, where=error.key, message=message))
    return 1
