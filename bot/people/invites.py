"""One-time invite codes: how a grid worker, supervisor, department member or admin gets their role.

An admin creates a code (CLI) and hands it over in person or by phone; the person sends `/join CODE`. Codes are
8 characters of Crockford base32 (40 bits from `secrets`), shown as `K7P2-9XQM`: no U, and the look-alikes
O/0 and I/L/1 mean the same, so a code read aloud or typed on a phone keyboard (lower case, full-width, with
spaces) still works. Only a SHA-256 of the normalised code is stored, so the database never reveals a usable
code; guessing is bounded by expiry, one-time use and a per-user limit on failed attempts.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.people.model import Role, utc_stamp
from bot.store import roles as store
from bot.store.db import Database
from bot.store.users import User

if TYPE_CHECKING:
    from bot.people.roles import RoleService

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 8  # 8 x 5 bits = 40 bits
DEFAULT_TTL = timedelta(hours=72)
MAX_FAILURES = 5  # more than this many failures within FAILURE_WINDOW locks /join for the user
FAILURE_WINDOW = timedelta(minutes=15)
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


def normalise_code(text: str) -> str | None:
    """The canonical 8-character code a person meant, or None if `text` cannot be one.

    NFKC first so full-width input from Chinese keyboards (ｋ７ｐ２－…) becomes ASCII; then separators and
    whitespace go, letters are upper-cased, and Crockford's look-alikes map to digits. Anything left that is not
    in the alphabet (including any other non-ASCII character) makes the text invalid rather than guessed at.
    """
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in folded if not ch.isspace() and ch not in _SEPARATORS)
    if not kept.isascii():
        return None
    code = kept.upper().translate(_SUBSTITUTIONS)
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def code_hash(code: str) -> str:
    """SHA-256 (hex) of the canonical code; the only form of a code we store."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def display_code(code: str) -> str:
    """K7P29XQM → K7P2-9XQM: two groups of four are easier to read aloud and to type."""
    return f"{code[:4]}-{code[4:]}"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


class InviteService:
    def __init__(self, db: Database, clock: Clock, roles: RoleService) -> None:
        self.db = db
        self.clock = clock
        self.roles = roles

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
                    conn, code_hash(code), role, scope, utc_stamp(now), utc_stamp(now + ttl), by
                )
            if created:
                return display_code(code)
        raise RuntimeError("could not draw an unused invite code")  # 16 collisions in 2**40: broken randomness

    async def expiry_of(self, code: str) -> datetime | None:
        """When a code expires (for the CLI's message); None for a code we do not know."""
        canonical = normalise_code(code)
        if canonical is None:
            return None
        row = await store.invite_by_hash(self.db.conn, code_hash(canonical))
        return datetime.fromisoformat(row.expires_at) if row else None

    async def redeem(self, user: User, code: str) -> Role:
        """Use a code: grant its role to `user` and return it, or raise InviteError.

        Everything happens in one write transaction: the rate-limit check, the lookup, the claim (an UPDATE
        that must change exactly one row, so a code is used once even under concurrent redemptions), the grant,
        and on failure the record of the failed attempt. A user with more than MAX_FAILURES failures in the
        last FAILURE_WINDOW is refused even a correct code until the window has passed, so a guesser cannot
        tell a right guess from a wrong one while locked.
        """
        now = self.clock.now()
        stamp = utc_stamp(now)
        window_start = utc_stamp(now - FAILURE_WINDOW)
        canonical = normalise_code(code)
        async with self.db.transaction() as conn:
            if await store.failures_since(conn, user.id, window_start) > MAX_FAILURES:
                raise InviteError("rate_limited")  # rolls back nothing; a locked attempt is not recorded
            failure = None
            row = await store.invite_by_hash(conn, code_hash(canonical)) if canonical else None
            if row is None:
                failure = "invalid"
            elif row.used_by is not None:
                failure = "used"
            elif row.expires_at <= stamp:
                failure = "expired"
            elif not await store.claim_invite(conn, row.code_hash, user.id, stamp):
                failure = "used"
            if failure is not None:
                await store.record_failure(conn, user.id, stamp, forget_before=window_start)
            else:
                assert row is not None
                await store.insert_role(conn, user.id, row.role, row.scope, stamp, f"invite:{row.created_by}")
                await store.clear_failures(conn, user.id)
        if failure is not None:
            raise InviteError(failure)  # after COMMIT, so the failed attempt stays recorded
        return Role(row.role, row.scope)
