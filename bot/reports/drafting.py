"""A rider's 随手拍 draft, from first photo to the summary: the draft (a dialog in the store), what to ask next,
and the offer to join a duplicate. Committing it is filing.py's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.geo.coords import out_of_china
from bot.media.photos import PhotoRejected
from bot.outbox import messages as out
from bot.presenters.places import distance_text
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.categories import CATEGORIES
from bot.reports.common import MAX_PHOTOS, MAX_WORDS, REASON_DIALOG, REPORT_DIALOG, RESOLVE_DIALOG, Reply
from bot.reports.model import Report, ref_of
from bot.reports.states import OPEN, Status
from bot.store import dialogs
from bot.store import moderation as moderation_store
from bot.store import reports as store
from bot.store.users import User
from bot.texts import all_labels, t

log = logging.getLogger(__name__)


class DraftingMixin:
    """The rider's side of ReportService (see bot/reports/service.py for the shared state it relies on)."""

    async def _draft(self, user: User) -> tuple[dict[str, Any] | None, bool]:
        """The rider's report draft, or None; the flag says an old one just expired."""
        return await self._draft_of(user, await dialogs.get_dialog(self.db, user.id))

    async def _draft_of(self, user: User, dialog: dialogs.Dialog | None) -> tuple[dict[str, Any] | None, bool]:
        """`_draft` from the person's dialog as the caller read it."""
        if dialog is None or dialog.kind != REPORT_DIALOG:
            return None, False
        if self._now() - datetime.fromisoformat(dialog.updated_at) > self.policy.draft_ttl:
            await dialogs.clear_dialog(self.db, user.id)
            return None, True
        return dialog.data, False

    async def _save_draft(self, user: User, draft: dict[str, Any]) -> None:
        await dialogs.put_dialog(self.db, user.id, REPORT_DIALOG, draft, self._stamp())

    async def _rate_limited(self, user: User) -> Reply | None:
        """Why this person may not file a report now (banned, or too many this hour), else None."""
        now = self._now()
        since = self._stamp(now - timedelta(hours=1))
        banned, count = await moderation_store.reporter_standing(self.db, user.id, self._stamp(now), since)
        if banned is not None:
            until, reason = banned
            text = t(user.lang, "mod.banned", until=until[:16].replace("T", " "), reason=reason)
            return Reply([out.text(text, keyboard="main")])
        if count >= self.policy.max_per_hour:
            return Reply([out.text(t(user.lang, "draft.rate_limited", n=count))])
        return None

    # ------------------------------------------------------------------ rider: drafting

    async def begin(self, user: User) -> Reply:
        limited = await self._rate_limited(user)
        if limited:
            return limited
        draft, _ = await self._draft(user)
        if draft is None:
            draft = {"photos": []}
            await self._save_draft(user, draft)
        return await self._next(user, draft)

    async def cancel(self, user: User, step: str | None = None) -> Reply:
        """/cancel or a typed 取消: whatever question is pending ends unanswered — a draft, a worker's 退回/转派
        reason or 办结 note (the report stays as it is), a keeper's note, a flag's words. `step`: the update asking
        (bot.observe.step()), recorded with the close and what it was told (bot/store/dialogs.py): the same update
        run again after a kill is told the same, not "nothing"."""
        lang = user.lang
        dialog = await dialogs.get_dialog(self.db, user.id)
        if dialog is None:
            if step is None or user.dialog_step != step:
                return Reply([out.text(t(lang, "draft.nothing"), keyboard="main")])
            answered = await dialogs.answered(self.db, user.id)
            said = answered.data.get("said") if answered is not None and answered.kind == REPORT_DIALOG else None
            return Reply([out.text(said or t(lang, "draft.cancelled"), keyboard="main")])
        if dialog.kind == REPORT_DIALOG:
            said = t(lang, "draft.cancelled")
        elif dialog.kind in (REASON_DIALOG, RESOLVE_DIALOG):
            said = t(lang, "work.cancelled", ref=ref_of(dialog.data["report_id"]))
        else:  # a question of the stations' (bot/keepers/): nothing was changed by it yet
            said = t(lang, "draft.question_cancelled")
        await dialogs.clear_dialog(self.db, user.id, dialogs.Answered(step, REPORT_DIALOG, {"said": said}))
        return Reply([out.text(said, keyboard="main")])

    async def on_photo(self, user: User, data: bytes, *, file_ref: str = "", caption: str = "") -> Reply:
        """A photo from anyone: the after-photo of a worker resolving, or a rider's 随手拍 (starting one if needed)."""
        try:
            stored = await self.photos.put(data)
        except PhotoRejected as exc:
            size = round((getattr(exc, "size", None) or 0) / 1024 / 1024, 1)
            limit = round((getattr(exc, "limit", None) or self.photos.max_bytes) / 1024 / 1024)
            return Reply([out.text(t(user.lang, f"photo.{exc.code}", size=size, max=limit))])
        dialog = await dialogs.get_dialog(self.db, user.id)
        if dialog is not None and dialog.kind == RESOLVE_DIALOG:
            return await self._resolve_photo(user, dialog.data, stored.sha256)
        draft, expired = await self._draft(user)
        notes: list[out.Message] = [out.text(t(user.lang, "draft.expired"))] if expired else []
        if draft is None:
            limited = await self._rate_limited(user)
            if limited:
                return limited
            draft = {"photos": []}
        again = any(p["sha256"] == stored.sha256 for p in draft["photos"])  # e.g. a re-run after a crash
        if len(draft["photos"]) >= MAX_PHOTOS and not again:
            return Reply([*notes, out.text(t(user.lang, "draft.photo_limit"))])
        if not again:
            draft["photos"].append({"sha256": stored.sha256, "file_ref": file_ref})
        if caption.strip() and not draft.get("description"):
            draft["description"] = caption.strip()[:MAX_WORDS]
            draft["asked_words"] = True
        if stored.gps and draft.get("lat") is None and self.covers(*stored.gps):
            draft["lat"], draft["lon"] = stored.gps
            notes.append(out.text(t(user.lang, "draft.location_from_photo")))
        await self._save_draft(user, draft)
        notes.insert(0, out.text(t(user.lang, "draft.photo_added", n=len(draft["photos"]))))
        reply = await self._next(user, draft)
        reply.messages[:0] = notes
        return reply

    async def on_location(self, user: User, lat: float, lon: float) -> Reply | None:
        """A location while drafting sets the report's place; otherwise None (the door shows stations)."""
        return await self.on_location_in(user, lat, lon, await dialogs.get_dialog(self.db, user.id))

    async def on_location_in(self, user: User, lat: float, lon: float, dialog: dialogs.Dialog | None) -> Reply | None:
        """`on_location` with the person's dialog as the caller read it (`Services.location_answer`)."""
        draft, _ = await self._draft_of(user, dialog)
        if draft is None or not draft.get("photos"):
            return None
        if draft.get("lat") is not None:
            # The very place the draft already holds: the same step again (an update re-run after its process was
            # killed between saving the place and answering, or the rider sending it twice) shows where the draft
            # stands, not stations. Another place is a search, as before.
            return await self._next(user, draft) if (draft["lat"], draft["lon"]) == (lat, lon) else None
        if out_of_china(lat, lon):
            return Reply([out.text(t(user.lang, "draft.in_sea"), keyboard="location")])
        if not self.covers(lat, lon):
            cities = ("、" if user.lang.startswith("zh") else ", ").join(self.finder.cities)
            return Reply([out.text(t(user.lang, "ux.report_outside", cities=cities), keyboard="location")])
        draft["lat"], draft["lon"] = lat, lon
        await self._save_draft(user, draft)
        return await self._next(user, draft)

    async def on_text(self, user: User, text: str, step: str | None = None) -> Reply | None:
        """Free text: a pending worker answer, or the rider's words for a draft; otherwise None (search)."""
        return await self.on_text_in(user, text, await dialogs.get_dialog(self.db, user.id), step)

    async def on_text_in(
        self, user: User, text: str, dialog: dialogs.Dialog | None, step: str | None = None
    ) -> Reply | None:
        """`on_text` with the person's dialog as the caller read it (`Services.text_answer`). `step` is the update
        the words came in (bot.observe.step()): the write that takes them records it, so that the same update
        run again is answered as done instead of being read afresh (bot/store/dialogs.py). The cancel label typed
        cancels whatever is asked (it is never a reason, a note or a draft's words)."""
        if dialog is not None and text.strip() in all_labels("draft.cancel"):
            return await self.cancel(user, step)
        if dialog is not None and dialog.kind == REASON_DIALOG:
            return await self._reason(user, dialog.data, text, step=step)
        if dialog is not None and dialog.kind == RESOLVE_DIALOG:
            return await self._resolve_note(user, dialog.data, text, step=step)
        draft, _ = await self._draft_of(user, dialog)
        if draft is None or not draft.get("photos"):
            return None
        if step is not None:
            draft[dialogs.BY] = step  # whichever save below takes these words records their update with them
        if text.strip() in all_labels("draft.use_last") and draft.get("lat") is None:
            return await self._draft_action(user, draft, actions.DraftAction("loc"))
        if self._missing(draft) == "question":
            answered = await self._answer_typed(user, draft, text)
            if answered is not None:
                return answered
        words = " ".join(text.split())
        if len(words) > MAX_WORDS:
            return Reply([out.text(t(user.lang, "draft.words_too_long", n=len(words), max=MAX_WORDS))])
        draft["description"], draft["asked_words"] = words, True
        await self._save_draft(user, draft)
        return await self._next(user, draft)

    async def on_draft_button(self, user: User, action: actions.DraftAction) -> Reply:
        draft, expired = await self._draft(user)
        if draft is None:
            key = "draft.expired" if expired else "draft.nothing"
            return Reply(alert=t(user.lang, key), popup=True)
        return await self._draft_action(user, draft, action)

    async def _draft_action(self, user: User, draft: dict[str, Any], action: actions.DraftAction) -> Reply:
        """A draft button on the draft as read (typed "用上次的位置" comes here with its words' update in it)."""
        verb = action.verb
        if verb == "x":
            return await self.cancel(user)
        if verb == "cat":
            draft["category"] = action.arg
        elif verb == "loc":
            if user.last_lat is None or user.last_lon is None:
                return Reply([out.text(t(user.lang, "draft.ask_location"), keyboard="location")])
            if action.arg != "sure" and self.stale_location is not None:
                # An old location is where the rider was, not where the hazard is: say where and when, and ask.
                stale = self.stale_location(user)
                if stale:
                    confirm = [[out.button(t(user.lang, "ux.use_this"), actions.draft("loc", "sure"))]]
                    return Reply([out.text(stale, confirm)])
            draft["lat"], draft["lon"] = user.last_lat, user.last_lon
        elif verb == "skip":
            draft["asked_words"] = True
        elif verb == "new":
            draft["dup_checked"] = True
        elif verb == "merge":
            return await self._merge(user, draft, int(action.arg))
        elif verb == "a":
            return await self._on_answer(user, draft, action.arg)
        elif verb == "ok":
            if self._missing(draft) is not None:
                return await self._next(user, draft)
            return await self._submit(user, draft)
        await self._save_draft(user, draft)
        return await self._next(user, draft)

    def _missing(self, draft: dict[str, Any]) -> str | None:
        if not draft.get("photos"):
            return "photo"
        if draft.get("lat") is None:
            return "location"
        if not draft.get("category"):
            return "category"
        if self._pending_question(draft) is not None:
            return "question"
        if not draft.get("asked_words"):
            return "words"
        if not draft.get("dup_checked"):
            return "duplicates"
        return None

    async def _next(self, user: User, draft: dict[str, Any]) -> Reply:
        """Ask for whatever is still missing, in the order a rider on the move can answer fastest."""
        lang = user.lang
        cancel = [out.button(t(lang, "draft.cancel"), actions.draft("x"))]
        missing = self._missing(draft)
        if missing == "photo":
            return Reply([out.text(t(lang, "draft.ask_photo"), [cancel])])
        if missing == "location":
            # A reply keyboard, not inline buttons: only it can carry Telegram's "send my location" button.
            return Reply([out.text(t(lang, "draft.ask_location"), keyboard="location")])
        if missing == "category":
            labels = [out.button(c.label(lang), actions.draft("cat", c.token)) for c in CATEGORIES]
            rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
            return Reply([out.text(t(lang, "draft.ask_category"), [*rows, cancel], keyboard="main")])
        if missing == "question":
            return self._ask(user, draft, self._pending_question(draft))
        if missing == "words":
            skip = [out.button(t(lang, "draft.skip"), actions.draft("skip"))]
            return Reply([out.text(t(lang, "draft.ask_words", max=MAX_WORDS), [skip, cancel])])
        if missing == "duplicates":
            offer = await self._duplicate_offer(user, draft)
            if offer is not None:
                return offer
            draft["dup_checked"] = True
            await self._save_draft(user, draft)
        summary = t(
            lang,
            "draft.summary",
            category=n.category_text(lang, draft["category"]),
            where=self._where_text(lang, draft["lat"], draft["lon"]),
            photos=len(draft["photos"]),
            words=draft.get("description") or t(lang, "draft.no_words"),
        )
        summary += "".join(f"\n❓ {line}" for line in self._answer_lines(lang, draft))
        buttons = [[out.button(t(lang, "draft.submit"), actions.draft("ok"))], cancel]
        return Reply([out.text(summary, buttons)])

    async def _similar(self, draft: dict[str, Any]) -> list[tuple[Report, float]]:
        """Reports this draft could join: same category, near, recent, open and already routed; nearest first."""
        since = self._stamp(self._now() - self.policy.duplicate_window)
        similar = await store.similar_open(
            self.db, draft["category"], draft["lat"], draft["lon"], self.policy.duplicate_radius_m, since, OPEN
        )
        return [(r, d) for r, d in similar if r.status != Status.NEW]

    async def _offerable(self, draft: dict[str, Any], target: Report) -> bool:
        if draft.get("lat") is None or draft.get("lon") is None or not draft.get("category"):
            return False
        return any(r.id == target.id for r, _ in await self._similar(draft))

    async def _duplicate_offer(self, user: User, draft: dict[str, Any]) -> Reply | None:
        similar = await self._similar(draft)
        if not similar:
            return None
        report, metres = similar[0]
        lang = user.lang
        text = t(
            lang,
            "draft.duplicate",
            ref=report.ref,
            category=n.category_text(lang, report.category),
            distance=distance_text(lang, metres),
            status=n.status_text(lang, report.status),
        )
        buttons = [
            [out.button(t(lang, "draft.dup_merge"), actions.draft("merge", report.id))],
            [out.button(t(lang, "draft.dup_new"), actions.draft("new"))],
        ]
        return Reply([out.text(text, buttons)])

    def _where_text(self, lang: str, lat: float, lon: float, coords: bool = True) -> str:
        near = self.finder.catalog.nearest(lat, lon, 1, max_distance_m=1000)
        base = f"{lat:.5f}, {lon:.5f}" if coords else ""
        if near:
            place, metres = near[0]
            near_text = t(lang, "work.near_place", place=place.name, distance=distance_text(lang, metres))
            return base + (near_text if coords else near_text.lstrip("，, "))
        return base
