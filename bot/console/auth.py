"""Passwordless sign-in to the web console: a one-time link sent in the chat, then a session cookie.

The chat already knows who a person is (Telegram or WeChat vouched for them), so the console borrows that: a
supervisor, department contact or admin sends /console and gets a link valid for ten minutes, usable once.
Opening it starts a twelve-hour session. Only SHA-256 hashes of links and sessions reach the database, so a
leaked backup opens nothing; sessions live in the database, so a restart signs nobody out.

Roles are checked again on every request (``ConsoleAuth.session``), not only at sign-in: revoking a role
closes the console for that person at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.people.model import Role, utc_stamp
from bot.people.roles import RoleService
from bot.store import console_sessions as store
from bot.store import users as user_store
from bot.store.db import Database
from bot.store.users import User

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)
# Link issuing: at most this many links per person within the window (a stolen phone cannot mint hundreds).
LINKS_PER_WINDOW = 5
LINK_WINDOW = timedelta(minutes=10)
CONSOLE_ROLES = frozenset({"supervisor", "department", "admin"})


class SignInError(Exception):
    """Why a link did not open a session; `code` picks the page text (console.signin.<code>)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Session:
    """A signed-in person as one request sees them: their current roles and the request's CSRF token."""

    user: User
    roles: tuple[Role, ...]
    csrf: str
    expires_at: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_for(session_token: str) -> str:
    """Derived from the session secret, so nothing more is stored and a token from one session fits no other."""
    return hmac.new(session_token.encode("utf-8"), b"console-csrf", hashlib.sha256).hexdigest()[:32]


class ConsoleAuth:
    def __init__(self, db: Database, clock: Clock, roles: RoleService) -> None:
        self.db = db
        self.clock = clock
        self.roles = roles

    def _now(self) -> str:
        return utc_stamp(self.clock.now())

    async def console_roles(self, user: User) -> tuple[Role, ...]:
        """The roles that count in the console (a worker-only person has none: the chat is their place)."""
        held = await self.roles.roles_of(user)
        if not any(r.role in CONSOLE_ROLES for r in held):
            return ()
        return tuple(held)

    async def issue_link(self, user: User) -> str:
        """A fresh one-time token for `user`; raises SignInError('no_role' | 'rate_limited')."""
        if not await self.console_roles(user):
            raise SignInError("no_role")
        now = self.clock.now()
        token = secrets.token_urlsafe(32)
        async with self.db.transaction() as conn:
            since = utc_stamp(now - LINK_WINDOW)
            if await store.links_since(conn, user.id, since) >= LINKS_PER_WINDOW:
                raise SignInError("rate_limited")
            await store.insert_link(conn, _hash(token), user.id, utc_stamp(now), utc_stamp(now + LINK_TTL))
            # Housekeeping while we hold the writer: links and sessions over a day past their end are useless.
            await store.forget_expired(conn, utc_stamp(now - timedelta(days=1)))
        return token

    async def link_owner(self, token: str) -> User:
        """Who a still-valid link belongs to (the sign-in page names them before they confirm)."""
        row = await store.link(self.db, _hash(token or ""))
        if row is None:
            raise SignInError("unknown")
        if row["used_at"] is not None:
            raise SignInError("used")
        if row["expires_at"] <= self._now():
            raise SignInError("expired")
        user = await self._user(row["user_id"])
        if user is None or not await self.console_roles(user):
            raise SignInError("no_role")
        return user

    async def redeem(self, token: str) -> tuple[str, User]:
        """Spend the link (once, even if two tabs race) and start a session; returns (session token, user)."""
        user = await self.link_owner(token)
        now = self.clock.now()
        session = secrets.token_urlsafe(32)
        async with self.db.transaction() as conn:
            if not await store.spend_link(conn, _hash(token), utc_stamp(now)):
                raise SignInError("used")
            await store.insert_session(conn, _hash(session), user.id, utc_stamp(now), utc_stamp(now + SESSION_TTL))
        return session, user

    async def session(self, token: str | None) -> Session | None:
        """The live session behind a cookie, with the person's current console roles; None when signed out,
        expired, unknown, or the person no longer holds a console role."""
        if not token:
            return None
        row = await store.session(self.db, _hash(token))
        if row is None or row["signed_out_at"] is not None or row["expires_at"] <= self._now():
            return None
        user = await self._user(row["user_id"])
        if user is None:
            return None
        roles = await self.console_roles(user)
        if not roles:
            return None
        return Session(user=user, roles=roles, csrf=csrf_for(token), expires_at=row["expires_at"])

    async def sign_out(self, token: str) -> None:
        await store.sign_out(self.db, _hash(token), self._now())

    async def _user(self, user_id: int) -> User | None:
        return await user_store.get_user(self.db, user_id)
