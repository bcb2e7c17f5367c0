"""The WeChat access token, one per app id, shared by every process on this database (SQLite or PostgreSQL).

WeChat keeps one token valid per app id: fetching a new one retires the one before it. So N processes that each
fetched their own would keep breaking each other's. Here a refresh is first *claimed* — a lease on the token's
row (`refresh_until`), taken by one conditional UPDATE that only one caller can win — then made by that one
process, while the others keep using the old token if it is still valid, or wait for the row to change and read
the new one. A lease rather than a lock: no connection or transaction is held across the HTTP call to WeChat (on
SQLite a transaction would stop every other writer), and a refresher that dies leaves a lease that just expires.

A failed fetch keeps the lease for a short back-off and records why (`last_error`), so every other caller fails
at once with the same reason instead of asking WeChat again: no refresh storm against a 2 000-a-day quota.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True)
class TokenRow:
    token: str  # '' until the first fetch succeeded
    expires_at: float  # unix time
    refresh_until: float  # unix time: a refresh (or its back-off after a failure) is under way until then
    failed_at: float  # unix time of the last failed fetch, 0 when the last fetch succeeded
    last_error: str  # "errcode:errmsg" of that failure
    fetches: int


async def read(db: Database, appid: str) -> TokenRow | None:
    row = await db.fetchone(
        "SELECT token, expires_at, refresh_until, failed_at, last_error, fetches FROM wechat_tokens WHERE appid = ?",
        (appid,),
    )
    if row is None:
        return None
    return TokenRow(
        row["token"], float(row["expires_at"]), float(row["refresh_until"]), float(row["failed_at"]),
        row["last_error"], int(row["fetches"]),
    )  # fmt: skip


async def claim_refresh(db: Database, appid: str, seen: TokenRow | None, now: float, lease_s: float) -> bool:
    """True for the one caller (in any process) that may fetch a new token now; the lease lasts `lease_s`.

    `seen` is the row the caller judged unusable: if a token was fetched since (`fetches` moved on), the claim
    fails and the caller reads again — otherwise one that read just before another's refresh finished would
    fetch a second token and retire the one just shared."""
    await db.write(
        "INSERT INTO wechat_tokens (appid, token, expires_at, updated_at) VALUES (?, '', 0, ?)"
        " ON CONFLICT(appid) DO NOTHING",
        (appid, now),
    )
    won = await db.write(
        "UPDATE wechat_tokens SET refresh_until = ?, failed_at = 0, last_error = ''"
        " WHERE appid = ? AND refresh_until <= ? AND fetches = ?",
        (now + lease_s, appid, now, seen.fetches if seen is not None else 0),
    )
    return won == 1


async def store_token(db: Database, appid: str, token: str, expires_at: float, now: float) -> None:
    """The new token, visible to every process at once; the lease ends with it."""
    await db.write(
        "UPDATE wechat_tokens SET token = ?, expires_at = ?, updated_at = ?, refresh_until = 0, failed_at = 0,"
        " last_error = '', fetches = fetches + 1 WHERE appid = ?",
        (token, expires_at, now, appid),
    )


async def store_failure(db: Database, appid: str, now: float, error: str, backoff_s: float) -> None:
    """The fetch failed: nobody asks WeChat again for `backoff_s` (the lease is kept that long), and why is kept."""
    await db.write(
        "UPDATE wechat_tokens SET refresh_until = ?, failed_at = ?, last_error = ? WHERE appid = ?",
        (now + backoff_s, now, error[:300], appid),
    )
