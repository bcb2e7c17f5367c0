"""One entry point for every `k…` button (bot/keepers/actions.py), so each door routes them with one call."""

from __future__ import annotations

from bot.keepers import actions
from bot.keepers.service import KeeperService
from bot.points.service import PointsService
from bot.reports.common import Reply
from bot.store.users import User
from bot.texts import t


class KeeperButtons:
    def __init__(self, keepers: KeeperService, points: PointsService) -> None:
        self.keepers = keepers
        self.points = points

    async def press(self, user: User, data: str | None) -> Reply:
        action = actions.parse(data)
        if action is None:
            return Reply(alert=t(user.lang, "callback.expired"), popup=True)
        if action.letter == "w":
            return await self.points.redeem(user, action.target)
        if action.letter == "x":
            return await self.keepers.skip(user)
        return await self.keepers.on_button(user, action)
