"""GET/POST /wechat: the callback WeChat's servers call for our 公众号, and the 5-second window.

Every request: the signature (SHA-1 over token, timestamp, nonce) is checked first, then that the timestamp is
within 5 minutes of our clock (403 otherwise). That signature does not cover the body, so it proves nothing
about who wrote the body: each (timestamp, nonce) is remembered with the body's hash (`wechat_nonces`) and the
same pair with another body is refused as a replay; with `wechat_require_encryption` plain POSTs are refused
and only safe mode, whose `msg_signature` covers the encrypted body, is accepted. Then the body, at most
64 KB (413), is decrypted in safe mode (`encrypt_type=aes`, `msg_signature`) and parsed by
wechatpy (400 when it is not WeChat's XML). A message is recorded in `wechat_inbox` before it is processed, so
WeChat's retries (it waits 5 s, then tries again, three tries in all) are recognised: a retry gets the answer
already given, or "success", and is never processed twice.

The window: the core's answer, if it comes within PASSIVE_WINDOW seconds and is one short text, goes back
as the passive XML reply. Anything else (options to tap, photos, several messages, a slow answer) is
answered "success" at once and sent through the customer-service API by way of the durable outbox — the same
outbox, in the same kind of transaction, as every notification the core sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import metrics, observe
from bot.outbox import messages as out
from bot.outbox.messages import Message
from bot.outbox.store import Recipient, enqueue, stamp, utcnow
from bot.services.container import Services
from bot.store import outbox as outbox_store
from bot.store import wechat_inbox as inbox
from bot.store.errors import is_storage_error
from bot.store.users import User
from bot.texts import t
from handlers.wechat import render
from handlers.wechat.api import WeChatApi
from handlers.wechat.conversation import CHANNEL, Conversation, Inbound

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_SKEW = 300  # seconds between WeChat's timestamp and our clock; beyond it a request is refused as old
MAX_NONCE = 64
PASSIVE_WINDOW = 4.0  # seconds: WeChat gives up at 5; leave room for the network
INBOX_KEEP = timedelta(days=2)
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUCCESS = "success"


class BadRequest(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


class WeChatDoor:
    def __init__(self, services: Services, api: WeChatApi | None) -> None:
        settings = services.settings
        assert settings.wechat_token
        self.services = services
        self.token = settings.wechat_token
        self.crypto = (
            WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid)
            if settings.wechat_aes_key
            else None
        )
        self.require_encryption = settings.wechat_require_encryption
        self.conversation = Conversation(services, api)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._late: set[asyncio.Task[None]] = set()
        self._last_purge = 0.0
        self._last_nonce_purge = 0.0

    async def stop(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Let answers still being worked out reach the outbox (bounded), then give up on the rest."""
        if self._late:
            _, pending = await asyncio.wait(self._late, timeout=timeout)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ HTTP

    async def endpoint(self, request: Request) -> Response:
        q = request.query_params
        signature, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        try:
            check_signature(self.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            log.info("WeChat callback with a bad signature refused")
            return PlainTextResponse("forbidden", status_code=403)
        if not _fresh(timestamp) or len(nonce) > MAX_NONCE:
            log.info("WeChat callback with a stale timestamp or an odd nonce refused")
            return PlainTextResponse("forbidden", status_code=403)
        if request.method == "GET":
            # URL verification (saving the server URL in the 公众号 settings): echo echostr back.
            return PlainTextResponse(q.get("echostr", ""))
        if self.require_encryption and q.get("encrypt_type", "").lower() != "aes":
            log.info("WeChat callback in plain mode refused: wechat_require_encryption is on")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            body = await _read_body(request)
            if not await self._first_use(timestamp, nonce, body):
                raise BadRequest(403, "signature already used for another body (replay)")
            xml, encrypted = self._plaintext(
                body, q.get("encrypt_type", ""), q.get("msg_signature", ""), timestamp, nonce
            )
            message = _parse(xml)
        except BadRequest as exc:
            log.info("WeChat callback refused (%d): %s", exc.status, exc)
            return PlainTextResponse(str(exc), status_code=exc.status)
        reply_xml = await self.receive(message)
        if reply_xml is None:
            return PlainTextResponse(_SUCCESS)
        if encrypted:
            assert self.crypto is not None
            reply_xml = self.crypto.encrypt_message(reply_xml, nonce, str(int(time.time())))
        return Response(reply_xml, media_type="application/xml")

    def _plaintext(
        self, body: bytes, encrypt_type: str, msg_signature: str, timestamp: str, nonce: str
    ) -> tuple[str, bool]:
        if encrypt_type.lower() != "aes":
            if encrypt_type and encrypt_type.lower() != "raw":
                raise BadRequest(400, f"unknown encrypt_type {encrypt_type[:20]!r}")
            return _text(body), False
        if self.crypto is None:
            raise BadRequest(400, "encrypted message, but no EncodingAESKey is configured")
        _refuse_doctype(_text(body))
        try:
            return self.crypto.decrypt_message(body, msg_signature, timestamp, nonce), True
        except InvalidSignatureException as exc:
            raise BadRequest(403, "bad msg_signature") from exc
        except InvalidAppIdException as exc:
            raise BadRequest(400, "message for another appid") from exc
        except Exception as exc:  # not base64, bad padding, no <Encrypt>: not WeChat's
            raise BadRequest(400, f"cannot decrypt ({type(exc).__name__})") from exc

    # ------------------------------------------------------------------ one message, once

    async def receive(self, message: Any) -> str | None:
        """Process a parsed message once; the passive reply XML (plaintext), or None for "success"."""
        inbound = _inbound(message)
        key = _dedupe_key(message, inbound)
        fresh, stored = await self._claim(key, inbound.openid)
        if not fresh:
            log.info("WeChat retry of %s: not processed again", key)
            metrics.update_refused(CHANNEL, inbound.kind, "duplicate")
            return stored or None
        user = await self.services.users.identify(CHANNEL, inbound.openid, "")
        if not (inbound.kind == "event" and inbound.event == "location"):  # that one ticks by itself
            verdict = await self._flood_check(inbound.openid)
            if verdict != "ok":
                metrics.update_refused(CHANNEL, inbound.kind, "flood")
                slow_down = [out.text(t(user.lang, "flood.slow_down"))] if verdict == "warn" else []
                return await self._answer(key, user, message, slow_down)
        task = asyncio.create_task(self._work(user, inbound, key), name=f"wechat-{key}")
        try:
            done, _ = await asyncio.wait({task}, timeout=PASSIVE_WINDOW)
        except asyncio.CancelledError:
            self._adopt(key, user, task)  # the connection went away; the answer must not
            raise
        if task not in done:
            log.info("WeChat answer to %s is slow: replying success, sending it as customer-service messages", key)
            self._adopt(key, user, task)
            return None
        user = await self.services.users.identify(CHANNEL, inbound.openid, "")  # /lang may have changed it
        return await self._answer(key, user, message, task.result())

    async def _answer(self, key: str, user: User, message: Any, messages: list[Message]) -> str | None:
        """One short text goes back in the HTTP response; anything else through the outbox."""
        text = render.passive_text(user.lang, messages)
        if text is not None and not await self._outbox_busy(user.external_id):
            reply = TextReply(source=message.target, target=message.source, content=text).render()
            await self._finish(key, user, [], reply)
            return reply
        await self._finish(key, user, messages, "")
        return None

    async def _flood_check(self, openid: str) -> str:
        """The flood guard every door shares (bot/services/guard.py): 'ok', 'warn' (tell once) or 'drop'; shared
        by every process on PostgreSQL."""
        flood = getattr(self.services, "flood", None)
        return await flood.verdict(f"{CHANNEL}:{openid}") if flood is not None else "ok"

    async def _work(self, user: User, inbound: Inbound, key: str = "") -> list[Message]:
        async with self._lock(inbound.openid):  # one message of a user at a time, in arrival order
            token = observe.begin(CHANNEL, key, inbound.openid, inbound.kind)
            started = time.perf_counter()
            try:
                fresh = await self.services.users.identify(CHANNEL, inbound.openid, "")
                return await self.conversation.handle(fresh, inbound)
            except Exception as exc:
                storage = is_storage_error(exc)
                observe.note_outcome("storage_error" if storage else "error")
                if storage:
                    metrics.storage_error(CHANNEL)
                log.exception("WeChat message from user %s failed", user.id)
                return [out.text(t(user.lang, "error.generic"))]
            finally:
                handling = observe.current()
                assert handling is not None
                metrics.update_handled(CHANNEL, inbound.kind, handling.outcome, "wechat.conversation",
                                       time.perf_counter() - started)  # fmt: skip
                observe.end(token)

    def _adopt(self, key: str, user: User, task: asyncio.Task[list[Message]]) -> None:
        async def finish_late() -> None:
            try:
                messages = await task
                fresh = await self.services.users.identify(CHANNEL, user.external_id, "")
                await self._finish(key, fresh, messages, "")
            except Exception:
                log.exception("could not queue the late answer to %s", key)

        late = asyncio.create_task(finish_late(), name=f"wechat-late-{key}")
        self._late.add(late)
        late.add_done_callback(self._late.discard)

    @contextlib.asynccontextmanager
    async def _lock(self, openid: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(openid) or (asyncio.Lock(), 0)
        self._locks[openid] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[openid]
            if users <= 1:
                del self._locks[openid]
            else:
                self._locks[openid] = (lock, users - 1)

    # ------------------------------------------------------------------ storage

    async def _claim(self, key: str, openid: str) -> tuple[bool, str]:
        """Record the message before working on it; (False, reply given) when it was seen before."""
        now = datetime.now(UTC)
        async with self.services.db.transaction() as conn:
            fresh = await inbox.claim(conn, key, openid, now.isoformat(timespec="seconds"))
            if fresh and time.monotonic() - self._last_purge > 3600:
                self._last_purge = time.monotonic()
                await inbox.forget_messages(conn, (now - INBOX_KEEP).isoformat(timespec="seconds"))
        if fresh:
            return True, ""
        return False, await inbox.reply_given(self.services.db, key)

    async def _first_use(self, timestamp: str, nonce: str, body: bytes) -> bool:
        """Remember (timestamp, nonce) with the body's hash; False when they came before with another body.

        The plain-mode signature covers the URL, not the body, so a signed URL read from an access log could
        carry anything. WeChat's own retries repeat the URL and the body, and pass (the inbox dedupes them).
        Rows older than twice MAX_SKEW can go: their timestamps are refused as stale anyway."""
        digest = hashlib.sha256(body).hexdigest()
        now = time.time()
        async with self.services.db.transaction() as conn:
            if await inbox.first_nonce(conn, int(timestamp), nonce, digest, now):
                if now - self._last_nonce_purge > 60:
                    self._last_nonce_purge = now
                    await inbox.forget_nonces(conn, now - 2 * MAX_SKEW)
                return True
        seen = await inbox.nonce_body(self.services.db, int(timestamp), nonce)
        return seen is not None and hmac.compare_digest(seen, digest)

    async def _finish(self, key: str, user: User, messages: list[Message], reply: str) -> None:
        """Queue what is not said in the HTTP answer and mark the message done, in one transaction."""
        to = Recipient(user.id, CHANNEL, user.external_id, user.lang)
        async with self.services.db.transaction() as conn:
            for i, message in enumerate(messages):
                await enqueue(conn, f"wx:{key}:{i}", to, message)
            await inbox.done(conn, key, reply)
        if messages:
            self.services.wake_outbox()

    async def _outbox_busy(self, openid: str) -> bool:
        """Earlier answers about to go out to this user: a passive reply now would overtake them. (A row waiting
        out a back-off does not count: the passive reply needs no customer-service quota, so it still works.)"""
        return await outbox_store.busy(self.services.db, CHANNEL, openid, stamp(utcnow()))


# ---------------------------------------------------------------------- parsing


def _fresh(timestamp: str) -> bool:
    """WeChat's timestamp is its clock's unix time: more than MAX_SKEW away from ours is an old request."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(time.time() - int(timestamp)) <= MAX_SKEW


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY:
                raise BadRequest(413, "body too large")
        except ValueError as exc:
            raise BadRequest(400, "bad Content-Length") from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, "body too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise BadRequest(400, "empty body")
    return body


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, "body is not UTF-8") from exc


def _refuse_doctype(xml: str) -> None:
    # WeChat never sends a DTD; refusing one keeps entity tricks (billion laughs, external entities) out.
    if "<!DOCTYPE" in xml.upper() or "<!ENTITY" in xml.upper():
        raise BadRequest(400, "DTDs are not accepted")


_STRING_FIELDS = ("ToUserName", "FromUserName", "MsgType", "Content", "Event", "EventKey", "MediaId",
                  "Location_X", "Location_Y", "bizmsgmenuid")  # fmt: skip


def _parse(xml: str) -> Any:
    _refuse_doctype(xml)
    try:
        message = parse_message(xml)
    except Exception as exc:  # ExpatError, no <xml> root, no MsgType…
        raise BadRequest(400, f"not a WeChat message ({type(exc).__name__})") from exc
    data = getattr(message, "_data", None)
    if not isinstance(data, dict):
        raise BadRequest(400, "not a WeChat message")
    for name in _STRING_FIELDS:  # a nested or repeated tag would reach us as a dict or a list
        if name in data and data[name] is not None and not isinstance(data[name], str):
            raise BadRequest(400, f"malformed <{name}>")
    if not _OPENID.fullmatch(data.get("FromUserName") or ""):
        raise BadRequest(400, "missing or malformed FromUserName")
    try:
        int(data.get("CreateTime") or 0)
        int(data.get("MsgId") or 0)
    except ValueError as exc:
        raise BadRequest(400, "malformed CreateTime or MsgId") from exc
    return message


def _inbound(message: Any) -> Inbound:
    data: dict[str, Any] = message._data
    kind = str(data.get("MsgType") or "").lower()
    openid = data["FromUserName"]
    if kind == "text":
        return Inbound(openid, "text", text=data.get("Content") or "", menu_id=data.get("bizmsgmenuid") or "")
    if kind == "image":
        return Inbound(openid, "image", media_id=data.get("MediaId") or "")
    if kind == "location":
        return Inbound(openid, "location", lat=data.get("Location_X") or "", lon=data.get("Location_Y") or "")
    if kind == "event":
        event = str(data.get("Event") or "").lower()
        return Inbound(
            openid,
            "event",
            event=event,
            key=data.get("EventKey") or "",
            lat=str(data.get("Latitude") or ""),
            lon=str(data.get("Longitude") or ""),
        )
    return Inbound(openid, "other")


def _dedupe_key(message: Any, inbound: Inbound) -> str:
    """WeChat's advice: MsgId for messages; FromUserName + CreateTime for events (which have no MsgId). The event
    name is added, because entering the chat can bring a subscribe and a LOCATION event in the same second."""
    data: dict[str, Any] = message._data
    msg_id = int(data.get("MsgId") or 0)
    if inbound.kind != "event" and msg_id:
        return f"msg:{msg_id}"
    return f"ev:{inbound.openid}:{int(data.get('CreateTime') or 0)}:{inbound.event or inbound.kind}"
