"""GET/POST /wechat: the callback WeChat's servers call for our 公众号, and the 5-second window.

Every request: the signature (SHA-1 over token, timestamp, nonce) is checked first, then that the timestamp is
within 5 minutes of our clock (403 otherwise). That signature does not cover the body, so it proves nothing
about who wrote the body: each (timestamp, nonce) is remembered with the body's hash (`wechat_nonces`) and the
same pair with another body is refused as a replay; with `wechat_require_encryption` plain POSTs are refused
and only safe mode, whose `msg_signature` covers the encrypted body, is accepted. Then the body, at most
64 KB (413), is decrypted in safe mode (`encrypt_type=aes`, `msg_signature`) and parsed by
wechatpy (400 when it is not WeChat's XML). A message is recorded in the inbound ledger before it is processed
(handlers/wechat/ordering.py), so WeChat's retries (it waits 5 s, then tries again, three tries in all) are
recognised by every process: a retry gets the answer already given, or "success" while the message is still being
worked on, and is never processed twice. A user's messages run one at a time, across processes on PostgreSQL, and a
message whose process died before it was done runs again (at least once; its answer then goes through the outbox).

The window: the core's answer, if this process works it out within PASSIVE_WINDOW seconds and it is one short
text, goes back as the passive XML reply. Anything else (options to tap, photos, several messages, a slow answer) is
answered "success" and sent through the customer-service API by way of the durable outbox — the same outbox, in
the same kind of transaction, as every notification the core sends. So is the answer to a message another process
ran (it held the user's turn) or one run again after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Coroutine, Generator
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import metrics, observe
from bot.outbox import messages as out
from bot.outbox.messages import Message
from bot.outbox.store import Recipient, enqueue, stamp, utcnow
from bot.services.container import Services
from bot.store import inbound as ledger_store
from bot.store import outbox as outbox_store
from bot.store import wechat_inbox as inbox
from bot.store.errors import is_storage_error
from bot.store.users import User
from bot.texts import t
from handlers.wechat import parsing, render
from handlers.wechat.api import WeChatApi
from handlers.wechat.conversation import CHANNEL, Conversation, Inbound
from handlers.wechat.ordering import MessageOrder
from handlers.wechat.parsing import MAX_NONCE, BadRequest

log = logging.getLogger(__name__)

PASSIVE_WINDOW = 4.0  # seconds: WeChat gives up at 5; leave room for the network
STOP_WAIT = 5.0  # seconds `stop` lets answers still being worked out reach the outbox
INBOX_KEEP = timedelta(days=2)
_SUCCESS = "success"


class Passive:
    """The HTTP request a message came in, waiting for its passive reply. Whoever works the message asks `take`
    once it has the answer: True while the request still waits (then it must `give` the reply, or None for
    "success"); False once the window closed (then the answer goes through the outbox). One event loop, no await
    between the two sides' checks: the answer goes one way or the other, never both or neither."""

    def __init__(self, message: Any) -> None:
        self.message = message
        self.reply: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.open = True
        self.taken = False

    def take(self) -> bool:
        if not self.open:
            return False
        self.open, self.taken = False, True
        return True

    def give(self, reply: str | None) -> None:
        if not self.reply.done():
            self.reply.set_result(reply)

    def fail(self, exc: BaseException) -> None:
        """The request (if it still waits) fails with it: WeChat retries, and the retry gets "success"."""
        if self.reply.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            self.reply.cancel()
            return
        self.reply.set_exception(exc)
        if not self.open and not self.taken:
            self.reply.exception()  # nobody waits for it any more: retrieved here


class Turn:
    """A message's handling as the per-user order takes it (bot/services/chat_order.py `Work`): awaited when it
    runs here, or closed unrun when the process holding the user's turn runs it from the ledger — then the request
    stops waiting for it and answers "success"."""

    def __init__(self, handling: Coroutine[Any, Any, None], passive: Passive) -> None:
        self.handling = handling
        self.passive = passive

    def __await__(self) -> Generator[Any, None, None]:
        return self.handling.__await__()

    def close(self) -> None:
        self.handling.close()  # a no-op once it ran
        self.passive.give(None)  # ditto: its answer was given


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
        self.order = MessageOrder(services, self.run_payload)
        self._late: set[asyncio.Task[None]] = set()
        self._last_purge = 0.0
        self._last_nonce_purge = 0.0

    async def start(self) -> int:
        """Before the endpoint takes messages: run what earlier processes took in and did not finish."""
        return await self.order.start()

    async def stop(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Let answers still being worked out reach the outbox (bounded), then give up on the rest: they stay
        unfinished in the ledger and run again (at the next start, or on another process)."""
        if self._late:
            _, pending = await asyncio.wait(set(self._late), timeout=STOP_WAIT if timeout is None else timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.order.stop()

    # ------------------------------------------------------------------ HTTP

    async def endpoint(self, request: Request) -> Response:
        q = request.query_params
        signature, timestamp, nonce = q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        try:
            check_signature(self.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            log.info("WeChat callback with a bad signature refused")
            return PlainTextResponse("forbidden", status_code=403)
        if not parsing.fresh(timestamp) or len(nonce) > MAX_NONCE:
            log.info("WeChat callback with a stale timestamp or an odd nonce refused")
            return PlainTextResponse("forbidden", status_code=403)
        if request.method == "GET":
            # URL verification (saving the server URL in the 公众号 settings): echo echostr back.
            return PlainTextResponse(q.get("echostr", ""))
        if self.require_encryption and q.get("encrypt_type", "").lower() != "aes":
            log.info("WeChat callback in plain mode refused: wechat_require_encryption is on")
            return PlainTextResponse("forbidden", status_code=403)
        try:
            body = await parsing.read_body(request)
            if not await self._first_use(timestamp, nonce, body):
                raise BadRequest(403, "signature already used for another body (replay)")
            xml, encrypted = self._plaintext(
                body, q.get("encrypt_type", ""), q.get("msg_signature", ""), timestamp, nonce
            )
            message = parsing.parse(xml)
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
            return parsing.body_text(body), False
        if self.crypto is None:
            raise BadRequest(400, "encrypted message, but no EncodingAESKey is configured")
        parsing.refuse_doctype(parsing.body_text(body))
        try:
            return self.crypto.decrypt_message(body, msg_signature, timestamp, nonce), True
        except InvalidSignatureException as exc:
            raise BadRequest(403, "bad msg_signature") from exc
        except InvalidAppIdException as exc:
            raise BadRequest(400, "message for another appid") from exc
        except Exception as exc:  # not base64, bad padding, no <Encrypt>: not WeChat's
            raise BadRequest(400, f"cannot decrypt ({type(exc).__name__})") from exc

    # ------------------------------------------------------------------ one message, at least once, in turn

    async def receive(self, message: Any) -> str | None:
        """Record a parsed message and have it run in its user's turn; the passive reply XML (plaintext) when this
        process worked it out in time, or None for "success"."""
        inbound = parsing.inbound_of(message)
        key = parsing.dedupe_key(message, inbound)
        seq = parsing.seq_of(message, inbound)
        secret = parsing.secret(inbound)
        periodic = inbound.kind == "event" and inbound.event == "location"  # that one ticks by itself: not counted
        verdict, fresh = await self.order.admit(
            None if periodic else f"{CHANNEL}:{inbound.openid}",
            key,
            None if secret else parsing.encode(key, inbound),
            chat=inbound.openid,
            seq=seq,
        )
        if not fresh:
            log.info("WeChat retry of %s: not processed again", key)
            metrics.update_refused(CHANNEL, inbound.kind, "duplicate")
            return await inbox.reply_given(self.services.db, key) or None
        if verdict != "ok":  # recorded as done: no process runs it
            metrics.update_refused(CHANNEL, inbound.kind, "flood")
            user = await self.services.users.identify(CHANNEL, inbound.openid, "")
            slow_down = [out.text(t(user.lang, "flood.slow_down"))] if verdict == "warn" else []
            passive = Passive(message)
            await self._answer(key, user, slow_down, passive)
            return await passive.reply
        passive = Passive(message)
        work = Turn(self._handle(inbound, key, passive), passive)
        run = self.order.run(inbound.openid, seq, work, receiver_only=secret)
        turn = asyncio.create_task(run, name=f"wechat-{key}")
        try:  # the reply comes from the work, or None at once if another process runs the message instead
            await asyncio.wait({passive.reply}, timeout=PASSIVE_WINDOW)
        except asyncio.CancelledError:  # the connection went away; the answer must not
            passive.open = False
            self._keep(turn)
            raise
        self._keep(turn)
        if passive.reply.done():
            return passive.reply.result()
        if passive.taken:  # the answer is being recorded as the passive reply: it comes in a moment
            return await passive.reply
        # Still waiting for its turn here, or being worked out: the answer goes through the outbox.
        passive.open = False
        return None

    async def run_payload(self, payload: str) -> None:
        """A message recorded by another process (alive or dead) or by an earlier run of this one: its answer goes
        through the outbox."""
        key, inbound = parsing.decode(payload)
        await self._handle(inbound, key, None)

    async def _handle(self, inbound: Inbound, key: str, passive: Passive | None) -> None:
        """Work out the answer, then record it with the message marked done: in the passive slot while the
        request still waits, else through the outbox."""
        try:
            messages = await self._work(inbound, key)
            user = await self.services.users.identify(CHANNEL, inbound.openid, "")  # /lang may have changed it
            await self._answer(key, user, messages, passive)
        except BaseException as exc:
            if passive is not None:
                passive.fail(exc)
            raise

    async def _answer(self, key: str, user: User, messages: list[Message], passive: Passive | None) -> None:
        """One short text goes back in the HTTP response while it waits; anything else through the outbox."""
        if passive is None or not passive.take():
            await self._finish(key, user, messages, "")
            return
        text = render.passive_text(user.lang, messages)
        if text is not None and not await self._outbox_busy(user.external_id):
            message = passive.message
            reply = TextReply(source=message.target, target=message.source, content=text).render()
            await self._finish(key, user, [], reply)
            passive.give(reply)
            return
        await self._finish(key, user, messages, "")
        passive.give(None)

    async def _work(self, inbound: Inbound, key: str = "") -> list[Message]:
        token = observe.begin(CHANNEL, key, inbound.openid, inbound.kind)
        started = time.perf_counter()
        user = await self.services.users.identify(CHANNEL, inbound.openid, "")
        try:
            return await self.conversation.handle(user, inbound)
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

    def _keep(self, task: asyncio.Task[None]) -> None:
        """A message's turn goes on after its request was answered: `stop` waits for it (bounded)."""
        if task.done():
            self._late_done(task)
            return
        self._late.add(task)
        task.add_done_callback(self._late_done)

    def _late_done(self, task: asyncio.Task[None]) -> None:
        self._late.discard(task)
        if not task.cancelled() and task.exception() is not None:  # unfinished in the ledger: it runs again
            log.error("WeChat message %s not answered: %r", task.get_name(), task.exception())

    # ------------------------------------------------------------------ storage

    async def _first_use(self, timestamp: str, nonce: str, body: bytes) -> bool:
        """Remember (timestamp, nonce) with the body's hash; False when they came before with another body.

        The plain-mode signature covers the URL, not the body, so a signed URL read from an access log could
        carry anything. WeChat's own retries repeat the URL and the body, and pass (the ledger dedupes them).
        Rows older than twice MAX_SKEW can go: their timestamps are refused as stale anyway."""
        digest = hashlib.sha256(body).hexdigest()
        now = time.time()
        async with self.services.db.transaction() as conn:
            if await inbox.first_nonce(conn, int(timestamp), nonce, digest, now):
                if now - self._last_nonce_purge > 60:
                    self._last_nonce_purge = now
                    await inbox.forget_nonces(conn, now - 2 * parsing.MAX_SKEW)
                return True
        seen = await inbox.nonce_body(self.services.db, int(timestamp), nonce)
        return seen is not None and hmac.compare_digest(seen, digest)

    async def _finish(self, key: str, user: User, messages: list[Message], reply: str) -> None:
        """Queue what is not said in the HTTP answer, keep the reply for WeChat's retries and mark the message
        done in the ledger, in one transaction: a kill before it leaves the message to run again, after it
        nothing is run or sent twice."""
        to = Recipient(user.id, CHANNEL, user.external_id, user.lang)
        now = datetime.now(UTC)
        async with self.services.db.transaction() as conn:
            for i, message in enumerate(messages):
                await enqueue(conn, f"wx:{key}:{i}", to, message)
            await inbox.answered(conn, key, user.external_id, now.isoformat(timespec="seconds"), reply)
            await ledger_store.finish_in(conn, CHANNEL, key)
            if time.monotonic() - self._last_purge > 3600:
                self._last_purge = time.monotonic()
                await inbox.forget_messages(conn, (now - INBOX_KEEP).isoformat(timespec="seconds"))
        if messages:
            self.services.wake_outbox()

    async def _outbox_busy(self, openid: str) -> bool:
        """Earlier answers about to go out to this user: a passive reply now would overtake them. (A row waiting
        out a back-off does not count: the passive reply needs no customer-service quota, so it still works.)"""
        return await outbox_store.busy(self.services.db, CHANNEL, openid, stamp(utcnow()))
