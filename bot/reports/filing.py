"""Filing a 随手拍 report: the one transaction that commits it, routes it and queues every notice before
"received" (from a finished draft, or whole from the Open311 door), and a draft joined to an earlier report instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.outbox import messages as out
from bot.outbox.store import Queued, Recipient, enqueue_many
from bot.reports import notices as n
from bot.reports.categories import CATEGORY_BY_TOKEN
from bot.reports.common import Reply
from bot.reports.model import Event, Report
from bot.reports.questions import Outcome
from bot.reports.routing import Assignment, recipients, route_note
from bot.reports.states import OPEN, Action, Status, advance
from bot.store import answers as answer_store
from bot.store import dialogs
from bot.store import reports as store
from bot.store.db import Connection
from bot.store.users import User
from bot.texts import t

RECEIPT_GRACE = timedelta(seconds=3)  # how long the outbox leaves a receipt to the door that answers the step


async def _create(
    conn: Connection, user: User, category: str, lat: float, lon: float, description: str, now: str
) -> int:
    """A new report by this person, and its 'create' event."""
    report = await store.insert_report(
        conn, reporter_id=user.id, category=category, lat=lat, lon=lon, description=description, now=now,
        status=Status.NEW,
    )  # fmt: skip
    report_id = report.id
    await store.log_event(
        conn, report_id, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
    )
    return report_id


class FilingMixin:
    """Committing reports, for ReportService (see bot/reports/service.py for the shared state it relies on)."""

    async def _submit(self, user: User, draft: dict[str, Any]) -> Reply:
        limited = await self._rate_limited(user)
        if limited:
            return limited
        lat, lon, cat = float(draft["lat"]), float(draft["lon"]), draft["category"]
        if cat not in CATEGORY_BY_TOKEN:
            cat = "other"
        answers = self._draft_answers(draft)
        assignment, rules = self._assignment(cat, lat, lon, answers)
        people = await recipients(self.roles, self.grids, assignment.kind, assignment.target, assignment.grid_id)
        now = self._stamp()
        async with self.db.transaction() as conn:
            limits = await store.category_limits(conn, cat)  # read once: routing's deadlines and the cards
            description = draft.get("description", "")
            report = await self._file(conn, user, cat, lat, lon, description, now, assignment, rules, limits)
            await answer_store.put_answers(conn, report.id, answers)
            for photo in draft["photos"]:
                await store.add_photo(conn, report.id, "before", photo["sha256"], photo.get("file_ref", ""), user.id)
            await store.add_follower(conn, report.id, user.id)
            # The receipt is queued first, in this transaction: a committed report's rider is always told (a kill
            # right after COMMIT cannot lose it), and it leaves ahead of the forwards queued with it.
            assignee = await self.assignee_text(user.lang, report)
            text = t(user.lang, "report.received", ref=report.ref, assignee=assignee)
            receipt = self._receipt(user, f"r{report.id}:receipt", out.text(text, keyboard="main", lang=user.lang))
            photos = [p["sha256"] for p in draft["photos"]]
            cards = await self.cards(report, people, photos, 1, limits, list(answers.items()))
            await enqueue_many(conn, [receipt, *cards])
            await dialogs.clear_dialog_in(conn, user.id)
        self.wake_outbox()
        return Reply(retire=True, queued=[receipt.key])

    async def _file(
        self,
        conn: Connection,
        user: User,
        cat: str,
        lat: float,
        lon: float,
        description: str,
        now: str,
        assignment: Assignment,
        rules: Outcome,
        limits: tuple[int, int, bool],
    ) -> Report:
        """A new report, routed as it is filed (one statement), and its two audit events, filed and routed (one
        batch): the fewest round trips between the rider's 提交 and "已收到"."""
        status, routing = self.routed(Status.NEW, Action.ROUTE, assignment, now, rules=rules, limits=limits)
        report = await store.insert_report(
            conn, reporter_id=user.id, category=cat, lat=lat, lon=lon, description=description, now=now, version=2,
            **routing,
        )  # fmt: skip
        await store.log_events(
            conn,
            report.id,
            [
                Event(now, user.id, "create", None, Status.NEW, ""),
                Event(now, None, Action.ROUTE, Status.NEW, status, route_note("", assignment)),
            ],
        )
        return report

    @staticmethod
    def _receipt(user: User, key: str, message: out.Message) -> Queued:
        """The answer to a committing step, as an outbox row of the commit's own transaction. The door sends it
        right after its own answer (`Reply.queued`); the dispatcher holds it back for RECEIPT_GRACE meanwhile, and
        sends it itself only if the door could not (a failed send, a crash)."""
        return Queued(key, Recipient(user.id, user.channel, user.external_id, user.lang), message, RECEIPT_GRACE)

    async def submit_api(
        self,
        user: User,
        category: str,
        lat: float,
        lon: float,
        description: str = "",
        *,
        per_hour: int | None = None,
        answers: dict[str, str] | None = None,
        in_transaction: Callable[[Connection, Report], Any] | None = None,  # awaited
    ) -> Report | None:
        """A complete report from a machine client (the Open311 door): the same commit, routing and outbox as
        `_submit`, without a draft, photos or the duplicate offer. The client is the reporter but not a follower
        (it polls; nothing is queued to a channel without a sender). `in_transaction` runs inside the commit
        (e.g. to store the client's token with the report); `answers` are already validated (`Questionnaire.validate`)
        and their rules apply as in chat. None when `per_hour` reports in the last hour."""
        if per_hour is not None:
            since = self._stamp(self._now() - timedelta(hours=1))
            if await store.count_reports_since(self.db, user.id, since) >= per_hour:
                return None
        cat = category if category in CATEGORY_BY_TOKEN else "other"
        assignment, rules = self._assignment(cat, lat, lon, answers or {})
        people = await recipients(self.roles, self.grids, assignment.kind, assignment.target, assignment.grid_id)
        now = self._stamp()
        async with self.db.transaction() as conn:
            limits = await store.category_limits(conn, cat)
            report = await self._file(conn, user, cat, lat, lon, description, now, assignment, rules, limits)
            await answer_store.put_answers(conn, report.id, answers or {})
            await enqueue_many(conn, await self.cards(report, people, [], 1, limits, list((answers or {}).items())))
            if in_transaction is not None:
                await in_transaction(conn, report)
        self.wake_outbox()
        return report

    async def _merge(self, user: User, draft: dict[str, Any], target_id: int) -> Reply:
        target = await store.get_report(self.db, target_id)
        if target is None or target.status not in OPEN:
            draft["dup_checked"] = True
            await self._save_draft(user, draft)
            return await self._next(user, draft)
        if not await self._offerable(draft, target):
            # Only a report we would offer for this draft (same category, near, recent) can be joined: a forged
            # `rd:merge:<id>` must not make anyone a follower of any report (followers may rate and reopen it).
            await self.refuse(user, target.id, Action.MERGE, "not_offered")
            return await self._next(user, draft)
        now = self._stamp()
        async with self.db.transaction() as conn:
            lat, lon = float(draft["lat"]), float(draft["lon"])
            own = await _create(conn, user, target.category, lat, lon, draft.get("description", ""), now)
            await store.mark_merged(conn, own, advance(Status.NEW, Action.MERGE), target.id, now)
            await store.log_event(
                conn, own, at=now, actor_id=user.id, action=Action.MERGE, from_status=Status.NEW,
                to_status=Status.MERGED, note=target.ref,
            )  # fmt: skip
            for photo in draft["photos"]:
                await store.add_photo(conn, target.id, "before", photo["sha256"], photo.get("file_ref", ""), user.id)
            await store.add_follower(conn, target.id, user.id)
            await store.log_event(
                conn, target.id, at=now, actor_id=user.id, action="join", from_status=target.status,
                to_status=target.status, note=f"SP-{own:06d}",
            )  # fmt: skip
            merged = out.text(t(user.lang, "report.merged", ref=target.ref), keyboard="main", lang=user.lang)
            receipt = self._receipt(user, f"r{own}:receipt", merged)
            joined = await self._joined_photos(target, own, [p["sha256"] for p in draft["photos"]])
            await enqueue_many(conn, [receipt, *joined])
            await dialogs.clear_dialog_in(conn, user.id)
        self.wake_outbox()
        return Reply(retire=True, queued=[receipt.key])

    async def _joined_photos(self, target: Report, own: int, photos: list[str]) -> list[Queued]:
        """A merged duplicate's photos reach whoever holds the report now: new evidence (another angle, a
        worse state) is why a second rider bothered to report it."""
        if not photos:
            return []
        people = await recipients(self.roles, self.grids, target.assignee_kind, target.assignee, target.grid_id)
        queued: list[Queued] = []
        for person in people:
            for i, sha in enumerate(photos):
                caption = t(person.lang, "ux.joined_photos", ref=target.ref, n=len(photos)) if i == 0 else ""
                buttons = n.work_buttons(person.lang, target) if i == 0 else None
                key = f"r{target.id}:join{own}:{person.channel}:{person.address}:{i}"
                queued.append(Queued(key, person, out.photo(sha, caption, buttons=buttons)))
        return queued
