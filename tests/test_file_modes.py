"""Who may read what the bot writes: the database, its WAL and shared-memory files, report photos and exports are
the bot user's alone (0600, directories 0700), whatever the umask — through the real stack (Runtime, PTB polling
the stand-in, a rider sending a photo) and the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.reporting import jpeg

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.sqlite_only(
    "the modes of SQLite's own files (database, -wal, -shm) and of its backup; PostgreSQL's data files are the"
    " server's, and its backup's modes are checked in tests/test_ops_backup_pg.py"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def database_files(folder: Path) -> list[Path]:
    """The database, SQLite's sidecars and the invite secret (not the pid in the bot's `.lock`)."""
    names = {"rider.sqlite3", "rider.sqlite3-wal", "rider.sqlite3-shm", "rider.sqlite3.invite-secret"}
    return sorted(p for p in folder.glob("rider.sqlite3*") if p.name in names)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual 022: without our own care every file would be world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


async def run_rider(settings: Settings) -> None:
    runtime = Runtime(settings, ManualClock(DEFAULT_NOW))
    await runtime.start(poll_timeout=1)
    try:
        assert runtime.standin is not None
        rider = ChatUser(runtime.standin, 1001, "骑手小王")
        await rider.send("/start")
        await rider.send(photo=jpeg(), caption="消防通道被堵")
        sidecars = ("-wal", "-shm") if runtime.services.db.dialect == "sqlite" else ()  # PostgreSQL: no files
        for suffix in sidecars:  # SQLite made them after we prepared the database file
            sidecar = settings.db_path.with_name(settings.db_path.name + suffix)
            assert mode(sidecar) == 0o600, (sidecar, oct(mode(sidecar)))
    finally:
        await runtime.stop()


async def test_a_new_database_its_wal_shm_and_photos_are_private(settings: Settings, tmp_path: Path) -> None:
    existing = tmp_path / "srv"
    existing.mkdir()
    os.chmod(existing, 0o755)
    db_path = existing / "var" / "lib" / "rider.sqlite3"
    await run_rider(replace(settings, db_path=db_path))
    assert mode(db_path) == 0o600
    assert mode(db_path.parent) == 0o700 and mode(db_path.parent.parent) == 0o700
    assert mode(existing) == 0o755, "a directory that already existed is left alone"
    photos = db_path.parent / "photos"
    files = [p for p in photos.rglob("*") if p.is_file()]
    assert len(files) == 2, files  # the original and its shareable copy
    assert {mode(p) for p in files} == {0o600}
    assert {mode(p) for p in [photos, *(p for p in photos.rglob("*") if p.is_dir())]} == {0o700}


async def test_files_an_older_version_left_readable_are_tightened(settings: Settings, tmp_path: Path) -> None:
    db_path = tmp_path / "rider.sqlite3"
    await run_rider(replace(settings, db_path=db_path))
    for path in database_files(tmp_path):
        os.chmod(path, 0o644)
    (tmp_path / "rider.sqlite3-wal").touch()
    os.chmod(tmp_path / "rider.sqlite3-wal", 0o666)
    await run_rider(replace(settings, db_path=db_path))
    found = {p.name: mode(p) for p in database_files(tmp_path)}
    # (run_rider saw the WAL made 0666 above tightened to 0600 while the bot ran; a clean stop removes it)
    assert {"rider.sqlite3", "rider.sqlite3.invite-secret"} <= set(found) and set(found.values()) == {0o600}, found


def cli_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env["RIDER_DB_PATH"] = str(db_path)
    return env


async def test_a_backup_is_private_and_does_not_carry_the_invite_secret(settings: Settings, tmp_path: Path) -> None:
    db_path = tmp_path / "rider.sqlite3"
    await run_rider(replace(settings, db_path=db_path))
    dest = tmp_path / "backups" / "tonight"
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "backup", str(dest)],
        cwd=ROOT, env=cli_env(db_path), capture_output=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert len(files) >= 4, files  # database, manifest, the photo and its shareable copy
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert {mode(p) for p in [dest, *(p for p in dest.rglob("*") if p.is_dir())]} == {0o700}
    assert not [p for p in files if "invite-secret" in p.name]


async def test_exports_are_private_with_or_without_personal_data(settings: Settings, tmp_path: Path) -> None:
    db_path = tmp_path / "rider.sqlite3"
    await run_rider(replace(settings, db_path=db_path))
    env = cli_env(db_path)
    for extra, name in (
        ([], "plain.csv"),
        (["--with-personal-data"], "personal.csv"),
        (["--format", "geojson"], "a.geojson"),
    ):
        out = tmp_path / name
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", "reports", "export", *extra, "--output", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert mode(out) == 0o600, (name, oct(mode(out)))
