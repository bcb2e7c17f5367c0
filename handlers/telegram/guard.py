"""Runs before every other handler: drop redelivered updates and floods before they reach the core."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import observe
from bot.services.guard import first_sight
from bot.texts import t
from handlers.telegram.common import CHANNEL, services_of

log = logging.getLogger(__name__)


async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    services = services_of(context)
    if not await first_sight(services.db, CHANNEL, str(update.update_id)):
        log.info("dropped redelivered update %s", update.update_id)
        observe.note_outcome("duplicate")
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is None:
        return
    verdict = services.flood.check(f"{CHANNEL}:{user.id}")
    if verdict == "ok":
        return
    observe.note_outcome("flood")
    if verdict == "warn" and update.effective_chat is not None and update.effective_chat.type == "private":
        lang = (await services.users.identify(CHANNEL, str(user.id), user.full_name)).lang
        await context.bot.send_message(update.effective_chat.id, t(lang, "flood.slow_down"))
    raise ApplicationHandlerStop
