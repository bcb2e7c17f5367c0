"""A rider's 随手拍 from first photo to committed report: the draft (in SQLite), what to ask next, duplicates,
and the one transaction that commits the report, routes it and queues every notice before "received"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.geo.coords import out_of_china
from bot.media.photos import PhotoRejected
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.presenters.places import distance_text
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.categories import CATEGORIES, CATEGORY_BY_TOKEN
from bot.reports.common import MAX_PHOTOS, MAX_WORDS, REASON_DIALOG, REPORT_DIALOG, RESOLVE_DIALOG, Reply
from bot.reports.model import Report
from bot.reports.routing import recipients
from bot.reports.states import OPEN, Action, Status, advance
from bot.store import answers as answer_store
from bot.store import dialogs
from bot.store import reports as store
from bot.store.db import Connection
from bot.store.users import User
from bot.texts import all_labels, t

log = logging.getLogger(__name__)
RECEIPT_GRACE = timedelta(seconds=3)  # how long the outbox leaves a receipt to the door that answers the step


class DraftingMixin:
    """The rider's side of ReportService (see bot/reports/service.py for the shared state it relies on)."""

    async def _draft(self, user: User) -> tuple[dict[str, Any] | None, bool]:
        """The rider's report draft, or None; the flag says an old one just expired."""
        dialog = await dialogs.get_dialog(self.db, user.id)
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
        banned = await self.moderation.ban_of(user.id)
        if banned is not None:
            until, reason = banned
            text = t(user.lang, "mod.banned", until=until[:16].replace("T", " "), reason=reason)
            return Reply([out.text(text, keyboard="main")])
        since = self._stamp(self._now() - timedelta(hours=1))
        count = await store.count_reports_since(self.db, user.id, since)
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

    async def cancel(self, user: User) -> Reply:
        dialog = await dialogs.get_dialog(self.db, user.id)
        if dialog is None:
            return Reply([out.text(t(user.lang, "draft.nothing"), keyboard="main")])
        await dialogs.clear_dialog(self.db, user.id)
        return Reply([out.text(t(user.lang, "draft.cancelled"), keyboard="main")])

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
        draft, _ = await self._draft(user)
        if draft is None or not draft.get("photos") or draft.get("lat") is not None:
            return None
        if out_of_china(lat, lon):
            return Reply([out.text(t(user.lang, "draft.in_sea"), keyboard="location")])
        if not self.covers(lat, lon):
            cities = ("、" if user.lang.startswith("zh") else ", ").join(self.finder.cities)
            return Reply([out.text(t(user.lang, "ux.report_outside", cities=cities), keyboard="location")])
        draft["lat"], draft["lon"] = lat, lon
        await self._save_draft(user, draft)
        return await self._next(user, draft)

    async def on_text(self, user: User, text: str) -> Reply | None:
        """Free text: a pending worker answer, or the rider's words for a draft; otherwise None (search)."""
        dialog = await dialogs.get_dialog(self.db, user.id)
        if dialog is not None and dialog.kind == REASON_DIALOG:
            return await self._reason(user, dialog.data, text)
        if dialog is not None and dialog.kind == RESOLVE_DIALOG:
            return await self._resolve_note(user, dialog.data, text)
        draft, _ = await self._draft(user)
        if draft is None or not draft.get("photos"):
            return None
        if text.strip() in all_labels("draft.cancel"):
            return await self.cancel(user)
        if text.strip() in all_labels("draft.use_last") and draft.get("lat") is None:
            return await self.on_draft_button(user, actions.DraftAction("loc"))
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

    async def _offerable(self, draft: dict[str, Any], target: Report) -> bool:
        if draft.get("lat") is None or draft.get("lon") is None or not draft.get("category"):
            return False
        since = self._stamp(self._now() - self.policy.duplicate_window)
        similar = await store.similar_open(
            self.db, draft["category"], draft["lat"], draft["lon"], self.policy.duplicate_radius_m, since, OPEN
        )
        return any(r.id == target.id and r.status != Status.NEW for r, _ in similar)

    async def _duplicate_offer(self, user: User, draft: dict[str, Any]) -> Reply | None:
        since = self._stamp(self._now() - self.policy.duplicate_window)
        similar = await store.similar_open(
            self.db, draft["category"], draft["lat"], draft["lon"], self.policy.duplicate_radius_m, since, OPEN
        )
        similar = [(r, d) for r, d in similar if r.status != Status.NEW]
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

    # ------------------------------------------------------------------ rider: submitting

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
            report_id = await store.insert_report(
                conn,
                reporter_id=user.id,
                category=cat,
                lat=lat,
                lon=lon,
                description=draft.get("description", ""),
                status=Status.NEW,
                now=now,
            )
            await answer_store.put_answers(conn, report_id, answers)
            for photo in draft["photos"]:
                await store.add_photo(conn, report_id, "before", photo["sha256"], photo.get("file_ref", ""), user.id)
            await store.add_follower(conn, report_id, user.id)
            await store.log_event(
                conn, report_id, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
            )
            report = await self.assign_to(
                conn, report_id, 1, Status.NEW, Action.ROUTE, assignment, None, "", now, rules=rules
            )
            # The receipt is queued first, in this transaction: a committed report's rider is always told (a kill
            # right after COMMIT cannot lose it), and it leaves ahead of the forwards queued just below.
            assignee = await self.assignee_text(user.lang, report)
            text = t(user.lang, "report.received", ref=report.ref, assignee=assignee)
            await self._receipt(conn, user, f"r{report.id}:receipt", out.text(text, keyboard="main", lang=user.lang))
            await self.announce(conn, report, people, [p["sha256"] for p in draft["photos"]], followers=1)
            await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        self.wake_outbox()
        return Reply(retire=True, queued=[f"r{report.id}:receipt"])

    @staticmethod
    async def _receipt(conn: Connection, user: User, key: str, message: out.Message) -> None:
        """The answer to a committing step, as an outbox row in the commit's own transaction. The door sends it
        right after its own answer (`Reply.queued`); the dispatcher holds it back for RECEIPT_GRACE meanwhile, and
        sends it itself only if the door could not (a failed send, a crash)."""
        to = Recipient(user.id, user.channel, user.external_id, user.lang)
        await enqueue(conn, key, to, message, grace=RECEIPT_GRACE)

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
            report_id = await store.insert_report(
                conn, reporter_id=user.id, category=cat, lat=lat, lon=lon, description=description,
                status=Status.NEW, now=now,
            )  # fmt: skip
            await answer_store.put_answers(conn, report_id, answers or {})
            await store.log_event(
                conn, report_id, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
            )
            report = await self.assign_to(
                conn, report_id, 1, Status.NEW, Action.ROUTE, assignment, None, "", now, rules=rules
            )
            await self.announce(conn, report, people, [], followers=1)
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
            own = await store.insert_report(
                conn,
                reporter_id=user.id,
                category=target.category,
                lat=float(draft["lat"]),
                lon=float(draft["lon"]),
                description=draft.get("description", ""),
                status=Status.NEW,
                now=now,
            )
            await store.log_event(
                conn, own, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
            )
            await conn.execute(
                "UPDATE reports SET status = ?, merged_into = ?, version = version + 1, updated_at = ? WHERE id = ?",
                (advance(Status.NEW, Action.MERGE), target.id, now, own),
            )
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
            await self._receipt(conn, user, f"r{own}:receipt", merged)
            await self._forward_joined(conn, target, own, [p["sha256"] for p in draft["photos"]])
            await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        self.wake_outbox()
        return Reply(retire=True, queued=[f"r{own}:receipt"])

    async def _forward_joined(self, conn: Connection, target: Report, own: int, photos: list[str]) -> None:
        """A merged duplicate's photos reach whoever holds the report now: new evidence (another angle, a
        worse state) is why a second rider bothered to report it."""
        if not photos:
            return
        people = await recipients(self.roles, self.grids, target.assignee_kind, target.assignee, target.grid_id)
        for person in people:
            for i, sha in enumerate(photos):
                caption = t(person.lang, "ux.joined_photos", ref=target.ref, n=len(photos)) if i == 0 else ""
                buttons = n.work_buttons(person.lang, target) if i == 0 else None
                key = f"r{target.id}:join{own}:{person.channel}:{person.address}:{i}"
                await enqueue(conn, key, person, out.photo(sha, caption, buttons=buttons))
