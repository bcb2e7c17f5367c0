"""Who is talking: channel identities mapped to our users, their language and last known location."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.clock import Clock
from bot.store import users as store
from bot.store.db import Database
from bot.store.users import User
from bot.texts import LANGS


class UserService:
    def __init__(self, db: Database, clock: Clock | None = None, fresh_minutes: int = 15) -> None:
        self.db = db
        self.clock = clock
        self.fresh = timedelta(minutes=fresh_minutes)

    async def identify(self, channel: str, external_id: str, display_name: str = "") -> User:
        return await store.get_or_create_user(self.db, channel, external_id, display_name)

    async def toggle_lang(self, user: User, step: str | None = None) -> str:
        """`step` names the update asking (bot.observe.step()): handled again after a kill, it toggles nothing."""
        order = list(LANGS)
        lang = order[(order.index(user.lang) + 1) % len(order)] if user.lang in order else order[0]
        return await store.set_lang(self.db, user.id, lang, step)

    async def remember_location(self, user: User, lat: float, lon: float) -> None:
        at = self.clock.now().isoformat(timespec="seconds") if self.clock else None
        await store.set_last_location(self.db, user.id, lat, lon, at)

    def location_age(self, user: User) -> timedelta | None:
        """How old the stored location is (None: none stored, or no time we can trust)."""
        if user.last_lat is None or not user.last_loc_at or self.clock is None:
            return None
        return self.clock.now() - datetime.fromisoformat(user.last_loc_at)

    def location_fresh(self, user: User) -> bool:
        """Fresh enough to answer "nearby" without asking: a rider moves a kilometre in four minutes, so a
        location from an hour ago is somewhere else, and using it silently sends them the wrong way."""
        age = self.location_age(user)
        return age is not None and age <= self.fresh
