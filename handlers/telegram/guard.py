"""What every update passes before a handler acts on it: recorded once (and re-run if a crash cut it off), and
flood-checked when it arrives.

Telegram counts an update as received when the next getUpdates confirms it (or the webhook answers 200). PTB does
that before handlers run, so an update still queued or half-handled at a kill used to be lost, and one Telegram
did redeliver was dropped as "already seen". Now the update queue itself records each update durably before PTB
can confirm it (`DurableUpdateQueue.put` is awaited by the updater before its next getUpdates, and by the webhook
before it answers), the update processor marks it done after its handlers, and the next start re-runs whatever
was not done (`replay`). A redelivery of a recorded update is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot import metrics, observe
from bot.services.chat_order import SharedChatOrder
from bot.services.container import Services
from bot.services.guard import InboundLedger
from bot.texts import t
from handlers.telegram.common import CHANNEL
from handlers.telegram.metering import MeteredUpdateProcessor, update_kind
from handlers.telegram.ordering import chat_key

log = logging.getLogger(__name__)


class Gate:
    """The door's bookkeeping for inbound updates: the durable ledger, the flood verdicts, and on PostgreSQL the
    hand-over to the core's per-chat order across processes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.ledger = InboundLedger(services.db)
        self.order: SharedChatOrder | None = None  # set by `bind` on PostgreSQL
        self._unrecorded: dict[int, BaseException] = {}  # update_id → why it could not be recorded
        self._verdicts: dict[int, str] = {}  # update_id → the flood guard's 'warn' or 'drop'
        self._receiver_only: set[int] = set()  # recorded without contents: only this process can run them
        self._flooded: set[int] = set()  # refused on arrival (recorded as done then)

    def bind(self, application: Application) -> None:
        """Webhook workers sharing a PostgreSQL database: a chat's updates are ordered across all of them. A
        polling process is the only one for its database (a second one refuses to start), so it keeps the
        in-process order and the replay at start, as on SQLite."""
        settings = self.services.settings
        if self.services.db.dialect != "postgresql" or settings.mode != "webhook" or settings.offline_demo:
            return
        processor = application.update_processor
        assert isinstance(processor, MeteredUpdateProcessor)

        async def run_payload(payload: str) -> None:  # an update another process recorded: handled as ours are
            update = Update.de_json(json.loads(payload), application.bot)
            await processor.measured(update, application.process_update(update))

        self.order = SharedChatOrder(self.services.db, self.ledger, CHANNEL, run_payload, slots=processor.slots)

    async def arrived(self, update: Update) -> bool:
        """Flood-check and record a new update; False for one already recorded (a redelivery: drop it)."""
        message = update.effective_message
        words = (message.text or "").split() if message is not None else []
        # An invite code (/join CODE, /start CODE) must never reach the database, not even for a moment: such an
        # update is recorded without its contents (not re-run after a crash; the person sends it again).
        secret = len(words) > 1 and words[0].split("@")[0].lower() in ("/join", "/start")
        # Flood-checked as it is recorded: a refused update is recorded as done, so no process ever runs it.
        user = update.effective_user
        who = None if user is None else f"{CHANNEL}:{user.id}"
        uid = update.update_id
        try:
            payload = None if secret else update.to_json()
            verdict, fresh = await self.ledger.admit(
                self.services.flood, who, CHANNEL, str(uid), payload, chat=chat_key(update), seq=uid
            )
        except Exception as exc:  # e.g. disk full: the update still runs, and `guard` answers with the error
            log.warning("could not record update %s: %s", uid, type(exc).__name__)
            self._unrecorded[uid] = exc
            verdict, fresh = "ok", True
        if not fresh:
            log.info("dropped redelivered update %s", uid)
            metrics.update_refused(CHANNEL, update_kind(update), "duplicate")
            return False
        if verdict != "ok":
            self._verdicts[uid] = verdict
            self._flooded.add(uid)
        elif secret:
            self._receiver_only.add(uid)
        return True

    def flooded(self, update: object) -> bool:
        """Refused by the flood guard when it arrived: stopped at once, holding no chat and no worker slot."""
        return isinstance(update, Update) and update.update_id in self._flooded

    async def hand_over(self, update: object, coroutine: Awaitable[Any]) -> bool:
        """On PostgreSQL, a recorded update goes to the core's per-chat order (True: handled or handed on)."""
        if self.order is None or not isinstance(update, Update) or update.update_id in self._unrecorded:
            return False
        uid = update.update_id
        receiver_only = uid in self._receiver_only
        self._receiver_only.discard(uid)
        await self.order.submit(chat_key(update), uid, coroutine, receiver_only=receiver_only)
        return True

    async def finish(self, update: object) -> None:
        """After the handlers ran (or the flood guard stopped it): not to be run again."""
        if not isinstance(update, Update) or self._unrecorded.pop(update.update_id, None) is not None:
            return
        if update.update_id in self._flooded:  # recorded as done when it was refused
            self._flooded.discard(update.update_id)
            return
        try:
            await self.ledger.finish(CHANNEL, str(update.update_id))
        except Exception as exc:  # it will be re-run after a restart: at least once
            log.warning("could not mark update %s done: %s", update.update_id, type(exc).__name__)

    async def start(self, application: Application) -> int:
        """Before updates are fetched: hand out what earlier processes took in and did not finish. Returns how
        many updates (SQLite) or chats (PostgreSQL, where the sweep goes on every few seconds)."""
        if self.order is not None:
            return await self.order.start()
        return await replay(application, self)

    async def stop(self) -> None:
        if self.order is not None:
            await self.order.stop()

    def failure(self, update: Update) -> BaseException | None:
        return self._unrecorded.get(update.update_id)

    def refused(self, update: Update) -> str | None:
        return self._verdicts.pop(update.update_id, None)


class DurableUpdateQueue(asyncio.Queue):
    """PTB's update queue, recording each update before the updater goes on to confirm it to Telegram."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    async def put(self, item: Any) -> None:
        if isinstance(item, Update) and not await self.gate.arrived(item):
            return
        await super().put(item)

    async def put_recorded(self, item: Any) -> None:
        """An update already in the ledger (being re-run): straight into the queue."""
        await super().put(item)


async def replay(application: Application, gate: Gate) -> int:
    """Queue the updates an earlier process took in but did not finish. Call it before updates are fetched, so
    that Telegram's redelivery of one of them is recognised as already recorded. Returns how many."""
    queue = application.update_queue
    assert isinstance(queue, DurableUpdateQueue)
    unfinished = await gate.ledger.unfinished(CHANNEL)
    for key, payload in unfinished:
        log.info("re-running interrupted update %s", key)
        await queue.put_recorded(Update.de_json(json.loads(payload), application.bot))
    return len(unfinished)


async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """First handler of every update. One that could not be recorded (storage trouble) goes no further: the error
    handler tells the person what happened. One the flood guard refused is stopped here."""
    gate: Gate = context.application.bot_data["gate"]
    failure = gate.failure(update)
    if failure is not None:
        raise failure
    verdict = gate.refused(update)
    if verdict is None:
        return
    observe.note_outcome("flood")
    if verdict == "warn" and update.effective_chat is not None and update.effective_chat.type == "private":
        user = update.effective_user
        assert user is not None
        lang = (await gate.services.users.identify(CHANNEL, str(user.id), user.full_name)).lang
        await context.bot.send_message(update.effective_chat.id, t(lang, "flood.slow_down"))
    raise ApplicationHandlerStop
