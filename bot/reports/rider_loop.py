"""The rider's side after a report (issue #13): hazards others reported near where they are (👍 我也遇到), a
rejected report sent again without retaking its photos (🔁 重新上报), and one report's timeline (/myreports).

Hazards show only public categories (a pothole, a dark lamp, a blocked fire lane, a broken facility) and never
who reported them or their photos: a neighbour's dog or a fee dispute is nobody else's business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.geo.index import great_circle_m
from bot.outbox import messages as out
from bot.presenters.places import distance_text
from bot.reports import actions
from bot.reports import notices as n
from bot.reports.common import Reply
from bot.reports.model import Report
from bot.reports.states import OPEN, Status
from bot.store import reports as store
from bot.store import roles as role_store
from bot.store.users import User
from bot.texts import t

PUBLIC_HAZARDS = frozenset({"road", "lights", "fire_lane", "facility"})
HAZARD_RADIUS_M = 300.0
ME_TOO_SLACK_M = 500.0  # a forged 👍 from across town is refused: the rider must have been near it
MAX_HAZARDS = 3


class RiderLoopMixin:
    """Hazards, 👍 我也遇到, 🔁 重新上报 and the timeline: the rider's part of ReportService."""

    db: Any
    roles: Any

    async def hazards_near(
        self, lat: float, lon: float, radius_m: float = HAZARD_RADIUS_M
    ) -> list[tuple[Report, float]]:
        points = await store.points_near(self.db, OPEN - {Status.NEW}, PUBLIC_HAZARDS, lat, lon, radius_m)
        near = sorted(
            (d, id_) for id_, p_lat, p_lon in points if (d := great_circle_m(lat, lon, p_lat, p_lon)) <= radius_m
        )[:MAX_HAZARDS]
        found = [(await store.get_report(self.db, report_id), d) for d, report_id in near]
        return [(r, d) for r, d in found if r is not None]

    async def hazard_lines(self, user: User, lat: float, lon: float) -> tuple[list[str], out.Buttons]:
        """Lines for a location answer (one per hazard) and their 👍 buttons; empty when there is none."""
        hazards = await self.hazards_near(lat, lon)
        if not hazards:
            return [], []
        lang = user.lang
        lines = [t(lang, "ux.hazards")]
        buttons: out.Buttons = []
        for report, metres in hazards:
            count = await self.confirmations(report.id)
            lines.append(
                t(lang, "ux.hazard_line", category=n.category_text(lang, report.category),
                  distance=distance_text(lang, metres), status=n.status_text(lang, report.status), n=count)
            )  # fmt: skip
            label = t(lang, "ux.me_too", category=n.category_text(lang, report.category))
            buttons.append([out.button(label[:60], actions.me_too(report.id))])
        return lines, buttons

    async def confirmations(self, report_id: int) -> int:
        """How many people reported or confirmed it: followers (reporters, merged duplicates) + 👍."""
        return await store.supporters(self.db, report_id)

    async def me_too(self, user: User, payload: actions.MeToo) -> Reply:
        """👍 我也遇到: counted on the report, audited, no second report; only near it, only while it is open."""
        lang = user.lang
        report = await store.get_report(self.db, payload.report_id)
        if report is None or report.hidden_at or report.category not in PUBLIC_HAZARDS or report.status not in OPEN:
            await self.refuse(user, payload.report_id, "me_too", "not_offered")  # type: ignore[attr-defined]
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        if (
            user.last_lat is None
            or user.last_lon is None
            or great_circle_m(user.last_lat, user.last_lon, report.lat, report.lon) > HAZARD_RADIUS_M + ME_TOO_SLACK_M
        ):
            await self.refuse(user, report.id, "me_too", "far")  # type: ignore[attr-defined]
            return Reply(alert=t(lang, "ux.me_too_far"), popup=True)
        if user.id in await store.followers(self.db, report.id):
            return Reply(alert=t(lang, "ux.me_too_yours"))
        now = self._stamp()  # type: ignore[attr-defined]
        async with self.db.transaction() as conn:
            added = await store.add_confirmation(conn, report.id, user.id, now)
            if added:
                await store.log_event(
                    conn, report.id, at=now, actor_id=user.id, action="confirm_seen", from_status=report.status,
                    to_status=report.status,
                )  # fmt: skip
        total = await self.confirmations(report.id)
        key = "ux.me_too_done" if added else "ux.me_too_again"
        return Reply(alert=t(lang, key, n=total))

    # ------------------------------------------------------------------ 🔁 重新上报

    async def resubmit(self, user: User, payload: actions.Resubmit) -> Reply:
        """A rejected report as a new draft: its photos, place and category kept; the rider adds what was
        missing (the reason it was sent back is in the message above) and submits again."""
        report = await store.get_report(self.db, payload.report_id)
        if report is None or report.reporter_id != user.id or report.status != Status.REJECTED:
            await self.refuse(user, payload.report_id, "resubmit", "not_offered")  # type: ignore[attr-defined]
            return Reply(alert=t(user.lang, "callback.expired"), popup=True)
        limited = await self._rate_limited(user)  # type: ignore[attr-defined]
        if limited:
            return limited
        photos = [{"sha256": sha, "file_ref": ref} for sha, ref in await store.photos(self.db, report.id)]
        draft: dict[str, Any] = {
            "photos": photos,
            "lat": report.lat,
            "lon": report.lon,
            "category": report.category,
            "resubmit_of": report.id,
        }
        await self._save_draft(user, draft)  # type: ignore[attr-defined]
        reply = await self._next(user, draft)  # type: ignore[attr-defined]
        reply.messages.insert(0, out.text(t(user.lang, "ux.resubmit", ref=report.ref, photos=len(photos))))
        reply.retire = True
        return reply

    # ------------------------------------------------------------------ /myreports → a timeline

    async def my_reports_list(self, user: User) -> Reply:
        """/myreports: each report one line, and a button that opens its timeline."""
        lang = user.lang
        reports = await store.reports_followed_by(self.db, user.id)
        if not reports:
            return Reply([out.text(t(lang, "my.empty"))])
        lines = [t(lang, "my.header")]
        buttons: out.Buttons = []
        for r in reports:
            lines.append(
                t(lang, "my.line", ref=r.ref, category=n.category_text(lang, r.category),
                  status=n.status_text(lang, r.status), date=r.created_at[:10])
            )  # fmt: skip
            if len(buttons) < 10:
                buttons.append([out.button(f"🕒 {r.ref} {n.category_text(lang, r.category)}", actions.timeline(r.id))])
        return Reply([out.text("\n".join(lines), buttons)])

    async def timeline(self, user: User, payload: actions.Timeline, tz: Any = None) -> Reply:
        """Each step with its time, who acted as a role (never a name), the notes, and the after-photo."""
        lang = user.lang
        report = await store.get_report(self.db, payload.report_id)
        if report is None or user.id not in await store.followers(self.db, report.id):
            await self.refuse(user, payload.report_id, "timeline", "not_yours")  # type: ignore[attr-defined]
            return Reply(alert=t(lang, "rate.not_yours"), popup=True)
        zone = tz or self._now().tzinfo  # type: ignore[attr-defined]
        lines = [t(lang, "ux.timeline_head", ref=report.ref, category=n.category_text(lang, report.category),
                   status=n.status_text(lang, report.status))]  # fmt: skip
        roles: dict[int | None, str] = {}
        for event in await store.events(self.db, report.id):
            if event.action in ("confirm_seen", "join") and event.actor_id != user.id:
                continue  # other riders' 👍 and merged duplicates: counted on the card, not a step of the work
            if event.actor_id not in roles:
                roles[event.actor_id] = await self._role_word(user, report, event.actor_id)
            when = datetime.fromisoformat(event.at).astimezone(zone).strftime("%m-%d %H:%M")
            step = t(lang, f"ux.step.{event.action}") if _has(lang, f"ux.step.{event.action}") else event.action
            note = _public_note(event.note)
            lines.append(
                t(lang, "ux.timeline_line", when=when, who=roles[event.actor_id], step=step)
                + (t(lang, "ux.timeline_note", note=note) if note else "")
            )
        messages = [out.text("\n".join(lines))]
        after = [sha for sha, _ in await store.photos(self.db, report.id, "after")]
        if after:
            messages.append(out.photo(after[0], t(lang, "ux.after_photo", ref=report.ref)))
        return Reply(messages)

    async def _role_word(self, user: User, report: Report, actor_id: int | None) -> str:
        lang = user.lang
        if actor_id is None:
            return t(lang, "ux.role.system")
        if actor_id == user.id:
            return t(lang, "ux.role.you")
        role = await role_store.first_role(self.db, actor_id)
        if role is None:
            return t(lang, "ux.role.rider")
        return t(lang, f"ux.role.{role}") if _has(lang, f"ux.role.{role}") else t(lang, "ux.role.staff")


def _has(lang: str, key: str) -> bool:
    from bot.texts import LANGS

    return key in LANGS.get(lang, LANGS["zh-CN"])


def _public_note(note: str) -> str:
    """The reason a person wrote; the routing detail after " → " (grid ids) is for the audit log, not the rider."""
    text = (note or "").split(" → ")[0]
    return (
        "" if ":" in text and " " not in text and text.split(":")[0] in {"grid", "department", "street_queue"} else text
    )
