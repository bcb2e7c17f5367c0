"""Station keepers (驿站管理员) at work from the chat: today's status, hours, amenities, phone, entrance photo.

Every change is checked (only the place's keepers and admins), audited with its old and new value, committed,
and then the live catalogue is rebuilt, so the very next rider's answer shows it with "驿站 N 分钟前更新".
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from bot.keepers import actions
from bot.keepers.common import MAX_NOTE, NOTE_DIALOG, PHOTO_DIALOG, Deps
from bot.media.photos import PhotoRejected, PhotoStore
from bot.outbox import messages as out
from bot.places.hours import HoursError, parse_hours
from bot.places.live import STATUSES
from bot.places.model import Place
from bot.places.vocab import amenity_term
from bot.presenters.places import place_text
from bot.reports.common import Reply
from bot.store import dialogs
from bot.store import keepers as store
from bot.store.db import Connection
from bot.store.users import User
from bot.texts import all_labels, t

Writer = Callable[[Connection], Awaitable[None]]
_UNTIL = re.compile(r"^(?:至|到|until\s*)?(\d{1,2})[:：](\d{2})\s*(?:恢复|前|止)?$", re.IGNORECASE)
_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")
_STATUS_WORDS = {
    word.lower(): status
    for status in STATUSES
    for words in all_labels(f"keeper.status_word.{status}")
    for word in words.split("|")
}


def status_of(word: str) -> str | None:
    """A status from a token or its word in either language ("closed", "闭站", …)."""
    return _STATUS_WORDS.get(word.strip().lower())


class KeeperService:
    def __init__(self, deps: Deps, photos: PhotoStore) -> None:
        self.deps = deps
        self.photos = photos

    # --- which place ------------------------------------------------------------------------------------

    async def _target(self, user: User, args: list[str]) -> tuple[str | None, list[str], Reply | None]:
        """(place id, remaining args, None) or (None, args, a refusal): the first argument may name the place."""
        lang = user.lang
        mine = await self.deps.keeper_places(user)
        admin = await self.deps.roles.is_admin(user)
        if args and self.deps.place(args[0]) is not None:
            if await self.deps.may_act(user, args[0]):
                return args[0], args[1:], None
            return None, args, Reply([out.text(t(lang, "keeper.not_yours", place=self.deps.place(args[0]).name))])
        if len(mine) == 1:
            return mine[0], args, None
        if not mine and not admin:
            return None, args, Reply([out.text(t(lang, "keeper.not_keeper"))])
        ids = ", ".join(mine) if mine else "…"
        return None, args, Reply([out.text(t(lang, "keeper.which_place", ids=ids))])

    # --- the keeper's card ------------------------------------------------------------------------------

    def card(self, lang: str, place: Place) -> out.Message:
        now = self.deps.now()
        text = "\n".join(
            [t(lang, "keeper.card_title"), place_text(lang, place, place.hours.state_at(now), now=now), "",
             t(lang, "keeper.card_help")]
        )  # fmt: skip
        status_buttons = [
            out.button(t(lang, f"keeper.status.{s}"), actions.make("s", s, place.id))
            for s in STATUSES
            if actions.fits("s", s, place.id)
        ]
        rows = [status_buttons[:3], status_buttons[3:]]
        rows.append(
            [
                out.button(t(lang, "keeper.btn_confirm"), actions.make("c", "-", place.id)),
                out.button(t(lang, "keeper.btn_photo"), actions.make("p", "-", place.id)),
            ]
        )
        return out.text(text, buttons=rows)

    async def station(self, user: User, args: list[str]) -> Reply:
        """/station: the keeper's own place(s) with the one-tap status buttons."""
        mine = await self.deps.keeper_places(user)
        if args:
            place_id, _, refusal = await self._target(user, args)
            if refusal is not None:
                return refusal
            mine = [place_id] if place_id else mine
        places = [p for p in (self.deps.place(i) for i in mine) if p is not None]
        if not places:
            key = "keeper.not_keeper" if not await self.deps.roles.is_admin(user) else "keeper.which_place"
            return Reply([out.text(t(user.lang, key, ids="…"))])
        return Reply([self.card(user.lang, p) for p in places])

    # --- changes ----------------------------------------------------------------------------------------

    async def _change(
        self, user: User, place_id: str, field: str, new: str, write: Writer, closing: dialogs.Answered | None = None
    ) -> None:
        """Audit and write one field in one transaction, then refresh the live catalogue. `closing`: the words
        that asked for it (the note after a status tap) close their question in the same commit."""
        async with self.deps.db.transaction() as conn:
            before = await store.place_fields(conn, place_id)
            assert before is not None
            await write(conn)
            await store.audit(conn, place_id, user.id, field, before.get(field, ""), new, self.deps.stamp())
            if closing is not None:
                await dialogs.clear_dialog_in(conn, user.id, closing)
        await self.deps.reload_places()

    def _until(self, words: list[str]) -> tuple[datetime | None, list[str]]:
        """An optional "14:00" (or "至14:00") first word: the status holds until then (tomorrow if already past)."""
        if words:
            match = _UNTIL.match(words[0])
            if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
                local = self.deps.now().astimezone(self.deps.tz)
                at = local.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
                return (at if at > local else at + timedelta(days=1)), words[1:]
        return None, words

    async def set_status(
        self, user: User, place_id: str, status: str, words: list[str], closing: dialogs.Answered | None = None
    ) -> Reply:
        """`closing`: the note's question, closed with the change (and the update of its words recorded)."""
        lang = user.lang
        if not await self.deps.may_act(user, place_id):
            said = t(lang, "keeper.not_yours", place=place_id)
            if closing is not None:  # closed with the refusal it got, for a re-run of the note (as on_photo's)
                await dialogs.clear_dialog(self.deps.db, user.id, replace(closing, data={"said": said}))
            return Reply([out.text(said)])
        until, words = self._until(words)
        if until is None and status != "open":
            until = self.deps.local_end_of_day()  # "today's status": tomorrow starts afresh
        note = " ".join(words)[:MAX_NOTE]
        until_stamp = until.astimezone(self.deps.tz).isoformat(timespec="minutes") if until else None
        stamp = self.deps.stamp()

        async def write(conn: Connection) -> None:
            await store.set_live(conn, place_id, stamp, user.id, status=status, note=note, until=until_stamp)

        await self._change(user, place_id, "status", f"{status} {until_stamp or ''} {note}".strip(), write, closing)
        place = self.deps.place(place_id)
        assert place is not None
        return Reply([out.text(t(lang, "keeper.saved", name=place.name)), self.card(lang, place)])

    async def status_command(self, user: User, args: list[str]) -> Reply:
        """/status [place] STATUS [HH:MM] [note]."""
        place_id, words, refusal = await self._target(user, args)
        if refusal is not None or place_id is None:
            return refusal or Reply()
        status = status_of(words[0]) if words else None
        if status is None:
            return Reply([out.text(t(user.lang, "keeper.usage_status"))])
        return await self.set_status(user, place_id, status, words[1:])

    async def set_hours(self, user: User, args: list[str]) -> Reply:
        place_id, words, refusal = await self._target(user, args)
        if refusal is not None or place_id is None:
            return refusal or Reply()
        text = " ".join(words)
        try:
            hours = str(parse_hours(text)) if text else ""
        except HoursError:
            return Reply([out.text(t(user.lang, "keeper.bad_hours", text=text[:40]))])
        if not hours:
            return Reply([out.text(t(user.lang, "keeper.usage_hours"))])
        stamp = self.deps.stamp()

        async def write(conn: Connection) -> None:
            await store.set_place_column(conn, place_id, "hours", hours)
            await store.set_live(conn, place_id, stamp, user.id)

        await self._change(user, place_id, "hours", hours, write)
        return await self._saved(user, place_id)

    async def set_amenities(self, user: User, args: list[str]) -> Reply:
        place_id, words, refusal = await self._target(user, args)
        if refusal is not None or place_id is None:
            return refusal or Reply()
        terms = [(w, amenity_term(w)) for w in " ".join(words).replace("，", " ").replace(",", " ").split()]
        unknown = [w for w, term in terms if term is None]
        if unknown or not terms:
            key = "keeper.bad_amenities" if unknown else "keeper.usage_amenities"
            return Reply([out.text(t(user.lang, key, words="、".join(unknown)[:60]))])
        value = ";".join(sorted({term.token for _, term in terms if term is not None}))
        stamp = self.deps.stamp()

        async def write(conn: Connection) -> None:
            await store.set_place_column(conn, place_id, "amenities", value)
            await store.set_live(conn, place_id, stamp, user.id)

        await self._change(user, place_id, "amenities", value, write)
        return await self._saved(user, place_id)

    async def set_phone(self, user: User, args: list[str]) -> Reply:
        place_id, words, refusal = await self._target(user, args)
        if refusal is not None or place_id is None:
            return refusal or Reply()
        phone = " ".join(words).strip()
        if not _PHONE.match(phone) or sum(ch.isdigit() for ch in phone) < 5:
            return Reply([out.text(t(user.lang, "keeper.bad_phone", text=phone[:30]))])
        stamp = self.deps.stamp()

        async def write(conn: Connection) -> None:
            await store.set_place_column(conn, place_id, "phone", phone)
            await store.set_live(conn, place_id, stamp, user.id)

        await self._change(user, place_id, "phone", phone, write)
        return await self._saved(user, place_id)

    async def confirm(self, user: User, place_id: str) -> Reply:
        """ "信息无误": the data stands as shown; last-confirmed is now and any 待核实 mark goes."""
        if not await self.deps.may_act(user, place_id):
            return Reply(alert=t(user.lang, "keeper.not_yours", place=place_id), popup=True)
        stamp = self.deps.stamp()
        by = "keeper" if place_id in await self.deps.keeper_places(user) else "admin"
        async with self.deps.db.transaction() as conn:
            await store.confirm(conn, place_id, stamp, by)
            await store.audit(conn, place_id, user.id, "confirmed", "", by, stamp)
        await self.deps.reload_places()
        return Reply([out.text(t(user.lang, "keeper.confirmed"))], alert=t(user.lang, "keeper.confirmed"))

    async def _saved(self, user: User, place_id: str) -> Reply:
        place = self.deps.place(place_id)
        assert place is not None
        return Reply([out.text(t(user.lang, "keeper.saved", name=place.name)), self.card(user.lang, place)])

    # --- the optional note and the entrance photo -------------------------------------------------------

    async def on_button(self, user: User, action: actions.KeeperAction) -> Reply:
        lang = user.lang
        place = self.deps.place(action.target)
        if place is None:
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        if not await self.deps.may_act(user, place.id):
            return Reply(alert=t(lang, "keeper.not_yours", place=place.name), popup=True)
        if action.letter == "s" and action.arg in STATUSES:
            reply = await self.set_status(user, place.id, action.arg, [])
            if action.arg != "open":
                await self.deps.ask(user, NOTE_DIALOG, {"place_id": place.id, "status": action.arg})
                skip = [[out.button(t(lang, "keeper.btn_skip"), actions.make("x", "-", "-"))]]
                reply.messages.append(out.text(t(lang, "keeper.ask_note"), buttons=skip))
            reply.alert = t(lang, f"keeper.status.{action.arg}")
            return reply
        if action.letter == "c":
            return await self.confirm(user, place.id)
        if action.letter == "p":
            await self.deps.ask(user, PHOTO_DIALOG, {"place_id": place.id})
            return Reply([out.text(t(lang, "keeper.ask_photo", name=place.name))])
        return Reply(alert=t(lang, "callback.expired"), popup=True)

    async def on_text(self, user: User, text: str, step: str | None = None) -> Reply | None:
        """The optional note after a status tap ("14:00 电路检修"); None when nothing was asked. `step`: the update
        the note came in, recorded with the change that closes the question (bot/store/dialogs.py)."""
        data = await self.deps.dialog(user, NOTE_DIALOG)
        if data is None:
            return None
        closing = dialogs.Answered(step, NOTE_DIALOG, {"place_id": data["place_id"]})
        return await self.set_status(user, data["place_id"], data["status"], text.split(), closing)

    async def note_again(self, user: User, data: dict) -> Reply | None:
        """The note's update run again (after a kill): saved already; the place as it is now."""
        return await self._saved(user, data["place_id"]) if self.deps.place(data["place_id"]) else None

    async def on_photo(self, user: User, data: bytes, step: str | None = None) -> Reply | None:
        """The entrance photo; `step`: its update, recorded with the change that closes the question (its re-run
        is shown the place's card: `Stations.words_again`)."""
        asked = await self.deps.dialog(user, PHOTO_DIALOG)
        if asked is None:
            return None
        place_id = asked["place_id"]
        if not await self.deps.may_act(user, place_id):
            said = t(user.lang, "keeper.not_yours", place=place_id)
            await dialogs.clear_dialog(self.deps.db, user.id, dialogs.Answered(step, PHOTO_DIALOG, {"said": said}))
            return Reply([out.text(said)])
        try:
            stored = await self.photos.put(data)
        except PhotoRejected:
            return Reply([out.text(t(user.lang, "keeper.bad_photo"))])
        stamp = self.deps.stamp()

        async def write(conn: Connection) -> None:
            await store.set_live(conn, place_id, stamp, user.id, photo=stored.sha256)

        closing = dialogs.Answered(step, PHOTO_DIALOG, {"place_id": place_id})
        await self._change(user, place_id, "photo", stored.sha256, write, closing)
        return await self._saved(user, place_id)

    async def skip(self, user: User) -> Reply:
        await self.deps.done(user)
        return Reply(alert=t(user.lang, "keeper.skipped"), retire=True)

    def entrance_photo(self, lang: str, place: Place) -> out.Message | None:
        """The keeper's entrance photo, to show under a place's details (None when there is none)."""
        if place.live is None or not place.live.photo:
            return None
        return out.photo(place.live.photo, caption=t(lang, "live.entrance_photo", name=place.name))
