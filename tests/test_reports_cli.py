"""`rider-bot reports list|show|export` as an admin runs it: the real CLI in a subprocess, over a database the
real stack wrote (reports made by chatting with the stand-in), plus rows inserted with SQL where we need many
or need exact timestamps. The runtime keeps the database open in WAL mode; the CLI is one more reader."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from bot.app import Runtime
from bot.reports import export as ex
from bot.store.db import Database
from tests.chat import ChatUser, button
from tests.conftest import SHANGHAI
from tests.reporting import bind, grid_at, jpeg

ROOT = Path(__file__).resolve().parent.parent
HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
REF = re.compile(r"SP-\d{6}")
BOM = b"\xef\xbb\xbf"
PERSONAL = ("rider_bot:reporter_id", "rider_bot:reporter_name", "rider_bot:reporter_channel")


def run_cli(db: Path, *args: str, lang: str = "zh-CN") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--db", str(db), "--lang", lang, "reports", *args],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


async def cli(db: Path, *args: str, lang: str = "zh-CN") -> subprocess.CompletedProcess[bytes]:
    """The CLI from a test that also runs the bot: in a thread, so the bot's event loop keeps polling."""
    return await asyncio.to_thread(run_cli, db, *args, lang=lang)


def refs(output: bytes) -> list[str]:
    return REF.findall(output.decode("utf-8"))


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(BOM), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def _report(rider: ChatUser, *, caption: str = "消防通道被电动车堵住了") -> str:
    """A report made the way a rider makes one (copied from test_reports_flow): photo, location, category."""
    await rider.send(photo=jpeg(), caption=caption, replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "消防通道堵塞")
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到，编号 SP-" in received["text"]
    return received["text"].split("编号 ")[1].split("。")[0]


async def _user(db: Database, user_id: int, name: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (id, channel, external_id, display_name, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (user_id, "telegram", str(user_id + 90000), name, "2026-11-01T00:00:00+08:00"),
        )


async def _insert(
    db: Database,
    reporter_id: int,
    rows: list[tuple[str, str, str]],
    *,
    category: str = "lights",
    lat: float = HERE[0],
    lon: float = HERE[1],
) -> list[int]:
    """(description, status, created_at) rows straight into the table; returns their ids in order."""
    ids = []
    async with db.transaction() as conn:
        for description, status, created in rows:
            cursor = await conn.execute(
                "INSERT INTO reports (reporter_id, category, lat, lon, description, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (reporter_id, category, lat, lon, description, status, created, created),
            )
            ids.append(cursor.lastrowid)
    return ids


def _ref(report_id: int) -> str:
    return f"SP-{report_id:06d}"


@pytest.fixture
async def db_path(runtime: Runtime) -> Path:
    return runtime.settings.db_path


async def test_list_filters_by_status_and_the_shanghai_day(runtime: Runtime, db_path: Path) -> None:
    db = runtime.services.db
    await _user(db, 7001, "批量")
    # Stamps in two offsets on purpose: as text "…T16:10:00+00:00" sorts before "…T23:30:00+08:00", but it is
    # 00:10 on the 26th in Shanghai, i.e. later.
    late_25, utc_26, early_26, next_day = await _insert(
        db,
        7001,
        [
            ("25日深夜", "forwarded", "2026-11-25T23:30:00+08:00"),
            ("UTC 写的", "accepted", "2026-11-25T16:10:00+00:00"),
            ("26日凌晨", "forwarded", "2026-11-26T00:30:00+08:00"),
            ("27日", "rejected", "2026-11-27T09:00:00+08:00"),
        ],
    )
    result = await cli(db_path, "list")
    assert result.returncode == 0, result.stderr
    assert refs(result.stdout) == [_ref(i) for i in (late_25, utc_26, early_26, next_day)], "oldest first"
    text = result.stdout.decode()
    assert "灯损坏" in text and "2026-11-26 00:10" in text, "category in Chinese, times in Asia/Shanghai"

    result = await cli(db_path, "list", "--since", "2026-11-26", "--until", "2026-11-26")
    assert refs(result.stdout) == [_ref(utc_26), _ref(early_26)], "the Shanghai day, not the UTC day"
    result = await cli(db_path, "list", "--until", "2026-11-25")
    assert refs(result.stdout) == [_ref(late_25)]
    result = await cli(db_path, "list", "--since", "2026-11-26T00:20", "--until", "2026-11-27T09:00:00+08:00")
    assert refs(result.stdout) == [_ref(early_26)], "naive times are Shanghai time; --until is exclusive"
    result = await cli(db_path, "list", "--since", "2026-11-25T16:00:00Z")
    assert refs(result.stdout) == [_ref(i) for i in (utc_26, early_26, next_day)]

    result = await cli(db_path, "list", "--status", "forwarded,rejected")
    assert refs(result.stdout) == [_ref(i) for i in (late_25, early_26, next_day)]
    result = await cli(db_path, "list", "--status", "accepted", "--status", "rejected", "--category", "lights")
    assert refs(result.stdout) == [_ref(utc_26), _ref(next_day)]
    result = await cli(db_path, "list", "--category", "dogs")
    assert refs(result.stdout) == [] and "没有符合条件的工单" in result.stdout.decode()

    result = await cli(db_path, "list", "--limit", "2", lang="en")
    assert refs(result.stdout) == [_ref(late_25), _ref(utc_26)]
    assert "--limit" in result.stdout.decode() and "Broken lights" in result.stdout.decode()

    for bad in (["--status", "open"], ["--since", "yesterday"], ["--category", "nuclear"], ["--limit", "0"]):
        result = await cli(db_path, "list", *bad)
        assert result.returncode == 2 and result.stderr, bad
    result = await cli(db_path, "list", "--since", "2026-11-27", "--until", "2026-11-26")
    assert result.returncode == 2 and "--since" in result.stderr.decode()


async def test_a_missing_database_is_an_error_not_a_new_empty_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite3"
    result = run_cli(missing, "list")
    assert result.returncode == 1 and "数据库不存在" in result.stderr.decode()
    assert not missing.exists()


@pytest.fixture
async def worked_report(runtime: Runtime) -> tuple[str, ChatUser]:
    """A report made through the chat, accepted by the grid worker, and poked at by a stranger (refused)."""
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    before = runtime.standin.last_seq(worker.user_id)
    ref = await _report(rider, caption='=HYPERLINK("http://evil","点我") 堵了')
    await runtime.services.outbox.wait_idle()
    card, _ = await runtime.standin.wait_for_bot_messages(worker.user_id, 2, after_seq=before, timeout=8)
    stranger = ChatUser(runtime.standin, 5001, "路人")
    [hello] = await stranger.send("/start")
    answer, _ = await stranger.press(hello, button(card, "接单")["callback_data"], replies=0)
    assert "权限" in answer["text"]
    _, [accepted] = await worker.tap(card, "接单")
    assert "已接单" in accepted["text"]
    return ref, rider


async def test_show_prints_photos_followers_the_audit_log_and_refusals(
    runtime: Runtime, db_path: Path, worked_report: tuple[str, ChatUser]
) -> None:
    ref, _ = worked_report
    report_id = int(ref.split("-")[1])
    [sha] = await runtime.services.db.fetchall("SELECT sha256 FROM report_photos WHERE report_id = ?", (report_id,))
    reporter = await runtime.services.db.fetchone("SELECT reporter_id FROM reports WHERE id = ?", (report_id,))
    for spelled in (ref, f"sp{report_id}", str(report_id)):
        result = await cli(db_path, "show", spelled)
        assert result.returncode == 0, result.stderr
        text = result.stdout.decode()
        assert text.startswith(f"{ref} 消防通道堵塞"), text
    assert "accepted" in text and "=HYPERLINK" in text
    assert "照片：1 张（处理前 1，处理后 0）" in text and sha[0] in text
    assert "关注人数：1" in text
    audit = [line for line in text.splitlines() if " · " in line and " → " in line]
    assert [line.split(" · ")[2:4] for line in audit] == [
        ["create", "- → new"],
        ["route", "new → forwarded"],
        ["accept", "forwarded → accepted"],
    ]
    assert audit[0].strip().startswith("2026-11-26 10:00:00"), "audit times in Asia/Shanghai"
    assert f"用户 {reporter[0]}" in audit[0]
    assert "拒绝记录（1）" in text and "forbidden" in text
    assert "骑手小王" not in text, "no personal data unless asked"

    personal = await cli(db_path, "show", ref, "--with-personal-data", lang="en")
    assert "骑手小王" in personal.stdout.decode() and "telegram:1001" in personal.stdout.decode()
    assert "Audit log (3)" in personal.stdout.decode()

    missing = await cli(db_path, "show", "SP-999999")
    assert missing.returncode == 1 and "SP-999999" in missing.stderr.decode()
    assert (await cli(db_path, "show", "SP-12x")).returncode == 2


async def test_csv_export_is_spreadsheet_safe_and_personal_data_is_opt_in(
    runtime: Runtime, db_path: Path, worked_report: tuple[str, ChatUser], tmp_path: Path
) -> None:
    ref, _ = worked_report
    db = runtime.services.db
    await _user(db, 7002, "=cmd|' /C calc'!A0")
    nasty = ['=HYPERLINK("http://x")', "+1", "-2", "@x", "\tTAB", "\rCR", "'已加引号", '普通, "带引号"\n第二行']
    ids = await _insert(db, 7002, [(d, "forwarded", "2026-11-26T09:00:00+08:00") for d in nasty])

    result = await cli(db_path, "export")
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout)
    assert [r["service_request_id"] for r in rows] == [ref, *map(_ref, ids)]
    by_ref = {r["service_request_id"]: r for r in rows}
    for report_id, description in zip(ids, nasty, strict=True):
        cell = by_ref[_ref(report_id)]["description"]
        if description[0] in "=+-@\t\r'":
            assert cell == "'" + description, "a formula start gets one protective quote"
        else:
            assert cell == description
    ours = by_ref[ref]
    assert ours["description"].startswith("'=HYPERLINK(")
    assert ours["service_code"] == "fire_lane" and ours["service_name"] == "消防通道堵塞"
    assert ours["status"] == "accepted" and ours["requested_datetime"] == "2026-11-26T10:00:00+08:00"
    assert float(ours["lat"]) == pytest.approx(HERE[0]) and float(ours["long"]) == pytest.approx(HERE[1])
    assert ours["rider_bot:photos"] == "1" and ours["rider_bot:followers"] == "1"
    assert ours["rider_bot:grid_id"] and ours["agency_responsible"]
    near = runtime.services.finder.catalog.nearest(*HERE, 1, max_distance_m=1000)
    assert ours["address"].startswith(near[0][0].name) if near else ours["address"] == ""
    assert not any(name in rows[0] for name in PERSONAL)
    assert "骑手小王".encode() not in result.stdout and b"calc" not in result.stdout
    assert "1001" not in {cell for row in rows for cell in row.values()}

    out = tmp_path / "exports" / "reports.csv"
    out.parent.mkdir()
    result = await cli(db_path, "export", "--with-personal-data", "--output", str(out), "--status", "accepted")
    assert result.returncode == 0, result.stderr
    assert "个人信息" in result.stderr.decode() and result.stdout == b""
    assert [p.name for p in out.parent.iterdir()] == ["reports.csv"], "no temporary file left behind"
    [row] = read_csv(out.read_bytes())
    assert row["service_request_id"] == ref
    assert row["rider_bot:reporter_name"] == "骑手小王" and row["rider_bot:reporter_external_id"] == "1001"
    assert row["rider_bot:reporter_channel"] == "telegram"
    everyone = read_csv((await cli(db_path, "export", "--with-personal-data")).stdout)
    assert everyone[-1]["rider_bot:reporter_name"] == "'=cmd|' /C calc'!A0", "personal cells are protected too"

    bad = await cli(db_path, "export", "--output", str(tmp_path / "no-such-dir" / "x.csv"))
    assert bad.returncode == 1 and bad.stderr


async def test_geojson_export_is_points_in_lon_lat_order(
    runtime: Runtime, db_path: Path, worked_report: tuple[str, ChatUser], tmp_path: Path
) -> None:
    ref, _ = worked_report
    db = runtime.services.db
    await _user(db, 7003, "外地")
    far = await _insert(db, 7003, [("在南京", "forwarded", "2026-11-20T12:00:00+08:00")], lat=32.06, lon=118.79)
    out = tmp_path / "reports.geojson"
    result = await cli(db_path, "export", "--format", "geojson", "-o", str(out))
    assert result.returncode == 0, result.stderr
    collection = json.loads(out.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    total = await db.fetchone("SELECT COUNT(*) FROM reports")
    assert len(collection["features"]) == total[0] == 2
    by_ref = {f["properties"]["service_request_id"]: f for f in collection["features"]}
    nanjing = by_ref[_ref(far[0])]
    assert nanjing["geometry"] == {"type": "Point", "coordinates": [118.79, 32.06]}, "[lon, lat]"
    ours = by_ref[ref]
    lon, lat = ours["geometry"]["coordinates"]
    assert (lat, lon) == (pytest.approx(HERE[0]), pytest.approx(HERE[1]))
    assert ours["properties"]["rider_bot:photos"] == 1 and ours["properties"]["status"] == "accepted"
    assert ours["properties"]["description"].startswith("=HYPERLINK"), "GeoJSON is not a spreadsheet: verbatim"
    assert not any(name in ours["properties"] for name in PERSONAL)
    assert "骑手小王" not in out.read_text(encoding="utf-8")

    since = await cli(db_path, "export", "--format", "geojson", "--since", "2026-11-21")
    assert [f["properties"]["service_request_id"] for f in json.loads(since.stdout)["features"]] == [ref]
    personal = json.loads((await cli(db_path, "export", "--format", "geojson", "--with-personal-data")).stdout)
    assert by_ref.keys() == {f["id"] for f in personal["features"]}
    assert {f["properties"]["rider_bot:reporter_name"] for f in personal["features"]} == {"骑手小王", "外地"}


# ---------------------------------------------------------------------------------------------------- properties

# Any text SQLite can hold as UTF-8 (no lone surrogates), often starting with what a spreadsheet would run.
descriptions = st.tuples(
    st.sampled_from(["", "=", "+", "-", "@", "\t", "\r", "'", "'=", '"', ",", "\n", "=1+2", "@SUM(A1)"]),
    # U+0000: PostgreSQL's text cannot hold it (its store drops it); every other character round-trips on both.
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
).map("".join)


async def _fresh_db(path: Path, texts: list[str]) -> list[int]:
    async with Database(path) as db:
        await _user(db, 1, "某人")
        return await _insert(db, 1, [(text, "new", "2026-11-26T10:00:00+08:00") for text in texts])


@examples(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(descriptions, min_size=1, max_size=12))
def test_any_description_round_trips_through_the_csv_export_cli(texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rider.sqlite3"
        asyncio.run(_fresh_db(path, texts))
        result = run_cli(path, "export")
        assert result.returncode == 0, result.stderr
        rows = read_csv(result.stdout)
    assert [ex.unprotect_cell(r["description"]) for r in rows] == texts
    for row in rows:
        assert not row["description"].startswith(ex.FORMULA_STARTS)


@examples(max_examples=200, deadline=None)
@given(st.lists(descriptions, min_size=1, max_size=5))
def test_any_description_round_trips_through_write_csv(texts: list[str]) -> None:
    """The same property in-process, with many more examples than a subprocess per example allows."""

    async def export() -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rider.sqlite3"
            await _fresh_db(path, texts)
            buffer = io.StringIO(newline="")
            async with Database(path) as db:
                await ex.write_csv(ex.export_records(db, ex.ReportFilter(), SHANGHAI), buffer, ex.export_fields(False))
            return buffer.getvalue()

    data = asyncio.run(export())
    assert data.startswith(ex.BOM)
    rows = list(csv.DictReader(io.StringIO(data[1:], newline="")))
    assert [ex.unprotect_cell(r["description"]) for r in rows] == texts


def test_dates_are_local_days_and_datetimes_keep_their_offset() -> None:
    assert ex.parse_moment("2026-11-26", SHANGHAI) == datetime(2026, 11, 26, tzinfo=SHANGHAI)
    assert ex.parse_moment("2026-11-26", SHANGHAI, end=True) == datetime(2026, 11, 27, tzinfo=SHANGHAI)
    assert ex.parse_moment("2026-11-26T08:00", SHANGHAI) == datetime(2026, 11, 26, 8, tzinfo=SHANGHAI)
    assert ex.parse_moment("2026-11-26T00:00:00Z", SHANGHAI) == datetime(2026, 11, 26, 8, tzinfo=SHANGHAI)
    with pytest.raises(ex.BadMoment):
        ex.parse_moment("26/11/2026", SHANGHAI)
    assert ex.protect_cell(-2.5) == "-2.5" and ex.protect_cell("-2.5") == "'-2.5" and ex.protect_cell(None) == ""
