"""Who gets a report: the grid containing the point, else the nearest grid within reach, else the street's
supervisors; a city may send a category straight to a department. Then: which people (or group chat) that is.

Nobody is ever left without a recipient: an assignee with no one bound yet falls back up the chain
(community supervisors, street supervisors) and finally to the admins, so a report is never silently parked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.outbox.store import Recipient
from bot.people.roles import ADMIN_CHANNEL, RoleService
from bot.store.users import User


@dataclass(frozen=True)
class Assignment:
    kind: str  # "grid" | "department" | "street_queue" | "unrouted"
    target: str  # grid id, department code, street id, or ""
    grid_id: str | None  # the grid the point belongs to (for supervisors' chains), if any
    how: str  # "inside" | "nearest" | "street" | "none" | "rule" | "transfer"
    distance_m: float = 0.0


def assign(
    grids: Any, category: str, lat: float, lon: float, rules: dict[str, str], max_distance_m: float
) -> Assignment:
    route = grids.route(lat, lon, max_distance_m) if grids is not None else None
    grid_id = route.grid.id if route is not None and route.grid is not None else None
    if category in rules:
        return Assignment("department", rules[category], grid_id, "rule")
    if route is None or route.how == "none":
        return Assignment("unrouted", "", None, "none")
    if route.grid is not None:
        return Assignment("grid", route.grid.id, route.grid.id, route.how, route.distance_m)
    if route.street is not None:
        return Assignment("street_queue", route.street.id, None, "street", route.distance_m)
    return Assignment("unrouted", "", None, "none")


def chain(grids: Any, grid_id: str | None) -> list[str]:
    """The grid and its community and street ids: whose supervisors answer for it."""
    if grids is None or not grid_id:
        return []
    return [grid_id, *(g.id for g in grids.ancestors(grid_id))]


def _to(user: User) -> Recipient:
    return Recipient(user.id, user.channel, user.external_id, user.lang)


async def recipients(roles: RoleService, grids: Any, kind: str, target: str, grid_id: str | None) -> list[Recipient]:
    found: list[Recipient] = []
    if kind == "grid":
        grid = grids.get(target) if grids is not None else None
        if grid is not None and getattr(grid, "group_chat", ""):
            found.append(Recipient(None, "telegram", str(grid.group_chat)))
        found += [_to(u) for u in await roles.users_with("worker", target)]
        for scope in chain(grids, target)[1:]:
            if found:
                break
            found += [_to(u) for u in await roles.users_with("supervisor", scope)]
    elif kind == "department":
        found += [_to(u) for u in await roles.users_with("department", target)]
    elif kind == "street_queue":
        found += [_to(u) for u in await roles.users_with("supervisor", target)]
    if not found:
        for scope in chain(grids, grid_id)[1:]:
            found += [_to(u) for u in await roles.users_with("supervisor", scope)]
            if found:
                break
    if not found:
        found += [_to(u) for u in await roles.users_with("admin", "")]
        known = {r.address for r in found if r.channel == ADMIN_CHANNEL}
        found += [Recipient(None, ADMIN_CHANNEL, str(i)) for i in roles.admin_ids if str(i) not in known]
    unique: dict[tuple[str, str], Recipient] = {}
    for r in found:
        unique.setdefault((r.channel, r.address), r)
    return list(unique.values())


def route_note(note: str, assignment: Assignment) -> str:
    """The audit note of a routing step: why (if said), then to whom."""
    return (note + " → " if note else "") + f"{assignment.kind}:{assignment.target}"
