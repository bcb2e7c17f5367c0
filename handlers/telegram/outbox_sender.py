"""The outbox's Telegram sender: sends one queued message and says how it went, in the outbox's terms."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.media.photos import PhotoStore
from bot.outbox.dispatcher import SendResult
from bot.outbox.messages import Message
from handlers.telegram import render


class TelegramSender:
    def __init__(self, bot: Bot, photos: PhotoStore) -> None:
        self.bot = bot
        self.photos = photos

    async def send(self, address: str, payload: Message) -> SendResult:
        try:
            sent = await render.send(self.bot, int(address), payload, self.photos, payload.get("lang") or "zh-CN")
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            return SendResult(False, retry_after=seconds, error="RetryAfter")
        except Forbidden as exc:  # blocked by the user, or kicked from the group: retrying cannot help
            return SendResult(False, permanent=True, error=f"Forbidden: {exc.message}")
        except BadRequest as exc:
            return SendResult(False, permanent=True, error=f"BadRequest: {exc.message}")
        except (TimedOut, NetworkError) as exc:
            return SendResult(False, error=type(exc).__name__)
        except TelegramError as exc:
            return SendResult(False, error=type(exc).__name__)
        except FileNotFoundError:
            return SendResult(False, permanent=True, error="photo missing from the photo store")
        return SendResult(True, ref=str(getattr(sent, "message_id", "")))  # deleting returns True, not a message
