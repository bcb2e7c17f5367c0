"""限时办结 made real: reminders before a deadline, escalation up the chain after it, and the daily digest.

Everything here is derived from the database — each report's deadlines and the marks of what was already
handled — so a restart, a clock jump or a stop of two days sends each reminder and escalation exactly once:
a tick finds what is due and not yet marked, and writes the mark, the audit event and the outbox messages in
one transaction. When several steps of one report fell due while we were stopped, only the most advanced one
is carried out (the others are marked "skipped"): a backlog never turns into a storm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bot import metrics
from bot.clock import Clock
from bot.keepers.stale import digest_line as stale_digest_line
from bot.keepers.stale import in_scope as stale_in_scope
from bot.keepers.stale import stale as stale_places
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.people.roles import RoleService
from bot.reports import notices as n
from bot.reports.categories import category
from bot.reports.model import Report
from bot.reports.routing import Assignment, chain, recipients
from bot.reports.service import Reply, ReportService
from bot.reports.states import Action, Status, advance
from bot.schedule.quiet import QuietHours
from bot.schedule.stats import ReportStats, collect_stats, day_counts, digest_text, summary_values
from bot.store import reports as store
from bot.store import roles as role_store
from bot.store import schedule as marks
from bot.store.db import Connection, Database
from bot.texts import t

log = logging.getLogger(__name__)

REMINDERS = (("50", 0.5), ("90", 0.9))
MAX_LEVEL = 3
WAITING = (Status.FORWARDED, Status.TRANSFERRED, Status.REOPENED)  # the accept clock runs
RUNNING = (*WAITING, Status.ACCEPTED)  # the resolve clock runs


@dataclass(frozen=True)
class Step:
    """One scheduled step of one report's deadline: a reminder ("50", "90") or an escalation ("esc1"…)."""

    name: str
    at: datetime
    rank: int


@dataclass
class TickResult:
    reminders: int = 0
    escalations: int = 0
    skipped: int = 0
    digests: int = 0


def duration_text(lang: str, delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() // 60))
    if minutes < 120:
        return t(lang, "age.minutes", n=minutes)
    if minutes < 48 * 60:
        return t(lang, "age.hours", n=minutes // 60)
    return t(lang, "age.days", n=minutes // 1440)


class DeadlineWatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        reports: ReportService,
        roles: RoleService,
        grids: Callable[[], Any],
        *,
        quiet: QuietHours | None = None,
        digest_at: time = time(8, 30),
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.reports = reports
        self.roles = roles
        self._grids = grids
        self.quiet = quiet or QuietHours()
        self.digest_at = digest_at
        self.wake_outbox = wake_outbox

    # ------------------------------------------------------------------ the tick

    async def tick(self) -> TickResult:
        """Do whatever is due now. Safe to call at any time, any number of times."""
        result = TickResult()
        now = self.clock.now()
        for report in await store.open_reports(self.db, frozenset(RUNNING), limit=100_000):
            try:
                await self._report_tick(report, now, result)
            except Exception:  # one bad report must not stop the others' reminders
                log.exception("deadline tick failed for report %s", report.id)
        result.digests = await self._digests(now)
        if result.reminders or result.escalations or result.digests:
            self.wake_outbox()
        return result

    async def _limits(self, report: Report) -> tuple[timedelta, timedelta]:
        accept, resolve, _ = await store.category_limits(self.db.conn, report.category)
        return timedelta(minutes=accept), timedelta(minutes=resolve)

    def _steps(self, due: datetime, window: timedelta) -> list[Step]:
        steps = [Step(name, due - window * (1 - share), rank) for rank, (name, share) in enumerate(REMINDERS)]
        for level in range(1, MAX_LEVEL + 1):
            steps.append(Step(f"esc{level}", due + window * (level - 1), len(REMINDERS) + level - 1))
        return steps

    async def _report_tick(self, report: Report, now: datetime, result: TickResult) -> None:
        accept_window, resolve_window = await self._limits(report)
        phases = []
        if report.status in WAITING and report.accept_due:
            phases.append(("accept", datetime.fromisoformat(report.accept_due), accept_window))
        if report.resolve_due:
            phases.append(("resolve", datetime.fromisoformat(report.resolve_due), resolve_window))
        for phase, due, window in phases:
            steps = [s for s in self._steps(due, window) if s.at <= now]
            if not steps:
                continue
            keys = {s.name: f"r{report.id}:{phase}:{due.isoformat()}:{s.name}" for s in steps}
            done = await self._marked(list(keys.values()))
            pending = [s for s in steps if keys[s.name] not in done]
            if not pending:
                continue
            chosen = max(pending, key=lambda s: s.rank)
            stamp = now.isoformat(timespec="seconds")
            async with self.db.transaction() as conn:
                # The chosen step's mark is the claim on this slot: if another process (a leader finishing its
                # tick while a new one starts) wrote it meanwhile, that process does the step, not this one.
                if not await marks.mark(conn, keys[chosen.name], stamp):
                    continue
                for step in pending:
                    if step is not chosen:
                        await marks.mark(conn, keys[step.name], stamp, "skipped")
                result.skipped += len(pending) - 1
                if any(s.name == "esc1" for s in pending):
                    metrics.deadline_breached(phase)
                if chosen.name.startswith("esc"):
                    level = int(chosen.name[3:])
                    if await self._escalate(conn, report, phase, level, now - due, now):
                        result.escalations += 1
                        metrics.escalated(phase, level)
                else:
                    await self._remind(conn, report, phase, due, now, keys[chosen.name])
                    result.reminders += 1
            report = await store.get_report(self.db, report.id) or report  # escalation may have moved it
            if report.status not in RUNNING:
                return

    async def _marked(self, keys: list[str]) -> set[str]:
        return await marks.marked(self.db, keys)

    def _hold(self, report: Report, now: datetime) -> datetime | None:
        """Non-urgent messages wait out quiet hours; urgent categories never do."""
        return None if report.urgent else self.quiet.defer(now)

    # ------------------------------------------------------------------ reminders and escalation

    async def _remind(
        self, conn: Connection, report: Report, phase: str, due: datetime, now: datetime, key: str
    ) -> None:
        people = await recipients(self.roles, self._grids(), report.assignee_kind, report.assignee, report.grid_id)
        for person in people:
            lang = person.lang
            text = t(
                lang,
                "remind.text",
                ref=report.ref,
                category=n.category_text(lang, report.category),
                due=due.astimezone(now.tzinfo).strftime("%m-%d %H:%M"),
                phase=t(lang, f"phase.{phase}"),
                left=duration_text(lang, due - now),
            )
            message = out.text(text, n.work_buttons(lang, report))
            await enqueue(
                conn, f"{key}:{person.channel}:{person.address}", person, message, not_before=self._hold(report, now)
            )

    async def _escalate(
        self, conn: Connection, report: Report, phase: str, level: int, over: timedelta, now: datetime
    ) -> bool:
        """Up the chain: community supervisors, then the street's, then the category's department (吹哨)."""
        if level <= report.escalation_level:
            return False  # the other clock already escalated this far
        grids = self._grids()
        scopes = chain(grids, report.grid_id or (report.assignee if report.assignee_kind == "grid" else None))
        stamp = now.isoformat(timespec="seconds")
        department = category(report.category).department
        note = t(
            "zh-CN",
            "escalate.audit",
            level=level,
            phase=t("zh-CN", f"phase.{phase}"),
            over=duration_text("zh-CN", over),
        )
        if level == MAX_LEVEL and not (report.assignee_kind == "department" and report.assignee == department):
            assignment = Assignment("department", department, report.grid_id, "escalation")
            giver = {lang: await self.reports.assignee_text(lang, report) for lang in ("zh-CN", "en")}

            def origin(lang: str) -> str:
                return t(
                    lang,
                    "ux.origin.escalation",
                    who=giver.get(lang, giver["zh-CN"]),
                    phase=t(lang, f"phase.{phase}"),
                    over=duration_text(lang, over),
                )

            moved = await self.reports.assign_to(
                conn, report.id, report.version, report.status, Action.TRANSFER, assignment, None, note, stamp
            )
            await store.set_escalation_level(conn, report.id, level)
            people = await recipients(self.roles, grids, "department", department, report.grid_id)
            photos = [sha for sha, _ in await store.photos(self.db, report.id)]
            followers = len(await store.followers(self.db, report.id))
            await self.reports.announce(conn, moved, people, photos, followers, origin)
            report = moved
        else:
            advance(report.status, Action.TRANSFER)  # escalation is only for reports still being worked
            await store.set_escalation_level(conn, report.id, level, changed_at=stamp)
            await store.log_event(
                conn,
                report.id,
                at=stamp,
                actor_id=None,
                action="escalate",
                from_status=report.status,
                to_status=report.status,
                note=note,
            )
            report = await store.get_report_in(conn, report.id)
            targets = scopes[level : level + 1] if level <= 2 else []
            people = []
            for scope in targets:
                people += await recipients_for_supervisors(self.roles, scope)
            if not people:  # nobody bound at that level: the admins are the last line
                people = await recipients(self.roles, grids, "unrouted", "", None)
            where = await self.reports.where_for_workers(report)
            for person in people:
                lang = person.lang
                card = n.work_card(lang, report, where=where(lang), followers=1, now=now)
                text = t(
                    lang,
                    "escalate.workers",
                    ref=report.ref,
                    category=n.category_text(lang, report.category),
                    phase=t(lang, f"phase.{phase}"),
                    over=duration_text(lang, over),
                    card=card,
                )
                await enqueue(
                    conn,
                    f"r{report.id}:esc{level}:{phase}:{person.channel}:{person.address}",
                    person,
                    out.text(text, n.work_buttons(lang, report)),
                    not_before=self._hold(report, now),
                )
        dept_names = {code: (zh, en) for code, zh, en in await self.roles.departments()}

        def tell(lang: str) -> list[out.Message]:
            zh, en = dept_names.get(department, (department, department))
            step = t(lang, f"escalate.level.{level}", department=zh if lang.startswith("zh") else en)
            return [out.text(t(lang, "escalate.rider", ref=report.ref, step=step))]

        await self.reports.tell_followers(conn, report, f"esc{level}", tell, not_before=self._hold(report, now))
        return True

    # ------------------------------------------------------------------ the daily digest

    async def _digests(self, now: datetime) -> int:
        """Once a day at `digest_at` (local time) — late if we were down then, never twice, never for missed days."""
        local = now.astimezone(self.clock.now().tzinfo)
        if local.time() < self.digest_at:
            return 0
        day_key = f"digest:{local.date().isoformat()}"
        if await self._marked([day_key]):
            return 0
        sent = 0
        audience = await self.digest_audience()
        all_stale = await stale_places(self.db, now)
        async with self.db.transaction() as conn:
            if not await marks.mark(conn, day_key, now.isoformat(timespec="seconds")):  # another process sent it
                return 0
            for person, scope in audience:
                stats = await collect_stats(self.db, self._grids(), scope, now)
                stale = stale_in_scope(all_stale, self._grids(), scope)  # places nobody confirmed for 90 days
                if not (stats.new or stats.open or stats.resolved or stale):
                    continue  # a quiet patch gets no empty report
                message = digest_message(person.lang, stats, scope_name(self._grids(), scope, person.lang), now)
                if stale:
                    message["text"] += "\n" + stale_digest_line(person.lang, stale)
                await enqueue(conn, f"{day_key}:{person.channel}:{person.address}", person, message)
                sent += 1
        return sent

    async def digest_audience(self) -> list[tuple[Any, str | None]]:
        """Every supervisor for each scope they cover, and every admin for everything."""
        found: list[tuple[Any, str | None]] = []
        for scope in await role_store.supervised_scopes(self.db):
            for person in await recipients_for_supervisors(self.roles, scope):
                found.append((person, scope))
        for person in await recipients(self.roles, self._grids(), "unrouted", "", None):
            found.append((person, None))
        return found


async def recipients_for_supervisors(roles: RoleService, scope: str) -> list[Recipient]:
    return [Recipient(u.id, u.channel, u.external_id, u.lang) for u in await roles.users_with("supervisor", scope)]


def scope_name(grids: Any, scope: str | None, lang: str) -> str:
    if scope is None:
        return t(lang, "digest.scope_all")
    grid = grids.get(scope) if grids is not None else None
    return grid.name if grid is not None else scope


def digest_message(lang: str, stats: ReportStats, scope: str, now: datetime) -> out.Message:
    text = digest_text(lang, stats, scope, now)
    buttons = [[out.button(f"{r.ref} {n.category_text(lang, r.category)}", f"rq:{r.id}")] for r in stats.oldest]
    return out.text(text, buttons or None)


class SupervisorViews:
    """/stats and /overdue: the digest's numbers on demand, for supervisors (their scopes) and admins (all)."""

    def __init__(self, watcher: DeadlineWatcher) -> None:
        self.watcher = watcher

    async def _scopes(self, user: Any) -> list[str | None] | None:
        roles = self.watcher.roles
        if await roles.is_admin(user):
            return [None]
        scopes: list[str | None] = [r.scope for r in await roles.roles_of(user) if r.role == "supervisor"]
        return scopes or None

    async def stats(self, user: Any) -> Reply:
        """One message, whatever the number of areas: today and yesterday per area, quiet areas left out (a
        street supervisor with 13 communities got 13 messages, most of them zeros)."""
        scopes = await self._scopes(user)
        if scopes is None:
            return Reply([out.text(t(user.lang, "stats.not_allowed"))])
        lang, now = user.lang, self.watcher.clock.now()
        grids = self.watcher._grids()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = today - timedelta(days=1)
        lines, oldest, quiet = [t(lang, "ux.stats.title", date=today.date().isoformat())], [], 0
        for scope in scopes:
            stats = await collect_stats(self.watcher.db, grids, scope, now)
            new_today, resolved_today = await day_counts(self.watcher.db, grids, scope, today, now + timedelta(1))
            new_y, resolved_y = await day_counts(self.watcher.db, grids, scope, yesterday, today)
            if not any((new_today, resolved_today, new_y, resolved_y, stats.open, stats.overdue)):
                quiet += 1
                continue
            lines.append(
                t(lang, "ux.stats.area", scope=scope_name(grids, scope, lang), new_today=new_today,
                  resolved_today=resolved_today, new_yesterday=new_y, resolved_yesterday=resolved_y,
                  open=stats.open, overdue=stats.overdue, on_time=summary_values(lang, stats)["on_time"])
            )  # fmt: skip
            oldest += [r for r in stats.oldest if r.id not in {o.id for o in oldest}]
        if len(lines) == 1:
            lines.append(t(lang, "ux.stats.all_quiet"))
        elif quiet:
            lines.append(t(lang, "ux.stats.quiet", n=quiet))
        oldest.sort(key=lambda r: (r.created_at, r.id))
        buttons = [[out.button(f"{r.ref} {n.category_text(lang, r.category)}", f"rq:{r.id}")] for r in oldest[:5]]
        return Reply([out.text("\n".join(lines), buttons or None)])

    async def overdue(self, user: Any) -> Reply:
        scopes = await self._scopes(user)
        if scopes is None:
            return Reply([out.text(t(user.lang, "stats.not_allowed"))])
        lang, now = user.lang, self.watcher.clock.now()
        found: dict[int, tuple[Report, str, timedelta]] = {}
        for report in await store.open_reports(self.watcher.db, frozenset(RUNNING), limit=100_000):
            if None not in scopes and not set(scopes) & set(
                [*chain(self.watcher._grids(), report.grid_id), report.assignee]
            ):
                continue
            for phase, due in (("accept", report.accept_due), ("resolve", report.resolve_due)):
                if due is None or (phase == "accept" and report.status not in WAITING):
                    continue
                late = now - datetime.fromisoformat(due)
                if late > timedelta(0) and report.id not in found:
                    found[report.id] = (report, phase, late)
        if not found:
            return Reply([out.text(t(lang, "overdue.none"))])
        rows = sorted(found.values(), key=lambda x: -x[2])[:20]
        lines = [t(lang, "overdue.header", n=len(found))]
        buttons = []
        for report, phase, late in rows:
            lines.append(
                t(
                    lang,
                    "overdue.line",
                    ref=report.ref,
                    category=n.category_text(lang, report.category),
                    phase=t(lang, f"phase.{phase}"),
                    over=duration_text(lang, late),
                )
            )
            buttons.append([out.button(f"{report.ref} {n.category_text(lang, report.category)}", f"rq:{report.id}")])
        return Reply([out.text("\n".join(lines), buttons)])
