"""One-time invite codes: how a grid worker, supervisor, department member, keeper or admin gets their role.

An admin creates a code (CLI) and hands it over in person, by phone, or as a link (`t.me/<bot>?start=CODE`);
the person sends `/join CODE` or taps the link (`/start CODE` joins the same way). Codes are 16 characters of
Crockford base32 (80 bits from `secrets`), shown as `K7P2-9XQM-4HTW-B3ZD`: no U, and the look-alikes O/0 and
I/L/1 mean the same, so a code read aloud or typed on a phone keyboard (lower case, full-width, with spaces)
still works.

Only an HMAC-SHA256 of the normalised code, keyed with a server secret that is not in the database
(bot/people/secret.py), is stored: a copy of the database alone reveals no code, not even by brute force.
Online guessing is bounded by expiry, one-time use, a per-user limit on failed attempts, and a global budget
of guesses for everyone together; when the budget is spent, /join pauses for everyone for FAILURE_WINDOW and
the admins are told through the outbox (80 bits make a lucky guess hopeless anyway; the budget keeps a
botnet of fresh accounts from even trying, and the alert says that someone is).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.people.model import Role, utc_stamp
from bot.store import roles as store
from bot.store.db import Connection, Database
from bot.store.users import User
from bot.texts import t

if TYPE_CHECKING:
    from bot.people.roles import RoleService

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 16  # 16 x 5 bits = 80 bits
DEFAULT_TTL = timedelta(hours=72)
MAX_FAILURES = 5  # more than this many failures within FAILURE_WINDOW locks /join for the user
FAILURE_WINDOW = timedelta(minutes=15)
GLOBAL_BUDGET = 10  # wrong well-formed codes from everyone together within FAILURE_WINDOW before /join pauses
ADMIN_CHANNEL = "telegram"  # the channel whose user ids settings.admins lists
_SUBSTITUTIONS = str.maketrans({"O": "0", "I": "1", "L": "1"})
# ASCII hyphen plus the dashes phones substitute for it (NFKC already turns full-width ｰ/－ into "-").
_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


class InviteError(Exception):
    """Why a code was refused; `code` is one of invalid, expired, used, rate_limited (a `join.*` text)."""

    CODES = frozenset({"invalid", "expired", "used", "rate_limited"})

    def __init__(self, code: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown invite error {code!r}")
        super().__init__(code)
        self.code = code


def _folded(text: str) -> str | None:
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in folded if not ch.isspace() and ch not in _SEPARATORS)
    if not kept.isascii():
        return None
    code = kept.upper().translate(_SUBSTITUTIONS)
    return code if all(ch in ALPHABET for ch in code) else None


def normalise_code(text: str) -> str | None:
    """The canonical 16-character code a person meant, or None if `text` cannot be one.

    NFKC first so full-width input from Chinese keyboards (ｋ７ｐ２－…) becomes ASCII; then separators and
    whitespace go, letters are upper-cased, and Crockford's look-alikes map to digits. Anything left that is not
    in the alphabet (including any other non-ASCII character) makes the text invalid rather than guessed at.
    """
    code = _folded(text)
    return code if code is not None and len(code) == CODE_LENGTH else None


def code_hash(code: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of the canonical code under the server secret; the only form of a code we store."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def display_code(code: str) -> str:
    """K7P29XQM4HTWB3ZD → K7P2-9XQM-4HTW-B3ZD: groups of four are easier to read aloud and to type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def start_link(bot_username: str, code: str) -> str:
    """The deep link that opens the bot and sends `/start CODE` (Telegram allows [A-Za-z0-9_-] there)."""
    canonical = normalise_code(code)
    if canonical is None:
        raise ValueError("not an invite code")
    return f"https://t.me/{bot_username.lstrip('@')}?start={canonical}"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


class InviteService:
    def __init__(
        self, db: Database, clock: Clock, roles: RoleService, key: bytes, *, global_budget: int = GLOBAL_BUDGET
    ) -> None:
        self.db = db
        self.clock = clock
        self.roles = roles
        self._key = key
        self.global_budget = global_budget
        self.wake_outbox: Callable[[], None] = lambda: None  # set by the service container

    def _hash(self, canonical: str) -> str:
        return code_hash(canonical, self._key)

    async def create_invite(self, role: str, scope: str, *, ttl: timedelta = DEFAULT_TTL, by: str = "cli") -> str:
        """A new one-time code for `role` in `scope`, valid for `ttl`; returned once, in display form.

        Raises ScopeError for a scope that does not exist (checked now, so the mistake surfaces at the CLI).
        """
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        await self.roles.validate(role, scope)
        now = self.clock.now()
        for _ in range(16):
            code = new_code()
            async with self.db.transaction() as conn:
                created = await store.insert_invite(
                    conn, self._hash(code), role, scope, utc_stamp(now), utc_stamp(now + ttl), by
                )
            if created:
                return display_code(code)
        raise RuntimeError("could not draw an unused invite code")  # 16 collisions in 2**80: broken randomness

    async def expiry_of(self, code: str) -> datetime | None:
        """When a code expires (for the CLI's message); None for a code we do not know."""
        canonical = normalise_code(code)
        if canonical is None:
            return None
        row = await store.invite_by_hash(self.db.conn, self._hash(canonical))
        return datetime.fromisoformat(row.expires_at) if row else None

    async def redeem(self, user: User, code: str) -> Role:
        """Use a code: grant its role to `user` and return it, or raise InviteError.

        Everything happens in one write transaction: the rate-limit checks, the lookup, the claim (an UPDATE
        that must change exactly one row, so a code is used once even under concurrent redemptions), the grant,
        and on failure the record of the failed attempt (and, when it spends the global budget, the alert to
        the admins). A user with more than MAX_FAILURES failures in the last FAILURE_WINDOW, or anyone once
        everyone together has made `global_budget` wrong guesses in it, is refused even a correct code until
        the window has passed: the code is not even looked up, so a guesser learns nothing while locked.
        """
        now = self.clock.now()
        stamp = utc_stamp(now)
        window_start = utc_stamp(now - FAILURE_WINDOW)
        canonical = normalise_code(code)
        async with self.db.transaction() as conn:
            if await store.failures_since(conn, user.id, window_start) > MAX_FAILURES:
                raise InviteError("rate_limited")  # rolls back nothing; a locked attempt is not recorded
            if await store.guesses_since(conn, window_start) >= self.global_budget:
                raise InviteError("rate_limited")
            failure = None
            row = await store.invite_by_hash(conn, self._hash(canonical)) if canonical else None
            if row is None:
                failure = "invalid"
            elif row.used_by is not None:
                failure = "used"
            elif row.expires_at <= stamp:
                failure = "expired"
            elif not await store.claim_invite(conn, row.code_hash, user.id, stamp):
                failure = "used"
            if failure is not None:
                # Only a well-formed code is a guess that could have hit; typos of other lengths cost the user's
                # own allowance, not everyone's.
                guessed = canonical is not None
                await store.record_failure(conn, user.id, stamp, forget_before=window_start, guessed=guessed)
                if guessed and await store.guesses_since(conn, window_start) == self.global_budget:
                    await self._alert_admins(conn, now)
            else:
                assert row is not None
                await store.insert_role(conn, user.id, row.role, row.scope, stamp, f"invite:{row.created_by}")
                await store.clear_failures(conn, user.id)
        if failure is not None:
            self.wake_outbox()
            raise InviteError(failure)  # after COMMIT, so the failed attempt stays recorded
        return Role(row.role, row.scope)

    async def _alert_admins(self, conn: Connection, now: datetime) -> None:
        """The budget was just spent: every admin hears it once, in the transaction that spent it."""
        window_start = utc_stamp(now - FAILURE_WINDOW)
        accounts = await store.guessers_since(conn, window_start)
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        until = (now + FAILURE_WINDOW).strftime("%H:%M")
        for to in await self._admins():
            text = t(to.lang, "security.join_burst", count=self.global_budget, accounts=accounts, minutes=minutes,
                     until=until)  # fmt: skip
            await enqueue(conn, f"security:join-burst:{utc_stamp(now)}:{to.channel}:{to.address}", to, out.text(text))

    async def _admins(self) -> list[Recipient]:
        found = {
            (u.channel, u.external_id): Recipient(u.id, u.channel, u.external_id, u.lang)
            for u in await self.roles.users_with("admin", "")
        }
        for admin_id in self.roles.admin_ids:  # configured admins who never wrote to the bot: their chat id
            found.setdefault((ADMIN_CHANNEL, str(admin_id)), Recipient(None, ADMIN_CHANNEL, str(admin_id)))
        return list(found.values())
