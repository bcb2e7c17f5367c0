"""Core messages (bot/outbox/messages.py) as Telegram calls: the one place that knows both shapes.

Used for direct replies and by the outbox sender, so a message looks the same whether it is an answer or a
notification that waited in the outbox.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyKeyboardRemove

from bot.media.photos import PhotoStore
from bot.outbox.messages import Message as CoreMessage
from handlers.telegram.common import location_keyboard, main_keyboard


def inline_markup(buttons: list[list[dict[str, str]]] | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    rows = [
        [
            InlineKeyboardButton(b["text"], url=b["url"])
            if "url" in b
            else InlineKeyboardButton(b["text"], callback_data=b["data"])
            for b in row
        ]
        for row in buttons
    ]
    return InlineKeyboardMarkup(rows)


def _markup(message: CoreMessage, lang: str) -> Any:
    inline = inline_markup(message.get("buttons"))
    if inline is not None:
        return inline
    keyboard = message.get("keyboard")
    if keyboard == "main":
        return main_keyboard(lang)
    if keyboard == "location":
        return location_keyboard(lang)
    if keyboard == "remove":
        return ReplyKeyboardRemove()
    return None


async def send(
    bot: Bot, chat_id: int | str, message: CoreMessage, photos: PhotoStore, lang: str = "zh-CN"
) -> Message | bool:
    """Send (or, for a withdrawal, edit or delete) one core message; returns what the Bot API returned."""
    kind = message.get("kind")
    if kind == "edit":  # a forwarded card withdrawn by a moderator: new words, no buttons
        if message.get("caption"):
            return await bot.edit_message_caption(chat_id, message["message_id"], caption=message["text"])
        return await bot.edit_message_text(message["text"], chat_id, message["message_id"])
    if kind == "delete":
        return await bot.delete_message(chat_id, message["message_id"])
    markup = _markup(message, lang)
    if kind == "photo":
        # Always the metadata-free copy: a rider's original may carry its exact location in EXIF.
        data = await photos.shareable(message["sha256"])
        return await bot.send_photo(chat_id, data, caption=message.get("caption") or None, reply_markup=markup)
    if kind == "venue":
        return await bot.send_venue(
            chat_id,
            latitude=message["lat"],
            longitude=message["lon"],
            title=message["title"],
            address=message["address"],
            reply_markup=markup,
        )
    return await bot.send_message(chat_id, message["text"], reply_markup=markup)
