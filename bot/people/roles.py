"""Who may do what: roles with a scope, granted in the database or (for admins) by configuration.

Admins listed in `settings.admins` (Telegram user ids) are admins without a row, so a fresh deployment has
someone who can create the first invites, and removing an id from the configuration takes the power away
without touching the database.
"""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock
from bot.people.invites import GLOBAL_BUDGET, InviteService
from bot.people.model import ROLES, Role, ScopeError, utc_stamp
from bot.people.secret import invite_key, secret_path
from bot.store import keepers as keeper_store
from bot.store import roles as store
from bot.store.db import Database
from bot.store.users import User
from bot.texts import t

# The channel whose user ids `settings.admins` lists.
ADMIN_CHANNEL = "telegram"


class RoleService:
    """Roles of our users (any channel), checked and named here so every door answers the same way."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        admin_ids: tuple[int, ...] = (),
        *,
        invite_secret: str | None = None,
        invite_secret_file: Path | None = None,
        join_budget: int = GLOBAL_BUDGET,
    ) -> None:
        self.db = db
        self.clock = clock
        self.admin_ids = tuple(admin_ids)
        if invite_secret_file is None and db.path is not None and str(db.path) != ":memory:":
            invite_secret_file = secret_path(db.path)
        key = invite_key(invite_secret_file, invite_secret)
        self.invites = InviteService(db, clock, self, key, global_budget=join_budget)

    def _configured_admin(self, user: User) -> bool:
        return user.channel == ADMIN_CHANNEL and user.external_id in {str(i) for i in self.admin_ids}

    async def roles_of(self, user: User) -> list[Role]:
        """Granted roles in the order they were granted; a configured admin gets admin first."""
        roles = [Role(role, scope) for role, scope in await store.role_rows(self.db, user.id)]
        admin = Role("admin", "")
        if self._configured_admin(user) and admin not in roles:
            roles.insert(0, admin)
        return roles

    async def is_admin(self, user: User) -> bool:
        return any(r.role == "admin" for r in await self.roles_of(user))

    async def has(self, user: User, role: str, scope: str) -> bool:
        """Exactly this role and scope (admins are not implied: callers decide whether an admin may act)."""
        return Role(role, scope) in await self.roles_of(user)

    async def validate(self, role: str, scope: str) -> None:
        """Raise ScopeError unless `scope` names something that exists and suits `role`.

        Checked when an invite is created (so a typo fails at the CLI, not when a worker tries to join) and
        again when a role is granted directly.
        """
        if role not in ROLES:
            raise ScopeError("unknown_role", role, scope)
        if role == "admin":
            if scope != "":
                raise ScopeError("admin_scope", role, scope)
            return
        if role == "department":
            if scope not in {code for code, _, _ in await store.departments(self.db)}:
                raise ScopeError("unknown_department", role, scope)
            return
        if role == "keeper":
            if await keeper_store.place_name(self.db, scope) is None:
                raise ScopeError("unknown_place", role, scope)
            return
        found = await store.grid(self.db, scope)
        if role == "worker" and (found is None or found.level != "grid"):
            raise ScopeError("unknown_grid", role, scope)
        if role == "supervisor" and (found is None or found.level not in {"community", "street"}):
            raise ScopeError("unknown_area", role, scope)

    async def grant(self, user_id: int, role: str, scope: str, by: str) -> bool:
        """Give a role after validating its scope; False if the user already had it."""
        await self.validate(role, scope)
        async with self.db.transaction() as conn:
            return await store.insert_role(conn, user_id, role, scope, utc_stamp(self.clock.now()), by)

    async def revoke(self, user_id: int, role: str, scope: str, by: str = "") -> bool:
        """Remove a granted role; False if there was none. Configured admins stay admins (that is config).

        `by` is accepted for symmetry with `grant` and future auditing; the row itself is simply deleted.
        """
        return await store.delete_role(self.db, user_id, role, scope)

    async def users_with(self, role: str, scope: str) -> list[User]:
        """Holders of exactly this role and scope, e.g. the workers of a grid or the supervisors of a community.

        For ('admin', '') this includes configured admins who have talked to the bot (we have a user for them).
        """
        users = await store.users_with_role(self.db, role, scope)
        if role == "admin" and scope == "" and self.admin_ids:
            known = {u.id for u in users}
            configured = await store.users_by_external_ids(self.db, ADMIN_CHANNEL, [str(i) for i in self.admin_ids])
            users += [u for u in configured if u.id not in known]
        return users

    async def departments(self) -> list[tuple[str, str, str]]:
        """(code, name_zh, name_en) of every department that can receive escalations."""
        return await store.departments(self.db)

    async def scope_name(self, role: Role, lang: str) -> str:
        """The scope in words, e.g. "米兰社区第1网格", "城管"; '' for admins.

        A scope that no longer exists (say, after a grid list was re-imported) is shown as its id rather than
        hidden, so a person can still tell an admin what they hold.
        """
        if role.role == "admin":
            return ""
        if role.role == "department":
            for code, name_zh, name_en in await store.departments(self.db):
                if code == role.scope:
                    return name_en if lang == "en" else name_zh
            return role.scope
        if role.role == "keeper":
            return await keeper_store.place_name(self.db, role.scope) or role.scope
        found = await store.grid(self.db, role.scope)
        if found is None:
            return role.scope
        if found.level == "grid" and found.parent_id:
            parent = await store.grid(self.db, found.parent_id)
            if parent is not None and parent.name not in found.name:
                return t(lang, "role.grid_in", grid=found.name, area=parent.name)
        return found.name

    async def describe(self, role: Role, lang: str) -> str:
        """The role and its scope in words, e.g. "网格员：米兰社区第1网格", or just "管理员"."""
        label = t(lang, f"role.{role.role}")
        scope = await self.scope_name(role, lang)
        return t(lang, "role.with_scope", role=label, scope=scope) if scope else label
