"""What a console session may see: exactly the reports its person may work in the chat.

The chat's rule is `ReportService.can_work` (a grid's worker, the supervisors up the grid chain, the department
a report is assigned to, admins). The console must not have a second, drifting rule, so this module only
translates the same roles into the store's clause (bot/store/console.py) for lists and maps of 100 000 reports,
and single reports are checked with `can_work` itself. tests/test_console_scope.py checks that the two agree on
every report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.people.model import Role
from bot.store import console as store


def descendants(grids: Any, area: str) -> list[str]:
    """The area and every grid under it (community → grids, street → communities → grids)."""
    found, todo = [area], [area]
    while todo and grids is not None:
        for child in grids.children(todo.pop()):
            found.append(child.id)
            todo.append(child.id)
    return found


@dataclass(frozen=True)
class Scope:
    """A session's reach in SQL terms; `everything` for admins."""

    everything: bool
    areas: tuple[str, ...] = ()  # supervised communities/streets
    area_grids: tuple[str, ...] = ()  # the areas and every grid under them
    worker_grids: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @classmethod
    def of(cls, roles: Iterable[Role], grids: Any) -> Scope:
        held = list(roles)
        if any(r.role == "admin" for r in held):
            return cls(everything=True)
        areas = tuple(r.scope for r in held if r.role == "supervisor")
        under: list[str] = []
        for area in areas:
            under += [g for g in descendants(grids, area) if g not in under]
        return cls(
            everything=False,
            areas=areas,
            area_grids=tuple(under),
            worker_grids=tuple(r.scope for r in held if r.role == "worker"),
            departments=tuple(r.scope for r in held if r.role == "department"),
        )

    def where(self, alias: str = "r") -> tuple[str, list[Any]]:
        """The clause (values only as parameters) selecting the reports in scope."""
        return store.scope_clause(
            everything=self.everything, areas=self.areas, area_grids=self.area_grids, worker_grids=self.worker_grids,
            departments=self.departments, alias=alias,
        )  # fmt: skip

    def grid_visible(self, grid_id: str) -> bool:
        """Whether a grid's polygon and backlog belong on this session's map."""
        return self.everything or grid_id in self.area_grids or grid_id in self.worker_grids
