"""The rewards catalogue as admins keep it: a CSV validated like the place list (every bad row with its line
number), imported all or nothing.

Columns: place_id, reward, cost, daily_stock, valid_from, valid_to (dates YYYY-MM-DD, inclusive, local time;
empty means open-ended). A reward is known by its place and name: re-importing a file updates costs and stock,
and rewards the file no longer lists are retired (codes already made for them can no longer be confirmed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.places.csv_io import MAX_FIELD, ParseResult, RowError, data_rows, decode
from bot.store import places as place_store
from bot.store import points as store
from bot.store.db import Database

COLUMNS = ("place_id", "reward", "cost", "daily_stock", "valid_from", "valid_to")
REQUIRED = ("place_id", "reward", "cost", "daily_stock")
MAX_NAME = 60
MAX_COST = 1_000_000
OPEN_FROM, OPEN_TO = "0001-01-01", "9999-12-31"

Row = tuple[str, str, int, int, str, str]


def _int(value: str, column: str, low: int, err) -> int | None:  # type: ignore[no-untyped-def]
    try:
        number = int(value.strip())
    except ValueError:
        err(column, "not_a_number", value)
        return None
    if number < low or number > MAX_COST:
        err(column, "reward_bad_number", value)
        return None
    return number


def _date(value: str, column: str, default: str, err) -> str | None:  # type: ignore[no-untyped-def]
    if not value.strip():
        return default
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        err(column, "reward_bad_date", value)
        return None


def parse_rewards(text: str, place_ids: set[str]) -> ParseResult[Row]:
    result = ParseResult[Row]()
    seen: dict[tuple[str, str], int] = {}
    for line, cells in data_rows(text, REQUIRED, COLUMNS, result):
        row = {c: "" for c in COLUMNS} | cells
        errors: list[RowError] = []

        def err(column: str, code: str, value: str = "", line: int = line, errors: list = errors) -> None:
            errors.append(RowError(line, column, code, value[:60]))

        for column, value in row.items():
            if len(value) > MAX_FIELD:
                err(column, "too_long", str(len(value)))
            elif any(ord(ch) < 32 and ch != "\t" for ch in value):
                err(column, "control_chars")
        if not row["place_id"]:
            err("place_id", "missing_field")
        elif row["place_id"] not in place_ids:
            err("place_id", "reward_unknown_place", row["place_id"])
        name = row["reward"]
        if not name:
            err("reward", "missing_field")
        elif len(name) > MAX_NAME:
            err("reward", "too_long", str(len(name)))
        cost = _int(row["cost"], "cost", 1, err)
        stock = _int(row["daily_stock"], "daily_stock", 0, err)
        start = _date(row["valid_from"], "valid_from", OPEN_FROM, err)
        end = _date(row["valid_to"], "valid_to", OPEN_TO, err)
        if start and end and start > end:
            err("valid_to", "reward_bad_period", f"{start} > {end}")
        key = (row["place_id"], name)
        if key in seen:
            err("reward", "reward_duplicate", f"{name}@{seen[key]}")
        seen.setdefault(key, line)
        result.errors.extend(errors)
        if not errors and cost is not None and stock is not None and start and end:
            result.items.append((row["place_id"], name, cost, stock, start, end))
    return result


@dataclass(frozen=True)
class RewardsImport:
    parsed: ParseResult[Row]
    retired: int = 0

    @property
    def ok(self) -> bool:
        return self.parsed.ok


async def import_rewards(db: Database, path: str | Path, now: str) -> RewardsImport:
    """Validate the whole file against the places we have, then write it in one transaction (or nothing)."""
    data = await asyncio.to_thread(Path(path).read_bytes)
    text, error = decode(data)
    if text is None:
        return RewardsImport(ParseResult[Row](errors=[error] if error else []))
    place_ids = await place_store.place_ids(db)
    parsed = await asyncio.to_thread(parse_rewards, text, place_ids)
    if not parsed.ok:
        return RewardsImport(parsed)
    if not parsed.items:
        parsed.errors.append(RowError(1, "", "empty_file"))
        return RewardsImport(parsed)
    async with db.transaction() as conn:
        retired = await store.replace_rewards(conn, parsed.items, now)
    return RewardsImport(parsed, retired)
