"""The command menu per person: riders, workers and supervisors each see what works for them, in their language.

Telegram picks the most specific scope: a chat's own menu (set here for people with duties, or who switched
language) wins over the language default, which wins over the default.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application

from bot.people.menus import RIDER_COMMANDS, menu_of, people_with_duties
from bot.services.container import Services
from bot.store.users import User
from bot.texts import LANGS, t
from handlers.telegram.common import CHANNEL

log = logging.getLogger(__name__)


def _commands(lang: str, names: tuple[str, ...]) -> list[BotCommand]:
    return [BotCommand(c, t(lang, f"cmd.{c}")) for c in names]


async def publish_defaults(application: Application) -> None:
    """Riders' menu for everyone: Chinese by default, English for English-language clients."""
    for lang in LANGS:
        await application.bot.set_my_commands(
            _commands(lang, RIDER_COMMANDS), language_code=None if lang == "zh-CN" else "en"
        )
    services: Services = application.bot_data["services"]
    for user in await people_with_duties(services.db, services.roles, CHANNEL):
        await publish_for(application.bot, services, user)


async def publish_for(bot: Bot, services: Services, user: User) -> None:
    """This person's own menu (after /join, /lang, or at start for everyone with a duty)."""
    if user.channel != CHANNEL or not user.external_id.lstrip("-").isdigit():
        return
    names = await menu_of(services.roles, user)
    try:
        await bot.set_my_commands(_commands(user.lang, names), scope=BotCommandScopeChat(int(user.external_id)))
    except TelegramError as exc:  # a menu is a convenience: never fail the answer the person is waiting for
        log.warning("could not set the command menu for user %s: %s", user.id, type(exc).__name__)
