"""The console's scope is the chat's scope, and its figures are `rider-bot stats`'s figures.

Three hundred reports over every grid, assignee kind and status; for supervisors of a street and of a community,
a department, a grid worker who also supervises, and an admin, the set the console's SQL selects must equal
the set `ReportService.can_work` (the chat's rule) allows. Then the numbers page's figures must equal what
`rider-bot stats --json` prints for the same scope and moment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

import pytest

from bot.app import Runtime
from bot.console.auth import Session
from bot.console.queries import BBox, ConsoleFilter, list_reports, map_view
from bot.console.scope import Scope
from bot.people.model import Role
from bot.store.reports import get_report
from tests.chat import ChatUser
from tests.consoling import STREET, client, console_link, seed_reports, sign_in
from tests.reporting import bind

PEOPLE = {
    "street": [Role("supervisor", STREET)],
    "community": [Role("supervisor", "xz-fengcai-milan")],
    "department": [Role("department", "zhujian")],
    "worker_and_supervisor": [Role("worker", "xz-hanfeng-diemeng-g1"), Role("supervisor", "sz-xiguan")],
    "admin": [Role("admin", "")],
}


@pytest.mark.parametrize("who", sorted(PEOPLE))
async def test_the_consoles_sql_scope_equals_the_chats_rule(runtime: Runtime, who: str) -> None:
    services = runtime.services
    await seed_reports(runtime, 300, services.clock.now())
    person = await services.users.identify("telegram", "77001", "看板用户")
    for role in PEOPLE[who]:
        await services.roles.grant(person.id, role.role, role.scope, by="test")
    scope = Scope.of(await services.roles.roles_of(person), services.grids)
    where, params = scope.where("r")
    by_sql = {row[0] for row in await services.db.fetchall(f"SELECT r.id FROM reports r WHERE {where}", params)}
    by_rule = set()
    for (report_id,) in await services.db.fetchall("SELECT id FROM reports"):
        if await services.reports.can_work(person, await get_report(services.db, report_id)):
            by_rule.add(report_id)
    assert by_sql == by_rule
    assert 0 < len(by_sql) <= 300
    # The list and the map select within it, and agree with each other.
    flt, now = ConsoleFilter(state="all"), services.clock.now()
    page = await list_reports(services.db, scope, flt, services.grids, now, per_page=1000)
    assert {r.id for r in page.rows} == by_sql and page.total == len(by_sql)
    world = await map_view(services.db, scope, flt, services.grids, now, BBox(-89, -179, 89, 179), "wgs84")
    assert world["count"] == len(by_sql)


async def test_the_numbers_equal_rider_bot_stats(runtime: Runtime) -> None:
    services = runtime.services
    now = services.clock.now()
    await seed_reports(runtime, 300, now, seed=11)
    boss = ChatUser(runtime.standin, 3001, "社区书记")
    await bind(runtime, boss, "supervisor", STREET)
    admin = await services.users.identify("telegram", "77002", "管理员")
    await services.roles.grant(admin.id, "admin", "", by="test")
    async with client(runtime) as http:
        await sign_in(http, await console_link(boss))
        console = (await http.get("/console/api/numbers")).json()
        page = await http.get("/console/numbers")
    cli = await _stats(runtime, "--scope", STREET, "--at", now.isoformat())
    assert console == cli
    assert sum(p["n"] for p in console["per_day"]) > 0 and sum(console["backlog"]) > 0
    assert console["median_accept_min"] is not None and sum(console["ratings"]) > 0
    assert re.search(r"<svg class=\"chart\"", page.text)
    # everything (the admin) against the CLI without --scope
    session = Session(user=admin, roles=(Role("admin", ""),), csrf="", expires_at="")
    scope = services.console.scope(session)
    from bot.console.numbers import collect_numbers

    where, params = scope.where("r")
    mine = await collect_numbers(services.db, services.grids, where, params, now, services.settings.tz)
    assert mine.as_dict() == await _stats(runtime, "--at", now.isoformat())


async def _stats(runtime: Runtime, *args: str) -> dict:
    """`rider-bot stats --json` in its own process, on the same database file (WAL: readers welcome)."""
    env = {**os.environ, "RIDER_DB_PATH": str(runtime.settings.db_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "stats", "--json", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def _normal(view: dict) -> tuple:
    """Order-free form of a map answer (float averages rounded: memory and SQL add in different orders)."""
    if "points" in view:
        return ("points", view["count"], sorted(tuple(sorted(p.items())) for p in view["points"]))
    cells = sorted((c["n"], round(c["lat"], 4), round(c["lon"], 4), c["late"]) for c in view["clusters"])
    return ("clusters", view["count"], cells)


BOXES = {
    "country": BBox(28.0, 110.0, 40.0, 124.0),
    "xuzhou": BBox(34.20, 117.12, 34.30, 117.26),
    "street": BBox(34.238, 117.20, 34.262, 117.232),
}
FILTERS = [
    ConsoleFilter(),
    ConsoleFilter(state="all"),
    ConsoleFilter(state="late"),
    ConsoleFilter(state="accepted", category="lights"),
    ConsoleFilter(state="all", grid="xz-hanfeng-diemeng", age=3),
    ConsoleFilter(state="all", q="SP-000007"),
]


async def test_the_maps_memory_gives_the_sql_answer_and_follows_changes(runtime: Runtime) -> None:
    from bot.console import points as points_module

    services = runtime.services
    now = services.clock.now()
    await seed_reports(runtime, 300, now, seed=5)
    cache = services.console.points
    scopes = [Scope.of(roles, services.grids) for roles in PEOPLE.values()]
    old_max, seen = points_module.MAX_POINTS, set()
    for limit in (old_max, 20):  # both answers: single points, and the server's cells
        points_module.MAX_POINTS = limit
        try:
            for scope in scopes:
                for flt in FILTERS:
                    for name, box in BOXES.items():
                        mine = await cache.map_view(scope, flt, services.grids, now, box, "gcj02")
                        reference = await _sql_view(services, scope, flt, now, box, limit)
                        assert _normal(mine) == _normal(reference), (name, flt, scope)
                        seen.add((_normal(mine)[0], mine["count"] > 0))
        finally:
            points_module.MAX_POINTS = old_max
    assert seen == {("points", True), ("points", False), ("clusters", True)}
    # a change through the service is seen at the next read (the audit event moves the cursor)
    report_id = (await services.db.fetchone("SELECT id FROM reports WHERE status = 'forwarded' LIMIT 1"))[0]
    admin = await services.users.identify("telegram", "77003", "管理员")
    await services.roles.grant(admin.id, "admin", "", by="test")
    version = (await services.db.fetchone("SELECT version FROM reports WHERE id = ?", (report_id,)))[0]
    await services.reports.act_accept(admin, report_id, version)
    everything, flt = Scope(everything=True), ConsoleFilter(q=f"SP-{report_id:06d}", state="all")
    [point] = (await cache.map_view(everything, flt, services.grids, now, BOXES["country"], "wgs84"))["points"]
    assert point["status"] == "accepted"
    backlog = await cache.backlog(now)
    assert (
        sum(n for n, _ in backlog.values())
        == (
            await services.db.fetchone(
                "SELECT COUNT(*) FROM reports WHERE status IN ('new','forwarded','accepted','transferred','reopened')"
                " AND grid_id IS NOT NULL AND hidden_at IS NULL"
            )
        )[0]
    )


async def _sql_view(services, scope, flt, now, box, limit):
    from bot.console import queries

    old = queries.MAX_POINTS
    queries.MAX_POINTS = limit
    try:
        return await map_view(services.db, scope, flt, services.grids, now, box, "gcj02")
    finally:
        queries.MAX_POINTS = old
