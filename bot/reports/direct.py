"""The worker's actions as single steps: the writes behind the chat's dialogs, and the web console's buttons.

In the chat, transfer, reject and resolve are conversations (a button, then a reason or an after-photo and a
note); in the console they arrive complete in one form. Both end here, in the same transaction code, so the
state machine, the audit log and the outbox notices are the same whichever door the person used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.outbox import messages as out
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.common import MAX_PHOTOS, MAX_WORDS, REASON_DIALOG, RESOLVE_DIALOG, Reply, StaleReport, closed_by
from bot.reports.model import Report
from bot.reports.routing import Assignment, recipients
from bot.reports.states import Action, advance
from bot.store import dialogs
from bot.store import reports as store
from bot.store.users import User
from bot.texts import t


def _note(text: str) -> str:
    return " ".join((text or "").split())[:MAX_WORDS]


class DirectActionsMixin:
    """Part of ReportService: every entry re-checks the person, the version and the transition (`_checked`)."""

    # ------------------------------------------------------------------ one-step entries (web console)

    async def act_accept(self, user: User, report_id: int, version: int) -> Reply:
        checked = await self._checked(user, report_id, version, Action.ACCEPT)
        return checked if isinstance(checked, Reply) else await self._accept(user, checked)

    async def act_transfer(self, user: User, report_id: int, version: int, kind: str, target: str, note: str) -> Reply:
        if not _note(note):
            return Reply(alert=t(user.lang, "work.ask_reason", action=t(user.lang, "work.action.transfer"),
                                 ref=f"SP-{report_id:06d}"), popup=True)  # fmt: skip
        checked = await self._checked(user, report_id, version, Action.TRANSFER)
        if isinstance(checked, Reply):
            return checked
        if kind not in {"grid", "department"} or not await self._valid_target(kind, target, checked):
            await self.refuse(user, report_id, "transfer", "bad_target")
            return Reply(alert=t(user.lang, "work.forbidden"), popup=True)
        return await self._transfer_or_reject(user, checked, "transfer", _note(note), kind, target)

    async def act_reject(self, user: User, report_id: int, version: int, note: str) -> Reply:
        if not _note(note):
            return Reply(alert=t(user.lang, "work.ask_reason", action=t(user.lang, "work.action.reject"),
                                 ref=f"SP-{report_id:06d}"), popup=True)  # fmt: skip
        checked = await self._checked(user, report_id, version, Action.REJECT)
        if isinstance(checked, Reply):
            return checked
        return await self._transfer_or_reject(user, checked, "reject", _note(note), "", "")

    async def act_resolve(self, user: User, report_id: int, version: int, photos: list[str], note: str) -> Reply:
        """`photos`: SHA-256 ids already in the PhotoStore (the after-photos, at least one)."""
        if not photos:
            return Reply(alert=t(user.lang, "work.ask_after_photo", ref=f"SP-{report_id:06d}"), popup=True)
        checked = await self._checked(user, report_id, version, Action.RESOLVE)
        if isinstance(checked, Reply):
            return checked
        return await self._resolve(user, checked, photos[:MAX_PHOTOS], _note(note))

    async def act_reopen(self, user: User, report_id: int, version: int) -> Reply:
        """A supervisor (or admin) is not satisfied with a resolution: the same reopening as the rider's."""
        checked = await self._checked(user, report_id, version, Action.REOPEN)
        return checked if isinstance(checked, Reply) else await self._reopen(user, checked)

    # ------------------------------------------------------------------ the writes, shared with the chat

    async def _transfer_or_reject(
        self, user: User, report: Report, action: str, note: str, kind: str, target: str, *, clear_dialog: bool = False,
        false_report: bool = False, step: str | None = None,
    ) -> Reply:  # fmt: skip
        """`clear_dialog`: the chat's reason dialog ends in the same commit, with `step` (the update the reason was
        typed in) recorded, so that update run again is told it is done (bot/store/dialogs.py)."""
        now = self._stamp()
        try:
            async with self.db.transaction() as conn:
                if action == "transfer":
                    giver = {lang: await self.assignee_text(lang, report) for lang in ("zh-CN", "en")}

                    def origin(lang: str) -> str:
                        who = giver.get(lang, giver["zh-CN"])
                        return t(lang, "ux.origin.transfer", who=who, note=note)

                    assignment = Assignment(kind, target, report.grid_id, "transfer")
                    updated = await self.assign_to(
                        conn, report.id, report.version, report.status, Action.TRANSFER, assignment, user.id, note, now
                    )
                    people = await recipients(
                        self.roles, self.grids, assignment.kind, assignment.target, report.grid_id
                    )
                    photos = [sha for sha, _ in await store.photos(self.db, report.id)]
                    followers = len(await store.followers_in(conn, report.id))
                    await self.announce(conn, updated, people, photos, followers, origin)
                    assignee = {lang: await self.assignee_text(lang, updated) for lang in ("zh-CN", "en")}
                    await self.tell_followers(
                        conn, updated, "transferred",
                        lambda lang: [out.text(t(lang, "notify.transferred", ref=updated.ref,
                                                 assignee=assignee.get(lang, assignee["zh-CN"]), note=note))],
                    )  # fmt: skip
                else:
                    new_status = advance(report.status, Action.REJECT)
                    if not await store.update_report(
                        conn, report.id, report.version, status=new_status, updated_at=now, closed_at=now
                    ):
                        raise StaleReport(report.id)
                    await store.log_event(
                        conn, report.id, at=now, actor_id=user.id, action=Action.REJECT, from_status=report.status,
                        to_status=new_status, note=note,
                    )  # fmt: skip
                    updated = await store.get_report_in(conn, report.id)
                    if false_report:  # counts towards the reporter's rejection streak (moderation.py)
                        await self.moderation.false_report(conn, user, updated, now)

                    def again(lang: str) -> out.Buttons | None:  # 🔁 重新上报, unless it was a false report
                        if false_report:
                            return None
                        return [[out.button(t(lang, "ux.resubmit_btn"), actions.resubmit(updated.id))]]

                    await self.tell_followers(
                        conn, updated, "rejected",
                        lambda lang: [out.text(t(lang, "notify.rejected", ref=updated.ref, note=note), again(lang))],
                    )  # fmt: skip
                if clear_dialog:
                    await dialogs.clear_dialog_in(conn, user.id, closed_by(step, REASON_DIALOG, report.id))
        except StaleReport:
            said = t(user.lang, "work.stale", status=n.status_text(user.lang, report.status))
            if clear_dialog:
                await dialogs.clear_dialog(self.db, user.id, closed_by(step, REASON_DIALOG, report.id, said))
            return Reply([out.text(said)])
        self.wake_outbox()
        return Reply(
            [out.text(t(user.lang, "work.done", ref=updated.ref, status=n.status_text(user.lang, updated.status)))]
        )

    async def _resolve(
        self, user: User, report: Report, photos: list[str], note: str, *, clear_dialog: bool = False,
        step: str | None = None,
    ) -> Reply:  # fmt: skip
        """`clear_dialog` and `step`: as for `_transfer_or_reject` (the note closing 办结 in the chat)."""
        now = self._stamp()
        async with self.db.transaction() as conn:
            new_status = advance(report.status, Action.RESOLVE)
            if not await store.update_report(
                conn, report.id, report.version, status=new_status, updated_at=now, resolved_at=now
            ):
                said = t(user.lang, "work.stale", status=n.status_text(user.lang, report.status))
                if clear_dialog:
                    await dialogs.clear_dialog_in(conn, user.id, closed_by(step, RESOLVE_DIALOG, report.id, said))
                return Reply([out.text(said)])
            for sha in photos:
                await store.add_photo(conn, report.id, "after", sha, "", user.id)
            await store.log_event(
                conn, report.id, at=now, actor_id=user.id, action=Action.RESOLVE, from_status=report.status,
                to_status=new_status, note=note,
            )  # fmt: skip
            updated = await store.get_report_in(conn, report.id)

            def tell(lang: str) -> list[out.Message]:
                text = t(lang, "notify.resolved", ref=updated.ref, note=note)
                return [out.photo(photos[0], text, buttons=n.rating_buttons(lang, updated))]

            await self.tell_followers(conn, updated, "resolved", tell)
            if clear_dialog:
                await dialogs.clear_dialog_in(conn, user.id, closed_by(step, RESOLVE_DIALOG, report.id))
        self.wake_outbox()
        return Reply(
            [out.text(t(user.lang, "work.done", ref=updated.ref, status=n.status_text(user.lang, new_status)))]
        )

    async def _reopen(self, user: User, report: Report) -> Reply:
        now = self._stamp()
        resolved = datetime.fromisoformat(report.resolved_at) if report.resolved_at else self._now()
        if self._now() - resolved > self.policy.reopen_window:
            await self.refuse(user, report.id, Action.REOPEN, "too_late")
            return Reply(alert=t(user.lang, "rate.too_late"), popup=True)
        people = await recipients(self.roles, self.grids, report.assignee_kind, report.assignee, report.grid_id)
        async with self.db.transaction() as conn:
            new_status = advance(report.status, Action.REOPEN)
            accept_minutes, resolve_minutes, _ = await store.category_limits(conn, report.category)
            start = self._now()
            if not await store.update_report(
                conn,
                report.id,
                report.version,
                status=new_status,
                updated_at=now,
                resolved_at=None,
                # Reopened: the same people get fresh time limits, and the escalation chain starts again.
                accept_due=self._stamp(start + timedelta(minutes=accept_minutes)),
                resolve_due=self._stamp(start + timedelta(minutes=resolve_minutes)),
                escalation_level=0,
            ):
                return Reply(alert=t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)))
            await store.log_event(
                conn, report.id, at=now, actor_id=user.id, action=Action.REOPEN, from_status=report.status,
                to_status=new_status,
            )  # fmt: skip
            updated = await store.get_report_in(conn, report.id)
            photos = [sha for sha, _ in await store.photos(self.db, report.id)]
            await self.announce(conn, updated, people, photos, len(await store.followers_in(conn, report.id)))
            await self.tell_followers(
                conn, updated, "reopened", lambda lang: [out.text(t(lang, "notify.reopened", ref=updated.ref))]
            )
        self.wake_outbox()
        return Reply(alert=n.status_text(user.lang, new_status), retire=True)
