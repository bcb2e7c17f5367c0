"""Everything we do not handle yet still gets a polite answer, and errors never leak internals."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import metrics, observe
from bot.store.errors import is_storage_error
from bot.texts import t
from handlers.telegram.common import main_keyboard, who

log = logging.getLogger(__name__)
BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses larger files


async def on_unsupported(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    message = update.effective_message
    document = message.document or message.video or message.audio
    size = getattr(document, "file_size", None) or 0
    if size > BOT_API_DOWNLOAD_LIMIT:
        text = t(
            w.lang,
            "file.too_big",
            size=round(size / 1024 / 1024, 1),
            max=BOT_API_DOWNLOAD_LIMIT // 1024 // 1024,
        )
    else:
        text = t(w.lang, "unsupported")
    await message.reply_text(text, reply_markup=main_keyboard(w.lang))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    storage = is_storage_error(context.error)
    observe.note_outcome("storage_error" if storage else "error")
    if storage:
        metrics.storage_error("telegram")
    log.error("error while handling an update: %s", type(context.error).__name__, exc_info=context.error)
    # The user has had (or cannot get) the one answer to this update: no later handler group may act on it —
    # e.g. when the guard could not record the update, the report flow must not run and answer "received".
    await _tell(update, context, "error.storage" if storage else "error.generic")
    raise ApplicationHandlerStop


async def _tell(update: object, context: ContextTypes.DEFAULT_TYPE, key: str) -> None:
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_chat.type != "private":
        return
    try:
        w = await who(update, context)
        lang = w.lang
    except Exception:
        lang = "zh-CN"
    try:
        if update.callback_query:
            await update.callback_query.answer(t(lang, key), show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, t(lang, key))
    except Exception:
        log.warning("could not tell the user about the error")
