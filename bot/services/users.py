"""Who is talking: channel identities mapped to our users, their language and last known location."""

from __future__ import annotations

from bot.store import users as store
from bot.store.db import Database
from bot.store.users import User
from bot.texts import LANGS


class UserService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def identify(self, channel: str, external_id: str, display_name: str = "") -> User:
        return await store.get_or_create_user(self.db, channel, external_id, display_name)

    async def toggle_lang(self, user: User) -> str:
        order = list(LANGS)
        lang = order[(order.index(user.lang) + 1) % len(order)] if user.lang in order else order[0]
        await store.set_lang(self.db, user.id, lang)
        return lang

    async def remember_location(self, user: User, lat: float, lon: float) -> None:
        await store.set_last_location(self.db, user.id, lat, lon)
