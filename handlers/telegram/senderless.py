"""Messages with no sender (`from` missing) are dropped before any handler looks for the person behind them.

Telegram always names the sender of a message in a private chat or a group; a proxy, an old relay or a
hand-made webhook POST might not. Every handler identifies the user first, so such a message would fail deep
inside one of them with an AssertionError and a traceback. There is nobody to answer (a chat id is not a
user), so it is dropped with one log line. Channel posts never have a sender and are left to the handlers,
which ignore them.
"""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

log = logging.getLogger(__name__)
_PEOPLE_CHATS = frozenset({Chat.PRIVATE, Chat.GROUP, Chat.SUPERGROUP})


async def drop_senderless(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if update.effective_user is None and chat is not None and chat.type in _PEOPLE_CHATS:
        log.info("dropped update %s: a %s message without a sender", update.update_id, chat.type)
        raise ApplicationHandlerStop
