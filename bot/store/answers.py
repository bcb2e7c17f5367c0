"""Answers to category questions, stored with their report (writers take the caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.store.db import Connection, Database


async def put_answers(conn: Connection, report_id: int, answers: Mapping[str, str]) -> None:
    if not answers:  # nothing to send (on PostgreSQL an empty batch would still be a round trip)
        return
    await conn.executemany(
        "INSERT INTO report_answers (report_id, question, value) VALUES (?, ?, ?)"
        " ON CONFLICT(report_id, question) DO UPDATE SET value = excluded.value",
        [(report_id, code, value) for code, value in answers.items()],
    )


async def answers_in(conn: Connection, report_id: int) -> list[tuple[str, str]]:
    """Inside a transaction: the report's answers as (question, value), in the order they were stored."""
    rows = await (
        await conn.execute(
            "SELECT question, value FROM report_answers WHERE report_id = ? ORDER BY rowid", (report_id,)
        )
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


async def answers_of(db: Database, report_id: int) -> list[tuple[str, str]]:
    rows = await db.fetchall(
        "SELECT question, value FROM report_answers WHERE report_id = ? ORDER BY rowid", (report_id,)
    )
    return [(r["question"], r["value"]) for r in rows]


async def answers_for(db: Database, report_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """Several reports' answers in one query (a page of Open311 records, a batch of an export)."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not report_ids:
        return found
    marks = ",".join("?" * len(report_ids))
    rows = await db.fetchall(
        f"SELECT report_id, question, value FROM report_answers WHERE report_id IN ({marks}) ORDER BY report_id, rowid",
        tuple(report_ids),
    )
    for row in rows:
        found.setdefault(row["report_id"], []).append((row["question"], row["value"]))
    return found
