"""Grids: polygon parsing in three datums, every bad row with its line number, the all-or-nothing import, the
bundled sample (every place lies in a grid), and routing a point to its grid — checked against brute force."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from bot.cli import main as cli_main
from bot.config import Settings
from bot.geo.coords import CRS, bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from bot.geo.index import great_circle_m
from bot.grids import index as grid_index
from bot.grids.csv_io import COLUMNS, GRID_CODES, MIN_INSIDE_PARENT, error_text_key, parse_grids, read_grids_file
from bot.grids.geometry import GeometryError, from_geojson, parse_polygon, to_geojson
from bot.grids.index import GridIndex, GridRoute, ground_distance_m
from bot.grids.model import Grid, GridRow
from bot.places.csv_io import RowError, read_places_file
from bot.services.container import open_services
from bot.services.grids_admin import (
    DEFAULT_GRIDS_CSV,
    build_grid_index,
    ensure_grids_seeded,
    grids_csv_path,
    import_grids,
)
from bot.store.db import Database
from bot.store.errors import INTEGRITY_ERRORS
from bot.store.grids import count_grids, load_grids, upsert_grids
from bot.texts import LANGS, t

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "grids.csv"
STATIONS = REPO / "data" / "stations.csv"
HEADER = ",".join(COLUMNS)

# A small street in Xuzhou used by the hand-written files below: 0.01° ≈ 920 m east-west, 1.1 km north-south.
LAT0, LON0 = 34.26, 117.18


def rect_wkt(lon0: float, lat0: float, lon1: float, lat1: float) -> str:
    return f"POLYGON(({lon0} {lat0}, {lon1} {lat0}, {lon1} {lat1}, {lon0} {lat1}, {lon0} {lat0}))"


STREET = rect_wkt(LON0, LAT0, LON0 + 0.02, LAT0 + 0.02)
COMMUNITY = rect_wkt(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)
GRID_A = rect_wkt(LON0, LAT0, LON0 + 0.005, LAT0 + 0.01)
GRID_B = rect_wkt(LON0 + 0.005, LAT0, LON0 + 0.01, LAT0 + 0.01)


def row(gid: str, level: str, parent: str, geometry: str, **extra: str) -> str:
    cells = {
        "id": gid,
        "name": extra.get("name", f"{gid} 名称"),
        "level": level,
        "parent_id": parent,
        "city": extra.get("city", "徐州"),
        "coord_system": extra.get("coord_system", "wgs84"),
        "group_chat": extra.get("group_chat", ""),
        "geometry": '"' + geometry.replace('"', '""') + '"',
    }
    return ",".join(cells[c] for c in COLUMNS)


def good_file() -> str:
    return "\n".join(
        [
            HEADER,
            row("s1", "street", "", STREET),
            row("s1-c1", "community", "s1", COMMUNITY, group_chat="-1001234567890"),
            row("s1-c1-g1", "grid", "s1-c1", GRID_A),
            row("s1-c1-g2", "grid", "s1-c1", GRID_B, group_chat="@milan_grid2"),
        ]
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(tmp_path / "grids.sqlite3") as database:
        yield database


def make_row(gid: str, level: str, parent: str, shape: Polygon | MultiPolygon) -> GridRow:
    return GridRow(gid, gid, level, parent, "测试", "", shape)


# --- geometry ----------------------------------------------------------------------------------------------------


def test_wkt_polygon_is_read_lon_first() -> None:
    geom = parse_polygon(GRID_A)
    assert isinstance(geom, Polygon)
    assert geom.bounds == pytest.approx((LON0, LAT0, LON0 + 0.005, LAT0 + 0.01))
    assert geom.covers(Point(LON0 + 0.001, LAT0 + 0.001))


def test_wkt_with_a_hole_and_lowercase_and_z() -> None:
    outer = (
        f"({LON0} {LAT0} 5, {LON0 + 0.01} {LAT0} 5, {LON0 + 0.01} {LAT0 + 0.01} 5, {LON0} {LAT0 + 0.01} 5,"
        f" {LON0} {LAT0} 5)"
    )
    hole = (
        f"({LON0 + 0.004} {LAT0 + 0.004} 0, {LON0 + 0.006} {LAT0 + 0.004} 0, {LON0 + 0.006} {LAT0 + 0.006} 0,"
        f" {LON0 + 0.004} {LAT0 + 0.004} 0)"
    )
    geom = parse_polygon(f"polygon z ({outer}, {hole})")
    assert isinstance(geom, Polygon) and len(geom.interiors) == 1
    assert not geom.covers(Point(LON0 + 0.0055, LAT0 + 0.0045))
    assert geom.covers(Point(LON0 + 0.001, LAT0 + 0.009))


def test_multipolygon_wkt_and_geojson_agree() -> None:
    a = [[LON0, LAT0], [LON0 + 0.001, LAT0], [LON0 + 0.001, LAT0 + 0.001], [LON0, LAT0]]
    b = [[LON0 + 0.01, LAT0], [LON0 + 0.011, LAT0], [LON0 + 0.011, LAT0 + 0.001], [LON0 + 0.01, LAT0]]
    wkt = "MULTIPOLYGON(" + ",".join("((" + ",".join(f"{x} {y}" for x, y in ring) + "))" for ring in (a, b)) + ")"
    from_wkt = parse_polygon(wkt)
    from_json = parse_polygon(json.dumps({"type": "MultiPolygon", "coordinates": [[a], [b]]}))
    assert isinstance(from_wkt, MultiPolygon) and len(from_wkt.geoms) == 2
    assert from_wkt.equals(from_json)


def test_geojson_polygon_and_feature() -> None:
    coords = [[[LON0, LAT0], [LON0 + 0.005, LAT0], [LON0 + 0.005, LAT0 + 0.01], [LON0, LAT0 + 0.01], [LON0, LAT0]]]
    geometry = {"type": "Polygon", "coordinates": coords}
    feature = {"type": "Feature", "properties": {"name": "米兰社区第1网格"}, "geometry": geometry}
    assert parse_polygon(json.dumps(geometry)).equals(parse_polygon(GRID_A))
    assert parse_polygon(json.dumps(feature, ensure_ascii=False)).equals(parse_polygon(GRID_A))


def test_exterior_ring_is_stored_counter_clockwise() -> None:
    clockwise = f"POLYGON(({LON0} {LAT0}, {LON0} {LAT0 + 0.01}, {LON0 + 0.01} {LAT0 + 0.01}, {LON0} {LAT0}))"
    assert parse_polygon(clockwise).exterior.is_ccw


@pytest.mark.parametrize(
    ("crs", "inverse", "low", "high"),
    [(CRS.GCJ02, gcj02_to_wgs84, 200.0, 800.0), (CRS.BD09, bd09_to_wgs84, 800.0, 1600.0)],
)
def test_chinese_datums_move_every_vertex_by_a_few_hundred_metres(crs: CRS, inverse, low: float, high: float) -> None:  # type: ignore[no-untyped-def]
    source = parse_polygon(GRID_A)  # the same numbers read as WGS-84
    moved = parse_polygon(GRID_A, crs)
    for (lon, lat), (wlon, wlat) in zip(source.exterior.coords, moved.exterior.coords, strict=True):
        elat, elon = inverse(lat, lon)
        assert (wlat, wlon) == pytest.approx((elat, elon), abs=1e-7)
        assert low < great_circle_m(lat, lon, wlat, wlon) < high


def test_gcj02_round_trip_lands_on_the_original_polygon() -> None:
    ring = [wgs84_to_gcj02(lat, lon) for lon, lat in parse_polygon(GRID_A).exterior.coords]
    gcj = "POLYGON((" + ", ".join(f"{lon:.9f} {lat:.9f}" for lat, lon in ring) + "))"
    back = parse_polygon(gcj, "gcj02")
    assert back.symmetric_difference(parse_polygon(GRID_A)).area < 1e-12  # ~ a square metre


def test_geojson_round_trip() -> None:
    geom = parse_polygon(GRID_A, CRS.GCJ02)
    text = to_geojson(geom)
    assert json.loads(text)["type"] == "Polygon"
    assert from_geojson(text).equals(geom)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (f"POLYGON(({LON0} {LAT0}, {LON0 + 0.01} {LAT0}, {LON0 + 0.01} {LAT0 + 0.01}))", "open_ring"),
        (f"POLYGON(({LON0} {LAT0}, {LON0 + 0.01} {LAT0}, {LON0} {LAT0}))", "too_few_vertices"),
        (f"POLYGON(({LON0} {LAT0}, {LON0} {LAT0}, {LON0 + 0.01} {LAT0}, {LON0} {LAT0}))", "too_few_vertices"),
        (
            f"POLYGON(({LON0} {LAT0}, {LON0 + 0.01} {LAT0 + 0.01}, {LON0 + 0.01} {LAT0}, {LON0} {LAT0 + 0.01},"
            f" {LON0} {LAT0}))",
            "invalid_geometry",
        ),
        (
            f"POLYGON(({LAT0} {LON0}, {LAT0} {LON0 + 0.01}, {LAT0 + 0.01} {LON0 + 0.01}, {LAT0} {LON0}))",
            "outside_china",
        ),
        ("POLYGON((2.35 48.85, 2.36 48.85, 2.36 48.86, 2.35 48.85))", "outside_china"),
        (f"POINT({LON0} {LAT0})", "not_polygon"),
        (f"LINESTRING({LON0} {LAT0}, {LON0 + 1} {LAT0})", "not_polygon"),
        ('{"type": "Point", "coordinates": [117.18, 34.26]}', "not_polygon"),
        ('{"type": "FeatureCollection", "features": []}', "not_polygon"),
        ("[1, 2]", "not_polygon"),
        ("POLYGON EMPTY", "empty_geometry"),
        ('{"type": "MultiPolygon", "coordinates": []}', "empty_geometry"),
        ("POLYGON((117.18 34.26, 117.19 abc, 117.19 34.27, 117.18 34.26))", "bad_geometry"),
        ("POLYGON((117.18 34.26, 117.19 nan, 117.19 34.27, 117.18 34.26))", "bad_geometry"),
        ("POLYGON((117.18 34.26, 117.19 34.26, 117.19 34.27, 117.18 34.26)", "bad_geometry"),
        ("POLYGON((117.18 34.26, 117.19 34.26, 117.19 34.27, 117.18 34.26)) trailing", "bad_geometry"),
        ("POLYGON((117.18, 117.19 34.26, 117.19 34.27, 117.18))", "bad_geometry"),
        ('{"type": "Polygon", "coordinates": [[[117.18, 34.26], [117.19, "34"], [117.18, 34.26]]]}', "bad_geometry"),
        ('{"type": "Polygon", "coordinates": [[[117.18, 34.26], [117.19, 1e999], [117.18, 34.26]]]}', "bad_geometry"),
        ('{"type": "Polygon", "coordinates": 5}', "bad_geometry"),
        ('{"type": "Polygon",', "bad_geometry"),
        ("", "bad_geometry"),
    ],
)
def test_bad_polygons_are_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(GeometryError) as caught:
        parse_polygon(text)
    assert caught.value.code == code
    assert code in GRID_CODES


def test_invalid_polygon_explains_why_briefly() -> None:
    bow_tie = (
        f"POLYGON(({LON0} {LAT0}, {LON0 + 0.01} {LAT0 + 0.01}, {LON0 + 0.01} {LAT0}, {LON0} {LAT0 + 0.01},"
        f" {LON0} {LAT0}))"
    )
    with pytest.raises(GeometryError) as caught:
        parse_polygon(bow_tie)
    assert caught.value.detail.startswith("Self-intersection")
    assert len(caught.value.detail) <= 80


@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_geometry_error(text: str) -> None:
    try:
        parse_polygon(text)
    except GeometryError as exc:
        assert exc.code in GRID_CODES


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5), lambda c: st.lists(c, max_size=4)))
def test_arbitrary_geojson_coordinates_never_crash(coordinates: object) -> None:
    for kind in ("Polygon", "MultiPolygon"):
        try:
            parse_polygon(json.dumps({"type": kind, "coordinates": coordinates}))
        except GeometryError as exc:
            assert exc.code in GRID_CODES


# --- validation: every bad row with its line number ----------------------------------------------------------------


def codes(text: str, existing: list[GridRow] | None = None) -> set[tuple[int, str, str]]:
    return {(e.line, e.column, e.code) for e in parse_grids(text, existing=existing or []).errors}


def test_good_file_parses_parents_first() -> None:
    result = parse_grids(good_file())
    assert result.ok and result.rows == 4
    assert [g.level for g in result.items] == ["street", "community", "grid", "grid"]
    assert result.items[1].group_chat == "-1001234567890"


def test_every_row_problem_is_reported_at_its_line() -> None:
    gj = json.dumps(
        {"type": "Polygon", "coordinates": [[[LON0, LAT0], [LON0 + 0.001, LAT0], [LON0, LAT0 + 0.001], [LON0, LAT0]]]},
        indent=1,
    )  # a multi-line cell: the rows after it must still get their true line numbers
    lines = [
        HEADER,  # 1
        row("s1", "street", "", STREET),  # 2
        row("s1-c1", "community", "s1", COMMUNITY),  # 3
        row("", "grid", "s1-c1", GRID_A),  # 4 missing id
        row("bad id!", "grid", "s1-c1", GRID_A),  # 5
        row("g-level", "网格", "s1-c1", GRID_A),  # 6 unknown level
        row("g-noparent", "grid", "", GRID_A),  # 7
        row("s-parent", "street", "s1", STREET),  # 8 street with a parent
        row("g-unknown", "grid", "nowhere", GRID_A),  # 9
        row("g-wrong", "grid", "s1", GRID_A),  # 10 a grid under a street
        row("g-out", "grid", "s1-c1", rect_wkt(LON0 + 0.008, LAT0, LON0 + 0.018, LAT0 + 0.01)),  # 11: 20 % inside
        row("g-open", "grid", "s1-c1", GRID_A[:-2] + ")"),  # 12 - not closed at the ring level
        row("g-crs", "grid", "s1-c1", GRID_A, coord_system="baidu"),  # 13
        row("g-chat", "grid", "s1-c1", GRID_A, group_chat="milan group"),  # 14
        row("g-json", "grid", "s1-c1", gj),  # 15-26 (multi-line)
        row("s1-c1", "community", "s1", COMMUNITY),  # 27 duplicate
        row("g-name", "grid", "s1-c1", GRID_A, name=""),  # 28
        row("g-geom", "grid", "s1-c1", "POINT(117.18 34.26)"),  # 29
        "too,few,fields",  # 30
    ]
    text = "\n".join(lines)
    got = codes(text)
    json_lines = gj.count("\n")
    after = 15 + json_lines + 1
    expected = {
        (4, "id", "missing_field"),
        (5, "id", "bad_id"),
        (6, "level", "unknown_level"),
        (7, "parent_id", "missing_parent"),
        (8, "parent_id", "street_parent"),
        (9, "parent_id", "unknown_parent"),
        (10, "parent_id", "parent_level"),
        (11, "geometry", "outside_parent"),
        (12, "geometry", "bad_geometry"),
        (13, "coord_system", "unknown_crs"),
        (14, "group_chat", "bad_group_chat"),
        (after, "id", "duplicate_id"),
        (after + 1, "name", "missing_field"),
        (after + 2, "geometry", "not_polygon"),
        (after + 3, "", "field_count"),
    }
    assert got == expected
    assert 15 not in {line for line, _, _ in got}  # the multi-line GeoJSON row is fine


@pytest.mark.parametrize(
    ("geometry", "code"),
    [
        (f"POLYGON(({LON0} {LAT0}, {LON0 + 0.005} {LAT0}, {LON0 + 0.005} {LAT0 + 0.01}))", "open_ring"),
        (f"POLYGON(({LON0} {LAT0}, {LON0 + 0.005} {LAT0}, {LON0} {LAT0}))", "too_few_vertices"),
        (
            f"POLYGON(({LON0} {LAT0}, {LON0 + 0.005} {LAT0 + 0.005}, {LON0 + 0.005} {LAT0}, {LON0} {LAT0 + 0.005},"
            f" {LON0} {LAT0}))",
            "invalid_geometry",
        ),
        (rect_wkt(LAT0, LON0, LAT0 + 0.005, LON0 + 0.01), "outside_china"),
        ("GEOMETRYCOLLECTION EMPTY", "not_polygon"),
    ],
)
def test_geometry_problems_carry_their_line(geometry: str, code: str) -> None:
    text = "\n".join([HEADER, row("s1", "street", "", STREET), row("s1-g", "community", "s1", geometry)])
    assert codes(text) == {(3, "geometry", code)}


def test_a_broken_parent_does_not_bury_its_children() -> None:
    text = "\n".join(
        [
            HEADER,
            row("s1", "street", "", STREET, name=""),  # broken, but present
            row("s1-c1", "community", "s1", COMMUNITY),
            row("s1-c1-g1", "grid", "s1-c1", GRID_A),
        ]
    )
    assert codes(text) == {(2, "name", "missing_field")}


def test_parent_may_already_be_in_the_database() -> None:
    existing = [
        make_row("s1", "street", "", parse_polygon(STREET)),
        make_row("s1-c1", "community", "s1", parse_polygon(COMMUNITY)),
    ]
    text = "\n".join([HEADER, row("s1-c1-g1", "grid", "s1-c1", GRID_A), row("s1-c1-g2", "grid", "s1", GRID_B)])
    assert codes(text, existing) == {(3, "parent_id", "parent_level")}
    far = rect_wkt(LON0 + 0.1, LAT0, LON0 + 0.11, LAT0 + 0.01)
    assert codes("\n".join([HEADER, row("g", "grid", "s1-c1", far)]), existing) == {(2, "geometry", "outside_parent")}


def test_the_file_overrides_the_database_for_a_parent() -> None:
    existing = [make_row("s1", "street", "", parse_polygon(rect_wkt(LON0 + 1, LAT0, LON0 + 1.01, LAT0 + 0.01)))]
    text = "\n".join([HEADER, row("s1", "street", "", STREET), row("s1-c1", "community", "s1", COMMUNITY)])
    assert codes(text, existing) == set()


def test_level_cannot_change_under_children_the_file_does_not_move() -> None:
    existing = [
        make_row("s1", "street", "", parse_polygon(STREET)),
        make_row("s1-c1", "community", "s1", parse_polygon(COMMUNITY)),
        make_row("s1-c1-g1", "grid", "s1-c1", parse_polygon(GRID_A)),
    ]
    # s1-c1 would become a street while the database keeps grid s1-c1-g1 under it.
    assert codes("\n".join([HEADER, row("s1-c1", "street", "", COMMUNITY)]), existing) == {
        (2, "level", "level_changed")
    }
    # Moving the child in the same file is fine.
    text = "\n".join(
        [
            HEADER,
            row("s1-c1", "street", "", COMMUNITY),
            row("s1-c2", "community", "s1-c1", COMMUNITY),
            row("s1-c1-g1", "grid", "s1-c2", GRID_A),
        ]
    )
    assert codes(text, existing) == set()


@pytest.mark.parametrize(("share", "ok"), [(0.95, True), (0.91, True), (0.89, False), (0.2, False)])
def test_children_must_lie_mostly_inside_their_parent(share: float, ok: bool) -> None:
    width = 0.01
    inside = width * share
    child = rect_wkt(LON0 + 0.01 - inside, LAT0, LON0 + 0.02 - inside, LAT0 + 0.01)
    text = "\n".join([HEADER, row("s1", "street", "", COMMUNITY), row("c1", "community", "s1", child)])
    assert parse_grids(text).ok is ok
    assert MIN_INSIDE_PARENT == 0.9


@pytest.mark.parametrize("chat", ["", "-1001234567890", "123456", "@milan_grid"])
def test_group_chat_forms(chat: str) -> None:
    assert parse_grids("\n".join([HEADER, row("s1", "street", "", STREET, group_chat=chat)])).ok


def test_empty_coord_system_uses_the_default() -> None:
    text = "\n".join([HEADER, row("s1", "street", "", GRID_A, coord_system="")])
    assert parse_grids(text, CRS.GCJ02).items[0].geometry.equals(parse_polygon(GRID_A, CRS.GCJ02))
    assert parse_grids(text).items[0].geometry.equals(parse_polygon(GRID_A))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty_file"),
        ("id,name,level\n", "missing_columns"),
        (HEADER + ",colour\n", "unknown_columns"),
    ],
)
def test_file_level_problems(text: str, code: str) -> None:
    assert [e.code for e in parse_grids(text).errors] == [code]


def test_not_utf8_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((good_file() + "\n").encode() + row("x", "street", "", STREET, name="街道").encode("gbk"))
    result = read_grids_file(path)
    assert [(e.line, e.code) for e in result.errors] == [(6, "not_utf8")]


def test_crlf_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + good_file().replace("\n", "\r\n").encode())
    assert read_grids_file(path).ok


def test_every_code_has_a_text_in_both_languages() -> None:
    for code in GRID_CODES:
        for lang in LANGS:
            assert error_text_key(code) in LANGS[lang], (code, lang)
    assert error_text_key("missing_field") == "csv.missing_field"
    assert error_text_key("outside_parent") == "grids.outside_parent"


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), max_size=12), st.booleans())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_garbage_rows_never_raise_and_carry_lines(cells: list[str], with_header: bool) -> None:
    lines = [HEADER] if with_header else []
    lines += [",".join(cells[i : i + 8]) for i in range(0, len(cells), 8)]
    result = parse_grids("\n".join(lines))
    for error in result.errors:
        assert error.line >= 1
        assert error_text_key(error.code) in LANGS["zh-CN"]


# --- store and import ----------------------------------------------------------------------------------------------


async def test_import_is_all_or_nothing(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "grids.csv"
    path.write_text(good_file() + "\n" + row("s1-c1-g3", "grid", "s1-c9", GRID_A), encoding="utf-8")
    report = await import_grids(db, path)
    assert not report.ok
    assert [(e.line, e.code) for e in report.parsed.errors] == [(6, "unknown_parent")]
    assert await count_grids(db) == 0


async def test_import_and_reimport_is_idempotent(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "grids.csv"
    path.write_text(good_file(), encoding="utf-8")
    first = await import_grids(db, path)
    assert (first.ok, first.inserted, first.updated, first.total) == (True, 4, 0, 4)
    before = await load_grids(db)
    second = await import_grids(db, path)
    assert (second.inserted, second.updated, second.total) == (0, 4, 4)
    after = await load_grids(db)
    assert [(g.grid, g.geojson) for g in after] == [(g.grid, g.geojson) for g in before]
    assert after[0].grid == Grid("s1", "s1 名称", "street", "", "徐州", "")
    street = await db.fetchone("SELECT parent_id FROM grids WHERE id = ?", ("s1",))
    assert street is not None and street["parent_id"] is None  # a real NULL, so the foreign key holds


async def test_second_file_may_hang_under_grids_already_imported(tmp_path: Path, db: Database) -> None:
    first, second = tmp_path / "streets.csv", tmp_path / "grids.csv"
    first.write_text("\n".join([HEADER, row("s1", "street", "", STREET), row("s1-c1", "community", "s1", COMMUNITY)]))
    second.write_text("\n".join([HEADER, row("s1-c1-g1", "grid", "s1-c1", GRID_A)]))
    assert (await import_grids(db, first)).ok
    report = await import_grids(db, second)
    assert (report.ok, report.inserted, report.total) == (True, 1, 3)


async def test_gcj02_file_is_stored_in_wgs84(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "amap.csv"
    path.write_text("\n".join([HEADER, row("s1", "street", "", GRID_A, coord_system="")]), encoding="utf-8")
    assert (await import_grids(db, path, "gcj02")).ok
    (stored,) = await load_grids(db)
    lon, lat = stored.geometry.exterior.coords[0]
    assert (lat, lon) == pytest.approx(gcj02_to_wgs84(LAT0, LON0), abs=1e-7)


async def test_a_failing_write_rolls_everything_back(db: Database) -> None:
    rows = [
        make_row("s1", "street", "", parse_polygon(STREET)),
        make_row("s1-c1", "community", "ghost", parse_polygon(COMMUNITY)),  # the foreign key fails mid-batch
    ]
    with pytest.raises(INTEGRITY_ERRORS):
        await upsert_grids(db, rows)
    assert await count_grids(db) == 0


async def test_seeding_loads_the_sample_once(db: Database) -> None:
    first = await ensure_grids_seeded(db, SAMPLE)
    assert first is not None and first.ok and first.total == first.parsed.rows
    assert await ensure_grids_seeded(db, SAMPLE) is None
    index = await build_grid_index(db)
    assert len(index) == first.total


async def test_missing_seed_file_is_not_an_error(tmp_path: Path, db: Database) -> None:
    assert await ensure_grids_seeded(db, tmp_path / "none.csv") is None


def test_grids_csv_setting() -> None:
    assert grids_csv_path(Settings()) == DEFAULT_GRIDS_CSV == SAMPLE
    assert grids_csv_path(Settings(extra={"grids_csv": "/srv/city.csv"})) == Path("/srv/city.csv")


async def test_services_carry_the_index_and_reload_it(tmp_path: Path) -> None:
    own = tmp_path / "own.csv"
    own.write_text(good_file(), encoding="utf-8")
    services = await open_services(Settings(db_path=tmp_path / "s.sqlite3", http_port=0, extra={"grids_csv": str(own)}))
    try:
        assert len(services.grids) == 4
        assert services.grids.route(LAT0 + 0.005, LON0 + 0.001).grid == services.grids.get("s1-c1-g1")
        more = tmp_path / "more.csv"
        more.write_text(
            "\n".join([HEADER, row("s2", "street", "", rect_wkt(LON0, LAT0 + 0.1, LON0 + 0.01, LAT0 + 0.11))])
        )
        assert (await import_grids(services.db, more)).ok
        assert len(services.grids) == 4
        await services.reload_grids()
        assert len(services.grids) == 5
    finally:
        await services.close()


# --- the command line ----------------------------------------------------------------------------------------------


def test_cli_validate_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(good_file() + "\n" + row("s1-c1-g3", "网格", "s1-c1", GRID_A), encoding="utf-8")
    dbfile = tmp_path / "cli.sqlite3"
    assert cli_main(["--db", str(dbfile), "grids", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "第 6 行" in err and "未知层级" in err
    assert not dbfile.exists()  # validating writes nothing, not even an empty database
    assert cli_main(["--db", str(dbfile), "--lang", "en", "grids", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 6" in err and "Nothing was imported" in err
    good = tmp_path / "good.csv"
    good.write_text(good_file(), encoding="utf-8")
    assert cli_main(["--db", str(dbfile), "grids", "validate", str(good)]) == 0
    assert cli_main(["--db", str(dbfile), "grids", "import", str(good), "--crs", "wgs84"]) == 0
    assert "新增 4" in capsys.readouterr().out
    # Now the database holds s1-c1: a file of grids alone validates against it.
    child = tmp_path / "child.csv"
    child.write_text("\n".join([HEADER, row("s1-c1-g9", "grid", "s1-c1", GRID_A)]), encoding="utf-8")
    assert cli_main(["--db", str(dbfile), "grids", "validate", str(child)]) == 0
    assert cli_main(["--db", str(dbfile), "grids", "validate", str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err


def test_cli_describes_grid_and_shared_codes() -> None:
    from bot.cli import describe_grid_error

    assert describe_grid_error("zh-CN", RowError(7, "parent_id", "unknown_parent", "x")).startswith("第 7 行: ")
    assert describe_grid_error("en", RowError(7, "name", "missing_field")) == (
        f"line 7: {t('en', 'csv.missing_field', column='name')}"
    )


# --- the bundled sample --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> GridIndex:
    result = read_grids_file(SAMPLE)
    assert result.ok, result.errors[:5]
    return GridIndex(result.items)


def test_sample_hierarchy(sample: GridIndex) -> None:
    streets = sample.grids("street")
    assert {g.city for g in streets} == {"徐州", "宿州", "禹城", "泗县", "马鞍山"}
    for grid in sample.grids("grid"):
        community, street = sample.ancestors(grid.id)
        assert (community.level, street.level) == ("community", "street")
        assert grid.id.startswith(community.id + "-") and community.id.startswith(street.id + "-")
        assert grid.name.startswith(community.name) and "网格" in grid.name
        assert grid.city == community.city == street.city
    for street in streets:
        assert sample.children(street.id), street.id
        assert all(c.level == "community" and sample.children(c.id) for c in sample.children(street.id))


def test_sample_grids_do_not_overlap() -> None:
    rows = [g for g in read_grids_file(SAMPLE).items if g.level == "grid"]
    shapes = [g.geometry for g in rows]
    for i, a in enumerate(shapes):
        for b in shapes[i + 1 :]:
            assert a.intersection(b).area < 1e-12


def test_every_sample_place_is_inside_a_grid_of_its_city(sample: GridIndex) -> None:
    places = read_places_file(STATIONS).items
    assert len(places) > 50
    for place in places:
        route = sample.route(place.lat, place.lon)
        assert route.how == "inside", place.id
        assert route.grid is not None and route.community is not None and route.street is not None
        assert route.grid.city == place.city, place.id
        assert route.distance_m == 0.0
        assert set(sample.locate(place.lat, place.lon)) == {"grid", "community", "street"}


def test_sample_places_by_name_land_in_their_community(sample: GridIndex) -> None:
    places = {p.id: p for p in read_places_file(STATIONS).items}
    for place_id, community in [
        ("xz-milan-community", "米兰社区"),
        ("sz-guanyuan-community", "观园社区"),
        ("sz-daze-community", "大泽社区"),
        ("sz-beiguan-community", "北关社区"),
        ("yc-geji-dangqun", "鬲津社区"),
        ("mas-zhonggang-community", "中岗社区"),
        ("mas-banshan-community", "半山花园社区"),
    ]:
        place = places[place_id]
        route = sample.route(place.lat, place.lon)
        assert route.community is not None and route.community.name == community, place_id


# --- routing -------------------------------------------------------------------------------------------------------


def test_just_outside_a_grid_goes_to_the_nearest_within_300_m(sample: GridIndex) -> None:
    grid = sample.get("xz-yongan-rongjing-g1")
    assert grid is not None
    # The community's west edge is lon 117.1380; 0.0011° of longitude at 34.23° N is about 101 m.
    lat, lon = 34.2340, 117.1380 - 0.0011
    route = sample.route(lat, lon)
    assert route.how == "nearest" and route.grid == grid
    assert route.distance_m == pytest.approx(great_circle_m(lat, lon, lat, 117.1380), abs=0.01)
    assert route.community is not None and route.community.name == "荣景社区"
    assert route.street is not None and route.street.id == "xz-yongan"
    assert sample.route(lat, lon, max_distance_m=50).how == "street"


def test_far_from_every_grid_goes_to_the_nearest_street(sample: GridIndex) -> None:
    lat, lon = 34.2340, 117.1380 - 0.011  # ~1 km west of 永安街道
    route = sample.route(lat, lon)
    assert (route.how, route.grid, route.community) == ("street", None, None)
    assert route.street is not None and route.street.id == "xz-yongan"
    assert route.distance_m == pytest.approx(great_circle_m(lat, lon, lat, 117.1380), rel=1e-6)


def test_street_covering_a_point_far_from_its_grids_takes_it() -> None:
    street = box(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1)
    community = box(LON0, LAT0, LON0 + 0.05, LAT0 + 0.05)
    grid = box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)
    index = GridIndex(
        [
            make_row("s", "street", "", street),
            make_row("s-c", "community", "s", community),
            make_row("s-c-g", "grid", "s-c", grid),
        ]
    )
    in_community = index.route(LAT0 + 0.04, LON0 + 0.04)
    assert (in_community.how, in_community.distance_m) == ("street", 0.0)
    assert in_community.street == index.get("s") and in_community.community == index.get("s-c")
    in_street = index.route(LAT0 + 0.09, LON0 + 0.09)
    assert (in_street.how, in_street.community, in_street.street) == ("street", None, index.get("s"))


def test_no_grids_at_all_routes_nowhere() -> None:
    route = GridIndex().route(LAT0, LON0)
    assert route == GridRoute("none", None, None, None, math.inf)
    assert GridIndex().locate(LAT0, LON0) == {}


def test_grids_without_streets_and_nothing_near_route_nowhere() -> None:
    index = GridIndex([make_row("g", "grid", "", box(LON0, LAT0, LON0 + 0.001, LAT0 + 0.001))])
    assert index.route(LAT0 + 0.1, LON0).how == "none"
    assert index.route(LAT0 + 0.0005, LON0 + 0.0005).how == "inside"


def test_ties_go_to_the_lower_id() -> None:
    # Two grids sharing an edge (ids deliberately out of spatial order) and a point on the edge.
    left, right = box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01), box(LON0 + 0.01, LAT0, LON0 + 0.02, LAT0 + 0.01)
    index = GridIndex([make_row("b", "grid", "", left), make_row("a", "grid", "", right)])
    assert index.route(LAT0 + 0.005, LON0 + 0.01).grid == index.get("a")
    # Equidistant from both (a point due south of the shared edge).
    route = index.route(LAT0 - 0.001, LON0 + 0.01)
    assert route.how == "nearest" and route.grid == index.get("a")


def test_tree_queries_and_accessors() -> None:
    index = GridIndex(
        [
            make_row("s", "street", "", box(LON0, LAT0, LON0 + 0.02, LAT0 + 0.02)),
            make_row("s-c", "community", "s", box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)),
            make_row("s-c-g2", "grid", "s-c", box(LON0 + 0.005, LAT0, LON0 + 0.01, LAT0 + 0.01)),
            make_row("s-c-g1", "grid", "s-c", box(LON0, LAT0, LON0 + 0.005, LAT0 + 0.01)),
            make_row("orphan", "grid", "gone", box(LON0 + 0.5, LAT0, LON0 + 0.51, LAT0 + 0.01)),
        ]
    )
    assert [g.id for g in index.children("s-c")] == ["s-c-g1", "s-c-g2"]
    assert [g.id for g in index.ancestors("s-c-g2")] == ["s-c", "s"]
    assert index.ancestors("orphan") == [] and index.ancestors("nope") == [] and index.get("nope") is None
    located = index.locate(LAT0 + 0.005, LON0 + 0.007)
    assert {k: v.id for k, v in located.items()} == {"street": "s", "community": "s-c", "grid": "s-c-g2"}
    orphan = index.route(LAT0 + 0.005, LON0 + 0.505)
    assert (orphan.how, orphan.grid, orphan.community, orphan.street) == ("inside", index.get("orphan"), None, None)
    for bad in [(math.nan, LON0), (LAT0, math.inf), (91.0, LON0)]:
        with pytest.raises(ValueError):
            index.route(*bad)
    with pytest.raises(ValueError):
        index.route(LAT0, LON0, max_distance_m=math.nan)


def test_routing_looks_at_a_handful_of_grids_in_a_city_of_ten_thousand(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree, not a scan: each route measures a few nearby polygons exactly, never the city's 10 000 (counted,
    not timed; the speed itself is bench's)."""
    step = 0.002
    rows = [
        make_row(
            f"g{i:03d}-{j:03d}",
            "grid",
            "",
            box(LON0 + i * step, LAT0 + j * step, LON0 + (i + 0.9) * step, LAT0 + (j + 0.9) * step),
        )
        for i in range(100)
        for j in range(100)
    ]
    index = GridIndex(rows)
    measured: list[int] = []
    real = grid_index.ground_distance_m

    def counting(shape: object, lat: float, lon: float) -> float:
        measured.append(1)
        return real(shape, lat, lon)  # the real measure, only counted

    monkeypatch.setattr(grid_index, "ground_distance_m", counting)
    points = [(LAT0 + (k % 97) * 0.00201, LON0 + (k % 89) * 0.00221) for k in range(2000)]
    hows = {index.route(lat, lon).how for lat, lon in points}
    assert hows == {"inside", "nearest"}  # both paths taken: the gaps between grids route to the nearest
    assert len(measured) <= 20 * len(points), len(measured) / len(points)  # a scan: 10 000 a route


# --- properties: the index agrees with brute force -----------------------------------------------------------------


def clamp_distance_m(shape: Polygon, lat: float, lon: float) -> float:
    """Independent ground distance to an axis-aligned lon/lat rectangle: the nearest point is the clamp (in any
    frame that scales the axes separately, as the local projection does), then great-circle metres to it."""
    lon0, lat0, lon1, lat1 = shape.bounds
    return great_circle_m(lat, lon, min(max(lat, lat0), lat1), min(max(lon, lon0), lon1))


@st.composite
def rectangles(draw: st.DrawFn) -> list[GridRow]:
    """Non-overlapping rectangles: cells of a random lattice, each inset by a random margin (0 → shared edges)."""
    nx, ny = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cell = draw(st.floats(0.001, 0.01))
    lat0 = draw(st.floats(20.0, 45.0))
    lon0 = draw(st.floats(100.0, 125.0))
    inset = st.sampled_from([0.0, 0.0, 0.1, 0.25, 0.4])
    rows = []
    names = draw(st.permutations([f"g{k:02d}" for k in range(nx * ny)]))
    for i in range(nx):
        for j in range(ny):
            if not draw(st.booleans()):
                continue
            x0, y0 = lon0 + i * cell, lat0 + j * cell
            a, b, c, d = (draw(inset) * cell for _ in range(4))
            rows.append(make_row(names[i * ny + j], "grid", "", box(x0 + a, y0 + b, x0 + cell - c, y0 + cell - d)))
    if not rows:
        rows.append(make_row("g", "grid", "", box(lon0, lat0, lon0 + cell, lat0 + cell)))
    return rows


@given(rectangles(), st.data(), st.floats(0.0, 1500.0), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_route_agrees_with_brute_force(rows: list[GridRow], data: st.DataObject, max_m: float, street: bool) -> None:
    lon_lo = min(r.geometry.bounds[0] for r in rows) - 0.01
    lat_lo = min(r.geometry.bounds[1] for r in rows) - 0.01
    lon_hi = max(r.geometry.bounds[2] for r in rows) + 0.01
    lat_hi = max(r.geometry.bounds[3] for r in rows) + 0.01
    corners = [c for r in rows for c in r.geometry.exterior.coords]
    near_corner = st.tuples(st.sampled_from(corners), st.floats(-0.004, 0.004), st.floats(-0.004, 0.004)).map(
        lambda c: (c[0][0] + c[1], c[0][1] + c[2])
    )
    lon, lat = data.draw(
        st.sampled_from(corners) | near_corner | st.tuples(st.floats(lon_lo, lon_hi), st.floats(lat_lo, lat_hi)),
        label="point",
    )
    everything = list(rows)
    if street:
        everything.append(make_row("zz-street", "street", "", box(lon_lo, lat_lo, lon_hi, lat_hi)))
    index = GridIndex(everything)
    route = index.route(lat, lon, max_distance_m=max_m)
    event(route.how)

    by_id = sorted(rows, key=lambda r: r.id)
    covering = [r.id for r in by_id if r.geometry.covers(Point(lon, lat))]
    if covering:
        assert (route.how, route.grid, route.distance_m) == ("inside", index.get(covering[0]), 0.0)
        return
    distances = {r.id: clamp_distance_m(r.geometry, lat, lon) for r in by_id}
    best = min(distances.values())
    if best <= max_m - 1e-3:
        assert route.how == "nearest" and route.grid is not None
        assert route.distance_m == pytest.approx(best, abs=1e-3)
        assert distances[route.grid.id] == pytest.approx(best, abs=1e-3)
        # Ties (to the millimetre) go to the lower id.
        tied = [gid for gid, m in distances.items() if m <= best + 1e-6]
        if len(tied) > 1 and max(distances[g] for g in tied) - best < 1e-9:
            assert route.grid.id == min(tied)
    elif best > max_m + 1e-3:
        assert route.how == ("street" if street else "none")
        assert route.grid is None
        if street:
            assert route.street == index.get("zz-street") and route.distance_m == 0.0


@given(rectangles(), st.floats(-0.05, 0.05), st.floats(-0.05, 0.05))
@settings(max_examples=100, deadline=None)
def test_ground_distance_matches_the_independent_one(rows: list[GridRow], dlat: float, dlon: float) -> None:
    lon0, lat0, _, _ = rows[0].geometry.bounds
    lat, lon = lat0 + dlat, lon0 + dlon
    for r in rows:
        assert ground_distance_m(r.geometry, lat, lon) == pytest.approx(
            clamp_distance_m(r.geometry, lat, lon), abs=1e-3
        )


@given(rectangles())
@settings(max_examples=50, deadline=None)
def test_locate_agrees_with_route_inside(rows: list[GridRow]) -> None:
    index = GridIndex(rows)
    for r in rows:
        c = r.geometry.centroid
        located = index.locate(c.y, c.x)
        assert located["grid"].id == r.id
        assert index.route(c.y, c.x).grid == index.get(r.id)


@given(rectangles(), st.floats(-0.03, 0.03), st.floats(-0.03, 0.03))
@settings(max_examples=200, deadline=None)
def test_unbounded_nearest_agrees_with_brute_force(rows: list[GridRow], dlat: float, dlon: float) -> None:
    lon0, lat0, _, _ = rows[-1].geometry.bounds
    lat, lon = lat0 + dlat, lon0 + dlon
    assume(not any(r.geometry.covers(Point(lon, lat)) for r in rows))
    route = GridIndex(rows).route(lat, lon, max_distance_m=math.inf)
    distances = {r.id: clamp_distance_m(r.geometry, lat, lon) for r in rows}
    best = min(distances.values())
    assert route.how == "nearest" and route.grid is not None
    assert route.distance_m == pytest.approx(best, abs=1e-3)
    assert distances[route.grid.id] == pytest.approx(best, abs=1e-3)
