"""The `rider-bot` command, run for real as a subprocess against a SQLite file in tmp_path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.geo.coords import gcj02_to_wgs84
from bot.places.csv_io import COLUMNS, read_places_file
from tests import pgcluster

REPO = Path(__file__).resolve().parent.parent
SAMPLE = "data/stations.csv"
TIMEOUT = 60
XUZHOU = ("34.26", "117.18")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


def run(db_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env["RIDER_DB_PATH"] = str(db_path)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )


def rows(db_path: Path) -> list[tuple[object, ...]]:
    """Every stored place, all columns but the import timestamp."""
    found = pgcluster.read_dicts(db_path, "SELECT * FROM places ORDER BY id")
    return [tuple(v for k, v in r.items() if k != "updated_at") for r in found]


def write_csv(path: Path, header: list[str], *lines: list[str]) -> Path:
    path.write_text("\n".join(",".join(cells) for cells in (header, *lines)) + "\n", "utf-8")
    return path


def bad_file(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "bad.csv",
        ["id", "name", "kind", "lat", "lon", "amenities"],
        ["ok-1", "好驿站", "station", "34.26", "117.18", "water"],
        ["bad-1", "坏驿站", "station", "34.26", "117.18", "chraging"],
        ["bad-2", "远方", "station", "48.85", "2.35", ""],
    )


def test_validate_sample(db_path: Path) -> None:
    result = run(db_path, "stations", "validate", SAMPLE)
    assert result.returncode == 0, result.stderr
    n = len(read_places_file(REPO / SAMPLE).items)
    assert f"{n} 行全部有效" in result.stdout
    assert not db_path.exists()  # validate changes nothing


def test_validate_bad_file_reports_lines(tmp_path: Path, db_path: Path) -> None:
    path = bad_file(tmp_path)
    result = run(db_path, "stations", "validate", str(path))
    assert result.returncode == 1
    assert re.search(r"^第 3 行: amenities：未知设施「chraging」", result.stderr, re.M), result.stderr
    assert re.search(r"^第 4 行: .*不在中国境内", result.stderr, re.M), result.stderr
    assert "第 2 行" not in result.stderr
    assert "2 处错误" in result.stderr

    english = run(db_path, "--lang", "en", "stations", "validate", str(path))
    assert english.returncode == 1
    assert re.search(r"^line 3: amenities: unknown amenity “chraging”", english.stderr, re.M), english.stderr
    assert re.search(r"^line 4: coordinates .* are outside China", english.stderr, re.M), english.stderr
    assert "第" not in english.stderr


def test_import_then_nearest_json(db_path: Path) -> None:
    imported = run(db_path, "stations", "import", SAMPLE)
    assert imported.returncode == 0, imported.stderr
    n = len(read_places_file(REPO / SAMPLE).items)
    assert f"新增 {n}" in imported.stdout
    assert len(rows(db_path)) == n

    result = run(db_path, "nearest", *XUZHOU, "-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert isinstance(hits, list) and len(hits) == 3
    for hit in hits:
        assert {"id", "name", "kind", "lat", "lon", "distance_m"} <= hit.keys()
        assert isinstance(hit["distance_m"], int | float) and hit["distance_m"] >= 0
    distances = [h["distance_m"] for h in hits]
    assert distances == sorted(distances)
    assert len({h["id"] for h in hits}) == 3

    again = run(db_path, "stations", "import", SAMPLE)  # idempotent through the CLI too
    assert again.returncode == 0 and f"新增 0，更新 {n}，共 {n}" in again.stdout


@pytest.mark.parametrize(
    ("option", "check"),
    [
        (("--kind", "station"), lambda h: h["kind"] == "station"),
        (("--amenity", "charging"), lambda h: "charging" in h["amenities"]),
    ],
)
def test_nearest_filters(db_path: Path, option: tuple[str, str], check) -> None:  # type: ignore[no-untyped-def]
    assert run(db_path, "stations", "import", SAMPLE).returncode == 0
    result = run(db_path, "nearest", *XUZHOU, "-k", "10", *option, "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and all(check(h) for h in hits), hits
    distances = [h["distance_m"] for h in hits]
    assert distances == sorted(distances)


def test_import_with_crs_option_converts(tmp_path: Path, db_path: Path) -> None:
    points = {"g-1": (34.261, 117.184), "g-2": (33.642, 116.978)}
    path = write_csv(
        tmp_path / "amap.csv",
        ["id", "name", "kind", "lat", "lon", "coord_system"],
        *([pid, "高德坐标", "station", f"{lat:.6f}", f"{lon:.6f}", ""] for pid, (lat, lon) in points.items()),
        ["w-1", "GPS 坐标", "station", "34.261000", "117.184000", "wgs84"],
    )
    result = run(db_path, "stations", "import", str(path), "--crs", "gcj02")
    assert result.returncode == 0, result.stderr
    stored = {r[0]: r[1:] for r in pgcluster.read(db_path, "SELECT id, lat, lon, src_crs FROM places")}
    for pid, (lat, lon) in points.items():
        wlat, wlon = gcj02_to_wgs84(lat, lon)
        assert stored[pid][2] == "gcj02"
        assert stored[pid][:2] == pytest.approx((wlat, wlon), abs=1e-7)
        assert abs(stored[pid][0] - lat) + abs(stored[pid][1] - lon) > 1e-3  # really moved
    assert stored["w-1"] == (34.261, 117.184, "wgs84")  # a non-empty cell wins over --crs


def test_import_without_coord_system_column_uses_crs(tmp_path: Path, db_path: Path) -> None:
    path = write_csv(
        tmp_path / "bd.csv", ["id", "name", "kind", "lat", "lon"], ["b-1", "百度坐标", "医院", "34.27", "117.19"]
    )
    assert run(db_path, "stations", "import", str(path), "--crs", "bd09").returncode == 0
    ((lat, lon, crs, kind),) = pgcluster.read(db_path, "SELECT lat, lon, src_crs, kind FROM places")
    assert (crs, kind) == ("bd09", "hospital")
    assert 34.26 < lat < 34.27 and 117.17 < lon < 117.19


def test_bad_import_leaves_database_unchanged(tmp_path: Path, db_path: Path) -> None:
    assert run(db_path, "stations", "import", SAMPLE).returncode == 0
    before = rows(db_path)
    first_id = before[0][0]
    path = write_csv(
        tmp_path / "mixed.csv",
        ["id", "name", "kind", "lat", "lon", "hours"],
        [str(first_id), "改了名字", "station", "34.26", "117.18", "24h"],
        ["brand-new", "新驿站", "station", "34.26", "117.18", ""],
        ["broken", "坏行", "station", "34.26", "117.18", "8-22"],
    )
    result = run(db_path, "stations", "import", str(path))
    assert result.returncode != 0
    assert "第 4 行" in result.stderr and "未导入任何数据" in result.stderr
    assert rows(db_path) == before

    english = run(db_path, "--lang", "en", "stations", "import", str(path))
    assert english.returncode != 0 and "line 4" in english.stderr and "Nothing was imported" in english.stderr
    assert rows(db_path) == before


def test_missing_column_and_empty_file(tmp_path: Path, db_path: Path) -> None:
    no_lon = write_csv(tmp_path / "nolon.csv", ["id", "name", "kind", "lat"], ["a", "b", "station", "34.2"])
    result = run(db_path, "stations", "validate", str(no_lon))
    assert result.returncode == 1 and "第 1 行" in result.stderr and "lon" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run(db_path, "--lang", "en", "stations", "import", str(empty))
    assert result.returncode == 1 and "line 1: the file is empty" in result.stderr
    assert rows(db_path) == []


def test_header_matches_columns() -> None:
    header = (REPO / SAMPLE).read_text("utf-8").splitlines()[0]
    assert tuple(header.split(",")) == COLUMNS
