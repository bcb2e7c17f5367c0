"""A webhook worker in a child process, for tests/test_webhook_workers.py: `python -m tests.webhookworker CONFIG`.

The real `Runtime` in webhook mode on the database the test names (on the PostgreSQL pass, tests/pgsite maps the
path to the test's PostgreSQL database, as for every child), answering through the Bot API stand-in in the parent
test process. Prints "READY" once its webhook listens, runs until killed (the test uses SIGKILL) or SIGTERM, and
exits by itself if the test process goes away.
"""

from __future__ import annotations

import logging

from bot.app import Runtime
from tests import childbot


async def main(config: dict, parent: int) -> None:
    settings = childbot.settings(
        config,
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=config["port"],
        webhook_url=config["webhook_url"],
        webhook_secret=config.get("secret"),
        http_port=None,
    )
    runtime = Runtime(settings)
    await runtime.start()
    await childbot.serve(runtime, parent)


if __name__ == "__main__":
    childbot.run(main, level=logging.INFO, log_format="%(levelname)s %(name)s: %(message)s")
