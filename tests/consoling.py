"""Helpers for the web console's tests: reports filed through the chat, sign-in through /console, an HTTP client
that keeps the console's cookie like a browser would."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta

import httpx

from bot.app import Runtime
from bot.tls import client_context
from tests import reporting
from tests.chat import ChatUser

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 (云龙区汉风街道)
STREET = "xz-hanfeng"
OTHER_STREET = "xz-fengcai"  # 鼓楼区丰财街道


async def inside(runtime: Runtime, street: str) -> tuple[float, float]:
    """A point inside the first grid under `street` (the mean of its ring, the grids are convex boxes)."""
    grids = runtime.services.grids
    for grid in grids.grids("grid"):
        if street in {g.id for g in grids.ancestors(grid.id)}:
            row = await runtime.services.db.fetchone("SELECT geometry FROM grids WHERE id = ?", (grid.id,))
            ring = json.loads(row[0])["coordinates"][0][:-1]
            return sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)
    raise AssertionError(f"no grid under {street}")


async def file_report(rider: ChatUser, where: tuple[float, float], caption: str, category: str = "消防通道堵塞") -> int:
    """A rider reports through the chat (no report of the same kind nearby is expected); returns the report id."""
    return await reporting.file_report(rider, category, caption, at=where, new_if_offered=False)


async def console_link(person: ChatUser) -> str:
    """Send /console and return the link from the answer (other notices, e.g. forwarded reports, may come too)."""
    before = person.standin.last_seq(person.user_id)
    person.standin.inject_message(person.user_id, text="/console", first_name=person.first_name)
    for count in range(1, 6):  # bounded: the answer is among the first few messages
        got = await person.standin.wait_for_bot_messages(person.user_id, count, after_seq=before, timeout=8)
        for message in got:
            match = re.search(r"(http://\S+/console/login\?t=\S+)", message.get("text") or "")
            if match:
                return match.group(1)
    raise AssertionError(f"no console link among {[m.get('text') for m in got]}")


def client(runtime: Runtime) -> httpx.AsyncClient:
    assert runtime.web is not None
    return httpx.AsyncClient(
        verify=client_context(), base_url=runtime.web.url, timeout=15, trust_env=False, follow_redirects=False
    )


async def sign_in(http: httpx.AsyncClient, link: str) -> str:
    """Open the link, press the button; returns the CSRF token of the new session."""
    page = await http.get(link)
    assert page.status_code == 200, page.text
    token = link.split("t=", 1)[1]
    done = await http.post("/console/login", data={"t": token})
    assert done.status_code == 303, done.text
    assert "rider_console" in http.cookies
    return await csrf_of(http)


async def csrf_of(http: httpx.AsyncClient) -> str:
    page = await http.get("/console/queue")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


STATUSES = ("forwarded", "transferred", "reopened", "accepted", "resolved", "confirmed", "rejected", "merged")
DEPARTMENTS = ("zhujian", "chengguan", "gongan", "xiaofang")
CATEGORY_TOKENS = ("fire_lane", "flying_lead", "elevator", "lights", "road", "sanitation", "parking", "other")


async def seed_reports(runtime: Runtime, count: int, now: datetime, seed: int = 7) -> list[int]:
    """`count` reports spread over every grid, assignee kind, status and the last 40 days, with accept events,
    resolutions (some late) and ratings: data for the scope and figures tests (written as the service would
    store it: aware local stamps, the audit events the figures read)."""
    rng = random.Random(seed)
    services = runtime.services
    reporter = await services.users.identify("telegram", "99001", "种子骑手")
    grids = [g for g in services.grids.grids("grid")]
    streets = [g.id for g in services.grids.grids("street")]
    ids = []
    async with services.db.transaction() as conn:
        for _ in range(count):
            grid = rng.choice(grids)
            row = await (await conn.execute("SELECT geometry FROM grids WHERE id = ?", (grid.id,))).fetchone()
            ring = json.loads(row[0])["coordinates"][0][:-1]
            lat = sum(p[1] for p in ring) / len(ring) + rng.uniform(-0.001, 0.001)
            lon = sum(p[0] for p in ring) / len(ring) + rng.uniform(-0.001, 0.001)
            kind = rng.choice(("grid", "grid", "grid", "department", "street_queue"))
            assignee = {"grid": rng.choice(grids).id if rng.random() < 0.2 else grid.id,
                        "department": rng.choice(DEPARTMENTS), "street_queue": rng.choice(streets)}[kind]  # fmt: skip
            status = rng.choice(STATUSES)
            created = now - timedelta(days=rng.uniform(0.05, 40), minutes=rng.randint(0, 59))
            accept_due = created + timedelta(hours=2)
            resolve_due = created + timedelta(days=rng.choice((1, 3, 7)))
            resolved = created + timedelta(hours=rng.uniform(1, 200)) if status in {"resolved", "confirmed"} else None
            if resolved is not None and resolved > now:
                resolved = now - timedelta(minutes=5)
            rating = rng.randint(1, 5) if status == "confirmed" else None
            cur = await conn.execute(
                "INSERT INTO reports (reporter_id, category, lat, lon, description, status, version, grid_id,"
                " assignee_kind, assignee, rating, created_at, updated_at, resolved_at, accept_due, resolve_due)"
                " VALUES (?, ?, ?, ?, ?, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (reporter.id, rng.choice(CATEGORY_TOKENS), lat, lon, "种子", status,
                 grid.id if rng.random() < 0.9 else None, kind, assignee, rating, _stamp(created),
                 _stamp(resolved or created + timedelta(hours=1)), _stamp(resolved) if resolved else None,
                 _stamp(accept_due), _stamp(resolve_due)),
            )  # fmt: skip
            report_id = cur.lastrowid
            ids.append(report_id)
            await conn.execute(
                "INSERT INTO report_events (report_id, at, action, from_status, to_status) VALUES (?, ?, 'route',"
                " 'new', 'forwarded')",
                (report_id, _stamp(created)),
            )
            if status in {"accepted", "resolved", "confirmed"}:
                accepted = created + timedelta(minutes=rng.randint(3, 300))
                await conn.execute(
                    "INSERT INTO report_events (report_id, at, action, from_status, to_status)"
                    " VALUES (?, ?, 'accept', 'forwarded', 'accepted')",
                    (report_id, _stamp(min(accepted, now))),
                )
    return ids


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
