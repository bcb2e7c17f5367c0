"""The real stack for tests: Runtime (core + PTB Application) polling the Bot API stand-in over HTTP on
127.0.0.1, a real SQLite file in tmp_path, and a clock the test controls."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import AsyncIterator, Iterator
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


# Tests that load the machine or measure how the bot copes under load (kills during a burst, ten clean stops, memory
# and flood bounds, several bot processes): scripts/test runs the SQLite and PostgreSQL passes side by side, and two
# of these at once on a two-core machine would each see half of it. A lock file per checkout lets one run at a time.
ALONE = frozenset(
    {
        "test_clean_stop",
        "test_crash",
        "test_flood_isolation",
        "test_leadership",
        "test_photo_memory",
        "test_receipts",
        "test_scaleout",
    }
)
_ALONE_LOCK = Path(tempfile.gettempdir()) / (
    "rider-tests-alone-" + hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:12] + ".lock"
)


@pytest.fixture(autouse=True)
def _alone(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.path.stem not in ALONE:
        yield
        return
    with _ALONE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        yield


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
