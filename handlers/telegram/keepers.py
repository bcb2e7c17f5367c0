"""Station keepers, corrections, suggestions and points on Telegram: each handler is one core call and its reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ContextTypes

from handlers.telegram.common import who
from handlers.telegram.reports import send_reply


def command(name: str) -> Callable[..., Awaitable[None]]:
    """/NAME with its words (e.g. "/hours 08:00-22:00") handed to the core as they came."""

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        w = await who(update, context)
        reply = await w.services.stations.command(w.user, name, list(context.args or []))
        if reply is not None:
            await send_reply(update, context, w, reply)

    return handler


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.stations.press(w.user, update.callback_query.data))
