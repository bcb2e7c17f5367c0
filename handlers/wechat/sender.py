"""The outbox's WeChat sender: one queued message as customer-service API calls, and how it went in the
outbox's terms.

WeChat lets an account write to a user only for a while after the user's last message or click (48 hours, and
a few messages per interaction): past that, custom/send answers 45015 / 45047 and retrying cannot help, so the
row is dead (the report's state is in the database; the rider sees it with 我的上报). 45009/45011 (API quota)
is a wait. An expired token is replaced inside the API client and the call made again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import httpx

from bot.outbox.dispatcher import SendResult
from bot.outbox.messages import Message
from bot.services.container import Services
from bot.store.users import find_user
from handlers.wechat import render
from handlers.wechat.api import TOKEN_ERRORS, WeChatApi, WeChatApiError
from handlers.wechat.conversation import CHANNEL

log = logging.getLogger(__name__)

PERMANENT = {
    40003: "invalid openid",
    43004: "the user has unsubscribed",
    43019: "the user blocked the account",
    45015: "outside the 48-hour window",
    45047: "customer-service message quota for this user used up",
    48001: "the account may not use this API",
}
QUOTA = {45009, 45011}  # API call quota reached: wait
QUOTA_WAIT_S = 60.0
MEDIA_TTL_S = 2.5 * 24 * 3600  # temporary media lives 3 days at WeChat
MEDIA_CACHE = 256


class WeChatSender:
    def __init__(self, services: Services, api: WeChatApi | None) -> None:
        self.services = services
        self.api = api
        self._media: OrderedDict[str, tuple[str, float]] = OrderedDict()  # sha256 -> (media_id, uploaded at)
        self._progress: dict[str, int] = {}  # a row's parts already delivered, so a retry does not repeat them

    async def _lang(self, openid: str) -> str:
        user = await find_user(self.services.db, CHANNEL, openid)
        return user.lang if user else "zh-CN"

    async def _media_id(self, sha256: str) -> str:
        assert self.api is not None
        cached = self._media.get(sha256)
        if cached and time.time() - cached[1] < MEDIA_TTL_S:
            return cached[0]
        # Only the metadata-free copy ever leaves: a rider's original may carry its exact location in EXIF.
        data = await self.services.photos.shareable(sha256)
        media_id = await self.api.media_upload(data, kind="image", filename="photo.jpg")
        self._media[sha256] = (media_id, time.time())
        while len(self._media) > MEDIA_CACHE:
            self._media.popitem(last=False)
        return media_id

    async def _resolve(self, step: dict[str, Any]) -> dict[str, Any]:
        if step.get("msgtype") == "image" and "upload" in step["image"]:
            return {**step, "image": {"media_id": await self._media_id(step["image"]["upload"])}}
        return step

    async def send(self, address: str, payload: Message) -> SendResult:
        if self.api is None:
            return SendResult(False, permanent=True, error="WeChat appid/secret not configured")
        steps = render.custom_messages(address, await self._lang(address), payload)
        key = address + ":" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        done = self._progress.get(key, 0)
        try:
            for i in range(done, len(steps)):
                await self.api.custom_send(await self._resolve(steps[i]))
                self._progress[key] = i + 1
        except WeChatApiError as exc:
            result = _result(exc)
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            result = SendResult(False, permanent=400 <= code < 500, error=f"HTTP {code}")
        except httpx.HTTPError as exc:  # never str(exc): httpx puts the URL, with the token, in it
            result = SendResult(False, error=type(exc).__name__)
        except FileNotFoundError:
            result = SendResult(False, permanent=True, error="photo missing from the photo store")
        else:
            self._progress.pop(key, None)
            return SendResult(True, ref=f"{len(steps)} part(s)")
        if result.permanent:
            self._progress.pop(key, None)
        return result


def _result(exc: WeChatApiError) -> SendResult:
    code = exc.errcode
    error = f"WeChat {code}: {PERMANENT.get(code) or exc.errmsg[:200]}"
    if code in PERMANENT:
        return SendResult(False, permanent=True, error=error)
    if code in QUOTA:
        return SendResult(False, retry_after=QUOTA_WAIT_S, error=error)
    if code in TOKEN_ERRORS or code == -1:  # the token was replaced once already; or WeChat is busy
        return SendResult(False, error=error)
    # Other 4xxxx codes say the request itself is wrong (bad media, bad JSON): sending it again cannot help.
    return SendResult(False, permanent=40000 <= code < 50000, error=error)
