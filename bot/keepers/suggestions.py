"""A rider suggests a new place (location, name, kind, photo); admins approve or decline in the chat, and an
approved place is in the catalogue — /nearest, name search, the CLI — the moment they tap."""

from __future__ import annotations

from bot.geo.coords import out_of_china
from bot.keepers import actions
from bot.keepers.common import SUGGEST_DIALOG, Deps, recipient
from bot.media.photos import PhotoRejected, PhotoStore
from bot.outbox import messages as out
from bot.outbox.store import enqueue
from bot.places.vocab import KINDS
from bot.presenters.places import kind_label
from bot.reports.common import Reply
from bot.store import dialogs
from bot.store import keepers as store
from bot.store.users import User
from bot.texts import t

MAX_NAME = 40


class SuggestionService:
    def __init__(self, deps: Deps, photos: PhotoStore) -> None:
        self.deps = deps
        self.photos = photos

    async def begin(self, user: User) -> Reply:
        await self.deps.ask(user, SUGGEST_DIALOG, {"step": "location"})
        return Reply([out.text(t(user.lang, "suggest.ask_location"), keyboard="location")])

    async def on_location(self, user: User, lat: float, lon: float) -> Reply | None:
        data = await self.deps.dialog(user, SUGGEST_DIALOG)
        if data is None or data.get("step") != "location":
            return None
        if out_of_china(lat, lon):
            return Reply([out.text(t(user.lang, "suggest.outside_china"))])
        await self.deps.ask(user, SUGGEST_DIALOG, {"step": "name", "lat": lat, "lon": lon})
        return Reply([out.text(t(user.lang, "suggest.ask_name"), keyboard="main")])

    async def on_text(self, user: User, text: str, step: str | None = None) -> Reply | None:
        """The place's name; `step`: its update, carried by the next question (bot/store/dialogs.py)."""
        data = await self.deps.dialog(user, SUGGEST_DIALOG)
        if data is None:
            return None
        asking = data.get("step")
        if asking == "location":
            return Reply([out.text(t(user.lang, "suggest.ask_location"), keyboard="location")])
        if asking != "name":
            return Reply([out.text(t(user.lang, f"suggest.ask_{asking}"))])
        name = " ".join(text.split())
        if not name or len(name) > MAX_NAME:
            return Reply([out.text(t(user.lang, "suggest.bad_name", max=MAX_NAME))])
        await self.deps.ask(user, SUGGEST_DIALOG, self.deps.moved_on({**data, "step": "kind", "name": name}, step))
        return self._ask_kind(user.lang)

    def again(self, user: User, data: dict) -> Reply | None:
        """The name's update run again (after a kill): the name is taken; the question it led to."""
        return self._ask_kind(user.lang) if data.get("step") == "kind" else None

    @staticmethod
    def _ask_kind(lang: str) -> Reply:
        buttons = [out.button(kind_label(lang, k.token), actions.make("g", k.token, "-")) for k in KINDS]
        return Reply([out.text(t(lang, "suggest.ask_kind"), buttons=[buttons[:3], buttons[3:]])])

    async def on_kind(self, user: User, kind: str) -> Reply:
        data = await self.deps.dialog(user, SUGGEST_DIALOG)
        if data is None or data.get("step") != "kind" or kind not in {k.token for k in KINDS}:
            return Reply(alert=t(user.lang, "callback.expired"), popup=True)
        await self.deps.ask(user, SUGGEST_DIALOG, {**data, "step": "photo", "kind": kind})
        return Reply([out.text(t(user.lang, "suggest.ask_photo"))], retire=True)

    async def on_photo(self, user: User, photo: bytes, step: str | None = None) -> Reply | None:
        """The place's photo, the last step: the suggestion filed and the question closed in one commit, with
        `step` (the photo's update) and the thanks recorded, which a re-run of it is told again."""
        data = await self.deps.dialog(user, SUGGEST_DIALOG)
        if data is None or data.get("step") != "photo":
            return None
        try:
            stored = await self.photos.put(photo)
        except PhotoRejected:
            return Reply([out.text(t(user.lang, "keeper.bad_photo"))])
        stamp = self.deps.stamp()
        thanks = t(user.lang, "suggest.thanks", name=data["name"])
        async with self.deps.db.transaction() as conn:
            sid = await store.insert_suggestion(
                conn, user.id, data["name"], data["kind"], data["lat"], data["lon"], stored.sha256, stamp
            )
            await dialogs.clear_dialog_in(conn, user.id, dialogs.Answered(step, SUGGEST_DIALOG, {"said": thanks}))
            for admin in await self.deps.roles.users_with("admin", ""):
                lang = admin.lang
                caption = t(lang, "suggest.notice", name=data["name"], kind=kind_label(lang, data["kind"]),
                            lat=data["lat"], lon=data["lon"], who=user.display_name or user.external_id)  # fmt: skip
                buttons = [[out.button(t(lang, "suggest.btn_approve"), actions.make("a", "-", str(sid))),
                            out.button(t(lang, "suggest.btn_decline"), actions.make("d", "-", str(sid)))]]  # fmt: skip
                await enqueue(conn, f"suggest:{sid}:u{admin.id}", recipient(admin),
                              out.photo(stored.sha256, caption=caption, buttons=buttons))  # fmt: skip
                await enqueue(conn, f"suggest:{sid}:u{admin.id}:pin", recipient(admin),
                              out.venue(data["lat"], data["lon"], data["name"], caption[:60]))  # fmt: skip
        self.deps.wake_outbox()
        return Reply([out.text(thanks)])

    async def decide(self, admin: User, suggestion_id: str, approve: bool) -> Reply:
        lang = admin.lang
        if not suggestion_id.isdigit():
            return Reply(alert=t(lang, "callback.expired"), popup=True)
        if not await self.deps.roles.is_admin(admin):
            return Reply(alert=t(lang, "suggest.admins_only"), popup=True)
        stamp = self.deps.stamp()
        async with self.deps.db.transaction() as conn:
            found = await store.suggestion(conn, int(suggestion_id))
            if found is None:
                return Reply(alert=t(lang, "callback.expired"), popup=True)
            place_id = f"sg-{found.id}" if approve else None
            if not await store.decide_suggestion(
                conn, found.id, "approved" if approve else "declined", admin.id, stamp, place_id
            ):
                return Reply(alert=t(lang, "suggest.already"), popup=True, retire=True)
            if place_id is not None:
                await store.insert_suggested_place(conn, found, place_id, stamp)
                await store.audit(conn, place_id, admin.id, "created", "", f"suggestion {found.id}", stamp)
            rider = await self.deps.user(found.user_id)
            if rider is not None:
                key = "suggest.rider_approved" if approve else "suggest.rider_declined"
                await enqueue(conn, f"suggest:{found.id}:told", recipient(rider),
                              out.text(t(rider.lang, key, name=found.name)))  # fmt: skip
        if approve:
            await self.deps.reload_places()
        self.deps.wake_outbox()
        key = "suggest.approved" if approve else "suggest.declined"
        return Reply([out.text(t(lang, key, name=found.name, id=place_id or ""))], retire=True)
