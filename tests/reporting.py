"""Helpers for report tests: real JPEGs, people bound to roles the way a city would bind them, and a rider's
随手拍 report filed through the chat."""

from __future__ import annotations

import io

from PIL import Image

from bot.app import Runtime
from bot.standin.server import StandIn
from tests.chat import ChatUser

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids


def jpeg(colour: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def bind(runtime: Runtime, person: ChatUser, role: str, scope: str) -> None:
    code = await runtime.services.roles.invites.create_invite(role, scope)
    [reply] = await person.send(f"/join {code}")
    assert "✅" in reply["text"], reply["text"]


async def file_report(
    rider: ChatUser,
    category: str = "消防通道堵塞",
    caption: str = "消防通道被电动车堵住了",
    *,
    at: tuple[float, float] = HERE,
    photo: bytes | None = None,
    new_if_offered: bool = True,
) -> int:
    """A report filed the way a rider files it: a photo with `caption`, the location `at`, `category`, ✅ 提交.
    When the bot offers a report of the same kind nearby, this one is filed as a new hazard; with
    `new_if_offered=False` the test expects no such offer (the 提交 tap then fails). Returns the report's id, read
    from the number the rider was told ("SP-000123": 123; `report_ref` writes it back)."""
    await rider.send(photo=photo or jpeg(), caption=caption, replies=2)
    [categories] = await rider.share_location(*at)
    _, [summary] = await rider.tap(categories, category)
    if new_if_offered and "是同一个问题吗" in summary["text"]:
        _, [summary] = await rider.tap(summary, "新建上报")
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到，编号 SP-" in received["text"], received["text"]
    return int(received["text"].split("编号 SP-")[1][:6])


async def new_messages(runtime: Runtime, person: ChatUser, count: int) -> list[dict]:
    """The next `count` bot messages in `person`'s chat once the outbox is idle (forwarded cards, notices): those
    after `person.seen`, which then moves past them."""
    await runtime.services.outbox.wait_idle()
    got = await runtime.standin.wait_for_bot_messages(
        person.user_id, count, after_seq=getattr(person, "seen", 0), timeout=8
    )
    person.seen = runtime.standin.last_seq(person.user_id)
    return got


def report_ref(report_id: int) -> str:
    """The number a rider and a worker see for a report: 123 → "SP-000123"."""
    return f"SP-{report_id:06d}"


def grid_at(runtime: Runtime, lat: float, lon: float) -> str:
    route = runtime.services.grids.route(lat, lon)
    assert route.how == "inside" and route.grid is not None
    return route.grid.id


async def grid_team(
    runtime: Runtime,
    lat: float,
    lon: float,
    *,
    second_worker: str | None = None,
    department: str | None = None,
    standin: StandIn | None = None,
) -> dict[str, ChatUser]:
    """The people around the grid at (lat, lon), bound by invite: "rider" (not bound), "worker" of the grid,
    "community" and "street" supervisors of its parents; with `second_worker` (a grid id) "other", the worker of
    another grid, and with `department` (a department id) "fire", who works for it. `standin`: Telegram when it is
    not the runtime's own (one that outlives a restart)."""
    standin = standin or runtime.standin
    assert standin is not None
    grid = grid_at(runtime, lat, lon)
    community, street = (g.id for g in runtime.services.grids.ancestors(grid))
    people = {"rider": ChatUser(standin, 1001, "骑手小王"), "worker": ChatUser(standin, 2001, "网格员老李")}
    await bind(runtime, people["worker"], "worker", grid)
    if second_worker is not None:
        people["other"] = ChatUser(standin, 2002, "网格员小周")
        await bind(runtime, people["other"], "worker", second_worker)
    people["community"] = ChatUser(standin, 3001, "社区书记")
    people["street"] = ChatUser(standin, 3002, "街道主任")
    await bind(runtime, people["community"], "supervisor", community)
    await bind(runtime, people["street"], "supervisor", street)
    if department is not None:
        people["fire"] = ChatUser(standin, 4001, "消防站")
        await bind(runtime, people["fire"], "department", department)
    return people
