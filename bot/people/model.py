"""The small shared vocabulary of people: role names, a role with its scope, and why a scope is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

ROLES = ("worker", "supervisor", "department", "admin", "keeper")


@dataclass(frozen=True)
class Role:
    role: str
    scope: str


class ScopeError(ValueError):
    """A role cannot have this scope; `code` names why (a `role.scope_*` text explains it to a person).

    Codes: unknown_role, unknown_grid (worker: no grid of level 'grid' with that id), unknown_area (supervisor:
    no community or street with that id), unknown_department, admin_scope (admins have no scope), unknown_place
    (keeper: no place with that id).
    """

    def __init__(self, code: str, role: str, scope: str) -> None:
        super().__init__(f"{code}: role={role!r} scope={scope!r}")
        self.code = code
        self.role = role
        self.scope = scope


def utc_stamp(when: datetime) -> str:
    """One fixed format (UTC, seconds) so stored times compare correctly as strings in SQL."""
    return when.astimezone(UTC).isoformat(timespec="seconds")
