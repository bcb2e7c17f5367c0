"""One of several bot processes on one PostgreSQL database, for tests/test_leadership.py:
`python -m tests.leaderbot CONFIG.json`.

The real `Runtime` in webhook mode (many processes need webhooks: one getUpdates consumer per token) against the
Bot API stand-in in the parent test process, with its HTTP doors (/metrics, /readyz) on a port of its own. Prints
"READY" once started and runs until killed (the test uses SIGKILL) or asked to stop (SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from bot.app import Runtime
from bot.config import Settings
from tests.crashbot import exit_when_orphaned


async def main(config: dict, parent: int) -> None:
    settings = Settings(
        telegram_token=config["token"],
        telegram_base_url=config["base_url"],
        telegram_base_file_url=config["base_file_url"],
        database_url=config["database_url"],
        db_path=Path(config["db_path"]),  # unused on PostgreSQL but for the photo directory's default
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=config["webhook_port"],
        webhook_url=f"http://127.0.0.1:{config['webhook_port']}/telegram",
        webhook_secret="leader-test-secret",
        http_host="127.0.0.1",
        http_port=config["http_port"],
        demo_people=False,
        outbox_per_chat_interval=config.get("per_chat_interval", 1.0),
        categories_toml=None,
    )
    runtime = Runtime(settings)
    await runtime.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    orphan_watch = asyncio.create_task(exit_when_orphaned(parent))
    print("READY", flush=True)
    try:
        await stop.wait()
    finally:
        orphan_watch.cancel()
        await runtime.stop()


if __name__ == "__main__":
    import os

    test_process = os.getppid()  # first thing: the parent may die while the bot is still starting
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")), test_process))
