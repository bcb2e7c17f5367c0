"""What every Telegram handler needs: the core services, the user behind the update, the main keyboard."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import CallbackQuery, KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.services.container import Services
from bot.store.users import User
from bot.texts import t

CHANNEL = "telegram"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Who:
    user: User
    lang: str
    services: Services


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


async def who(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Who:
    services = services_of(context)
    tg_user = update.effective_user
    assert tg_user is not None
    user = await services.users.identify(CHANNEL, str(tg_user.id), tg_user.full_name)
    return Who(user, user.lang, services)


async def answer_query(query: CallbackQuery, text: str | None = None, *, show_alert: bool = False) -> None:
    """Answer a button press, best effort. Telegram refuses an answer to a query already answered or older than
    its answer window ("query is too old") — an update re-run after its process was killed mid-way, or handled
    late under load — and the step's real reply (the next question, the receipt) must go out all the same."""
    try:
        await query.answer(text, show_alert=show_alert)
    except BadRequest as exc:
        log.info("callback query not answered (%s); replying anyway", exc.message)


def main_keyboard(lang: str) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t(lang, "kb.send_location"), request_location=True)],
            [KeyboardButton(t(lang, "kb.stations")), KeyboardButton(t(lang, "kb.friendly"))],
            [KeyboardButton(t(lang, "kb.report")), KeyboardButton(t(lang, "kb.help"))],
        ],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=t(lang, "kb.placeholder"),
    )


def location_keyboard(lang: str) -> ReplyKeyboardMarkup:
    """While a report waits for its place: the one button that matters, big."""
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(t(lang, "kb.send_location"), request_location=True)],
            [KeyboardButton(t(lang, "draft.use_last")), KeyboardButton(t(lang, "draft.cancel"))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
