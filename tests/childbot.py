"""What every bot child process of the tests does around its `Runtime` (tests/crashbot.py, tests/leaderbot.py,
tests/webhookworker.py): one place, so that the READY handshake, the clean stop and the orphan watch the parent
tests rely on cannot drift apart between the children.

`run` is the child's `__main__`: it reads the JSON config named on the command line and runs the child's `main`.
`settings` is what every child's Settings share: the parent's stand-in and the database path from that config.
`serve` follows the child's own start: it prints "READY" (the parent, tests/childproc.py's `BotChild`, waits for
that line), runs until SIGTERM (a clean stop; the tests' SIGKILL needs nothing here), and exits by itself if the test
process goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from bot.app import Runtime
from bot.config import Settings
from tests.childproc import READY


def settings(config: dict[str, Any], **changes: Any) -> Settings:
    """A child's settings: the Bot API stand-in in the parent (config's token, base_url, base_file_url), the database
    at config's db_path (on the PostgreSQL pass tests/pgsite maps it to the test's database, as for every child), no
    demo people and no category questions (the tests' riders file reports without them); `changes` are the child's
    own (mode, ports, limits)."""
    base: dict[str, Any] = {
        "telegram_token": config["token"],
        "telegram_base_url": config["base_url"],
        "telegram_base_file_url": config["base_file_url"],
        "db_path": Path(config["db_path"]),
        "demo_people": False,
        "categories_toml": None,
    }
    return Settings(**{**base, **changes})


async def serve(runtime: Runtime, parent: int) -> None:
    """Announce a started `runtime` to the parent and keep it running until SIGTERM; then stop it cleanly."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    orphan_watch = asyncio.create_task(exit_when_orphaned(parent))
    print(READY, flush=True)
    try:
        await stop.wait()
    finally:
        orphan_watch.cancel()
        await runtime.stop()


async def exit_when_orphaned(parent: int) -> None:
    """If the test process dies (killed, timed out), do not linger on a stand-in or database that is gone."""
    while os.getppid() == parent:  # noqa: ASYNC110 - nothing to wait on: the kernel re-parents us silently
        await asyncio.sleep(0.5)
    os._exit(1)


def run(
    main: Callable[[dict[str, Any], int], Awaitable[None]],
    *,
    level: int,
    log_format: str,
    info_loggers: Iterable[str] = (),
) -> None:
    """`main(config, parent)` with the config file of `sys.argv[1]`, logging to stderr (the parent's log file)."""
    test_process = os.getppid()  # first thing: the parent may die while the bot is still starting
    logging.basicConfig(level=level, stream=sys.stderr, format=log_format)
    for name in info_loggers:
        logging.getLogger(name).setLevel(logging.INFO)
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), test_process))
