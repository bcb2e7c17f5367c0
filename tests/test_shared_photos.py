"""A photo received by one process is served and forwarded by another (issue 12): two Runtimes on one database.

On PostgreSQL the second process has a photo directory of its own (empty): the photo can only come from the
database, and no photo file is written anywhere. On SQLite — one process by design, photos as files beside the
database — the two share that directory, as a bot and its CLI do.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.media.photos import PhotoRejected, PhotoStore
from bot.outbox import messages as out
from handlers.telegram.outbox_sender import TelegramSender
from tests.chat import ChatUser
from tests.consoling import HERE, STREET, client, console_link, file_report, sign_in
from tests.reporting import bind


@pytest.fixture
async def second(runtime: Runtime, settings: Settings, clock: ManualClock, tmp_path: Path) -> Runtime:
    """Process B: started by the test once process A is done with its own work (so B's outbox takes none of it)."""
    on_pg = runtime.services.db.dialect == "postgresql"
    return Runtime(replace(settings, photo_dir=tmp_path / "b-photos") if on_pg else settings, clock)


async def test_a_photo_received_by_one_process_is_served_and_forwarded_by_another(
    runtime: Runtime, second: Runtime, tmp_path: Path
) -> None:
    a = runtime
    rider, boss = ChatUser(a.standin, 1001, "骑手小王"), ChatUser(a.standin, 3001, "社区书记")
    await bind(a, boss, "supervisor", STREET)
    report_id = await file_report(rider, HERE, "有照片")
    [(sha,)] = await a.services.db.fetchall("SELECT sha256 FROM report_photos WHERE report_id = ?", (report_id,))
    shareable = await a.services.photos.shareable(sha)
    async with client(a) as http:
        await sign_in(http, await console_link(boss))
        cookies = http.cookies
    await a.services.outbox.wait_idle()

    b = second
    await b.start(poll_timeout=1)
    try:
        assert await b.services.photos.shareable(sha) == shareable
        assert await b.services.photos.original(sha) == await a.services.photos.original(sha)
        # served: B's console, with the session signed in on A (sessions are rows too)
        async with client(b) as http:
            http.cookies = cookies
            photo = await http.get(f"/console/photos/{report_id}/{sha}")
            assert photo.status_code == 200 and photo.content == shareable
        # forwarded: B's Telegram door sends it, as B's outbox dispatcher would a report card
        assert b.standin is not None and b.application is not None
        worker = ChatUser(b.standin, 2001, "网格员老李")
        sent = await TelegramSender(b.application.bot, b.services.photos).send(
            str(worker.user_id), out.photo(sha, "转发")
        )
        assert sent.ok, sent.error
        [card] = [m for m in b.standin.bot_messages(worker.user_id) if "photo" in m]
        largest = max(card["photo"], key=lambda size: size["width"])
        telegram_file = await b.application.bot.get_file(largest["file_id"])
        assert bytes(await telegram_file.download_as_bytearray()) == shareable
        if b.services.db.dialect == "postgresql":
            assert b.services.photos.in_database and a.services.photos.in_database
            assert not await asyncio.to_thread(_photo_files, tmp_path), "no photo file on any disk"
    finally:
        await b.stop()


def _photo_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.suffix in (".jpg", ".png", ".webp")]


def _jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model 9"  # Model
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_the_database_photo_store_keeps_the_rules_of_the_files(runtime: Runtime) -> None:
    """What PostgreSQL deployments use (here on either backend's tables): same checks, same two forms."""
    db = runtime.services.db
    store = PhotoStore(db=db, max_bytes=200_000)
    data = _jpeg_with_exif()
    stored = await store.put(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and (stored.width, stored.height) == (64, 48)
    assert await store.original(stored.sha256) == data  # the evidence, byte for byte
    with Image.open(io.BytesIO(await store.shareable(stored.sha256))) as shared:
        assert shared.format == "JPEG" and not shared.getexif() and "exif" not in shared.info
    await store.put(data)  # the same photo again: stored once
    assert await store.digests() == [stored.sha256]
    with pytest.raises(PhotoRejected) as too_big:
        await store.put(data + b"\0" * 200_000)
    assert too_big.value.code == "too_big"
    with pytest.raises(PhotoRejected):
        await store.put(b"not a photo at all")
    assert await store.digests() == [stored.sha256], "nothing stored for a refused photo"
    with pytest.raises(ValueError):
        await store.shareable("../../etc/passwd")
    with pytest.raises(FileNotFoundError):
        await store.shareable("a" * 64)
