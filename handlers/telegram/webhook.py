"""The Telegram webhook (`RIDER_MODE=webhook`): our own small ASGI endpoint instead of PTB's tornado server.

PTB's server reads a whole request body (up to tornado's 100 MB) before it looks at the secret header, so four
unauthenticated 90 MB POSTs cost 450 MB of memory before the 403. Here the order is: method and path, the
`X-Telegram-Bot-Api-Secret-Token` header (constant-time compare), the declared length, and only then the
body, read in chunks and abandoned past MAX_BODY (Telegram's updates are a few KB; 1 MB is generous). A body
that is not an update is a 400 with one log line, never a 500 with a traceback. Accepted updates go into
PTB's own update queue, exactly where PTB's server would put them (PTB's `examples/customwebhookbot`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.error import NetworkError, RetryAfter
from telegram.ext import Application, ExtBot

from bot.webserver import WebServer

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
SECRET_HEADER = "x-telegram-bot-api-secret-token"


class _Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise _Refused(400, "bad Content-Length")
        if int(declared) > MAX_BODY:
            raise _Refused(413, "body too large")
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked bodies have no Content-Length: count as we go
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _update(body: bytes, bot: Bot) -> Update:
    if not body.strip():
        raise _Refused(400, "empty body")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Refused(400, f"not JSON ({type(exc).__name__})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise _Refused(400, "not an update")
    try:
        update = Update.de_json(data, bot)
    except Exception as exc:  # a required field missing or of the wrong type
        raise _Refused(400, f"not an update ({type(exc).__name__})") from exc
    message = update.effective_message if update is not None else None
    if update is None or (message is not None and getattr(message, "chat", None) is None):
        raise _Refused(400, "not an update")  # PTB builds a message without its chat; every filter would fail
    return update


def _delay(exc: Exception, attempt: int) -> float:
    if isinstance(exc, RetryAfter):
        after = exc.retry_after
        return after.total_seconds() if isinstance(after, timedelta) else float(after)
    return 1.0 + attempt


class TelegramWebhook:
    """POST /<path> with the secret header → PTB's update queue; everything else is refused early."""

    def __init__(self, application: Application, path: str, secret: str) -> None:
        self.application = application
        self.path = "/" + path.strip("/")
        self._secret = secret.encode()
        self.server = WebServer(Starlette(routes=[Route("/{path:path}", self.endpoint, methods=["GET", "POST"])]))

    async def endpoint(self, request: Request) -> Response:
        if request.url.path.rstrip("/") != self.path.rstrip("/"):
            return PlainTextResponse("not found", status_code=404)
        if request.method != "POST":
            return PlainTextResponse("method not allowed", status_code=405, headers={"Allow": "POST"})
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.info("webhook POST without the right secret token refused")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            update = _update(await _read_capped(request), self.application.bot)
        except _Refused as exc:
            log.info("webhook POST refused (%d): %s", exc.status, exc)
            return PlainTextResponse(str(exc), status_code=exc.status)
        if isinstance(self.application.bot, ExtBot):
            self.application.bot.insert_callback_data(update)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    async def start(self, listen: str, port: int, url: str, *, retries: int = 3) -> None:
        """Listen first, then tell Telegram where to post (so the first delivery finds us up)."""
        await self.server.start(listen, port)
        for attempt in range(retries + 1):
            try:
                await self.application.bot.set_webhook(url=url, secret_token=self._secret.decode())
                return
            except (RetryAfter, NetworkError) as exc:  # also TimedOut; a BadRequest (bad URL) is raised at once
                if attempt == retries:
                    raise
                await asyncio.sleep(_delay(exc, attempt))

    async def stop(self) -> None:
        await self.server.stop()
