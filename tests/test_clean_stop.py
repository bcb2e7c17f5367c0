"""SIGTERM is a clean stop: no ERROR and no traceback in the log, however the stop falls against a long poll.

On the way out PTB calls getUpdates once more (without long polling) to confirm what it fetched. With a pool of
one connection for getUpdates, that call could find the connection still held by the long poll it had just
cancelled and fail with PoolTimeout, logged as an ERROR with a traceback (about 2 stops in 10). The bot runs in
a child process (tests/crashbot.py, the real Runtime polling the stand-in) and is stopped ten times.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from bot.standin.server import StandIn
from tests.childproc import BotChild

TOKEN = "555000222:CLEAN-stop-token-0123456789abcdef"


async def test_sigterm_stops_cleanly_every_time(tmp_path: Path) -> None:
    standin = StandIn(token=TOKEN)
    await standin.start()
    config = {"token": TOKEN, "base_url": standin.base_url, "base_file_url": standin.base_file_url,
              "db_path": str(tmp_path / "rider.sqlite3")}  # fmt: skip
    rng = random.Random(11)
    try:
        for cycle in range(10):
            bot = BotChild("tests.crashbot", config, tmp_path, f"stop-{cycle}")
            await bot.start()
            standin.inject_message(9000 + cycle, text="/help")  # some traffic, as in real life
            await asyncio.sleep(rng.uniform(0.2, 2.5))  # anywhere within a long poll (1 s here)
            code = await bot.stop(timeout=30)  # SIGTERM; a SIGKILL after 30 s would show as -9
            text = bot.log_text()
            assert code == 0, f"stop {cycle}: exit code {code}\n{text[-2000:]}"
            assert "Traceback" not in text and "ERROR" not in text, f"stop {cycle} was not clean:\n{text[-3000:]}"
    finally:
        await standin.stop()
