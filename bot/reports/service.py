"""随手拍, end to end, channel-neutral: a rider's draft → a committed report → the grid worker's loop → the rider.

Every method takes our own `User` and returns `Reply` (messages for the person who acted, plus an optional
short alert for a button press); everything anyone else must hear goes into the outbox in the same
transaction as the change it announces. Conversation state lives in the `dialogs` table, so a restart in the
middle of a report loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.media.photos import PhotoStore
from bot.outbox import messages as out
from bot.outbox.store import Queued, Recipient, enqueue, enqueue_many
from bot.people.roles import RoleService
from bot.presenters.places import distance_text
from bot.reports import actions, coverage
from bot.reports import notices as n
from bot.reports.again import WordsAgainMixin
from bot.reports.asking import AskingMixin
from bot.reports.common import Reply, ReportPolicy, StaleReport
from bot.reports.direct import DirectActionsMixin
from bot.reports.drafting import DraftingMixin
from bot.reports.filing import FilingMixin
from bot.reports.model import Report
from bot.reports.moderation import Moderation
from bot.reports.questions import Outcome, Questionnaire
from bot.reports.rider_loop import RiderLoopMixin
from bot.reports.routing import Assignment, route_note
from bot.reports.states import OPEN, Action, Status, advance
from bot.reports.workflow import WorkflowMixin
from bot.services.finder import FinderService
from bot.store import answers as answer_store
from bot.store import reports as store
from bot.store import users as user_store
from bot.store.db import Connection, Database
from bot.store.users import User
from bot.texts import t

__all__ = ["Reply", "ReportPolicy", "ReportService", "StaleReport"]

log = logging.getLogger(__name__)


class ReportService(
    DraftingMixin, FilingMixin, AskingMixin, WorkflowMixin, DirectActionsMixin, RiderLoopMixin, WordsAgainMixin
):
    """One object per process that every door calls: drafting (drafting.py), filing (filing.py), the worker's loop
    and the rider's verdict (workflow.py), the same actions as single steps (direct.py), typed words run again
    (again.py), and here the state they share, assignment, announcements and the lists."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        roles: RoleService,
        finder: FinderService,
        photos: PhotoStore,
        grids: Callable[[], Any],
        *,
        policy: ReportPolicy | None = None,
        wake_outbox: Callable[[], None] = lambda: None,
        questions: Questionnaire | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.roles = roles
        self.finder = finder
        # "你上次的位置在…（2 小时前）" when a stored location is too old to reuse silently (set by the container)
        self.stale_location: Callable[[User], str | None] | None = None
        self.photos = photos
        self._grids = grids
        self.policy = policy or ReportPolicy()
        self.wake_outbox = wake_outbox
        self.questions = questions or Questionnaire()
        self.moderation = Moderation(db, clock, roles, grids, wake_outbox)

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return self.clock.now()

    def _stamp(self, when: datetime | None = None) -> str:
        return (when or self._now()).isoformat(timespec="seconds")

    @property
    def grids(self) -> Any:
        return self._grids()

    def covers(self, lat: float, lon: float) -> bool:
        """Whether a report here has anyone to go to (within the configured distance of a grid)."""
        return coverage.covers(self.grids, self.finder.covers, lat, lon, self.policy.coverage_m)

    async def _user(self, user_id: int) -> User | None:
        return await user_store.get_user(self.db, user_id)

    # ------------------------------------------------------------------ assignment and announcements

    async def assign_to(
        self,
        conn: Connection,
        report_id: int,
        version: int,
        status: str,
        action: Action,
        assignment: Assignment,
        actor_id: int | None,
        note: str,
        now: str,
    ) -> Report:
        """Transfer or escalate inside the caller's transaction: the status, the new assignee with a fresh time to
        accept, and the audit event; raises StaleReport if someone changed the report meanwhile. (A new report
        is filed already routed: `routed`.)"""
        limits = await store.category_limits(conn, await store.category_in(conn, report_id))
        new_status, fields = self.routed(status, action, assignment, now, rules=None, limits=limits)
        report = await store.update_report_returning(conn, report_id, version, **fields)
        if report is None:
            raise StaleReport(report_id)
        await store.log_event(
            conn, report_id, at=now, actor_id=actor_id, action=action, from_status=status, to_status=new_status,
            note=route_note(note, assignment),
        )  # fmt: skip
        return report

    def routed(
        self,
        status: str,
        action: Action,
        assignment: Assignment,
        now: str,
        *,
        rules: Outcome | None,
        limits: tuple[int, int, bool],
    ) -> tuple[str, dict[str, Any]]:
        """(the new status, the report's columns as they change) when `assignment` takes the report: shared by
        `assign_to` and a new report, which is filed already routed. `rules` (what a new report's answers decide)
        may make it urgent and shorten its time limits; `limits`: the category's (`store.category_limits`)."""
        new_status = advance(status, action)
        accept_minutes, resolve_minutes, urgent = limits
        if rules is not None:
            urgent = urgent or rules.urgent
            accept_minutes = min(accept_minutes, rules.accept_minutes or accept_minutes)
            resolve_minutes = min(resolve_minutes, rules.resolve_minutes or resolve_minutes)
        start = datetime.fromisoformat(now)
        fields: dict[str, Any] = {
            "status": new_status,
            "assignee_kind": assignment.kind,
            "assignee": assignment.target,
            "updated_at": now,
            # Each new assignee gets the full time to accept (限时办结); the clock to resolve keeps running.
            "accept_due": self._stamp(start + timedelta(minutes=accept_minutes)),
            "escalation_level": 0,
        }
        if action == Action.ROUTE:
            fields["grid_id"] = assignment.grid_id
            fields["urgent"] = int(urgent)
            fields["resolve_due"] = self._stamp(start + timedelta(minutes=resolve_minutes))
        return new_status, fields

    async def announce(
        self,
        conn: Connection,
        report: Report,
        people: list[Recipient],
        photos: list[str],
        followers: int,
        origin: Callable[[str], str] | None = None,
    ) -> None:
        """The card to each new holder, all in one batch; `origin` says, in their language, from whom and why it
        came."""
        answers = await answer_store.answers_in(conn, report.id)
        limits = await store.category_limits(conn, report.category)
        await enqueue_many(conn, await self.cards(report, people, photos, followers, limits, answers, origin))

    async def cards(
        self,
        report: Report,
        people: list[Recipient],
        photos: list[str],
        followers: int,
        limits: tuple[int, int, bool],
        answers: list[tuple[str, str]],
        origin: Callable[[str], str] | None = None,
    ) -> list[Queued]:
        """The messages that put `report` in front of each of `people` (`limits`, `answers`: the report's)."""
        where = await self.where_for_workers(report)
        now = self._now()
        cards: list[Queued] = []
        for person in people:
            for i, message in enumerate(
                n.forward_messages(
                    person.lang,
                    report,
                    where=where(person.lang),
                    pin_address=where(person.lang, coords=False),
                    followers=followers,
                    photos=photos,
                    now=now,
                    answers=self.questions.lines(person.lang, report.category, answers),
                    deadline=n.deadline_text(person.lang, report, now, limits[0], limits[1]),
                    origin=origin(person.lang) if origin else "",
                )
            ):
                key = f"r{report.id}:v{report.version}:fwd:{person.channel}:{person.address}:{i}"
                cards.append(Queued(key, person, message))
        return cards

    async def where_for_workers(self, report: Report) -> Callable[..., str]:
        """Where a report is, as a worker needs it: the grid, the nearest known place, (the coordinates)."""
        grids = self.grids
        grid = grids.get(report.grid_id) if grids is not None and report.grid_id else None
        route = grids.route(report.lat, report.lon, self.policy.grid_max_distance_m) if grids is not None else None

        def where(lang: str, coords: bool = True) -> str:
            parts = [self._where_text(lang, report.lat, report.lon, coords)]
            if grid is not None and route is not None:
                how = t(lang, f"work.how.{route.how}", distance=distance_text(lang, route.distance_m))
                parts.insert(0, t(lang, "work.where_grid", grid=grid.name, how=how))
            return ("\n   " if coords else " · ").join(p for p in parts if p)

        return where

    async def assignee_text(self, lang: str, report: Report) -> str:
        if report.assignee_kind == "department":
            for code, zh, en in await self.roles.departments():
                if code == report.assignee:
                    return t(lang, "assignee.department", name=zh if lang.startswith("zh") else en)
        grids = self.grids
        grid = grids.get(report.assignee) if grids is not None and report.assignee else None
        if report.assignee_kind == "grid" and grid is not None:
            return t(lang, "assignee.grid", name=grid.name)
        if report.assignee_kind == "street_queue" and grid is not None:
            return t(lang, "assignee.street_queue", name=grid.name)
        return t(lang, "assignee.unrouted")

    async def tell_followers(
        self,
        conn: Connection,
        report: Report,
        key: str,
        build: Callable[[str], list[out.Message]],
        not_before: datetime | None = None,
    ) -> None:
        for user_id in await store.followers_in(conn, report.id):
            person = await self._user(user_id)
            if person is None:
                continue
            to = Recipient(person.id, person.channel, person.external_id, person.lang)
            for i, message in enumerate(build(person.lang)):
                idem = f"r{report.id}:v{report.version}:{key}:u{person.id}:{i}"
                await enqueue(conn, idem, to, message, not_before=not_before)

    # ------------------------------------------------------------------ lists

    async def card_for(self, user: User, report: Report, head: str = "") -> list[out.Message]:
        """The card a worker holds: where, what, the time left for the next step and every next action."""
        where = (await self.where_for_workers(report))(user.lang)
        followers = await self.confirmations(report.id)  # reporters, merged duplicates and 👍 我也遇到
        answers = self.questions.lines(user.lang, report.category, await answer_store.answers_of(self.db, report.id))
        now = self._now()
        accept_minutes, resolve_minutes, _ = await store.category_limits(self.db.conn, report.category)
        deadline = n.deadline_text(user.lang, report, now, accept_minutes, resolve_minutes)
        text = n.work_card(
            user.lang, report, where=where, followers=followers, now=now, answers=answers, deadline=deadline
        )
        return [out.text((head + "\n" if head else "") + text, n.work_buttons(user.lang, report))]

    async def queue(self, user: User, limit: int = 20) -> Reply:
        lang = user.lang
        if not await self.roles.roles_of(user):
            return Reply([out.text(t(lang, "queue.not_worker"))])
        open_reports = await store.open_reports(self.db, OPEN - {Status.NEW})
        mine = [r for r in open_reports if await self.can_work(user, r)][:limit]
        if not mine:
            return Reply([out.text(t(lang, "queue.empty"))])
        now = self._now()
        lines = [t(lang, "queue.header", n=len(mine))]
        buttons: out.Buttons = []
        for report in mine:
            lines.append(
                t(lang, "queue.line", ref=report.ref, category=n.category_text(lang, report.category),
                  status=n.status_text(lang, report.status), age=n.age_text(lang, report.created_at, now))
            )  # fmt: skip
            buttons.append(
                [out.button(f"{report.ref} {n.category_text(lang, report.category)}", actions.show(report.id))]
            )
        return Reply([out.text("\n".join(lines), buttons)])

    async def show(self, user: User, payload: actions.ShowReport) -> Reply:
        checked = await self._checked(user, payload.report_id, None, "show")
        return checked if isinstance(checked, Reply) else Reply(await self.card_for(user, checked))

    async def on_moderation_button(self, user: User, payload: actions.ModerationAction) -> Reply:
        """Reject as a false report (the worker's quick reason), or an admin's answer to a ban suggestion."""
        if payload.verb == "false":
            data = {"report_id": payload.target, "version": payload.arg, "action": "reject"}
            reply = await self._reason(user, data, t(user.lang, "mod.false_note"), false_report=True)
            reply.retire = True
            return reply
        done = await self.moderation.on_suggestion(user, payload.target, payload.arg if payload.verb == "ban" else 0)
        if not done.ok:
            await self.refuse(user, None, f"rm:{payload.verb}:{payload.target}", done.code)
        return Reply([out.text(done.text(user.lang))], alert=done.text(user.lang)[:190], retire=done.ok)

    async def my_reports(self, user: User) -> Reply:
        return await self.my_reports_list(user)  # with a 🕒 timeline button per report (rider_loop.py)

    async def rider_button(self, user: User, payload: actions.MeToo | actions.Resubmit | actions.Timeline) -> Reply:
        if isinstance(payload, actions.MeToo):
            return await self.me_too(user, payload)
        if isinstance(payload, actions.Resubmit):
            return await self.resubmit(user, payload)
        return await self.timeline(user, payload)
