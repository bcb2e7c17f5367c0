"""随手拍 and grid work on Telegram: photos, report buttons and the report commands, rendered from core replies."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.reports import actions
from bot.reports.service import Reply
from bot.texts import t
from handlers import render
from handlers.common import Who, who

log = logging.getLogger(__name__)
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit


async def send_reply(update: Update, context: ContextTypes.DEFAULT_TYPE, w: Who, reply: Reply) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer(reply.alert or None, show_alert=reply.popup)
        if reply.retire and isinstance(query.message, Message):
            try:  # spent buttons go away, so nobody taps a dead one later
                await query.message.edit_reply_markup(reply_markup=None)
            except BadRequest:
                log.debug("could not retire buttons on message %s", query.message.message_id)
    chat = update.effective_chat
    # A button pressed in a grid's group chat is answered privately: the follow-up questions (a reason, an
    # after-photo) are the presser's alone, and private chats are where they can answer them.
    chat_id = chat.id if chat.type == "private" else w.user.external_id
    for message in reply.messages:
        await render.send(context.bot, chat_id, message, w.services.photos, w.user.lang)


async def start_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.reports.begin(w.user))


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.reports.cancel(w.user))


async def my_reports(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.reports.my_reports(w.user))


async def points(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.reports.points(w.user))


async def queue(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.reports.queue(w.user))


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.views.stats(w.user))


async def overdue(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    w = await who(update, context)
    await send_reply(update, context, w, await w.services.views.overdue(w.user))


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, or an image sent as a file (which keeps its EXIF location): downloaded, then handed to the core."""
    message = update.effective_message
    w = await who(update, context)
    item = message.photo[-1] if message.photo else message.document
    size = item.file_size or 0
    limit = w.services.photos.max_bytes
    if size > limit:
        text = t(w.lang, "photo.too_big", size=round(size / 1024 / 1024, 1), max=limit // 1024 // 1024)
        await message.reply_text(text)
        return
    try:
        file = await context.bot.get_file(item.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("photo download failed: %s", type(exc).__name__)
        await message.reply_text(t(w.lang, "photo.download_failed"))
        return
    reply = await w.services.reports.on_photo(w.user, data, file_ref=item.file_id, caption=message.caption or "")
    await send_reply(update, context, w, reply)


async def on_report_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    w = await who(update, context)
    payload = actions.parse(query.data)
    reports = w.services.reports
    if payload is None:
        await reports.refuse(w.user, None, (query.data or "")[:64], "malformed")
        await query.answer(t(w.lang, "callback.expired"), show_alert=True)
        return
    if isinstance(payload, actions.DraftAction):
        reply = await reports.on_draft_button(w.user, payload)
    elif isinstance(payload, actions.WorkAction | actions.TargetChoice):
        reply = await reports.on_work_button(w.user, payload)
    elif isinstance(payload, actions.Rate):
        reply = await reports.rate(w.user, payload)
    elif isinstance(payload, actions.Reopen):
        reply = await reports.reopen(w.user, payload)
    else:
        reply = await reports.show(w.user, payload)
    await send_reply(update, context, w, reply)
