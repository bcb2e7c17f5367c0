"""Typed words run a second time: their update was cut off by a kill after it took them, and the next process runs
it again (docs/RELIABILITY.md, promise 18). The write that took them recorded the update (bot/store/dialogs.py);
here the same update is answered from where things stand now, and nothing changes a second time."""

from __future__ import annotations

from bot.outbox import messages as out
from bot.reports import notices as n
from bot.reports.common import REASON_DIALOG, REPORT_DIALOG, RESOLVE_DIALOG, Reply
from bot.store import dialogs
from bot.store import reports as store
from bot.store.users import User
from bot.texts import t


class WordsAgainMixin:
    """Part of ReportService: the answers to a report's words, a worker's reason or note, taken once already."""

    async def words_again(
        self, user: User, moved: dialogs.Dialog | None, answered: dialogs.Answered | None
    ) -> Reply | None:
        """`moved`: the dialog the words moved on (still open); `answered`: the question they closed. None when
        neither is ours (the words are then read as usual)."""
        lang = user.lang
        if moved is not None:
            if moved.kind != REPORT_DIALOG:
                return None
            draft, _ = await self._draft_of(user, moved)
            # The draft already holds these words (a typed answer, the description): ask what it asks now.
            return await self._next(user, draft) if draft is not None else None
        if answered is None:
            return None
        if answered.kind == REPORT_DIALOG:  # typed 取消, which closes any question: what it was told
            said = answered.data.get("said") or t(lang, "draft.cancelled")
            return Reply([out.text(said, keyboard="main")])
        if answered.kind not in (REASON_DIALOG, RESOLVE_DIALOG):
            return None
        said = answered.data.get("said")
        if said:  # the step was refused (the report had moved on): the same refusal
            return Reply([out.text(said)])
        report = await store.get_report(self.db, answered.data["report_id"])
        if report is None:
            return Reply([out.text(t(lang, "work.not_found"))])
        # Done: the answer the first run gave ("已记录：SP-000001 已办结。"), with the report's status as it is now.
        return Reply([out.text(t(lang, "work.done", ref=report.ref, status=n.status_text(lang, report.status)))])
