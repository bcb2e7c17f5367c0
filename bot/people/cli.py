"""`rider-bot invite`: an admin at a terminal creates the one-time code a new worker will send as /join CODE.

Kept here rather than in bot/cli.py so the people package owns its whole command; bot/cli.py only registers
the parser and dispatches. The scope is checked before a code exists, so a mistyped grid id fails now, at the
terminal, instead of later in a worker's chat.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from bot.clock import SystemClock
from bot.config import Settings
from bot.people.invites import start_link
from bot.people.model import ROLES, Role, ScopeError
from bot.people.roles import RoleService
from bot.people.secret import secret_path
from bot.store.db import Database
from bot.texts import t

# Which option names the scope of each role; admins have none.
SCOPE_OPTION = {"worker": "grid", "supervisor": "scope", "department": "dept", "keeper": "place"}


def add_invite_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invite", help="create a one-time invite code for a role (printed once, stored hashed)")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--grid", help="grid id, for --role worker")
    p.add_argument("--scope", help="community or street id, for --role supervisor")
    p.add_argument("--dept", help="department code, for --role department (e.g. chengguan)")
    p.add_argument("--place", help="place id, for --role keeper (a station's keeper, 驿站管理员)")
    p.add_argument("--ttl-hours", type=float, default=72.0, help="hours until the code expires (default 72)")
    p.add_argument("--by", default="cli", help="who created it, kept with the invite (default: cli)")


def _scope(args: argparse.Namespace, lang: str) -> tuple[str | None, int]:
    """The scope the options name, or (None, exit status) after printing why they do not fit the role."""
    wanted = SCOPE_OPTION.get(args.role)
    for option in SCOPE_OPTION.values():
        if option != wanted and getattr(args, option):
            if args.role == "admin":
                print(t(lang, "role.scope_admin_scope"), file=sys.stderr)
                return None, 1
            print(t(lang, "invite.missing_option", role=args.role, option=f"--{wanted}"), file=sys.stderr)
            return None, 2
    if wanted is None:
        return "", 0
    value = (getattr(args, wanted) or "").strip()
    if not value:
        print(t(lang, "invite.missing_option", role=args.role, option=f"--{wanted}"), file=sys.stderr)
        return None, 2
    return value, 0


async def run_invite(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    """Print the code and its expiry in the configured time zone; exit 1 for a scope that does not exist."""
    if not args.ttl_hours > 0:
        print(t(lang, "invite.bad_ttl"), file=sys.stderr)
        return 2
    scope, status = _scope(args, lang)
    if scope is None:
        return status
    async with Database(settings.database) as db:
        roles = RoleService(
            db,
            SystemClock(settings.tz),
            settings.admins,
            invite_secret=settings.invite_secret,
            invite_secret_file=secret_path(settings.db_path),
        )
        try:
            code = await roles.invites.create_invite(args.role, scope, ttl=timedelta(hours=args.ttl_hours), by=args.by)
        except ScopeError as exc:
            names = ", ".join(f"{c} ({en if lang == 'en' else zh})" for c, zh, en in await roles.departments())
            print(t(lang, f"role.scope_{exc.code}", role=exc.role, scope=exc.scope, departments=names), file=sys.stderr)
            return 1
        expires = await roles.invites.expiry_of(code)
        described = await roles.describe(Role(args.role, scope), lang)
    assert expires is not None
    local = expires.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
    print(t(lang, "invite.created", code=code, role=described, expires=local, tz=settings.timezone))
    if settings.bot_username:
        print(t(lang, "invite.link", link=start_link(settings.bot_username, code)))
    return 0
