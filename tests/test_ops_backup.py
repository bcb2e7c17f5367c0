"""`rider-bot backup` in the middle of a 随手拍 burst, and `rider-bot restore`, run for real as subprocesses.

Riders file reports side by side through the real stack while the backup runs against the live database. The
restored copy must be sound (integrity check), hold every report a rider had been told "received" before the
backup began, hold nothing that was never committed, and be whole: each report with its events, its photos
(files present, bytes matching their hashes) and its notices.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.config import Settings
from bot.store.db import Database
from tests import reporting
from tests.chat import ChatUser
from tests.clirun import cli
from tests.reporting import bind, grid_at, jpeg, report_ref

pytestmark = pytest.mark.sqlite_only("SQLite's online backup API; PostgreSQL's: tests/test_ops_backup_pg.py")
HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
RIDERS, MAX_EACH = 6, 15


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, reports_per_hour=100)  # a burst, not the per-rider hourly limit


async def file_report(rider: ChatUser, colour: tuple[int, int, int]) -> str:
    """A report of its own photo; a report of the same kind nearby is offered after the first: this is a new one."""
    return report_ref(await reporting.file_report(rider, caption="楼道堆满杂物", photo=jpeg(colour)))


def report_ids(db_path: Path) -> set[int]:
    with sqlite3.connect(db_path) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM reports")}


async def test_backup_during_a_burst_restores_every_acknowledged_report(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    standin = runtime.standin
    assert standin is not None
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    acknowledged: list[str] = []
    dest = tmp_path / "backup-1"
    backup_began: list[set[str]] = []

    backup_done = asyncio.Event()

    async def rider_reports(n: int) -> None:
        """Reports until the backup is over (bounded), then one more that the backup cannot hold."""
        rider = ChatUser(standin, 1300 + n, f"骑手{n}")
        for k in range(MAX_EACH):
            if backup_done.is_set():
                break
            acknowledged.append(await file_report(rider, (30 * n, 10 + 16 * k, 90)))
        acknowledged.append(await file_report(rider, (30 * n, 250, 250)))

    async def take_backup() -> tuple[int, str, str]:
        try:
            deadline = time.monotonic() + 60
            while len(acknowledged) < 3:  # in the middle of the burst, not before it
                assert time.monotonic() < deadline, "the burst did not start"
                await asyncio.sleep(0.01)
            backup_began.append(set(acknowledged))
            return await cli(settings.db_path, "backup", str(dest))
        finally:
            backup_done.set()

    *_, (code, said, err) = await asyncio.gather(*(rider_reports(n) for n in range(RIDERS)), take_backup())
    assert code == 0, err
    [before] = backup_began
    assert 3 <= len(before) < len(acknowledged)
    assert f"备份完成：{dest}" in said and "完整性检查 ok" in said and "均已按哈希核对" in said, said
    manifest = json.loads((dest / "MANIFEST.json").read_text("utf-8"))
    assert f"reports {manifest['tables']['reports']}" in said
    assert manifest["report_photos"] and oct((dest / "rider-bot.sqlite3").stat().st_mode & 0o777) == "0o600"

    # a running bot's database is not overwritten without being told
    live_before = report_ids(settings.db_path)
    code, _, err = await cli(settings.db_path, "restore", str(dest))
    assert code == 1 and "正在被运行中的机器人使用" in err and str(os.getpid()) in err, err
    assert report_ids(settings.db_path) == live_before

    # restored elsewhere: sound, complete up to the backup's moment, nothing invented, nothing half there
    restored_db = tmp_path / "restored" / "rider.sqlite3"
    code, said, err = await cli(restored_db, "restore", str(dest))
    assert code == 0, err
    assert f"补充了 {len(manifest['photo_files'])} 个照片文件" in said
    live_all = report_ids(settings.db_path)
    with sqlite3.connect(restored_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        restored = {r[0] for r in conn.execute("SELECT id FROM reports")}
        assert {int(ref.split("-")[1]) for ref in before} <= restored, "an acknowledged report is missing"
        assert restored < live_all, "the reports filed after the backup finished are not in it"
        for report_id in restored:
            actions = [r[0] for r in conn.execute("SELECT action FROM report_events WHERE report_id = ?", (report_id,))]
            assert actions[:2] == ["create", "route"], (report_id, actions)
            shas = [r[0] for r in conn.execute("SELECT sha256 FROM report_photos WHERE report_id = ?", (report_id,))]
            assert len(shas) == 1
            for sha in shas:
                [original] = (restored_db.parent / "photos" / sha[:2]).glob(f"{sha}.jpg")
                assert hashlib.sha256(original.read_bytes()).hexdigest() == sha
                assert (restored_db.parent / "photos" / sha[:2] / f"{sha}.shared.jpg").is_file()
            notices = conn.execute("SELECT COUNT(*) FROM outbox WHERE idem_key LIKE ?", (f"%{report_id}%",)).fetchone()
            assert notices[0] >= 1, f"report {report_id} without its notice to the worker"
    async with Database(restored_db) as db:  # the bot can open it: migrations are already at the newest
        assert await db.schema_version() == manifest["schema_version"]

    # told to, it restores under the running bot, which reads the restored data from its next query
    assert runtime.services is not None
    code, said, err = await cli(settings.db_path, "restore", "--force", str(dest))
    assert code == 0 and "机器人正在运行：数据已在线替换" in said, err
    assert {r[0] for r in await runtime.services.db.fetchall("SELECT id FROM reports")} == restored
    assert (await runtime.services.db.fetchone("PRAGMA integrity_check"))[0] == "ok"
    [again] = await ChatUser(standin, 1399, "骑手新").send("/start")  # and goes on working
    assert again["text"]

    # once the bot is stopped, restore puts the backup in place and keeps the database it replaces
    await runtime.stop()
    code, said, err = await cli(settings.db_path, "--lang", "en", "restore", str(dest))
    assert code == 0, err
    assert "the database that was there is now" in said
    assert report_ids(settings.db_path) == restored
    [kept] = settings.db_path.parent.glob(f"{settings.db_path.name}.before-restore-*")
    assert report_ids(kept) == restored


async def test_backup_refuses_a_used_destination_and_restore_a_tampered_backup(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    rider = ChatUser(runtime.standin, 1001, "骑手小王")  # type: ignore[arg-type]
    await file_report(rider, (200, 30, 30))
    dest = tmp_path / "backup"
    assert (await cli(settings.db_path, "backup", str(dest)))[0] == 0
    code, _, err = await cli(settings.db_path, "backup", str(dest))
    assert code == 1 and "已存在且不是空目录" in err
    # a photo bit-flipped in the backup: the restore refuses before touching anything
    [photo] = (dest / "photos").glob("*/*.shared.jpg")
    data = bytearray(photo.read_bytes())
    data[-3] ^= 0xFF
    photo.write_bytes(bytes(data))
    target = tmp_path / "elsewhere" / "rider.sqlite3"
    code, _, err = await cli(target, "restore", str(dest))
    assert code == 1 and "照片缺失或哈希不符" in err, err
    assert not target.exists()
    code, _, err = await cli(target, "restore", str(tmp_path))
    assert code == 1 and "不是 rider-bot 备份" in err
