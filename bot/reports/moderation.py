"""Moderation: hiding a report or one photo (abuse, a face or a plate that should not travel), banning a person
from reporting for a while, and the rejection streak that puts a ban in front of an admin — never automatically.

Hidden content is for admins' eyes only from the moment it is hidden: messages about it still waiting in the
outbox are cancelled, the forwarded card is edited to say it was withdrawn (its other photos deleted on
Telegram; WeChat cannot edit, so it gets a short notice), and the store's readers (queues, duplicates, exports,
Open311) leave it out. A ban stops only reporting: finding stations and everything else still answers. Every act
is one row in `moderation_log` (append-only) written in the same transaction as the act itself.

Who may: hiding — admins, and supervisors whose community or street the report is in; banning — admins. The
command line (`actor=None`) is the operator and may do everything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.people.roles import RoleService
from bot.reports import actions
from bot.reports.model import Report, parse_ref, ref_of
from bot.reports.routing import chain, recipients
from bot.store import moderation as store
from bot.store import reports as report_store
from bot.store import users as user_store
from bot.store.db import Connection, Database
from bot.store.users import User
from bot.texts import t

log = logging.getLogger(__name__)

MAX_REASON = 200
MAX_BAN_DAYS = 3650
STREAK = 3  # reports rejected as false …
STREAK_WINDOW = timedelta(days=7)  # … within this window put a ban suggestion in front of an admin
SUGGESTED_DAYS = 7
_ID = re.compile(r"^#?([0-9]{1,9})$")


@dataclass(frozen=True)
class Done:
    """What a moderation act came to: `code` is a text key suffix under ``mod.`` (ok_hide, not_found, …)."""

    code: str
    params: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.code.startswith("ok")

    def text(self, lang: str) -> str:
        return t(lang, f"mod.{self.code}", **self.params)


def _clean(reason: str) -> str:
    """A reason as the log keeps it: one line, single spaces, at most MAX_REASON characters."""
    return " ".join(reason.split())[:MAX_REASON]


class Moderation:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        roles: RoleService | None,
        grids: Callable[[], Any] = lambda: None,
        wake_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.db, self.clock, self.roles, self._grids, self.wake_outbox = db, clock, roles, grids, wake_outbox

    def _stamp(self, when: datetime | None = None) -> str:
        return (when or self.clock.now()).isoformat(timespec="seconds")

    # ------------------------------------------------------------------ who may

    async def is_admin(self, actor: User | None) -> bool:
        return actor is None or (self.roles is not None and await self.roles.is_admin(actor))

    async def may_hide(self, actor: User | None, report: Report) -> bool:
        if await self.is_admin(actor):
            return True
        assert actor is not None and self.roles is not None
        held = {(r.role, r.scope) for r in await self.roles.roles_of(actor)}
        scopes = set(chain(self._grids(), report.grid_id)[1:])
        if report.assignee_kind == "grid":
            scopes |= set(chain(self._grids(), report.assignee)[1:])
        return any(("supervisor", s) in held for s in scopes)

    # ------------------------------------------------------------------ bans

    async def ban_of(self, user_id: int) -> tuple[str, str] | None:
        return await store.active_ban(self.db, user_id, self._stamp())

    async def ban(self, actor: User | None, user_id: int, days: int, reason: str) -> Done:
        reason = _clean(reason)
        if not await self.is_admin(actor):
            return Done("forbidden", {})
        if not 1 <= days <= MAX_BAN_DAYS:
            return Done("bad_days", {"max": MAX_BAN_DAYS})
        if not reason:
            return Done("need_reason", {})
        if await user_store.get_user(self.db, user_id) is None:
            return Done("no_user", {"id": user_id})
        now = self.clock.now()
        until = self._stamp(now + timedelta(days=days))
        async with self.db.transaction() as conn:
            await store.insert_ban(conn, user_id, self._stamp(now), until, reason, actor.id if actor else None)
            await store.log(conn, at=self._stamp(now), actor_id=actor.id if actor else None, action="ban",
                            user_id=user_id, detail=until, reason=reason)  # fmt: skip
        log.info("user %s banned from reporting until %s", user_id, until)
        return Done("ok_ban", {"id": user_id, "until": until[:16].replace("T", " "), "reason": reason})

    async def unban(self, actor: User | None, user_id: int, reason: str = "") -> Done:
        if not await self.is_admin(actor):
            return Done("forbidden", {})
        now = self._stamp()
        async with self.db.transaction() as conn:
            lifted = await store.lift_bans(conn, user_id, now, actor.id if actor else None)
            if lifted:
                await store.log(conn, at=now, actor_id=actor.id if actor else None, action="unban", user_id=user_id,
                                reason=_clean(reason))  # fmt: skip
        return Done("ok_unban" if lifted else "not_banned", {"id": user_id})

    # ------------------------------------------------------------------ hiding

    async def _hideable(self, actor: User | None, report_id: int, reason: str) -> Report | Done:
        """What hiding a report or one of its photos checks first: the report exists, the actor may hide it, and a
        reason was given."""
        report = await report_store.get_report(self.db, report_id)
        if report is None:
            return Done("not_found", {"ref": ref_of(report_id)})
        if not await self.may_hide(actor, report):
            return Done("forbidden", {})
        if not reason:
            return Done("need_reason", {})
        return report

    async def hide_report(self, actor: User | None, report_id: int, reason: str) -> Done:
        reason = _clean(reason)
        report = await self._hideable(actor, report_id, reason)
        if isinstance(report, Done):
            return report
        if report.hidden_at:
            return Done("already", {"ref": report.ref})
        now = self._stamp()
        by = actor.id if actor else None
        async with self.db.transaction() as conn:
            if not await store.hide_report(conn, report_id, now, reason):
                return Done("already", {"ref": report.ref})
            await report_store.log_event(conn, report_id, at=now, actor_id=by, action="hide",
                                         from_status=report.status, to_status=report.status, note=reason)  # fmt: skip
            await store.log(conn, at=now, actor_id=by, action="hide_report", user_id=report.reporter_id,
                            report_id=report_id, reason=reason)  # fmt: skip
            await store.cancel_pending(conn, report_id)
            for sent in await store.sent_for_report(conn, report_id):
                await self._withdraw(conn, report, sent, f"mod:hide:r{report_id}:o{sent['id']}", whole=True)
        self.wake_outbox()
        return Done("ok_hide", {"ref": report.ref})

    async def hide_photo(self, actor: User | None, report_id: int, seq: int, reason: str) -> Done:
        reason = _clean(reason)
        report = await self._hideable(actor, report_id, reason)
        if isinstance(report, Done):
            return report
        photo = await store.before_photo(self.db, report_id, seq)
        if photo is None:
            return Done("no_photo", {"ref": report.ref, "seq": seq})
        sha, hidden_at = photo
        if hidden_at:
            return Done("already", {"ref": f"{report.ref} #{seq}"})
        now, by = self._stamp(), actor.id if actor else None
        async with self.db.transaction() as conn:
            await store.hide_before_photo(conn, report_id, seq, now, reason)
            await report_store.log_event(conn, report_id, at=now, actor_id=by, action="hide_photo",
                                         from_status=report.status, to_status=report.status,
                                         note=f"#{seq} {reason}")  # fmt: skip
            await store.log(conn, at=now, actor_id=by, action="hide_photo", user_id=report.reporter_id,
                            report_id=report_id, detail=f"before #{seq}", reason=reason)  # fmt: skip
            await store.cancel_pending(conn, report_id, sha)
            for sent in await store.sent_for_report(conn, report_id):
                if sent["payload"].get("sha256") == sha:
                    await self._withdraw(conn, report, sent, f"mod:photo:r{report_id}:{seq}:o{sent['id']}", whole=False)
        self.wake_outbox()
        return Done("ok_hide_photo", {"ref": report.ref, "seq": seq})

    async def _withdraw(self, conn: Connection, report: Report, sent: dict[str, Any], key: str, *, whole: bool) -> None:
        """Take back one forwarded message: on Telegram edit the card (or delete a photo or pin); elsewhere,
        where messages cannot be edited, say it in a short text instead (once, for the card)."""
        lang = await self._lang(conn, sent["user_id"])
        to = Recipient(sent["user_id"], sent["channel"], sent["address"], lang)
        payload, card = sent["payload"], sent["index"] == 0
        notice = t(lang, "mod.withdrawn" if whole else "mod.photo_withdrawn", ref=report.ref)
        message_id = sent["message_id"]
        if sent["channel"] != "telegram" or not str(message_id).isdigit():
            if card:
                await enqueue(conn, key, to, out.text(notice))
            return
        if whole and card:
            edit = {
                "kind": "edit",
                "message_id": int(message_id),
                "text": notice,
                "caption": payload["kind"] == "photo",
            }
            await enqueue(conn, key, to, edit)
            return
        await enqueue(conn, key, to, {"kind": "delete", "message_id": int(message_id)})
        if card:  # the card travelled on the hidden photo: send it again as text, with its buttons
            text = (payload.get("caption") or payload.get("text") or "") + "\n" + notice
            await enqueue(conn, key + ":card", to, out.text(text, payload.get("buttons")))

    async def _lang(self, conn: Connection, user_id: int | None) -> str:
        if user_id is None:
            return "zh-CN"
        lang = await user_store.lang_in(conn, user_id)
        return lang if lang is not None else "zh-CN"

    # ------------------------------------------------------------------ the rejection streak

    async def false_report(self, conn: Connection, actor: User, report: Report, now: str) -> None:
        """Inside the reject transaction: count the reporter's reports rejected as false; at the streak, put a
        one-tap ban in front of the admins (once per streak) — the decision stays theirs."""
        await store.log(conn, at=now, actor_id=actor.id, action="false_report", user_id=report.reporter_id,
                        report_id=report.id)  # fmt: skip
        since = self._stamp(datetime.fromisoformat(now) - STREAK_WINDOW)
        rejected = await store.count_since(conn, report.reporter_id, "false_report", since)
        if len(rejected) < STREAK or await store.count_since(conn, report.reporter_id, "suggest_ban", since):
            return
        refs = ", ".join(ref_of(r) for r in rejected if r is not None)
        await store.log(conn, at=now, actor_id=None, action="suggest_ban", user_id=report.reporter_id,
                        report_id=report.id, detail=refs)  # fmt: skip
        if self.roles is None:
            return
        uid = report.reporter_id
        for admin in await recipients(self.roles, self._grids(), "unrouted", "", None):
            lang = admin.lang
            text = t(lang, "mod.suggest", id=uid, n=len(rejected), days=STREAK_WINDOW.days, refs=refs)
            buttons = [[out.button(t(lang, "mod.suggest_ban", days=SUGGESTED_DAYS), actions.ban(uid, SUGGESTED_DAYS))],
                       [out.button(t(lang, "mod.suggest_dismiss"), actions.dismiss(uid))]]  # fmt: skip
            await enqueue(conn, f"mod:suggest:u{uid}:r{report.id}:{admin.channel}:{admin.address}", admin,
                          out.text(text, buttons))  # fmt: skip

    async def on_suggestion(self, actor: User, user_id: int, days: int) -> Done:
        """An admin's tap on a ban suggestion: ban for `days` (0: dismiss, logged too)."""
        if not await self.is_admin(actor):
            return Done("forbidden", {})
        if days == 0:
            async with self.db.transaction() as conn:
                await store.log(conn, at=self._stamp(), actor_id=actor.id, action="dismiss_ban", user_id=user_id)
            return Done("ok_dismissed", {"id": user_id})
        if await self.ban_of(user_id):
            return Done("already_banned", {"id": user_id})
        return await self.ban(actor, user_id, days, t(actor.lang, "mod.streak_reason", n=STREAK))

    # ------------------------------------------------------------------ chat commands

    async def command(self, actor: User, name: str, args: str) -> str:
        """/hide SP-… reason · /hidephoto SP-… N reason · /ban ID DAYS reason · /unban ID: the answer's text."""
        lang = actor.lang
        parts = args.split()
        try:
            if name == "hide" and len(parts) >= 1 and (rid := parse_ref(parts[0]) or _number(parts[0])):
                return (await self.hide_report(actor, rid, " ".join(parts[1:]))).text(lang)
            if name == "hidephoto" and len(parts) >= 2 and (rid := parse_ref(parts[0]) or _number(parts[0])):
                return (await self.hide_photo(actor, rid, _int(parts[1]), " ".join(parts[2:]))).text(lang)
            if name == "ban" and len(parts) >= 2:
                return (await self.ban(actor, _int(parts[0]), _int(parts[1]), " ".join(parts[2:]))).text(lang)
            if name == "unban" and len(parts) >= 1:
                return (await self.unban(actor, _int(parts[0]), " ".join(parts[1:]))).text(lang)
        except ValueError:
            pass
        return t(lang, f"mod.usage.{name}")


def _number(text: str) -> int | None:
    m = _ID.match(text)
    return int(m.group(1)) if m else None


def _int(text: str) -> int:
    found = _number(text)
    if found is None:
        raise ValueError(text)
    return found
