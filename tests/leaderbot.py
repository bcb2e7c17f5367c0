"""One of several bot processes on one PostgreSQL database, for tests/test_leadership.py:
`python -m tests.leaderbot CONFIG.json`.

The real `Runtime` in webhook mode (many processes need webhooks: one getUpdates consumer per token) against the
Bot API stand-in in the parent test process, with its HTTP doors (/metrics, /readyz) on a port of its own. Prints
"READY" once started and runs until killed (the test uses SIGKILL) or asked to stop (SIGTERM).
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.app import Runtime
from bot.config import Settings
from tests import childbot


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
    await childbot.serve(runtime, parent)


if __name__ == "__main__":
    childbot.run(main, level=logging.WARNING, log_format="%(asctime)s %(levelname)s %(message)s")
