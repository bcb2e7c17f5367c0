"""The harness every end-to-end figure shares: the Bot API stand-in on 127.0.0.1, timed at the moment a bot
message lands, and a real `Runtime` (PTB Application polling over HTTP) pointed at it.

The tests' `wait_for_bot_messages` re-reads (and deep-copies) a whole chat each time anything changes, which
is fine for a conversation and quadratic for hundreds of simulated riders; here the stand-in resolves one
future per waiting chat instead, so the harness costs the same small amount for the bot and its baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any
from unittest import mock

from telegram.ext import AIORateLimiter

import bot.app
from bench import synth
from bot.app import Runtime
from bot.config import Settings
from bot.standin.server import DEMO_TOKEN, StandIn
from bot.store.db import Database


class TimedStandIn(StandIn):
    """The stand-in, plus: when a bot message lands in a chat, the time and a wake-up for whoever waits."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.waiters: dict[int, asyncio.Future[float]] = {}
        self.arrivals: list[tuple[int, float, dict]] = []  # (chat id, perf_counter, message) of bot messages
        self.record_arrivals = False

    def _add_message(self, state, sender, from_bot, content, extra=None):  # type: ignore[no-untyped-def,override]
        entry = super()._add_message(state, sender, from_bot, content, extra)
        if from_bot:
            now = time.perf_counter()
            chat_id = state.chat["id"]
            if self.record_arrivals:
                self.arrivals.append((chat_id, now, entry.message))
            waiter = self.waiters.pop(chat_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)
        return entry

    def expect(self, chat_id: int) -> asyncio.Future[float]:
        """A future resolved with the arrival time of the next bot message in `chat_id`."""
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[chat_id] = fut
        return fut


def unthrottled_limiter(max_retries: int = 3) -> AIORateLimiter:
    """PTB's rate limiter with its Telegram flood limits switched off (same code path, no waiting)."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)


@contextlib.contextmanager
def throttle(deployed: bool) -> Iterator[None]:
    """`deployed`: the production AIORateLimiter (≤30 sends/s); otherwise the same limiter without limits, to
    measure what the code can do rather than what Telegram allows. Applies to `build_application`."""
    if deployed:
        yield
        return
    with mock.patch.object(bot.app, "AIORateLimiter", unthrottled_limiter):
        yield


async def make_db(path: Path, stations: int) -> None:
    """A migrated database with `stations` synthetic places (bulk SQL: the CSV importer validates each row)."""
    async with Database(path):
        pass
    synth.fill_places(path, synth.stations(stations))


def bench_settings(db_path: Path, standin: StandIn, **overrides: Any) -> Settings:
    """Production settings (per-chat pacing 1 s, 5 reports/h …) pointed at the harness's stand-in."""
    settings = Settings(
        telegram_token=DEMO_TOKEN,
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        db_path=db_path,
        http_port=None,
        demo_people=False,
        categories_toml=None,  # scripted riders file without the category questions (as bench/intake.py does)
    )
    known = {f.name for f in fields(Settings)}
    if "flood_burst" in known and "flood_burst" not in overrides:
        # The flood guard (a token bucket per user) would rightly tell a simulated rider who shares a location
        # twice a second to slow down; the benchmark measures capacity, so its riders may (the check still runs).
        overrides["flood_burst"] = 1_000_000
        overrides["flood_global_burst"] = 1_000_000
    return replace(settings, **overrides)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, deployed_limits: bool = True) -> AsyncIterator[Runtime]:
    with throttle(deployed_limits):
        runtime = Runtime(settings)
        await runtime.start(poll_timeout=10)
    try:
        yield runtime
    finally:
        await runtime.stop()


@contextlib.asynccontextmanager
async def standin() -> AsyncIterator[TimedStandIn]:
    server = TimedStandIn()
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.stop()
