"""`rider-bot backup` and `rider-bot restore` on PostgreSQL (the PostgreSQL pass), run for real as subprocesses:
pg_dump of one snapshot while the bot runs, restored with pg_restore into an empty database, every row and photo
back; a non-empty target refused; the password never on a command line, in the output or in the folder."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.store import pgbackup
from tests import pgcluster
from tests.chat import ChatUser
from tests.reporting import bind, grid_at
from tests.test_ops_backup import HERE, file_report

pytestmark = pytest.mark.skipif(pgcluster.backend() != "postgresql", reason="the PostgreSQL pass runs it")
REPO = Path(__file__).resolve().parent.parent
PASSWORD = "pw-backup-Zr4Lq8"


async def cli(url: str, photos: Path, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_", "PG"))}
    env |= {"RIDER_DATABASE_URL": url, "RIDER_PHOTO_DIR": str(photos), "RIDER_DB_PATH": str(tmp_path / "unused.db")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, stdout.decode() + stderr.decode()


async def counts(url: str) -> dict[str, int]:
    async with pgcluster.connected(url) as conn:
        names = [r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )]  # fmt: skip
        return {n: int(await conn.fetchval(f'SELECT COUNT(*) FROM "{n}"')) for n in sorted(names)}


def test_the_password_goes_in_the_environment_not_on_the_command_line() -> None:
    argv, env = pgbackup.command("pg_dump", f"postgresql://rider:{PASSWORD}@db.example.org:5432/rider", "-Fc")
    assert PASSWORD not in " ".join(argv) and env["PGPASSWORD"] == PASSWORD
    assert argv[-1] == "--dbname=postgresql://rider@db.example.org:5432/rider"
    assert Path(argv[0]).name == "pg_dump"


async def test_backup_while_the_bot_runs_and_restore_into_an_empty_database(
    settings: Settings, clock: ManualClock, pg_url: str, pg_server: str, tmp_path: Path
) -> None:
    url = pg_url.replace("@", f":{PASSWORD}@", 1)
    photos = tmp_path / "photos"
    runtime = Runtime(replace(settings, database_url=url, photo_dir=photos), clock)
    await runtime.start(poll_timeout=1)
    try:
        standin = runtime.standin
        assert standin is not None
        worker = ChatUser(standin, 2001, "网格员老李")
        await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
        riders = [ChatUser(standin, 1001 + i, f"骑手{i}") for i in range(2)]
        acknowledged = [await file_report(r, (40 * i, 90, 200 - 40 * i)) for i, r in enumerate(riders)]
        assert runtime.services is not None and runtime.services.outbox is not None
        await runtime.services.outbox.wait_idle(timeout=15)
        dest = tmp_path / "backup"
        code, said = await cli(url, photos, tmp_path, "backup", str(dest))  # the bot keeps running meanwhile
        assert code == 0, said
    finally:
        await runtime.stop()
    before = await counts(pg_url)
    assert before["reports"] == 2 and before["report_photos"] == 2
    assert oct(dest.stat().st_mode & 0o777) == "0o700"
    for name in (pgbackup.DUMP_NAME, "MANIFEST.json"):
        assert oct((dest / name).stat().st_mode & 0o777) == "0o600", name
    manifest = json.loads((dest / "MANIFEST.json").read_text("utf-8"))
    assert manifest["tables"]["reports"] == 2 and len(manifest["report_photos"]) == 2
    assert PASSWORD not in said and PASSWORD not in (dest / "MANIFEST.json").read_text("utf-8")
    assert PASSWORD.encode() not in (dest / pgbackup.DUMP_NAME).read_bytes()

    # into an empty database (made by the DBA), with an empty photo store: everything comes back
    empty = f"t_restore_{uuid.uuid4().hex[:10]}"
    async with pgcluster.connected(pg_server + "/postgres") as admin:
        await admin.execute(f'CREATE DATABASE "{empty}" TEMPLATE template0')
    target = f"{pg_server}/{empty}".replace("@", f":{PASSWORD}@", 1)
    restored_photos = tmp_path / "restored-photos"
    code, said = await cli(target, restored_photos, tmp_path, "restore", str(dest))
    assert code == 0, said
    assert await counts(target) == before
    # the photos are rows (bot/store/photos.py), in the dump: restored with the tables, counted with them
    assert manifest["photos_in_database"] and manifest["photo_files"] == {}
    assert before["photo_originals"] == before["photo_shared"] == 2
    assert not restored_photos.exists() or not list(restored_photos.glob("*/*"))
    assert PASSWORD not in said and "postgresql://postgres:***@" in said
    for ref in acknowledged:
        async with pgcluster.connected(target) as conn:
            assert await conn.fetchval("SELECT COUNT(*) FROM reports WHERE id = $1", int(ref.split("-")[1])) == 1

    # the restored database is not empty any more: a second restore into it is refused, nothing changed
    code, said = await cli(target, restored_photos, tmp_path, "restore", str(dest))
    assert code == 1 and "不是空的" in said, said
    assert await counts(target) == before
