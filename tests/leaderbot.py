"""One of several bot processes on one PostgreSQL database, for tests/test_leadership.py:
`python -m tests.leaderbot CONFIG.json`.

The real `Runtime` in webhook mode (many processes need webhooks: one getUpdates consumer per token) against the
Bot API stand-in in the parent test process, with its HTTP doors (/metrics, /readyz) on a port of its own. Prints
"READY" once started and runs until killed (the test uses SIGKILL) or asked to stop (SIGTERM).
"""

from __future__ import annotations

import logging

from bot.app import Runtime
from tests import childbot


async def main(config: dict, parent: int) -> None:
    settings = childbot.settings(
        config,  # its db_path: unused on PostgreSQL but for the photo directory's default
        database_url=config["database_url"],
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=config["webhook_port"],
        webhook_url=f"http://127.0.0.1:{config['webhook_port']}/telegram",
        webhook_secret="leader-test-secret",
        http_host="127.0.0.1",
        http_port=config["http_port"],
        outbox_per_chat_interval=config.get("per_chat_interval", 1.0),
    )
    runtime = Runtime(settings)
    await runtime.start()
    await childbot.serve(runtime, parent)


if __name__ == "__main__":
    childbot.run(main, level=logging.WARNING, log_format="%(asctime)s %(levelname)s %(message)s")
