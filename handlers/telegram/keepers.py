"""Station keepers, corrections, suggestions and points on Telegram: each handler is one core call and its reply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import ContextTypes

from bot.reports.common import Reply
from bot.services.container import Services
from bot.store.users import User
from handlers.telegram.common import who
from handlers.telegram.reports import send_reply


def _with_args(call: Callable[[Services, User, list[str]], Awaitable[Reply]]) -> Callable[..., Awaitable[None]]:
    """A command that passes its words to the core, e.g. "/hours 08:00-22:00"."""

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        w = await who(update, context)
        await send_reply(update, context, w, await call(w.services, w.user, list(context.args or [])))

    return handler


station = _with_args(lambda s, user, args: s.keepers.station(user, args))
status = _with_args(lambda s, user, args: s.keepers.status_command(user, args))
hours = _with_args(lambda s, user, args: s.keepers.set_hours(user, args))
amenities = _with_args(lambda s, user, args: s.keepers.set_amenities(user, args))
phone = _with_args(lambda s, user, args: s.keepers.set_phone(user, args))
redeem = _with_args(lambda s, user, args: s.points.confirm(user, args))
suggest = _with_args(lambda s, user, _args: s.stations.suggestions.begin(user))
points = _with_args(lambda s, user, _args: s.points.show(user))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.stations.press(w.user, update.callback_query.data))
