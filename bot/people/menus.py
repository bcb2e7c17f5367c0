"""Which commands a person's chat menu offers: a rider never sees /queue, a supervisor sees /stats and /overdue.

The menu is a promise of what works for that person; offering /queue to a rider only earns a refusal. Doors
publish these per chat (Telegram: `BotCommandScopeChat`) in the person's own language.
"""

from __future__ import annotations

from bot.people.roles import ADMIN_CHANNEL, RoleService
from bot.store import roles as role_store
from bot.store import users as user_store
from bot.store.db import Database
from bot.store.users import User

RIDER_COMMANDS = ("start", "report", "myreports", "points", "suggest", "lang", "help")
_EXTRA = {
    "worker": ("queue",),
    "department": ("queue",),
    "supervisor": ("queue", "stats", "overdue"),
    "admin": ("queue", "stats", "overdue"),
    "keeper": ("station", "redeem"),
}


def commands_for(role_names: set[str]) -> tuple[str, ...]:
    """Rider commands first (everyone is a rider), then the duties' commands, each once."""
    extra: list[str] = []
    for role in _EXTRA:
        if role in role_names:
            extra += [c for c in _EXTRA[role] if c not in extra]
    return (*RIDER_COMMANDS[:-2], *extra, *RIDER_COMMANDS[-2:])


async def menu_of(roles: RoleService, user: User) -> tuple[str, ...]:
    return commands_for({r.role for r in await roles.roles_of(user)})


async def people_with_duties(db: Database, roles: RoleService, channel: str) -> list[User]:
    """Everyone on a channel whose menu differs from a rider's: role holders and configured admins."""
    found = {u.id: u for u in await user_store.role_holders(db, channel)}
    if channel == ADMIN_CHANNEL:
        for user in await role_store.users_by_external_ids(db, channel, [str(i) for i in roles.admin_ids]):
            found.setdefault(user.id, user)
    return list(found.values())
