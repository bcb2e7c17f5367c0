"""The grid worker's loop and the rider's verdict: permissions checked on every action, optimistic updates,
and every change announced through the outbox in the same transaction."""

from __future__ import annotations

import logging
from typing import Any

from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.common import (
    MAX_PHOTOS,
    MAX_WORDS,
    POINTS_JOINED,
    POINTS_VALID,
    REASON_DIALOG,
    RESOLVE_DIALOG,
    Reply,
    StaleReport,
    closed_by,
)
from bot.reports.model import Report
from bot.reports.routing import chain
from bot.reports.states import Action, InvalidTransition, advance
from bot.store import dialogs
from bot.store import reports as store
from bot.store.db import Connection
from bot.store.users import User
from bot.texts import t

log = logging.getLogger(__name__)


class WorkflowMixin:
    """Accept, transfer, resolve, reject, rate and reopen: the actions part of ReportService."""

    # ------------------------------------------------------------------ grid worker: permissions and actions

    async def can_work(self, user: User, report: Report) -> bool:
        """The assignee's people, the supervisors of the report's grid chain, and admins."""
        if await self.roles.is_admin(user):
            return True
        held = {(r.role, r.scope) for r in await self.roles.roles_of(user)}
        grids = self.grids
        supervisors = {("supervisor", s) for s in chain(grids, report.grid_id)[1:]}
        if report.assignee_kind == "grid":
            supervisors |= {("supervisor", s) for s in chain(grids, report.assignee)[1:]}
            if ("worker", report.assignee) in held:
                return True
        elif report.assignee_kind == "department":
            if ("department", report.assignee) in held:
                return True
        elif report.assignee_kind == "street_queue":
            supervisors.add(("supervisor", report.assignee))
        return bool(held & supervisors)

    async def refuse(self, user: User, report_id: int | None, action: str, reason: str) -> None:
        async with self.db.transaction() as conn:
            await store.log_refusal(
                conn, at=self._stamp(), user_id=user.id, report_id=report_id, action=action, reason=reason
            )
        log.info("refused %s on report %s by user %s: %s", action, report_id, user.id, reason)

    async def _checked(self, user: User, report_id: int, version: int | None, action: str) -> Report | Reply:
        """The report if this user may act on it at this version, else the polite refusal (recorded)."""
        report = await store.get_report(self.db, report_id)
        if report is None or (report.hidden_at and not await self.roles.is_admin(user)):
            await self.refuse(user, report_id, action, "not_found")
            return Reply(alert=t(user.lang, "work.not_found"), popup=True)
        if not await self.can_work(user, report):
            await self.refuse(user, report_id, action, "forbidden")
            return Reply(alert=t(user.lang, "work.forbidden"), popup=True)
        if version is not None and version != report.version:
            await self.refuse(user, report_id, action, "stale")
            return Reply(alert=t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)), popup=True)
        if action in {a.value for a in Action}:
            try:
                advance(report.status, action)
            except InvalidTransition:
                await self.refuse(user, report_id, action, "invalid")
                return Reply(
                    alert=t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)), popup=True
                )
        return report

    async def on_work_button(self, user: User, payload: actions.WorkAction | actions.TargetChoice) -> Reply:
        lang = user.lang
        if isinstance(payload, actions.TargetChoice):
            checked = await self._checked(user, payload.report_id, payload.version, Action.TRANSFER)
            if isinstance(checked, Reply):
                return checked
            if not await self._valid_target(payload.kind, payload.target, checked):
                await self.refuse(user, checked.id, "transfer", "bad_target")
                return Reply(alert=t(lang, "work.forbidden"), popup=True)
            data = {"report_id": checked.id, "version": checked.version, "action": "transfer",
                    "kind": payload.kind, "target": payload.target}  # fmt: skip
            await dialogs.put_dialog(self.db, user.id, REASON_DIALOG, data, self._stamp())
            return Reply(
                [out.text(t(lang, "work.ask_reason", action=t(lang, "work.action.transfer"), ref=checked.ref))]
            )
        if payload.verb == "show":
            checked = await self._checked(user, payload.report_id, None, "show")
            return checked if isinstance(checked, Reply) else Reply(await self.card_for(user, checked))
        checked = await self._checked(user, payload.report_id, payload.version, payload.verb)
        if isinstance(checked, Reply):
            return checked
        report = checked
        if payload.verb == "accept":
            return await self._accept(user, report)
        if payload.verb == "transfer":
            return Reply([out.text(t(lang, "work.choose_target", ref=report.ref), await self._targets(lang, report))])
        if payload.verb == "reject":
            data = {"report_id": report.id, "version": report.version, "action": "reject"}
            await dialogs.put_dialog(self.db, user.id, REASON_DIALOG, data, self._stamp())
            # A false report is one tap (and counts towards the reporter's rejection streak, see moderation.py).
            false = [[out.button(t(lang, "mod.false_button"), actions.reject_false(report.id, report.version))]]
            ask = t(lang, "work.ask_reason", action=t(lang, "work.action.reject"), ref=report.ref)
            return Reply([out.text(ask, false)])
        # resolve: an after-photo, then a note
        data = {"report_id": report.id, "version": report.version, "photos": []}
        await dialogs.put_dialog(self.db, user.id, RESOLVE_DIALOG, data, self._stamp())
        return Reply([out.text(t(lang, "work.ask_after_photo", ref=report.ref))])

    async def _targets(self, lang: str, report: Report) -> out.Buttons:
        rows: out.Buttons = []
        grids = self.grids
        current = report.assignee if report.assignee_kind == "grid" else report.grid_id
        if grids is not None and current:
            ancestors = grids.ancestors(current)
            if ancestors:
                siblings = [g for g in grids.children(ancestors[0].id) if g.id != current][:6]
                rows += [
                    [out.button(g.name, actions.target(report.id, report.version, "grid", g.id))] for g in siblings
                ]
        departments = [
            out.button(
                zh if lang.startswith("zh") else en, actions.target(report.id, report.version, "department", code)
            )
            for code, zh, en in await self.roles.departments()
        ]
        rows += [departments[i : i + 3] for i in range(0, len(departments), 3)]
        return rows

    async def _valid_target(self, kind: str, target: str, report: Report) -> bool:
        if kind == "department":
            return target in {code for code, _, _ in await self.roles.departments()}
        grids = self.grids
        grid = grids.get(target) if grids is not None else None
        return grid is not None and grid.level == "grid" and target != report.assignee

    async def _accept(self, user: User, report: Report) -> Reply:
        now = self._stamp()
        try:
            async with self.db.transaction() as conn:
                new_status = advance(report.status, Action.ACCEPT)
                if not await store.update_report(conn, report.id, report.version, status=new_status, updated_at=now):
                    raise StaleReport(report.id)
                await store.log_event(
                    conn, report.id, at=now, actor_id=user.id, action=Action.ACCEPT, from_status=report.status,
                    to_status=new_status,
                )  # fmt: skip
                updated = await store.get_report_in(conn, report.id)
                await self.tell_followers(
                    conn, updated, "accepted", lambda lang: [out.text(t(lang, "notify.accepted", ref=updated.ref))]
                )
                await self._award_points(conn, updated, now)
        except StaleReport:
            # Someone else acted between our check and our write (two taps at once): nothing was written.
            await self.refuse(user, report.id, Action.ACCEPT, "stale")
            current = await store.get_report(self.db, report.id)
            status = n.status_text(user.lang, current.status if current else report.status)
            return Reply(alert=t(user.lang, "work.stale", status=status), popup=True)
        self.wake_outbox()
        # The card the worker tapped now carries the next step (办结 · 转派 · 退回, the route) and so does the
        # answer, so nobody has to discover /queue to finish the job.
        card = await self.card_for(user, updated, head=t(user.lang, "work.accepted", ref=report.ref))
        return Reply(card, alert=n.status_text(user.lang, new_status), rebutton=card[0].get("buttons"))

    async def _award_points(self, conn: Connection, report: Report, now: str) -> None:
        """A report a worker accepts is a valid one: its reporter (and those who joined it) earn points, once."""
        for user_id in await store.followers_in(conn, report.id):
            points, reason = (POINTS_VALID, "valid_report") if user_id == report.reporter_id else (
                POINTS_JOINED, "joined_report")  # fmt: skip
            if await store.award_points(conn, user_id, points, reason, report.id, now):
                person = await self._user(user_id)
                if person is not None:
                    to = Recipient(person.id, person.channel, person.external_id, person.lang)
                    message = out.text(t(person.lang, "notify.points", ref=report.ref, points=points))
                    await enqueue(conn, f"r{report.id}:points:u{user_id}", to, message)

    async def _reason(
        self, user: User, data: dict[str, Any], text: str, *, false_report: bool = False, step: str | None = None
    ) -> Reply:
        """`step`: the update the reason was typed in, recorded with the close (bot/store/dialogs.py)."""
        note = " ".join(text.split())[:MAX_WORDS]
        if not note:
            return Reply([out.text(t(user.lang, "work.ask_reason", action="", ref=f"SP-{data['report_id']:06d}"))])
        checked = await self._checked(user, data["report_id"], data["version"], data["action"])
        if isinstance(checked, Reply):
            said = checked.alert or ""
            await dialogs.clear_dialog(self.db, user.id, closed_by(step, REASON_DIALOG, data["report_id"], said))
            return Reply([out.text(said)])
        return await self._transfer_or_reject(
            user, checked, data["action"], note, data.get("kind", ""), data.get("target", ""), clear_dialog=True,
            false_report=false_report, step=step,
        )  # fmt: skip

    async def _resolve_photo(self, user: User, data: dict[str, Any], sha256: str) -> Reply:
        photos = data.get("photos", [])
        if sha256 not in photos:  # the same photo again (a re-run after a kill, a second send) is kept once
            data["photos"] = [*photos, sha256][:MAX_PHOTOS]
        await dialogs.put_dialog(self.db, user.id, RESOLVE_DIALOG, data, self._stamp())
        return Reply([out.text(t(user.lang, "work.ask_note", ref=f"SP-{data['report_id']:06d}"))])

    async def _resolve_note(self, user: User, data: dict[str, Any], text: str, *, step: str | None = None) -> Reply:
        """`step`: the update the note was typed in, recorded with the close (bot/store/dialogs.py)."""
        ref = f"SP-{data['report_id']:06d}"
        if not data.get("photos"):
            return Reply([out.text(t(user.lang, "work.ask_after_photo", ref=ref))])
        note = " ".join(text.split())[:MAX_WORDS]
        checked = await self._checked(user, data["report_id"], data["version"], Action.RESOLVE)
        if isinstance(checked, Reply):
            said = checked.alert or ""
            await dialogs.clear_dialog(self.db, user.id, closed_by(step, RESOLVE_DIALOG, data["report_id"], said))
            return Reply([out.text(said)])
        return await self._resolve(user, checked, data["photos"], note, clear_dialog=True, step=step)

    # ------------------------------------------------------------------ rider: rating and reopening

    async def _reporter_check(self, user: User, report_id: int, action: Action) -> Report | Reply:
        report = await store.get_report(self.db, report_id)
        if report is None or user.id not in await store.followers(self.db, report_id):
            await self.refuse(user, report_id, action, "not_reporter")
            return Reply(alert=t(user.lang, "rate.not_yours"), popup=True)
        try:
            advance(report.status, action)
        except InvalidTransition:
            await self.refuse(user, report_id, action, "invalid")
            return Reply(alert=t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)), popup=True)
        return report

    async def rate(self, user: User, payload: actions.Rate) -> Reply:
        checked = await self._reporter_check(user, payload.report_id, Action.CONFIRM)
        if isinstance(checked, Reply):
            return checked
        report, now = checked, self._stamp()
        async with self.db.transaction() as conn:
            new_status = advance(report.status, Action.CONFIRM)
            if not await store.update_report(
                conn, report.id, report.version, status=new_status, rating=payload.stars, updated_at=now, closed_at=now
            ):
                return Reply(alert=t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)))
            await store.log_event(
                conn, report.id, at=now, actor_id=user.id, action=Action.CONFIRM, from_status=report.status,
                to_status=new_status, note=f"{payload.stars}★",
            )  # fmt: skip
        text = t(user.lang, "notify.confirmed", stars=payload.stars, ref=report.ref)
        return Reply([out.text(text, keyboard="main")], alert=text[:190], retire=True)

    async def reopen(self, user: User, payload: actions.Reopen) -> Reply:
        checked = await self._reporter_check(user, payload.report_id, Action.REOPEN)
        if isinstance(checked, Reply):
            return checked
        return await self._reopen(user, checked)
