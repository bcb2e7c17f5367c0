"""What the keepers' modules share: who may act on a place, dialogs, users by id, small time helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.clock import Clock
from bot.outbox.store import Recipient
from bot.people.model import utc_stamp
from bot.people.roles import RoleService
from bot.places.model import Place
from bot.store import dialogs
from bot.store import users as user_store
from bot.store.db import Database
from bot.store.users import User

# Dialog kinds (the `dialogs` table holds one pending question per user, shared with the report flow).
NOTE_DIALOG = "keeper_note"  # optional note / until-when after a status tap
PHOTO_DIALOG = "keeper_photo"  # the next photo is the place's entrance photo
FLAG_DIALOG = "flag_note"  # a rider's words or photo for "other"
SUGGEST_DIALOG = "suggest"  # a rider suggesting a new place, step by step
DIALOG_TTL = timedelta(minutes=30)
MAX_NOTE = 80


@dataclass(frozen=True)
class Deps:
    """Everything the keepers' services need from the core, assembled once in the container."""

    db: Database
    clock: Clock
    roles: RoleService
    place: Callable[[str], Place | None]  # the live catalogue's place by id
    reload_places: Callable[[], Awaitable[None]]
    wake_outbox: Callable[[], None]
    tz: tzinfo

    def now(self) -> datetime:
        return self.clock.now()

    def stamp(self) -> str:
        return utc_stamp(self.clock.now())

    async def keeper_places(self, user: User) -> list[str]:
        return [r.scope for r in await self.roles.roles_of(user) if r.role == "keeper"]

    async def may_act(self, user: User, place_id: str) -> bool:
        """A place's keepers and any admin may change it; nobody else (and a keeper not on other places)."""
        roles = await self.roles.roles_of(user)
        return any(r.role == "admin" or (r.role == "keeper" and r.scope == place_id) for r in roles)

    async def dialog(self, user: User, kind: str) -> dict | None:
        """The pending question of this kind, unless it is older than DIALOG_TTL (then forgotten)."""
        found = await dialogs.get_dialog(self.db, user.id)
        if found is None or found.kind != kind:
            return None
        if self.now() - datetime.fromisoformat(found.updated_at) > DIALOG_TTL:
            await dialogs.clear_dialog(self.db, user.id)
            return None
        return found.data

    async def ask(self, user: User, kind: str, data: dict) -> None:
        await dialogs.put_dialog(self.db, user.id, kind, data, self.now().isoformat())

    async def done(self, user: User) -> None:
        await dialogs.clear_dialog(self.db, user.id)

    def moved_on(self, data: dict, step: str | None) -> dict:
        """`data` for the next question, carrying the update whose words moved it on (bot/store/dialogs.py)."""
        return {**data, dialogs.BY: step} if step is not None else data

    async def user(self, user_id: int) -> User | None:
        return await user_store.get_user(self.db, user_id)

    def local_end_of_day(self) -> datetime:
        local = self.now().astimezone(self.tz)
        return (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def recipient(user: User) -> Recipient:
    return Recipient(user.id, user.channel, user.external_id, user.lang)


def ago_minutes(now: datetime, then: datetime) -> int:
    return max(0, int((now - then).total_seconds() // 60))
