"""/start, /help and /lang: the first things a rider sees, with the keyboard they will use all day."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update
from telegram.ext import ContextTypes

from bot import observe
from bot.people.invites import normalise_code
from bot.texts import t
from handlers.telegram import menus, people
from handlers.telegram.common import main_keyboard, who


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    # An invite link (t.me/<bot>?start=CODE) arrives as "/start CODE": the same as /join CODE.
    if context.args and normalise_code("".join(context.args)) is not None:
        await people.join(update, context)
        return
    w = await who(update, context)
    first = update.effective_user.first_name if update.effective_user else ""
    name = f"，{first}" if w.lang.startswith("zh") and first else (f", {first}" if first else "")
    await update.effective_message.reply_text(
        t(w.lang, "start.greeting", name=name), reply_markup=main_keyboard(w.lang)
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await update.effective_message.reply_text(t(w.lang, "help.text"), reply_markup=main_keyboard(w.lang))


async def switch_lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    lang = await w.services.users.toggle_lang(w.user, observe.step())
    await menus.publish_for(context.bot, w.services, replace(w.user, lang=lang))
    await update.effective_message.reply_text(t(lang, "lang.switched"), reply_markup=main_keyboard(lang))


async def group_hint(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await update.effective_message.reply_text(t(w.lang, "group.private_only"))
