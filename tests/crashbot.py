"""The bot in a child process, for tests/test_crash.py: `python -m tests.crashbot CONFIG.json`.

It runs the real `Runtime` (PTB polling, the outbox dispatcher, SQLite) against a Bot API stand-in that lives in
the parent test process, prints "READY" once updates are being received, and runs until it is killed (the test
uses SIGKILL) or asked to stop (SIGTERM: a clean stop).

Two test-only speed-ups, both about pacing for Telegram's flood limits (which the stand-in does not have), none
about what is stored or sent: PTB's AIORateLimiter gets no overall/group cap (it still retries 429s), and the
outbox's global 25/s spacing is set to 0. Everything else is production wiring and defaults.
"""

from __future__ import annotations

import functools
import logging

from telegram.ext import AIORateLimiter

import bot.app
from bot.app import Runtime
from tests import childbot


async def main(config: dict, parent: int) -> None:
    settings = childbot.settings(
        config,
        http_port=None,
        outbox_per_chat_interval=config.get("per_chat_interval", 0.0),
        reports_per_hour=1_000_000,
        flood_burst=1_000_000,
        flood_per_second=1_000_000.0,
    )
    bot.app.AIORateLimiter = functools.partial(AIORateLimiter, overall_max_rate=0, group_max_rate=0)  # type: ignore[misc]
    runtime = Runtime(settings)
    await runtime.start(poll_timeout=1)
    assert runtime.services is not None and runtime.services.outbox is not None
    runtime.services.outbox.global_interval = 0.0
    await childbot.serve(runtime, parent)


if __name__ == "__main__":
    childbot.run(
        main,
        level=logging.WARNING,
        log_format="%(levelname)s %(name)s: %(message)s",
        info_loggers=(
            "handlers.telegram.guard",  # "dropped redelivered update N"
            "bot.services.chat_order",  # "re-running interrupted update N" (PG)
        ),
    )
