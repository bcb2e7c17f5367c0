"""随手拍 and grid work on Telegram: photos, report buttons and the report commands, rendered from core replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import observe
from bot.reports import actions
from bot.reports.service import Reply
from bot.services.container import Services
from bot.store.users import User
from bot.texts import t
from handlers.telegram import render
from handlers.telegram.common import Who, answer_query, who

log = logging.getLogger(__name__)
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit


async def send_reply(update: Update, context: ContextTypes.DEFAULT_TYPE, w: Who, reply: Reply) -> None:
    query = update.callback_query
    if query is not None:
        await answer_query(query, reply.alert or None, show_alert=reply.popup)
        if (reply.retire or reply.rebutton) and isinstance(query.message, Message):
            try:  # spent buttons go away (or become the next step's), so nobody taps a dead one later
                await query.message.edit_reply_markup(reply_markup=render.inline_markup(reply.rebutton))
            except BadRequest:
                log.debug("could not retire buttons on message %s", query.message.message_id)
    chat = update.effective_chat
    # A button pressed in a grid's group chat is answered privately: the follow-up questions (a reason, an
    # after-photo) are the presser's alone, and private chats are where they can answer them.
    chat_id = chat.id if chat.type == "private" else w.user.external_id
    for message in reply.messages:
        await render.send(context.bot, chat_id, message, w.services.photos, w.user.lang)
    for key in reply.queued:  # e.g. "已收到": an outbox row of the commit, sent now like a direct reply
        await w.services.send_now(key)


def _command(call: Callable[[Services, User], Awaitable[Reply]]) -> Callable[..., Awaitable[None]]:
    """A command whose whole job is one core call and its reply."""

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        w = await who(update, context)
        await send_reply(update, context, w, await call(w.services, w.user))

    return handler


start_report = _command(lambda services, user: services.reports.begin(user))
cancel = _command(lambda services, user: services.reports.cancel(user, observe.step()))
my_reports = _command(lambda services, user: services.reports.my_reports(user))
queue = _command(lambda services, user: services.reports.queue(user))
stats = _command(lambda services, user: services.views.stats(user))
overdue = _command(lambda services, user: services.views.overdue(user))


def _moderation(name: str) -> Callable[..., Awaitable[None]]:
    """/hide, /hidephoto, /ban, /unban: the arguments go to the core as typed; it checks who may."""

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        w = await who(update, context)
        text = await w.services.reports.moderation.command(w.user, name, " ".join(context.args or []))
        await update.effective_message.reply_text(text)

    return handler


MODERATION_COMMANDS = ("hide", "hidephoto", "ban", "unban")
moderation = {name: _moderation(name) for name in MODERATION_COMMANDS}


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
    reply = await w.services.photo_answer(w.user, data, file_ref=item.file_id, caption=message.caption or "")
    await send_reply(update, context, w, reply)


async def on_report_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    w = await who(update, context)
    payload = actions.parse(query.data)
    reports = w.services.reports
    if payload is None:
        await reports.refuse(w.user, None, (query.data or "")[:64], "malformed")
        await answer_query(query, t(w.lang, "callback.expired"), show_alert=True)
        return
    if isinstance(payload, actions.DraftAction):
        reply = await reports.on_draft_button(w.user, payload)
    elif isinstance(payload, actions.WorkAction | actions.TargetChoice):
        reply = await reports.on_work_button(w.user, payload)
    elif isinstance(payload, actions.Rate):
        reply = await reports.rate(w.user, payload)
    elif isinstance(payload, actions.Reopen):
        reply = await reports.reopen(w.user, payload)
    elif isinstance(payload, actions.ModerationAction):
        reply = await reports.on_moderation_button(w.user, payload)
    elif isinstance(payload, actions.MeToo | actions.Resubmit | actions.Timeline):
        reply = await reports.rider_button(w.user, payload)
    else:
        reply = await reports.show(w.user, payload)
    await send_reply(update, context, w, reply)
