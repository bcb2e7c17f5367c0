"""Measures the Telegram door from the outside: per update (kind, handler, outcome, latency) and per Bot API call.

Nothing here changes what happens: the update processor wraps each update's handling in an observe context,
the handlers' callbacks are wrapped to name themselves, and the HTTP layer reports each Bot API answer (429s,
and the "last successful call" /readyz looks at).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot import metrics, observe
from bot.tls import client_context
from handlers.telegram.ordering import PerChatUpdateProcessor

log = logging.getLogger("bot.updates")


def update_kind(update: object) -> str:
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    if update.edited_message is not None:
        return "edited"
    message = update.message
    if message is None:
        return "other"
    if message.location is not None:
        return "location"
    if message.photo or (message.document and (message.document.mime_type or "").startswith("image/")):
        return "photo"
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    return "other"


class MeteredUpdateProcessor(PerChatUpdateProcessor):
    """The per-chat processor, timing only the handling (not the wait for the chat's earlier updates)."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await super().do_process_update(update, self.measured(update, coroutine))

    def measured(self, update: object, coroutine: Awaitable[Any]) -> _Measured:
        """The handling of `update`, timed when awaited; `close()` drops it unrun (another process ran it)."""
        return _Measured(update, coroutine)


class _Measured:
    def __init__(self, update: object, coroutine: Awaitable[Any]) -> None:
        self.update = update
        self.coroutine = coroutine

    def __await__(self) -> Generator[Any, None, None]:
        return self._run().__await__()

    def close(self) -> None:
        close = getattr(self.coroutine, "close", None)
        if close is not None:
            close()

    async def _run(self) -> None:
        update = self.update
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        update_id = update.update_id if isinstance(update, Update) else 0
        token = observe.begin("telegram", update_id, chat, update_kind(update))
        started = time.perf_counter()
        try:
            await self.coroutine
        finally:
            seconds = time.perf_counter() - started
            handling = observe.current()
            assert handling is not None
            metrics.update_handled("telegram", handling.kind, handling.outcome, handling.handler, seconds)
            log.info("update handled", extra={"latency_ms": round(seconds * 1000, 1)})
            observe.end(token)


def _named(callback: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    name = f"{callback.__module__.rsplit('.', 1)[-1]}.{callback.__qualname__}"

    @functools.wraps(callback)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        observe.note_handler(name)
        return await callback(*args, **kwargs)

    return wrapper


def name_handlers(application: Application) -> None:
    """After registration: each handler's callback notes its name, so metrics and logs say who answered."""
    for handlers in application.handlers.values():
        for handler in handlers:
            if callable(getattr(handler, "callback", None)):  # a ConversationHandler has its own inside
                handler.callback = _named(handler.callback)


class MeteredRequest(HTTPXRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # the process's one TLS context (bot/tls.py): building one per client loads the CA bundle again each time
        kwargs["httpx_kwargs"] = {"verify": client_context(), **(kwargs.get("httpx_kwargs") or {})}
        super().__init__(*args, **kwargs)

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            status, body = await super().do_request(url, method, *args, **kwargs)
        except NetworkError:  # TimedOut is a NetworkError too
            metrics.bot_api_unreachable()
            raise
        metrics.bot_api_answered(status)
        return status, body
