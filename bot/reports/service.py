"""随手拍, end to end, channel-neutral: a rider's draft → a committed report → the grid worker's loop → the rider.

Every method takes our own `User` and returns `Reply` (messages for the person who acted, plus an optional
short alert for a button press); everything anyone else must hear goes into the outbox in the same
transaction as the change it announces. Conversation state lives in the `dialogs` table, so a restart in the
middle of a report loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from bot.clock import Clock
from bot.geo.coords import out_of_china
from bot.media.photos import PhotoRejected, PhotoStore
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.people.roles import RoleService
from bot.presenters.places import distance_text
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.categories import CATEGORIES, CATEGORY_BY_TOKEN
from bot.reports.model import Report
from bot.reports.routing import Assignment, assign, chain, recipients
from bot.reports.states import OPEN, Action, InvalidTransition, Status, advance
from bot.services.finder import FinderService
from bot.store import dialogs
from bot.store import reports as store
from bot.store import users as user_store
from bot.store.db import Database
from bot.store.users import User
from bot.texts import all_labels, t

log = logging.getLogger(__name__)

MAX_PHOTOS = 4
MAX_WORDS = 500
REPORT_DIALOG = "report"
REASON_DIALOG = "work_reason"
RESOLVE_DIALOG = "work_resolve"
POINTS_VALID = 10
POINTS_JOINED = 5


@dataclass
class Reply:
    messages: list[out.Message] = field(default_factory=list)
    alert: str | None = None  # a button's short answer (toast); `popup` shows it as a dialog
    popup: bool = False
    retire: bool = False  # the pressed message's buttons are spent: the door removes them


@dataclass(frozen=True)
class ReportPolicy:
    draft_ttl: timedelta = timedelta(minutes=30)
    max_per_hour: int = 5
    duplicate_radius_m: float = 50.0
    duplicate_window: timedelta = timedelta(days=7)
    reopen_window: timedelta = timedelta(days=7)
    grid_max_distance_m: float = 300.0
    category_routes: dict[str, str] = field(default_factory=dict)  # category → department code


class ReportService:
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
    ) -> None:
        self.db = db
        self.clock = clock
        self.roles = roles
        self.finder = finder
        self.photos = photos
        self._grids = grids
        self.policy = policy or ReportPolicy()
        self.wake_outbox = wake_outbox

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return self.clock.now()

    def _stamp(self, when: datetime | None = None) -> str:
        return (when or self._now()).isoformat(timespec="seconds")

    @property
    def grids(self) -> Any:
        return self._grids()

    async def _user(self, user_id: int) -> User | None:
        row = await self.db.fetchone("SELECT * FROM users WHERE id = ?", (user_id,))
        return user_store._user(row) if row else None

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
        if len(draft["photos"]) >= MAX_PHOTOS:
            return Reply([*notes, out.text(t(user.lang, "draft.photo_limit"))])
        draft["photos"].append({"sha256": stored.sha256, "file_ref": file_ref})
        if caption.strip() and not draft.get("description"):
            draft["description"] = caption.strip()[:MAX_WORDS]
            draft["asked_words"] = True
        if stored.gps and draft.get("lat") is None and not out_of_china(*stored.gps):
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
            draft["lat"], draft["lon"] = user.last_lat, user.last_lon
        elif verb == "skip":
            draft["asked_words"] = True
        elif verb == "new":
            draft["dup_checked"] = True
        elif verb == "merge":
            return await self._merge(user, draft, int(action.arg))
        elif verb == "ok":
            if self._missing(draft) is not None:
                return await self._next(user, draft)
            return await self._submit(user, draft)
        await self._save_draft(user, draft)
        return await self._next(user, draft)

    @staticmethod
    def _missing(draft: dict[str, Any]) -> str | None:
        if not draft.get("photos"):
            return "photo"
        if draft.get("lat") is None:
            return "location"
        if not draft.get("category"):
            return "category"
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
        assignment = assign(self.grids, cat, lat, lon, self.policy.category_routes, self.policy.grid_max_distance_m)
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
            for photo in draft["photos"]:
                await store.add_photo(conn, report_id, "before", photo["sha256"], photo.get("file_ref", ""), user.id)
            await store.add_follower(conn, report_id, user.id)
            await store.log_event(
                conn, report_id, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
            )
            report = await self._assign(conn, report_id, 1, Status.NEW, Action.ROUTE, assignment, None, "", now)
            await self.announce(conn, report, people, [p["sha256"] for p in draft["photos"]], followers=1)
            await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        self.wake_outbox()
        assignee = await self.assignee_text(user.lang, report)
        text = t(user.lang, "report.received", ref=report.ref, assignee=assignee)
        return Reply([out.text(text, keyboard="main")], retire=True)

    async def submit_api(
        self,
        user: User,
        category: str,
        lat: float,
        lon: float,
        description: str = "",
        *,
        per_hour: int | None = None,
        in_transaction: Callable[[aiosqlite.Connection, Report], Any] | None = None,  # awaited
    ) -> Report | None:
        """A complete report from a machine client (the Open311 door): the same commit, routing and outbox as
        `_submit`, without a draft, photos or the duplicate offer. The client is the reporter but not a follower
        (it polls; nothing is queued to a channel without a sender). `in_transaction` runs inside the commit
        (e.g. to store the client's token with the report). None when `per_hour` reports in the last hour."""
        if per_hour is not None:
            since = self._stamp(self._now() - timedelta(hours=1))
            if await store.count_reports_since(self.db, user.id, since) >= per_hour:
                return None
        cat = category if category in CATEGORY_BY_TOKEN else "other"
        assignment = assign(self.grids, cat, lat, lon, self.policy.category_routes, self.policy.grid_max_distance_m)
        people = await recipients(self.roles, self.grids, assignment.kind, assignment.target, assignment.grid_id)
        now = self._stamp()
        async with self.db.transaction() as conn:
            report_id = await store.insert_report(
                conn, reporter_id=user.id, category=cat, lat=lat, lon=lon, description=description,
                status=Status.NEW, now=now,
            )  # fmt: skip
            await store.log_event(
                conn, report_id, at=now, actor_id=user.id, action="create", from_status=None, to_status=Status.NEW
            )
            report = await self._assign(conn, report_id, 1, Status.NEW, Action.ROUTE, assignment, None, "", now)
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
            await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        return Reply([out.text(t(user.lang, "report.merged", ref=target.ref), keyboard="main")], retire=True)

    # ------------------------------------------------------------------ assignment and announcements

    async def _assign(
        self,
        conn: aiosqlite.Connection,
        report_id: int,
        version: int,
        status: str,
        action: Action,
        assignment: Assignment,
        actor_id: int | None,
        note: str,
        now: str,
    ) -> Report:
        new_status = advance(status, action)
        category_row = await (await conn.execute("SELECT category FROM reports WHERE id = ?", (report_id,))).fetchone()
        accept_minutes, resolve_minutes, urgent = await store.category_limits(conn, category_row[0])
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
        if not await store.update_report(conn, report_id, version, **fields):
            raise StaleReport(report_id)
        await store.log_event(
            conn, report_id, at=now, actor_id=actor_id, action=action, from_status=status, to_status=new_status,
            note=(note + " → " if note else "") + f"{assignment.kind}:{assignment.target}",
        )  # fmt: skip
        row = await (await conn.execute("SELECT * FROM reports WHERE id = ?", (report_id,))).fetchone()
        return store._report(row)

    async def announce(
        self, conn: aiosqlite.Connection, report: Report, people: list[Recipient], photos: list[str], followers: int
    ) -> None:
        where = await self.where_for_workers(report)
        now = self._now()
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
                )
            ):
                key = f"r{report.id}:v{report.version}:fwd:{person.channel}:{person.address}:{i}"
                await enqueue(conn, key, person, message)

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
        conn: aiosqlite.Connection,
        report: Report,
        key: str,
        build: Callable[[str], list[out.Message]],
        not_before: datetime | None = None,
    ) -> None:
        for user_id in await store_followers(conn, report.id):
            person = await self._user(user_id)
            if person is None:
                continue
            to = Recipient(person.id, person.channel, person.external_id, person.lang)
            for i, message in enumerate(build(person.lang)):
                idem = f"r{report.id}:v{report.version}:{key}:u{person.id}:{i}"
                await enqueue(conn, idem, to, message, not_before=not_before)

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
        if report is None:
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
            return Reply([out.text(t(lang, "work.ask_reason", action=t(lang, "work.action.reject"), ref=report.ref))])
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
                updated = await _reload(conn, report.id)
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
        return Reply(
            [out.text(t(user.lang, "work.accepted", ref=report.ref))],
            alert=n.status_text(user.lang, new_status),
            retire=True,
        )

    async def _award_points(self, conn: aiosqlite.Connection, report: Report, now: str) -> None:
        """A report a worker accepts is a valid one: its reporter (and those who joined it) earn points, once."""
        for user_id in await store_followers(conn, report.id):
            points, reason = (POINTS_VALID, "valid_report") if user_id == report.reporter_id else (
                POINTS_JOINED, "joined_report")  # fmt: skip
            if await store.award_points(conn, user_id, points, reason, report.id, now):
                person = await self._user(user_id)
                if person is not None:
                    to = Recipient(person.id, person.channel, person.external_id, person.lang)
                    message = out.text(t(person.lang, "notify.points", ref=report.ref, points=points))
                    await enqueue(conn, f"r{report.id}:points:u{user_id}", to, message)

    async def _reason(self, user: User, data: dict[str, Any], text: str) -> Reply:
        note = " ".join(text.split())[:MAX_WORDS]
        if not note:
            return Reply([out.text(t(user.lang, "work.ask_reason", action="", ref=f"SP-{data['report_id']:06d}"))])
        checked = await self._checked(user, data["report_id"], data["version"], data["action"])
        if isinstance(checked, Reply):
            await dialogs.clear_dialog(self.db, user.id)
            return Reply([out.text(checked.alert or "")])
        report = checked
        now = self._stamp()
        try:
            async with self.db.transaction() as conn:
                if data["action"] == "transfer":
                    assignment = Assignment(data["kind"], data["target"], report.grid_id, "transfer")
                    updated = await self._assign(
                        conn, report.id, report.version, report.status, Action.TRANSFER, assignment, user.id, note, now
                    )
                    people = await recipients(
                        self.roles, self.grids, assignment.kind, assignment.target, report.grid_id
                    )
                    photos = [sha for sha, _ in await store.photos(self.db, report.id)]
                    followers = len(await store_followers(conn, report.id))
                    await self.announce(conn, updated, people, photos, followers)
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
                    updated = await _reload(conn, report.id)
                    await self.tell_followers(
                        conn, updated, "rejected",
                        lambda lang: [out.text(t(lang, "notify.rejected", ref=updated.ref, note=note))],
                    )  # fmt: skip
                await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        except StaleReport:
            await dialogs.clear_dialog(self.db, user.id)
            return Reply([out.text(t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)))])
        self.wake_outbox()
        return Reply(
            [out.text(t(user.lang, "work.done", ref=updated.ref, status=n.status_text(user.lang, updated.status)))]
        )

    async def _resolve_photo(self, user: User, data: dict[str, Any], sha256: str) -> Reply:
        data["photos"] = [*data.get("photos", []), sha256][:MAX_PHOTOS]
        await dialogs.put_dialog(self.db, user.id, RESOLVE_DIALOG, data, self._stamp())
        return Reply([out.text(t(user.lang, "work.ask_note", ref=f"SP-{data['report_id']:06d}"))])

    async def _resolve_note(self, user: User, data: dict[str, Any], text: str) -> Reply:
        ref = f"SP-{data['report_id']:06d}"
        if not data.get("photos"):
            return Reply([out.text(t(user.lang, "work.ask_after_photo", ref=ref))])
        note = " ".join(text.split())[:MAX_WORDS]
        checked = await self._checked(user, data["report_id"], data["version"], Action.RESOLVE)
        if isinstance(checked, Reply):
            await dialogs.clear_dialog(self.db, user.id)
            return Reply([out.text(checked.alert or "")])
        report = checked
        now = self._stamp()
        async with self.db.transaction() as conn:
            new_status = advance(report.status, Action.RESOLVE)
            if not await store.update_report(
                conn, report.id, report.version, status=new_status, updated_at=now, resolved_at=now
            ):
                await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
                return Reply([out.text(t(user.lang, "work.stale", status=n.status_text(user.lang, report.status)))])
            for sha in data["photos"]:
                await store.add_photo(conn, report.id, "after", sha, "", user.id)
            await store.log_event(
                conn, report.id, at=now, actor_id=user.id, action=Action.RESOLVE, from_status=report.status,
                to_status=new_status, note=note,
            )  # fmt: skip
            updated = await _reload(conn, report.id)

            def tell(lang: str) -> list[out.Message]:
                text = t(lang, "notify.resolved", ref=updated.ref, note=note)
                return [out.photo(data["photos"][0], text, buttons=n.rating_buttons(lang, updated))]

            await self.tell_followers(conn, updated, "resolved", tell)
            await conn.execute("DELETE FROM dialogs WHERE user_id = ?", (user.id,))
        self.wake_outbox()
        return Reply(
            [out.text(t(user.lang, "work.done", ref=updated.ref, status=n.status_text(user.lang, new_status)))]
        )

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
        report, now = checked, self._stamp()
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
            updated = await _reload(conn, report.id)
            photos = [sha for sha, _ in await store.photos(self.db, report.id)]
            await self.announce(conn, updated, people, photos, len(await store_followers(conn, report.id)))
            await self.tell_followers(
                conn, updated, "reopened", lambda lang: [out.text(t(lang, "notify.reopened", ref=updated.ref))]
            )
        self.wake_outbox()
        return Reply(alert=n.status_text(user.lang, new_status), retire=True)

    # ------------------------------------------------------------------ lists

    async def card_for(self, user: User, report: Report) -> list[out.Message]:
        where = (await self.where_for_workers(report))(user.lang)
        followers = len(await store.followers(self.db, report.id))
        text = n.work_card(user.lang, report, where=where, followers=followers, now=self._now())
        buttons = n.work_buttons(user.lang, report) if report.status in OPEN else None
        return [out.text(text, buttons)]

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

    async def my_reports(self, user: User) -> Reply:
        lang = user.lang
        reports = await store.reports_followed_by(self.db, user.id)
        if not reports:
            return Reply([out.text(t(lang, "my.empty"))])
        lines = [t(lang, "my.header")]
        for r in reports:
            lines.append(
                t(lang, "my.line", ref=r.ref, category=n.category_text(lang, r.category),
                  status=n.status_text(lang, r.status), date=r.created_at[:10])
            )  # fmt: skip
        return Reply([out.text("\n".join(lines))])

    async def points(self, user: User) -> Reply:
        lang = user.lang
        total, history = await store.points_of(self.db, user.id)
        lines = [t(lang, "points.total", total=total)]
        for reason, delta, report_id, at in history:
            label = t(lang, f"points.reason.{reason}") + (f" SP-{report_id:06d}" if report_id else "")
            lines.append(t(lang, "points.line", date=at[:10], reason=label, delta=delta))
        return Reply([out.text("\n".join(lines))])


class StaleReport(Exception):
    """Someone changed the report between our read and our write; nothing was written."""


async def _reload(conn: aiosqlite.Connection, report_id: int) -> Report:
    row = await (await conn.execute("SELECT * FROM reports WHERE id = ?", (report_id,))).fetchone()
    return store._report(row)


async def store_followers(conn: aiosqlite.Connection, report_id: int) -> list[int]:
    rows = await (
        await conn.execute("SELECT user_id FROM report_followers WHERE report_id = ? ORDER BY user_id", (report_id,))
    ).fetchall()
    return [r[0] for r in rows]
