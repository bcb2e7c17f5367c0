"""The real stack for tests: Runtime (core + PTB Application) polling the Bot API stand-in over HTTP on
127.0.0.1, a real SQLite file in tmp_path, and a clock the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser

pytest_plugins = ["tests.pg_plugin"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Thursday morning in Xuzhou; tests that care about opening hours move the clock themselves.
DEFAULT_NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        db_path=tmp_path / "rider.sqlite3",
        demo_port=0,
        outbox_per_chat_interval=0.02,
        demo_people=False,
        http_port=0,
        flood_burst=500,
        categories_toml=None,  # no category questions unless a test asks for them (tests/test_questions_*.py)
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(DEFAULT_NOW)


@pytest.fixture
async def runtime(settings: Settings, clock: ManualClock) -> AsyncIterator[Runtime]:
    rt = Runtime(settings, clock)
    await rt.start(poll_timeout=1)
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
def rider(runtime: Runtime) -> ChatUser:
    assert runtime.standin is not None
    return ChatUser(runtime.standin, 1001, "骑手小王")
