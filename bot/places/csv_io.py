"""Reading and validating place lists (CSV), reporting every bad row with its line number.

City staff maintain these files in spreadsheets; a report that says "line 37, amenities: unknown 'chraging'"
lets them fix the file without reading code. Validation collects every problem instead of stopping at the first.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.geo.coords import CRS, out_of_china, to_wgs84
from bot.places.hours import HoursError, parse_hours
from bot.places.model import Place
from bot.places.vocab import amenity_term, kind_term, policy_term

COLUMNS = (
    "id", "name", "kind", "city", "district", "address", "lat", "lon", "coord_system", "hours",
    "amenities", "phone", "rider_policy", "route_map", "aliases", "approximate", "notes",
)  # fmt: skip
REQUIRED = ("id", "name", "kind", "lat", "lon")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}\Z")  # 60: a button payload "v:s:<id>" fits 64 bytes
_LIST_SPLIT = re.compile(r"[;；,，、|]")
MAX_FIELD = 2000
T = TypeVar("T")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    code: str  # a key under "csv." in the texts catalogue
    value: str = ""


@dataclass
class ParseResult(Generic[T]):
    """What reading a CSV file gave, for every file an admin imports (places, grids, rewards): the good `items`,
    every bad row's error, and how many data `rows` were read (blank lines not counted)."""

    items: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class ImportReport(Generic[T]):
    """What importing a checked file into the database came to (places, grids): nothing is written unless `ok`."""

    parsed: ParseResult[T]
    inserted: int = 0
    updated: int = 0
    total: int = 0

    @property
    def ok(self) -> bool:
        return self.parsed.ok


def _split_list(cell: str) -> list[str]:
    return [p.strip() for p in _LIST_SPLIT.split(cell or "") if p.strip()]


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number where the record starts, fields); quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for fields in reader:
        yield start, fields
        start = reader.line_num + 1


def read_header(
    records: Iterator[tuple[int, list[str]]], required: Iterable[str], columns: Iterable[str]
) -> tuple[int, list[str]] | RowError:
    """The header row (blank lines before it are skipped), checked against the required and known columns."""
    try:
        line, header = next(records)
        while not any(h.strip().lstrip("\ufeff") for h in header):
            line, header = next(records)
    except StopIteration:
        return RowError(1, "", "empty_file")
    header = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        return RowError(line, ",".join(missing), "missing_columns")
    unknown = [h for h in header if h not in set(columns)]
    if unknown:
        return RowError(line, ",".join(unknown), "unknown_columns")
    return line, header


def data_rows(
    text: str, required: Sequence[str], columns: Sequence[str], result: ParseResult[Any]
) -> Iterator[tuple[int, dict[str, str]]]:
    """A CSV file's data rows as {column: stripped cell} with their line numbers, for every importer: the header
    checked, blank lines skipped, the others counted in `result.rows`, a row with the wrong number of cells put in
    `result.errors` and skipped."""
    records = _records(text)
    head = read_header(records, required, columns)
    if isinstance(head, RowError):
        result.errors.append(head)
        return
    _, header = head
    for line, fields in records:
        if not any(f.strip() for f in fields):
            continue
        result.rows += 1
        if len(fields) != len(header):
            result.errors.append(RowError(line, "", "field_count", f"{len(header)}/{len(fields)}"))
            continue
        yield line, dict(zip(header, (f.strip() for f in fields), strict=True))


def decode(data: bytes) -> tuple[str | None, RowError | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, RowError(line, "", "not_utf8")


def parse_places(text: str, default_crs: CRS | str = CRS.WGS84) -> ParseResult[Place]:
    result = ParseResult[Place]()
    seen: dict[str, int] = {}
    for line, row in data_rows(text, REQUIRED, COLUMNS, result):
        place, errors = _parse_row(line, row, CRS(default_crs))
        if place is not None and place.id in seen:
            errors.append(RowError(line, "id", "duplicate_id", f"{place.id}@{seen[place.id]}"))
        result.errors.extend(errors)
        if place is not None and not errors:
            seen[place.id] = line
            result.items.append(place)
        elif place is not None:
            seen.setdefault(place.id, line)
    return result


def _parse_row(line: int, row: dict[str, str], default_crs: CRS) -> tuple[Place | None, list[RowError]]:
    errors: list[RowError] = []

    def err(column: str, code: str, value: str = "") -> None:
        errors.append(RowError(line, column, code, value))

    for column, value in row.items():
        if len(value) > MAX_FIELD:
            err(column, "too_long", str(len(value)))
        if any(ord(ch) < 32 and ch not in "\t\n" for ch in value):
            err(column, "control_chars")
    for column in REQUIRED:
        if not row.get(column):
            err(column, "missing_field")
    pid = row.get("id", "")
    if pid and not _ID.match(pid):
        err("id", "bad_id", pid)
    kind = kind_term(row["kind"]) if row.get("kind") else None
    if row.get("kind") and kind is None:
        err("kind", "unknown_kind", row["kind"])
    crs_text = (row.get("coord_system") or "").lower() or default_crs.value
    try:
        crs = CRS(crs_text)
    except ValueError:
        err("coord_system", "unknown_crs", crs_text)
        crs = default_crs
    lat = _number(row.get("lat", ""), "lat", -90, 90, err)
    lon = _number(row.get("lon", ""), "lon", -180, 180, err)
    if lat is not None and lon is not None and out_of_china(lat, lon):
        err("lat", "outside_china", f"{lat},{lon}")
    amenities = set()
    for word in _split_list(row.get("amenities", "")):
        term = amenity_term(word)
        if term is None:
            err("amenities", "unknown_amenity", word)
        else:
            amenities.add(term.token)
    policies = set()
    for word in _split_list(row.get("rider_policy", "")):
        term = policy_term(word)
        if term is None:
            err("rider_policy", "unknown_policy", word)
        else:
            policies.add(term.token)
    try:
        hours = parse_hours(row.get("hours", ""))
    except HoursError:
        err("hours", "bad_hours", row.get("hours", ""))
        hours = None
    approx_text = (row.get("approximate") or "1").lower()
    if approx_text not in {"0", "1", "true", "false", "yes", "no"}:
        err("approximate", "bad_flag", approx_text)
    route_map = row.get("route_map", "")
    if route_map and not (route_map.startswith("https://") or _safe_relative(route_map)):
        err("route_map", "bad_route_map", route_map)
    if errors or lat is None or lon is None or kind is None or hours is None:
        return (Place(id=pid, name="", kind="", lat=0, lon=0) if pid else None), errors
    wlat, wlon = to_wgs84(lat, lon, crs)
    return (
        Place(
            id=pid,
            name=row["name"],
            kind=kind.token,
            lat=round(wlat, 7),
            lon=round(wlon, 7),
            city=row.get("city", ""),
            district=row.get("district", ""),
            address=row.get("address", ""),
            hours=hours,
            amenities=frozenset(amenities),
            phone=row.get("phone", ""),
            rider_policy=frozenset(policies),
            route_map=route_map,
            aliases=tuple(_split_list(row.get("aliases", "").replace(",", ";"))),
            approximate=approx_text in {"1", "true", "yes"},
            notes=row.get("notes", ""),
            src_crs=crs.value,
        ),
        errors,
    )


def _number(text: str, column: str, low: float, high: float, err) -> float | None:  # type: ignore[no-untyped-def]
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        err(column, "not_a_number", text)
        return None
    if not low <= value <= high or value != value:
        err(column, "out_of_range", text)
        return None
    return value


def _safe_relative(path: str) -> bool:
    p = Path(path)
    if ":" in path:  # "http://…", "ftp:…", "C:\\…": only https:// (checked by the caller) may be a URL
        return False
    return not p.is_absolute() and ".." not in p.parts and p.suffix.lower() in {".png", ".jpg", ".jpeg"}


def read_places_file(path: str | Path, default_crs: CRS | str = CRS.WGS84) -> ParseResult[Place]:
    data = Path(path).read_bytes()
    text, error = decode(data)
    if text is None:
        return ParseResult[Place](errors=[error] if error else [])
    return parse_places(text, default_crs)
