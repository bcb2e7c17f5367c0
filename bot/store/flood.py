"""Flood budgets in the database (table flood_buckets), spent by every process: PostgreSQL only.

One statement per update, atomic across processes, which also records the update in the inbound ledger (a batch
of updates, a getUpdates answer, runs it once per update in one pipelined round trip: `arrive_many`). The user's
bucket is refilled and, if it lets the update through, the global bucket ('*') is refilled and spent; the user's
token is spent only when the global one was too (a flooder cannot use up everyone's share, and a refusal by the
global budget costs the user nothing). Row locks on the two rows serialise concurrent updates; the clock is the
server's, so processes on hosts with skewed clocks still agree. SQLite (one process) keeps the budgets in memory
(bot/services/guard.py).

The `warned` column is the outcome of the user's last update: 0 let through, 1 told to slow down, 2 ignored, 3 and 4
refused by the global budget (the user had not / had been told to slow down before).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.db import Database
from bot.store.inbound import Arrival

GLOBAL = "*"

# The flood budgets' statement, written once: the parameters (`p`), then the user's bucket as this statement's
# snapshot sees it (`mine`: would it let this one through?), the global bucket refilled and spent if so (`g`),
# and the user's bucket refilled and spent only if the global one was (`u`). `fresh` gates it all: a redelivery
# (the ledger has it already) spends nothing, nor does an update without a user (`who` NULL: a channel post).
# Row locks on the two buckets make concurrent processes queue.
_BUDGETS = """
fresh AS (
    SELECT p.who IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM inbound_seen s WHERE s.channel = p.channel AND s.key = p.key) AS new FROM p
), mine AS (
    SELECT LEAST(p.burst, b.tokens + GREATEST(p.now - b.at, 0) * p.rate) AS tokens
    FROM flood_buckets b, p WHERE b.who = p.who
), g AS (
    INSERT INTO flood_buckets AS b (who, tokens, at, warned)
    SELECT '*', p.gburst - 1, p.now, 0 FROM p, fresh
    WHERE fresh.new AND COALESCE((SELECT tokens FROM mine), p.burst) >= 1
    ON CONFLICT (who) DO UPDATE SET
        tokens = LEAST((SELECT gburst FROM p), b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT grate FROM p))
                 - CASE WHEN LEAST((SELECT gburst FROM p),
                                   b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT grate FROM p)) >= 1
                        THEN 1 ELSE 0 END,
        at = GREATEST(b.at, EXCLUDED.at),
        warned = CASE WHEN LEAST((SELECT gburst FROM p),
                                 b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT grate FROM p)) >= 1
                      THEN 0 ELSE 2 END
    RETURNING b.warned AS refused
), gok AS (
    SELECT COALESCE((SELECT refused FROM g), 0) = 0 AS ok
), u AS (
    INSERT INTO flood_buckets AS b (who, tokens, at, warned)
    SELECT p.who, p.burst - CASE WHEN gok.ok THEN 1 ELSE 0 END, p.now, CASE WHEN gok.ok THEN 0 ELSE 3 END
    FROM p, gok, fresh WHERE fresh.new
    ON CONFLICT (who) DO UPDATE SET
        tokens = LEAST((SELECT burst FROM p), b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT rate FROM p))
                 - CASE WHEN LEAST((SELECT burst FROM p),
                                   b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT rate FROM p)) >= 1
                             AND (SELECT ok FROM gok) THEN 1 ELSE 0 END,
        at = GREATEST(b.at, EXCLUDED.at),
        warned = CASE
            WHEN LEAST((SELECT burst FROM p), b.tokens + GREATEST(EXCLUDED.at - b.at, 0) * (SELECT rate FROM p)) < 1
                THEN CASE WHEN b.warned IN (0, 3) THEN 1 ELSE 2 END
            WHEN (SELECT ok FROM gok) THEN 0
            ELSE CASE WHEN b.warned IN (0, 3) THEN 3 ELSE 4 END
        END
    RETURNING b.warned
)"""

# Spend from the budgets and record the update in the inbound ledger, in one statement: a refused update is
# recorded as done (no process ever runs it), an admitted one with its contents. Returns (outcome, recorded).
_ARRIVE = (
    """
WITH p AS (
    SELECT CAST(? AS TEXT) AS who, CAST(? AS DOUBLE PRECISION) AS burst, CAST(? AS DOUBLE PRECISION) AS rate,
           CAST(? AS DOUBLE PRECISION) AS gburst, CAST(? AS DOUBLE PRECISION) AS grate,
           CAST(? AS TEXT) AS channel, CAST(? AS TEXT) AS key, CAST(? AS TEXT) AS at, CAST(? AS TEXT) AS payload,
           CAST(? AS TEXT) AS boot, CAST(? AS TEXT) AS chat, CAST(? AS BIGINT) AS seq,
           extract(epoch FROM clock_timestamp())::double precision AS now
), """
    + _BUDGETS.strip()
    + """, ins AS (
    INSERT INTO inbound_seen (channel, key, at, done, payload, boot, chat, seq)
    SELECT p.channel, p.key, p.at, CASE WHEN COALESCE((SELECT warned FROM u), 0) = 0 THEN 0 ELSE 1 END,
           CASE WHEN COALESCE((SELECT warned FROM u), 0) = 0 THEN p.payload END, p.boot, p.chat, p.seq
    FROM p
    ON CONFLICT DO NOTHING
    RETURNING 1 AS fresh
)
SELECT COALESCE((SELECT warned FROM u), 0) AS outcome, EXISTS (SELECT 1 FROM ins) AS recorded
"""
)


# Spend only (the WeChat door dedupes by MsgId itself): `fresh` is always true for the key ''.
_SPEND = (
    """
WITH p AS (
    SELECT CAST(? AS TEXT) AS who, CAST(? AS DOUBLE PRECISION) AS burst, CAST(? AS DOUBLE PRECISION) AS rate,
           CAST(? AS DOUBLE PRECISION) AS gburst, CAST(? AS DOUBLE PRECISION) AS grate,
           '' AS channel, '' AS key, extract(epoch FROM clock_timestamp())::double precision AS now
), """
    + _BUDGETS.strip()
    + """
SELECT COALESCE((SELECT warned FROM u), 0) AS outcome
"""
)


async def spend(db: Database, who: str, limits: tuple[float, float, float, float]) -> str:
    """'ok', 'warn' or 'drop' for one message of `who`. `limits`: (burst, per_second, global_burst,
    global_per_second)."""
    row = await db.fetchone(_SPEND, (who, *limits))
    assert row is not None
    return _verdict(int(row[0]))


def _verdict(code: int) -> str:
    return "ok" if code == 0 else "warn" if code == 1 else "drop"


async def arrive_many(
    db: Database,
    channel: str,
    arrivals: Sequence[Arrival],
    *,
    limits: tuple[float, float, float, float],
    at: str,
    boot: str,
) -> list[tuple[str, bool]]:
    """For each update of a batch, in order, (verdict, fresh): 'ok' (a token spent from both budgets, or no user to
    charge), 'warn' (the user is over: tell them once) or 'drop'; fresh is False for a redelivery (recorded before,
    by any process, or earlier in this batch: nothing spent, nothing recorded). `limits`: (burst, per_second,
    global_burst, global_per_second).

    The statement runs once per update, in order, pipelined: one round trip and one transaction for the batch,
    and each run sees the budgets as the runs before it left them — several updates of one user spend that
    user's budget in turn, exactly as one call per update did."""
    # Through the process's writer lock, as every other write: an update is recorded in turn with the handlers'
    # transactions, so a burst waits at Telegram rather than piles up taken in.
    rows = await db.write_each(
        _ARRIVE, [(a.who, *limits, channel, a.key, at, a.payload, boot, a.chat, a.seq) for a in arrivals]
    )
    assert len(rows) == len(arrivals)
    return [(_verdict(int(row[0])), bool(row[1])) for row in rows]


async def forget_idle(db: Database, older_than: float = 3600.0) -> None:
    """Rows of users silent for `older_than` seconds (full buckets again) go: the table stays as small as the
    set of recently active users."""
    await db.write(
        "DELETE FROM flood_buckets WHERE who != ? AND at < extract(epoch FROM clock_timestamp()) - ?",
        (GLOBAL, older_than),
    )
