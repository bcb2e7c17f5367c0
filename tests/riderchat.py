"""What a scripted rider reads in its chat and how it answers a report prompt: shared by tests/test_crash.py's
riders and tests/scaleriders.py's (the scale-out test, the benchmarks). Each rider keeps its own waiting loop (the
crash rider's gives up only once the bot was killed, the scale-out rider's fails the test), but what counts as a
new message, which prompt asks for what, and which answer it gets are the same for both; so are the grid workers
their reports are forwarded to.
"""

from __future__ import annotations

import random
import re

from bot.services.container import Services
from bot.standin.server import StandIn

ACK = re.compile(r"已收到，编号 (SP-\d+)")
COMMUNITY_BOX = ((34.2465, 34.2615), (117.2005, 117.2155))  # inside 蝶梦社区: every point is in one of its grids
# One grid worker per grid of 蝶梦社区 (grid → the worker's Telegram chat): every report a rider files at a
# `community_point` is forwarded to one of these chats.
GRID_WORKERS = {"xz-hanfeng-diemeng-g1": 2001, "xz-hanfeng-diemeng-g2": 2002, "xz-hanfeng-diemeng-g3": 2003}


async def bind_grid_workers(services: Services, by: str = "test") -> None:
    """Make each of `GRID_WORKERS` a Telegram user with the worker role on its grid (`by`: who granted it)."""
    for grid, worker in GRID_WORKERS.items():
        person = await services.users.identify("telegram", str(worker), f"网格员{worker}")
        await services.roles.grant(person.id, "worker", grid, by)


def bot_messages_after(standin: StandIn, chat_id: int, after_id: int) -> list[dict]:
    """The bot's messages in a chat with an id above `after_id`, newest last. Reads the stand-in's chat state
    from the tail (ids only grow) without copying: with 100 riders waiting at once, `StandIn.bot_messages` (a
    deep copy of the whole chat per call, per waiter, per event) would make the test itself the bottleneck."""
    state = standin._chats.get(chat_id)
    if state is None:
        return []
    found = []
    for message_id in reversed(state.entries):
        if message_id <= after_id:
            break
        entry = state.entries[message_id]
        if entry.from_bot and not entry.deleted:
            found.append(entry.message)
    return found[::-1]


def newest_seen(standin: StandIn, chat_id: int, seen_id: int) -> int:
    """`seen_id` moved past every bot message the chat shows now: what the rider has acted upon."""
    return max([seen_id, *(m["message_id"] for m in bot_messages_after(standin, chat_id, 0))])


def inline(message: dict) -> list[dict]:
    return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def action_of(message: dict) -> str | None:
    """What a bot message asks the rider to do next in a report (None: not a report prompt)."""
    text = message.get("text") or ""
    datas = {b.get("callback_data") for b in inline(message)}
    if ACK.search(text):
        return "done"
    if "❓ 问题" in text:  # a category's own question (data/categories.toml)
        return "answer"
    for action in ("ok", "new", "skip", "submit"):
        if f"rd:{action}" in datas:
            return action
    if any(d and ":cat:" in d for d in datas):
        return "category"
    if "隐患在哪里" in text:
        return "location"
    if "请拍照或发送" in text:
        return "photo"
    return None


def answer_data(prompt: dict) -> str | None:
    """The button to tap for a category's question: skip if allowed, else finish a multiple choice, else pick the
    last option ("no" for yes/no, which keeps every report with the grid's worker). None: type a number."""
    options = [b for b in inline(prompt) if b["callback_data"].startswith("rd:a:")]
    datas = [b["callback_data"] for b in options]
    special = [d for d in datas if d.endswith((":_skip", ":_done"))]
    values = [d for d in datas if d not in special]
    ticked = any(b["text"].startswith("☑") for b in options)  # a multiple choice with one picked
    if special and (special[0].endswith(":_skip") or not values or ticked):
        return special[0]
    if values:
        return values[-1]
    return None


def category_data(prompt: dict, rng: random.Random) -> str:
    """A category button of the prompt, picked at random."""
    return rng.choice([b for b in inline(prompt) if ":cat:" in b["callback_data"]])["callback_data"]


def community_point(rng: random.Random) -> tuple[float, float]:
    """A random location inside the seeded community, so every report lands in one of its grids."""
    (la0, la1), (lo0, lo1) = COMMUNITY_BOX
    return (rng.uniform(la0, la1), rng.uniform(lo0, lo1))
