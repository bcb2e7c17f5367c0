"""What every update passes before a handler acts on it: recorded once (and re-run if a crash cut it off), and
flood-checked when it arrives.

Telegram counts an update as received when the next getUpdates confirms it (or the webhook answers 200). PTB does
that before handlers run, so an update still queued or half-handled at a kill used to be lost, and one Telegram
did redeliver was dropped as "already seen". Now the update queue itself records each update durably before PTB
can confirm it (`DurableUpdateQueue.put` is awaited by the updater before its next getUpdates, and by the webhook
before it answers), the update processor marks it done after its handlers, and the next start re-runs whatever
was not done (`replay`). A redelivery of a recorded update is dropped.

The poller's getUpdates answer is recorded as one batch, in one database round trip: `IntakeBot.get_updates` hands
the batch to the gate, and when PTB queues the first of it the gate records all of it (flood verdicts per update,
in update order); PTB's puts of the others then find their verdicts decided. One round trip per update, each queued
behind the handlers' writes for the writer lock, was what bounded how fast a busy bot took updates in
(docs/PERFORMANCE.md, section 7). A webhook POST is a batch of one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, ExtBot

from bot import metrics, observe
from bot.services.chat_order import SharedChatOrder
from bot.services.container import Services
from bot.services.guard import InboundLedger
from bot.store.inbound import Arrival
from bot.texts import t
from handlers.telegram.common import CHANNEL
from handlers.telegram.metering import MeteredUpdateProcessor, update_kind
from handlers.telegram.ordering import chat_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Taken:
    """How one update was taken in: the flood verdict, new or a redelivery, an invite code (recorded without its
    contents), or why it could not be recorded."""

    verdict: str
    fresh: bool
    secret: bool
    failure: BaseException | None


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
        self._fetched: list[Update] = []  # the poller's last getUpdates answer, not recorded yet
        self._taken: list[tuple[Update, _Taken]] = []  # recorded with their batch, not yet queued by PTB

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

    def fetched(self, updates: Sequence[Update]) -> None:
        """The poller's getUpdates answer: recorded as one batch when PTB queues the first of it (`arrived`). Not
        recorded here: an answer PTB does not queue (the updater stopping, its last getUpdates at shutdown) is
        fetched again by the next start, as Telegram was not told."""
        self._fetched = list(updates)
        self._taken = []

    async def arrived(self, update: Update) -> bool:
        """Flood-check and record a new update (with the rest of its getUpdates batch, the first time one of the
        batch is queued); False for one already recorded (a redelivery: drop it)."""
        taken = self._take(update)
        if taken is None:
            if any(u is update for u in self._fetched):
                batch, self._fetched = self._fetched, []
                self._taken = list(zip(batch, await self._record(batch), strict=True))
                taken = self._take(update)
            else:  # a webhook POST, a test's put: a batch of one
                [taken] = await self._record([update])
        assert taken is not None
        uid = update.update_id
        if taken.failure is not None:  # e.g. disk full: the update still runs, and `guard` answers with the error
            self._unrecorded[uid] = taken.failure
            return True
        if not taken.fresh:
            log.info("dropped redelivered update %s", uid)
            metrics.update_refused(CHANNEL, update_kind(update), "duplicate")
            return False
        if taken.verdict != "ok":
            self._verdicts[uid] = taken.verdict
            self._flooded.add(uid)
        elif taken.secret:
            self._receiver_only.add(uid)
        return True

    def _take(self, update: Update) -> _Taken | None:
        for i, (recorded, taken) in enumerate(self._taken):
            if recorded is update:
                del self._taken[i]
                return taken
        return None

    async def _record(self, batch: list[Update]) -> list[_Taken]:
        """Flood-check and record a batch in one round trip (`InboundLedger.admit_many`). If that fails, every
        update of it is unrecorded, and each runs only to be answered with the error."""
        secrets: list[bool] = []
        arrivals: list[Arrival] = []
        failed: dict[int, BaseException] = {}  # position → why this one could not even be written out
        for i, update in enumerate(batch):
            message = update.effective_message
            words = (message.text or "").split() if message is not None else []
            # An invite code (/join CODE, /start CODE) must never reach the database, not even for a moment: such
            # an update is recorded without its contents (not re-run after a crash; the person sends it again).
            secret = len(words) > 1 and words[0].split("@")[0].lower() in ("/join", "/start")
            secrets.append(secret)
            # Flood-checked as it is recorded: a refused update is recorded as done, so no process ever runs it.
            user = update.effective_user
            who = None if user is None else f"{CHANNEL}:{user.id}"
            uid = update.update_id
            try:
                payload = None if secret else update.to_json()
            except Exception as exc:
                failed[i] = exc
                continue
            arrivals.append(Arrival(str(uid), payload, chat=chat_key(update), seq=uid, who=who))
        try:
            outcomes = iter(await self.ledger.admit_many(self.services.flood, CHANNEL, arrivals))
        except Exception as exc:
            log.warning("could not record update %s: %s", ", ".join(a.key for a in arrivals), type(exc).__name__)
            outcomes = iter([("ok", True)] * len(arrivals))
            failed.update({i: exc for i in range(len(batch)) if i not in failed})
        taken: list[_Taken] = []
        for i, secret in enumerate(secrets):
            if i in failed:
                taken.append(_Taken("ok", True, secret, failed[i]))
            else:
                verdict, fresh = next(outcomes)
                taken.append(_Taken(verdict, fresh, secret, None))
        return taken

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


class IntakeBot(ExtBot):
    """The application's bot: hands each getUpdates answer to the gate, so that the poller's batch is recorded in
    one round trip before PTB confirms it with its next getUpdates."""

    __slots__ = ("_gate",)

    def __init__(self, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gate = gate

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        self._gate.fetched(updates)
        return updates


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
