"""`rider-bot run`: the bot until SIGINT/SIGTERM; offline (stand-in + chat page) when there is no token."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import Runtime
from bot.config import Settings
from bot.logs import setup_logging
from bot.store.errors import DatabaseUnavailable
from bot.store.polling import AnotherPoller
from bot.texts import t

log = logging.getLogger("bot")


async def serve(settings: Settings) -> None:
    setup_logging(settings)
    runtime = Runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runtime.start()
    except DatabaseUnavailable as exc:
        # Not a bug: say which database (never its password) and stop, without a traceback.
        log.error("could not start: %s", exc)
        print(t("zh-CN", "db.unavailable", database=exc.database, reason=exc.reason), file=sys.stderr)
        raise SystemExit(1) from None
    except AnotherPoller as exc:  # an operator's mistake, not a bug: say what to do instead, no traceback
        log.error("could not start: %s", exc)
        print(f"rider-bot: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:
        # Through logging, so the token in e.g. InvalidToken's message is redacted.
        log.error("could not start: %s", exc, exc_info=True)
        raise SystemExit(1) from None
    try:
        places = len(runtime.services.finder.catalog) if runtime.services else 0
        if runtime.standin is not None:
            print(
                f"rider-bot is running offline with {places} places.\n"
                f"  Chat page:        {runtime.standin.url}\n"
                f"  Bot API stand-in: {runtime.standin.base_url}<token>/<method>\n"
                f"  Database:         {settings.database_name}\n"
                + (f"  HTTP doors:       {runtime.web.url}\n" if runtime.web else "")
                + "Press Ctrl+C to stop.",
                flush=True,
            )
        else:
            print(f"rider-bot is running on Telegram ({settings.mode}) with {places} places.", flush=True)
        await stop.wait()
    finally:
        await runtime.stop()
