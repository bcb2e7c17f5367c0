"""Reading and validating grid lists (CSV), reporting every bad row with its line number.

Street offices keep their grid boundaries in spreadsheets exported from GIS or drawn on Amap. The file is checked
as a whole before anything is written: each row on its own (fields, level, polygon), then the hierarchy across rows
(does the parent exist — in this file or already in the database — is it one level up, does the polygon lie inside
it). Every problem is reported with the line where its record starts, as for place lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.geo.coords import CRS
from bot.grids.geometry import GeometryError, GridShape, parse_polygon
from bot.grids.model import LEVELS, PARENT_LEVEL, GridRow
from bot.places.csv_io import ParseResult, RowError, data_rows, decode

__all__ = [
    "COLUMNS",
    "GRID_CODES",
    "MIN_INSIDE_PARENT",
    "REQUIRED",
    "error_text_key",
    "parse_grids",
    "read_grids_file",
]

COLUMNS = ("id", "name", "level", "parent_id", "city", "coord_system", "group_chat", "geometry")
REQUIRED = ("id", "name", "level", "geometry")
MIN_INSIDE_PARENT = 0.9
"""A child polygon must have at least this share of its area inside its parent's. Not 100 %: boundaries digitised
separately (a street by one office, its communities by another) never coincide exactly, and a sliver over the
line routes nothing wrongly, whereas a grid drawn in the wrong community does."""

# At most 40 characters: a transfer button "rt:<report>:<version>:g.<id>" must fit in 64 bytes.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z")
# A Telegram chat id (groups are negative) or a public @username; '' means "no group, use the grid's people".
_GROUP_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
MAX_FIELD = 2000
MAX_GEOMETRY = 500_000  # a hand-digitised street boundary can have thousands of vertices

GRID_CODES = frozenset(
    {
        "unknown_level",
        "missing_parent",
        "street_parent",
        "unknown_parent",
        "parent_level",
        "outside_parent",
        "level_changed",
        "bad_group_chat",
        "bad_geometry",
        "not_polygon",
        "empty_geometry",
        "open_ring",
        "too_few_vertices",
        "invalid_geometry",
        "outside_china",
    }
)
"""Codes with a text under ``grids.``; the rest (missing_field, bad_id, duplicate_id, …) share ``csv.`` texts."""


def error_text_key(code: str) -> str:
    """The texts key describing `code`, so the CLI (and later an admin chat) render grid errors like place errors."""
    return f"grids.{code}" if code in GRID_CODES else f"csv.{code}"


@dataclass
class _Seen:
    """What the hierarchy pass needs to know about a row, even one with errors of its own."""

    line: int
    id: str
    level: str | None
    parent_id: str
    geometry: GridShape | None
    row: GridRow | None  # None when the row has errors


def parse_grids(
    text: str, default_crs: CRS | str = CRS.WGS84, existing: Iterable[GridRow] = ()
) -> ParseResult[GridRow]:
    """Validate a whole grid file; `existing` (the database's grids) may supply parents the file does not repeat."""
    result = ParseResult[GridRow]()
    crs = CRS(str(default_crs).lower())
    seen: dict[str, _Seen] = {}
    rows: list[tuple[int, _Seen]] = []
    for line, row in data_rows(text, REQUIRED, COLUMNS, result):
        info, errors = _parse_row(line, row, crs)
        gid = row.get("id", "")
        if gid and _ID.match(gid):
            if gid in seen:
                errors.append(RowError(line, "id", "duplicate_id", f"{gid}@{seen[gid].line}"))
                info.row = None
            else:
                seen[gid] = info
        result.errors.extend(errors)
        rows.append((line, info))
    result.errors.extend(_check_hierarchy(rows, seen, {g.id: g for g in existing}))
    result.errors.sort(key=lambda e: e.line)
    result.items = sorted(
        (info.row for _, info in rows if info.row is not None),
        key=lambda g: (LEVELS.index(g.level), g.id),
    )
    return result


def _parse_row(line: int, row: dict[str, str], default_crs: CRS) -> tuple[_Seen, list[RowError]]:
    errors: list[RowError] = []

    def err(column: str, code: str, value: str = "") -> None:
        errors.append(RowError(line, column, code, value))

    for column, value in row.items():
        limit = MAX_GEOMETRY if column == "geometry" else MAX_FIELD
        if len(value) > limit:
            err(column, "too_long", str(len(value)))
        allowed = "\t\n\r" if column == "geometry" else "\t\n"
        if any(ord(ch) < 32 and ch not in allowed for ch in value):
            err(column, "control_chars")
    for column in REQUIRED:
        if not row.get(column):
            err(column, "missing_field")
    gid = row.get("id", "")
    if gid and not _ID.match(gid):
        err("id", "bad_id", gid)
    level = (row.get("level") or "").lower() or None
    if level is not None and level not in LEVELS:
        err("level", "unknown_level", row["level"])
        level = None
    parent_id = row.get("parent_id", "")
    if parent_id and not _ID.match(parent_id):
        err("parent_id", "bad_id", parent_id)
    if level == "street" and parent_id:
        err("parent_id", "street_parent", parent_id)
    elif level in PARENT_LEVEL and not parent_id:
        err("parent_id", "missing_parent", PARENT_LEVEL[level])
    crs_text = (row.get("coord_system") or "").lower() or default_crs.value
    try:
        crs = CRS(crs_text)
    except ValueError:
        err("coord_system", "unknown_crs", crs_text)
        crs = None
    group_chat = row.get("group_chat", "")
    if group_chat and not _GROUP_CHAT.match(group_chat):
        err("group_chat", "bad_group_chat", group_chat[:40])
    geometry: GridShape | None = None
    if row.get("geometry") and len(row["geometry"]) <= MAX_GEOMETRY:
        try:
            # With an unknown coord_system the polygon is still checked (as the default system), so the person
            # fixing the file sees its other problems now rather than on the next run.
            geometry = parse_polygon(row["geometry"], crs or default_crs)
        except GeometryError as exc:
            err("geometry", exc.code, exc.detail)
    info = _Seen(line, gid, level, parent_id if _ID.match(parent_id) else "", geometry, None)
    if not errors and level is not None and geometry is not None:
        info.row = GridRow(
            id=gid,
            name=row["name"],
            level=level,
            parent_id=parent_id,
            city=row.get("city", ""),
            group_chat=group_chat,
            geometry=geometry,
        )
    return info, errors


def _check_hierarchy(
    rows: list[tuple[int, _Seen]], in_file: dict[str, _Seen], in_db: dict[str, GridRow]
) -> list[RowError]:
    """Parents exist one level up and hold their children. Every row is judged on what could be read of it, and a
    parent row with errors of its own still counts as present, so one broken street does not bury its communities
    under "unknown parent" reports."""
    errors: list[RowError] = []
    for line, info in rows:
        problem = None
        if info.parent_id and info.level in PARENT_LEVEL:
            problem = _parent_problem(line, info, PARENT_LEVEL[info.level], in_file, in_db)
        old = in_db.get(info.id)
        if problem is None and info.level is not None and old is not None and old.level != info.level:
            orphans = sorted(g.id for g in in_db.values() if g.parent_id == info.id and g.id not in in_file)
            if orphans:
                problem = RowError(line, "level", "level_changed", f"{old.level}→{info.level}: {orphans[0]}")
        if problem is not None:
            errors.append(problem)
            info.row = None
    return errors


def _parent_problem(
    line: int, child: _Seen, want: str, in_file: dict[str, _Seen], in_db: dict[str, GridRow]
) -> RowError | None:
    if child.parent_id in in_file:
        parent = in_file[child.parent_id]
        level, geometry = parent.level, parent.geometry
    elif child.parent_id in in_db:
        level, geometry = in_db[child.parent_id].level, in_db[child.parent_id].geometry
    else:
        return RowError(line, "parent_id", "unknown_parent", child.parent_id)
    if level is not None and level != want:
        return RowError(line, "parent_id", "parent_level", f"{child.parent_id} = {level}")
    if geometry is not None and child.geometry is not None:
        # Areas in squared degrees: over a city the metres-per-degree scale is the same for child and parent,
        # so the ratio is the ratio of true areas to well under a percent.
        share = child.geometry.intersection(geometry).area / child.geometry.area
        if share < MIN_INSIDE_PARENT:
            return RowError(line, "geometry", "outside_parent", f"{child.parent_id}: {share:.0%}")
    return None


def read_grids_file(
    path: str | Path, default_crs: CRS | str = CRS.WGS84, existing: Iterable[GridRow] = ()
) -> ParseResult[GridRow]:
    data = Path(path).read_bytes()
    text, error = decode(data)
    if text is None:
        return ParseResult[GridRow](errors=[error] if error else [])
    return parse_grids(text, default_crs, existing)
