"""Riders' corrections: ⚠️ 信息有误 on a station's card, a reason (and words or a photo for "other"), a notice
to the place's keepers (or the admins when it has none) through the outbox, one tap to confirm or reject, the
rider told the outcome and paid in points when right. Three different riders within 24 hours mark the place
待核实 in every answer until a keeper or admin confirms or fixes it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.keepers import actions
from bot.keepers.common import FLAG_DIALOG, MAX_NOTE, Deps, recipient
from bot.media.photos import PhotoRejected, PhotoStore
from bot.outbox import messages as out
from bot.outbox.store import enqueue
from bot.people.model import utc_stamp
from bot.places.model import Place
from bot.points.service import POINTS_CORRECTION
from bot.reports.common import Reply
from bot.store import dialogs
from bot.store import keepers as store
from bot.store import points as ledger
from bot.store.db import Connection
from bot.store.users import User
from bot.texts import t

REASONS = ("closed", "moved", "no_water", "no_power", "wrong_phone", "not_let_in", "other")
# A confirmed correction of these sets the place's status for today in the same tap.
STATUS_FIX = {"closed": "closed", "no_water": "no_water", "no_power": "no_power"}
DISPUTE_RIDERS = 3
DISPUTE_WINDOW = timedelta(hours=24)


class CorrectionService:
    def __init__(self, deps: Deps, photos: PhotoStore) -> None:
        self.deps = deps
        self.photos = photos

    def menu(self, user: User, place_id: str) -> Reply:
        """⚠️ 信息有误: which part is wrong."""
        lang = user.lang
        place = self.deps.place(place_id)
        if place is None:
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        buttons = [out.button(t(lang, f"flag.reason.{r}"), actions.make("r", r, place.id)) for r in REASONS]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        return Reply([out.text(t(lang, "flag.ask", name=place.name), buttons=rows)])

    async def on_reason(self, user: User, reason: str, place_id: str) -> Reply:
        lang = user.lang
        place = self.deps.place(place_id)
        if place is None or reason not in REASONS:
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        if reason == "other":
            await self.deps.ask(user, FLAG_DIALOG, {"place_id": place.id})
            return Reply([out.text(t(lang, "flag.ask_other"))], retire=True)
        return await self._file(user, place, reason, "", "")

    async def on_text(self, user: User, text: str, step: str | None = None) -> Reply | None:
        """The words for "other"; `step`: their update, recorded with the flag that closes the question."""
        data = await self.deps.dialog(user, FLAG_DIALOG)
        if data is None:
            return None
        place = self.deps.place(data["place_id"])
        if place is None:
            return await self._place_gone(user, step)
        closing = dialogs.Answered(step, FLAG_DIALOG, {"place_id": place.id})
        return await self._file(user, place, "other", " ".join(text.split())[: MAX_NOTE * 2], "", closing)

    async def on_photo(self, user: User, data: bytes, step: str | None = None) -> Reply | None:
        """The photo for "other"; `step`: its update, recorded with the flag that closes the question (its re-run
        is told the answer it got: `Stations.words_again`)."""
        asked = await self.deps.dialog(user, FLAG_DIALOG)
        if asked is None:
            return None
        place = self.deps.place(asked["place_id"])
        try:
            stored = await self.photos.put(data)
        except PhotoRejected:
            return Reply([out.text(t(user.lang, "keeper.bad_photo"))])
        if place is None:
            return await self._place_gone(user, step)
        closing = dialogs.Answered(step, FLAG_DIALOG, {"place_id": place.id})
        return await self._file(user, place, "other", "", stored.sha256, closing)

    async def _place_gone(self, user: User, step: str | None) -> Reply:
        """The flagged place left the catalogue while its words or photo were asked for: the question closes with
        that answer, recorded with its update (a re-run is told the same: `Stations.words_again`)."""
        said = t(user.lang, "callback.expired")
        await dialogs.clear_dialog(self.deps.db, user.id, dialogs.Answered(step, FLAG_DIALOG, {"said": said}))
        return Reply([out.text(said)])

    async def _file(
        self, user: User, place: Place, reason: str, note: str, photo: str, closing: dialogs.Answered | None = None
    ) -> Reply:
        """Store the flag, tell the keepers (or admins) and, on the third rider in a day, mark 待核实. `closing`:
        the question for "other", closed in the same commit with the answer it got (for a re-run of its words)."""
        lang = user.lang
        stamp = self.deps.stamp()
        since = utc_stamp(self.deps.now() - DISPUTE_WINDOW)
        async with self.deps.db.transaction() as conn:
            if user.id in await store.recent_flaggers(conn, place.id, since):
                duplicate = True
            else:
                duplicate = False
                flag_id = await store.insert_flag(conn, place.id, user.id, reason, note, photo, stamp)
                disputed = len(await store.recent_flaggers(conn, place.id, since)) >= DISPUTE_RIDERS
                if disputed:
                    disputed = await store.mark_disputed(conn, place.id, stamp)
                await self._tell_keepers(conn, place, flag_id, reason, note, photo)
            if closing is not None:
                said = t(lang, "flag.already") if duplicate else t(lang, "flag.thanks", name=place.name)
                await dialogs.clear_dialog_in(conn, user.id, replace(closing, data={**closing.data, "said": said}))
        if duplicate:
            return Reply([out.text(t(lang, "flag.already"))], retire=True)
        if disputed:
            await self.deps.reload_places()
        self.deps.wake_outbox()
        return Reply([out.text(t(lang, "flag.thanks", name=place.name))], retire=True)

    async def _tell_keepers(
        self, conn: Connection, place: Place, flag_id: int, reason: str, note: str, photo: str
    ) -> None:
        keepers = await self.deps.roles.users_with("keeper", place.id)
        to = keepers or await self.deps.roles.users_with("admin", "")
        for person in to:
            lang = person.lang
            text = t(lang, "flag.notice", name=place.name, id=place.id, reason=t(lang, f"flag.reason.{reason}"))
            if note:
                text += "\n" + t(lang, "flag.notice_note", note=note)
            buttons = [[
                out.button(t(lang, "flag.btn_right"), actions.make("y", "-", str(flag_id))),
                out.button(t(lang, "flag.btn_wrong"), actions.make("n", "-", str(flag_id))),
            ]]  # fmt: skip
            message = out.photo(photo, caption=text, buttons=buttons) if photo else out.text(text, buttons=buttons)
            await enqueue(conn, f"flag:{flag_id}:u{person.id}", recipient(person), message)

    async def resolve(self, user: User, flag_id: str, right: bool) -> Reply:
        """The keeper's (or admin's) one tap: the rider was right (and a status reason is applied) or not."""
        lang = user.lang
        if not flag_id.isdigit():
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        stamp = self.deps.stamp()
        async with self.deps.db.transaction() as conn:
            found = await store.flag(conn, int(flag_id))
            if found is None:
                return Reply(alert=t(lang, "callback.expired"), popup=True)
            if not await self.deps.may_act(user, found.place_id):
                name = self.deps.place(found.place_id)
                return Reply(alert=t(lang, "keeper.not_yours", place=name.name if name else found.place_id), popup=True)
            if not await store.resolve_flag(conn, found.id, "confirmed" if right else "rejected", user.id, stamp):
                return Reply(alert=t(lang, "flag.already_resolved"), popup=True, retire=True)
            fix = STATUS_FIX.get(found.reason) if right else None
            if fix is not None:
                until = self.deps.local_end_of_day().isoformat(timespec="minutes")
                await store.set_live(conn, found.place_id, stamp, user.id, status=fix, note="", until=until)
                change = f"{fix} {until} (flag {found.id})"
                await store.audit(conn, found.place_id, user.id, "status", "", change, stamp)
            elif right:  # the keeper fixes it with a command; 待核实 stays until they do
                await store.audit(conn, found.place_id, user.id, "flag", found.reason, "right", stamp)
            else:  # the data stands: that is a confirmation
                await store.confirm(conn, found.place_id, stamp, "keeper")
                await store.audit(conn, found.place_id, user.id, "flag", found.reason, "wrong", stamp)
            rider = await self.deps.user(found.user_id)
            place = self.deps.place(found.place_id)
            name = place.name if place else found.place_id
            if rider is not None:
                if right:
                    await ledger.append(conn, rider.id, "earned", POINTS_CORRECTION, "correction", stamp,
                                        ref=f"flag:{found.id}", note=name, actor=f"user:{user.id}")  # fmt: skip
                    text = t(rider.lang, "flag.rider_right", name=name, points=POINTS_CORRECTION)
                else:
                    text = t(rider.lang, "flag.rider_wrong", name=name)
                await enqueue(conn, f"flag:{found.id}:told", recipient(rider), out.text(text))
        await self.deps.reload_places()
        self.deps.wake_outbox()
        if right and fix is None:
            return Reply([out.text(t(lang, "flag.done_fix", id=found.place_id))], retire=True,
                         alert=t(lang, "flag.btn_right"))  # fmt: skip
        return Reply(alert=t(lang, "flag.done"), retire=True)
