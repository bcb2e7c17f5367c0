"""One object the console door and the chat doors share: sign-in links, a session's scope, and its checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bot.console.auth import ConsoleAuth, Session
from bot.console.points import PointCache
from bot.console.scope import Scope
from bot.reports.model import Report
from bot.reports.service import ReportService
from bot.store.users import User


class ConsoleService:
    def __init__(
        self, auth: ConsoleAuth, reports: ReportService, grids: Any, *, base_url: str = "", tiles_crs: str = "wgs84"
    ) -> None:
        self.auth = auth
        self.reports = reports
        self._grids = grids
        #: Public address of the console ending in "/console/"; set from settings or once the HTTP server is up.
        self.base_url = base_url
        self.tiles_crs = tiles_crs
        self.points = PointCache(auth.db)  # the map's reports in memory (docs/PERFORMANCE.md)

    @property
    def grids(self) -> Any:
        return self._grids()

    async def link_for(self, user: User) -> str:
        """A fresh one-time sign-in link; raises SignInError('no_role' | 'rate_limited')."""
        token = await self.auth.issue_link(user)
        return f"{self.base_url}login?{urlencode({'t': token})}"

    def scope(self, session: Session) -> Scope:
        return Scope.of(session.roles, self.grids)

    async def may_see(self, session: Session, report: Report | None, action: str = "console_view") -> bool:
        """The chat's own rule (`can_work`; a report hidden by a moderator only for admins); a refusal is recorded
        like a forged button in the chat."""
        hidden = report is not None and report.hidden_at and not any(r.role == "admin" for r in session.roles)
        if report is not None and not hidden and await self.reports.can_work(session.user, report):
            return True
        await self.reports.refuse(session.user, report.id if report else None, action, "console_out_of_scope")
        return False
