"""People beyond "rider": grid workers, supervisors, department members and admins, and how they join.

Everyone is a rider; a role is an extra duty with a scope (a grid, a community or street, a department). Roles
are granted by one-time invite codes (`invites.py`) or by configuration (admins), never by a chat library, so
every door — Telegram today, WeChat later — asks the same `RoleService` (and its `invites`).
"""

from bot.people.invites import InviteError, InviteService, normalise_code
from bot.people.model import ROLES, Role, ScopeError
from bot.people.roles import RoleService

__all__ = ["ROLES", "InviteError", "InviteService", "Role", "RoleService", "ScopeError", "normalise_code"]
