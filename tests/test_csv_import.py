"""Place lists: the bundled sample, every bad-row report with its line number, and the all-or-nothing import into a
real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.geo.coords import CRS, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02
from bot.geo.index import great_circle_m
from bot.places.csv_io import COLUMNS, RowError, decode, parse_places, read_places_file
from bot.places.hours import Hours, parse_hours
from bot.places.model import Place
from bot.places.vocab import AMENITIES, KINDS, POLICIES
from bot.services.places_admin import import_places
from bot.store.db import Database
from bot.store.errors import INTEGRITY_ERRORS
from bot.store.places import count_places, load_places, upsert_places

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "stations.csv"
HEADER = ",".join(COLUMNS)
XUZHOU = (34.261, 117.184)


def row(**cells: str) -> str:
    """One CSV line in COLUMNS order; a valid 徐州 station unless overridden."""
    values = {
        "id": "xz-test",
        "name": "测试驿站",
        "kind": "station",
        "city": "徐州",
        "lat": "34.261000",
        "lon": "117.184000",
        "coord_system": "wgs84",
        "hours": "08:00-22:00",
        "amenities": "water;charging",
        "approximate": "1",
    }
    values.update(cells)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([values.get(c, "") for c in COLUMNS])
    return out.getvalue().removesuffix("\r\n")


def lines(*rows: str) -> str:
    return "\n".join((HEADER, *rows)) + "\n"


def codes(text: str, crs: str = "wgs84") -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.code) for e in parse_places(text, crs).errors]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(tmp_path / "places.sqlite3") as database:
        yield database


# --- the bundled sample -----------------------------------------------------------------------------------------


def test_sample_parses_cleanly() -> None:
    result = read_places_file(SAMPLE)
    assert result.errors == []
    assert result.rows == len(result.items) >= 60
    assert {p.kind for p in result.items} == {"station", "canteen", "community", "merchant", "hospital"}
    assert {p.city for p in result.items} == {"徐州", "宿州", "禹城", "泗县", "马鞍山"}
    assert all(p.approximate for p in result.items)
    assert len({p.id for p in result.items}) == len(result.items)
    assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for p in result.items)


async def test_sample_imports_and_reloads(db: Database) -> None:
    report = await import_places(db, SAMPLE)
    parsed = read_places_file(SAMPLE)
    assert report.ok and report.inserted == report.total == len(parsed.items) and report.updated == 0
    assert await load_places(db) == sorted(parsed.items, key=lambda p: p.id)


# --- coordinates --------------------------------------------------------------------------------------------------


async def test_gcj02_row_is_stored_in_wgs84(tmp_path: Path, db: Database) -> None:
    glat, glon = 34.261000, 117.184000
    path = tmp_path / "gcj.csv"
    path.write_text(lines(row(id="g", lat=f"{glat:.6f}", lon=f"{glon:.6f}", coord_system="gcj02")), "utf-8")
    report = await import_places(db, path)
    assert report.ok and report.inserted == 1
    (place,) = await load_places(db)
    assert place.src_crs == "gcj02"
    shift = great_circle_m(glat, glon, place.lat, place.lon)
    assert 100 < shift < 1000, shift
    assert (place.lat, place.lon) == pytest.approx(gcj02_to_wgs84(glat, glon), abs=1e-7)
    back = wgs84_to_gcj02(place.lat, place.lon)
    assert great_circle_m(*back, glat, glon) < 0.05


@pytest.mark.parametrize(
    ("cell", "default", "used"),
    [("", "gcj02", "gcj02"), ("wgs84", "gcj02", "wgs84"), ("BD09", "wgs84", "bd09"), ("", "wgs84", "wgs84")],
)
def test_coord_system_cell_wins_over_default(cell: str, default: str, used: str) -> None:
    result = parse_places(lines(row(coord_system=cell)), default)
    (place,) = result.items
    assert place.src_crs == used
    assert (place.lat, place.lon) == pytest.approx(to_wgs84(34.261, 117.184, used), abs=1e-7)


# --- bad rows: line numbers and codes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "column", "code"),
    [
        (row(name=""), "name", "missing_field"),
        (row(id=""), "id", "missing_field"),
        (row(lat=""), "lat", "missing_field"),
        (row(kind=""), "kind", "missing_field"),
        (row(lat="91"), "lat", "out_of_range"),
        (row(lat="-90.5"), "lat", "out_of_range"),
        (row(lon="180.0001"), "lon", "out_of_range"),
        (row(lat="nan"), "lat", "out_of_range"),
        (row(lon="inf"), "lon", "out_of_range"),
        (row(lat="34,26"), "lat", "not_a_number"),
        (row(lon="一一七"), "lon", "not_a_number"),
        (row(lat="34.26N"), "lat", "not_a_number"),
        (row(lat="48.8566", lon="2.3522"), "lat", "outside_china"),
        (row(lat="-33.86", lon="151.2"), "lat", "outside_china"),
        (row(amenities="water;chraging"), "amenities", "unknown_amenity"),
        (row(rider_policy="free_water;free_beer"), "rider_policy", "unknown_policy"),
        (row(kind="restaurant"), "kind", "unknown_kind"),
        (row(hours="8-22"), "hours", "bad_hours"),
        (row(hours="08:00-25:00"), "hours", "bad_hours"),
        (row(hours="08:00-08:00"), "hours", "bad_hours"),
        (row(approximate="maybe"), "approximate", "bad_flag"),
        (row(coord_system="mars"), "coord_system", "unknown_crs"),
        (row(id="bad id!"), "id", "bad_id"),
        (row(route_map="../secret.png"), "route_map", "bad_route_map"),
        (row(route_map="http://example.com/map.png"), "route_map", "bad_route_map"),
        (row(notes="x" * 2001), "notes", "too_long"),
        (row(notes="a\x07b"), "notes", "control_chars"),
    ],
)
def test_bad_row_reported_at_its_line(bad: str, column: str, code: str) -> None:
    # header, a good row, a blank line, then the bad row on line 4, then another good row
    text = lines(row(id="ok-1"), "", bad, row(id="ok-2"))
    result = parse_places(text)
    assert [(e.line, e.column, e.code) for e in result.errors] == [(4, column, code)]
    assert [p.id for p in result.items] == ["ok-1", "ok-2"]
    assert result.rows == 3


def test_every_problem_in_a_row_is_reported() -> None:
    errors = codes(lines(row(kind="x", lat="abc", hours="soon", amenities="wifi;teleporter")))
    assert sorted(errors) == sorted(
        [
            (2, "kind", "unknown_kind"),
            (2, "lat", "not_a_number"),
            (2, "amenities", "unknown_amenity"),
            (2, "hours", "bad_hours"),
        ]
    )


def test_duplicate_id_is_reported_on_the_second_line() -> None:
    result = parse_places(lines(row(id="dup"), row(id="other"), row(id="dup", name="另一个")))
    assert result.errors == [RowError(4, "id", "duplicate_id", "dup@2")]
    assert [p.id for p in result.items] == ["dup", "other"]


def test_duplicate_of_a_bad_row_is_still_a_duplicate() -> None:
    assert codes(lines(row(id="dup", kind="x"), row(id="dup"))) == [
        (2, "kind", "unknown_kind"),
        (3, "id", "duplicate_id"),
    ]


@pytest.mark.parametrize(("bad", "value"), [(row() + ",extra", "17/18"), ("xz-short,名字,station,34.2,117.1", "17/5")])
def test_wrong_field_count(bad: str, value: str) -> None:
    result = parse_places(lines(row(id="a"), bad, row(id="b")))
    assert result.errors == [RowError(3, "", "field_count", value)]


def test_multiline_quoted_field_shifts_later_line_numbers() -> None:
    notes = '第一行\n第二行\n第三行, with "quotes"'
    text = lines(row(id="a", notes=notes), row(id="b", kind="nope"), "", row(id="c", lat="x"))
    assert '"' in text.splitlines()[1]  # the cell really is quoted and spans lines 2-4
    result = parse_places(text)
    assert [(e.line, e.code) for e in result.errors] == [(5, "unknown_kind"), (7, "not_a_number")]
    assert result.items[0].notes == notes
    assert text.splitlines()[4].startswith("b,") and text.splitlines()[6].startswith("c,")


def test_multiline_field_with_crlf_file() -> None:
    text = lines(row(id="a", name="多行\n名字"), row(id="b", hours="later")).replace("\n", "\r\n")
    text = text.replace("多行\r\n", "多行\n")  # CRLF between records, a bare LF inside the quoted cell
    assert codes(text) == [(4, "hours", "bad_hours")]


def test_bom_at_start_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + lines(row(id="a"), row(id="b", kind="x")).encode())
    result = read_places_file(path)
    assert [p.id for p in result.items] == ["a"]
    assert [(e.line, e.code) for e in result.errors] == [(3, "unknown_kind")]


def test_header_is_case_insensitive_and_columns_optional() -> None:
    result = parse_places("ID, Name ,KIND,Lat,LON\nx1,名字,驿站,34.26,117.18\n")
    assert result.errors == []
    (place,) = result.items
    assert (place.kind, place.approximate, place.hours, place.amenities) == ("station", True, Hours(), frozenset())


def test_non_utf8_bytes_report_their_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(lines(row(id="a"), row(id="b")).encode() + row(id="c", name="驿站").encode("gbk") + b"\n")
    result = read_places_file(path)
    assert [(e.line, e.code) for e in result.errors] == [(4, "not_utf8")]
    assert result.items == []


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(data)
    assert [(e.line, e.code) for e in read_places_file(path).errors] == [(1, "empty_file")]


def test_blank_lines_before_header_are_ignored() -> None:
    # DATA.md: "Blank lines are ignored."
    result = parse_places("\n\n" + lines(row(id="a"), row(id="b", kind="x")))
    assert [p.id for p in result.items] == ["a"]
    assert [(e.line, e.code) for e in result.errors] == [(5, "unknown_kind")]


@pytest.mark.parametrize(
    ("header", "column", "code"),
    [
        ("id,name,kind,lat", "lon", "missing_columns"),
        ("name,kind,lon", "id,lat", "missing_columns"),
        ("id,name,kind,lat,lon,amenties", "amenties", "unknown_columns"),
    ],
)
def test_header_problems(header: str, column: str, code: str) -> None:
    assert parse_places(header + "\nx,y,station,34,117,z\n").errors == [RowError(1, column, code)]


def test_id_up_to_60_characters() -> None:
    # DATA.md: letters, digits, _ . -, at most 60 characters (a place's button payload must fit 64 bytes).
    assert codes(lines(row(id="a" * 60))) == []
    assert codes(lines(row(id="a" * 61))) == [(2, "id", "bad_id")]
    assert codes(lines(row(id="-a"))) == [(2, "id", "bad_id")]


def test_words_and_separators_are_accepted() -> None:
    result = parse_places(
        lines(row(kind="小哥食堂", amenities="饮水；充电桩，热饭、WIFI|Toilet", rider_policy=" 绿色通道 "))
    )
    assert result.errors == []
    (place,) = result.items
    assert place.kind == "canteen"
    assert place.amenities == {"water", "charging", "microwave", "wifi", "toilet"}
    assert place.rider_policy == {"green_channel"}


# --- import into SQLite -------------------------------------------------------------------------------------------


async def test_import_is_all_or_nothing(tmp_path: Path, db: Database) -> None:
    first = tmp_path / "first.csv"
    first.write_text(lines(row(id="a"), row(id="b")), "utf-8")
    assert (await import_places(db, first)).ok
    before = await load_places(db)

    bad = tmp_path / "bad.csv"
    bad.write_text(lines(row(id="a", name="改名"), row(id="new"), row(id="c", lat="999")), "utf-8")
    report = await import_places(db, bad)
    assert not report.ok and (report.inserted, report.updated) == (0, 0)
    assert [(e.line, e.code) for e in report.parsed.errors] == [(4, "out_of_range")]
    assert await count_places(db) == 2
    assert await load_places(db) == before


async def test_transaction_rolls_back_when_a_write_fails(db: Database) -> None:
    good = parse_places(lines(row(id="a"), row(id="b"))).items
    await upsert_places(db, good)
    changed = replace(good[0], name="改名")
    broken = replace(good[1], id="zzz", lat=999.0)  # violates the table's CHECK constraint
    with pytest.raises(INTEGRITY_ERRORS, match=r"(?i)check"):
        await upsert_places(db, [changed, Place(id="new", name="新", kind="station", lat=34, lon=117), broken])
    assert await load_places(db) == good


async def test_reimport_is_idempotent(tmp_path: Path, db: Database) -> None:
    first = await import_places(db, SAMPLE)
    rows = await load_places(db)
    second = await import_places(db, SAMPLE)
    n = len(rows)
    assert (first.inserted, first.updated, first.total) == (n, 0, n)
    assert (second.inserted, second.updated, second.total) == (0, n, n)
    assert await load_places(db) == rows


async def test_upsert_changes_a_field_by_id(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "v1.csv"
    path.write_text(lines(row(id="a", hours="08:00-22:00"), row(id="b")), "utf-8")
    await import_places(db, path)
    path.write_text(lines(row(id="a", hours="17:00-02:00", amenities="toilet", phone="0516-1"), row(id="c")), "utf-8")
    report = await import_places(db, path)
    assert (report.inserted, report.updated, report.total) == (1, 1, 3)
    by_id = {p.id: p for p in await load_places(db)}
    assert set(by_id) == {"a", "b", "c"}  # import never deletes
    assert by_id["a"].hours == parse_hours("17:00-02:00")
    assert by_id["a"].amenities == {"toilet"} and by_id["a"].phone == "0516-1"


# --- properties ---------------------------------------------------------------------------------------------------

SEPARATORS = set(";；,，、|")
# Any Unicode except control characters and surrogates; then line breaks, tabs, quotes and commas on purpose.
free_text = st.lists(
    st.one_of(
        st.characters(blacklist_categories=("Cc", "Cs")),
        st.sampled_from(['"', ",", "\n", "\t", ";", "🛵", "😀", "שלום", "مرحبا", "\u200f", "驿站", "'", '""']),
    ),
    max_size=20,
).map(lambda parts: "".join(parts).strip())
alias_text = free_text.map(lambda s: "".join(ch for ch in s if ch not in SEPARATORS).strip()).filter(bool)
ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
hours_cells = st.one_of(
    st.just(""),
    st.sampled_from(["24h", "全天", "08:00-22:00", "17:00-02:00", "10:00-14:00;17:00-21:00", "06:30～24:00"]),
    st.lists(
        st.tuples(st.integers(0, 1439), st.integers(0, 1439)).filter(lambda r: r[0] != r[1]), min_size=1, max_size=3
    ).map(lambda rs: ";".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in rs)),
)


def words(terms: tuple) -> st.SearchStrategy[tuple[str, str]]:  # type: ignore[type-arg]
    """(word as written, token): any spelling of a term."""
    return st.sampled_from([(w, t.token) for t in terms for w in (t.token, t.zh, t.en, *t.aliases, t.token.upper())])


@st.composite
def place_rows(draw: st.DrawFn, pid: str) -> tuple[dict[str, str], Place]:
    kind_word, kind = draw(words(KINDS))
    crs = draw(st.sampled_from(["wgs84", "gcj02", "bd09"]))
    lat = round(draw(st.floats(18.5, 53.0)), 6)
    lon = round(draw(st.floats(74.0, 134.0)), 6)
    amen = draw(st.lists(words(AMENITIES), max_size=4))
    pol = draw(st.lists(words(POLICIES), max_size=3))
    aliases = draw(st.lists(alias_text, max_size=3))
    approx_word = draw(st.sampled_from(["", "0", "1", "true", "FALSE", "yes", "No"]))
    hours = draw(hours_cells)
    cells = {
        "id": pid,
        "name": draw(free_text.filter(bool)),
        "kind": kind_word,
        "city": draw(free_text),
        "district": draw(free_text),
        "address": draw(free_text),
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "coord_system": crs,
        "hours": hours,
        "amenities": ";".join(w for w, _ in amen),
        "phone": draw(free_text),
        "rider_policy": "；".join(w for w, _ in pol),
        "route_map": draw(st.sampled_from(["", "route_maps/guiyuyuan.png", "https://example.org/m.JPG"])),
        "aliases": ";".join(aliases),
        "approximate": approx_word,
        "notes": draw(free_text),
    }
    wlat, wlon = to_wgs84(float(cells["lat"]), float(cells["lon"]), crs)
    expected = Place(
        id=pid,
        name=cells["name"],
        kind=kind,
        lat=round(wlat, 7),
        lon=round(wlon, 7),
        city=cells["city"],
        district=cells["district"],
        address=cells["address"],
        hours=parse_hours(hours),
        amenities=frozenset(t for _, t in amen),
        phone=cells["phone"],
        rider_policy=frozenset(t for _, t in pol),
        route_map=cells["route_map"],
        aliases=tuple(aliases),
        approximate=approx_word.lower() in {"", "1", "true", "yes"},
        notes=cells["notes"],
        src_crs=crs,
    )
    return cells, expected


@st.composite
def place_files(draw: st.DrawFn) -> tuple[list[str], list[dict[str, str]], list[Place]]:
    pids = draw(st.lists(ids, min_size=1, max_size=6, unique=True))
    made = [draw(place_rows(pid)) for pid in pids]
    optional = [c for c in COLUMNS if c not in {"id", "name", "kind", "lat", "lon", "coord_system"}]
    dropped = set(draw(st.lists(st.sampled_from(optional), max_size=4)))
    header = draw(st.permutations([c for c in COLUMNS if c not in dropped]))
    header = [draw(st.sampled_from([c, c.upper(), c.title()])) for c in header]
    places = []
    for cells, place in made:
        for column in dropped:
            cells[column] = ""
        places.append(_without(place, dropped))
    return header, [cells for cells, _ in made], places


def _without(place: Place, dropped: set[str]) -> Place:
    blank: dict[str, object] = {}
    for column in dropped:
        if column == "hours":
            blank["hours"] = Hours()
        elif column in {"amenities", "rider_policy"}:
            blank[column] = frozenset()
        elif column == "aliases":
            blank["aliases"] = ()
        elif column == "approximate":
            blank["approximate"] = True
        else:
            blank[column] = ""
    return replace(place, **blank)  # type: ignore[arg-type]


async def _import_and_load(path: Path) -> tuple[int, list[Place]]:
    async with Database(path.with_suffix(".sqlite3")) as database:
        report = await import_places(database, path)
        assert report.ok, report.parsed.errors
        return report.inserted, await load_places(database)


@given(place_files(), st.sampled_from(["\r\n", "\n"]), st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_rows_round_trip(file: tuple[list[str], list[dict[str, str]], list[Place]], eol: str, bom: bool) -> None:
    header, rows, expected = file
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=eol)
    writer.writerow(header)
    for cells in rows:
        writer.writerow([cells[c.lower()] for c in header])
    text = ("\ufeff" if bom else "") + out.getvalue()

    parsed = parse_places(text)
    assert parsed.errors == []
    assert parsed.items == expected

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "places.csv"
        path.write_bytes(text.encode("utf-8"))
        inserted, loaded = asyncio.run(_import_and_load(path))
    assert inserted == len(expected)
    assert loaded == sorted(expected, key=lambda p: p.id)


garbage_line = st.lists(
    st.one_of(st.characters(), st.sampled_from(['"', ",", "\n", "\r", "\x00", "\ufeff", "34.2", "station", ";"])),
    max_size=40,
).map("".join)


@given(st.booleans(), st.lists(garbage_line, max_size=8), st.sampled_from(["\n", "\r\n", "\r"]))
@settings(max_examples=300, deadline=None)
def test_garbage_never_raises_and_errors_carry_lines(real_header: bool, body: list[str], eol: str) -> None:
    text = eol.join([HEADER if real_header else "id,name,kind,lat,lon", *body])
    result = parse_places(text)
    n_lines = len(text.splitlines()) or 1
    for error in result.errors:
        assert 1 <= error.line <= n_lines, (error, n_lines)
        assert isinstance(error.code, str) and error.code
    assert result.rows >= len(result.items)
    for place in result.items:
        assert math.isfinite(place.lat) and math.isfinite(place.lon)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes_never_raise(data: bytes) -> None:
    text, error = decode(data)
    n_lines = data.count(b"\n") + 1
    if text is None:
        assert error is not None and error.code == "not_utf8" and 1 <= error.line <= n_lines
    else:
        for e in parse_places(text, CRS.GCJ02).errors:
            assert 1 <= e.line <= max(n_lines, len(text.splitlines()))
