"""`rider-bot doctor`, run for real as a subprocess against the Bot API stand-in and the WeChat stand-in on
127.0.0.1: all ✅ on a healthy setup, and each kind of trouble named with what to do and a non-zero exit."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.ops.doctor import clock_finding
from bot.standin.server import StandIn
from bot.standin.wechat import WeChatStandIn
from bot.store.db import Database
from bot.store.leadership import leadership_for, whoami
from bot.webserver import WebServer
from tests import pgcluster

SQLITE_FILE = "checks the SQLite file itself (quick_check, its mode, its directory); PostgreSQL: the test below"
REPO = Path(__file__).resolve().parent.parent
TOKEN = "918273645:DOCTOR-check-Hs7Ty2Qm9Lw4"
WECHAT_SECRET = "wechat-secret-Pz8Kc3Vb"


@dataclass
class World:
    standin: StandIn
    wechat: WeChatStandIn
    wechat_url: str
    db_path: Path


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    standin = StandIn(token=TOKEN)
    await standin.start()
    wechat = WeChatStandIn(appid="wx-doctor", secret=WECHAT_SECRET)
    server = WebServer(wechat.app)
    await server.start()
    db_path = tmp_path / "var" / "rider.sqlite3"
    async with Database(db_path):  # made the way the bot makes it (0600, migrated)
        pass
    (db_path.parent / "photos").mkdir(mode=0o700)
    try:
        yield World(standin, wechat, server.url, db_path)
    finally:
        await server.stop()
        await standin.stop()


async def doctor(world: World, *extra: str, **env_changes: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=world.standin.base_url,
        RIDER_DB_PATH=str(world.db_path),
        RIDER_WECHAT_TOKEN="wechat-callback-token",
        RIDER_WECHAT_APPID="wx-doctor",
        RIDER_WECHAT_SECRET=WECHAT_SECRET,
        RIDER_WECHAT_API_BASE=world.wechat_url,
        RIDER_METRICS_TOKEN="metrics-token-Yq2Wd6",
    )
    env.update(env_changes)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *extra, "doctor", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert not stderr, stderr.decode()
    assert process.returncode is not None
    return process.returncode, stdout.decode()


def line(output: str, name: str) -> str:
    [found] = [ln for ln in output.splitlines() if ln[2:].lstrip().startswith(name)]
    return found


@pytest.mark.sqlite_only(SQLITE_FILE)
async def test_a_healthy_setup_is_all_green(world: World) -> None:
    code, said = await doctor(world)
    assert code == 0, said
    for name in ("配置", "机器人令牌", "Webhook", "数据库", "磁盘空间", "照片目录", "时区与时钟", "微信令牌"):
        assert line(said, name).startswith("✅"), said
    assert "@rider_helper_bot (id 918273645)" in line(said, "机器人令牌")
    assert "架构版本" in line(said, "数据库") and "快速检查 ok" in line(said, "数据库")
    assert "与 Bot API 服务器相差" in line(said, "时区与时钟")
    assert "全部 8 项检查通过" in said
    # secrets masked: the last four characters tell them apart, nothing more
    assert "telegram_token=***9Lw4" in said and "metrics_token=***Wd6" not in said
    for secret in (TOKEN, WECHAT_SECRET, "metrics-token-Yq2Wd6"):
        assert secret not in said
    assert world.wechat.tokens_issued == 1
    code, again = await doctor(world, "--lang", "en")
    assert code == 0 and "All 8 checks passed." in again
    assert world.wechat.tokens_issued == 1, "the stored WeChat token is reused, never replaced behind the bot's back"


@pytest.mark.sqlite_only(SQLITE_FILE)
async def test_each_kind_of_trouble_is_named_with_what_to_do(world: World) -> None:
    # a webhook someone else set, a wrong WeChat secret, a photo directory others can read
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{world.standin.base_url}{TOKEN}/setWebhook", json={"url": "http://127.0.0.1:9/x"})
        assert answer.json()["ok"] is True
    (world.db_path.parent / "photos").chmod(0o755)
    code, said = await doctor(
        world,
        RIDER_MODE="webhook",
        RIDER_WEBHOOK_URL="https://bot.example.org/telegram",
        RIDER_WECHAT_SECRET="a-wrong-secret",
    )
    assert code == 1, said
    assert line(said, "机器人令牌").startswith("✅") and line(said, "数据库").startswith("✅")
    assert line(said, "Webhook").startswith("❌") and "http://127.0.0.1:9/x" in line(said, "Webhook")
    assert "webhook 指向别处：启动机器人会改回 https://bot.example.org/telegram" in said
    assert line(said, "照片目录").startswith("❌") and "chmod 700" in said
    assert line(said, "微信令牌").startswith("❌") and "errcode 40125" in line(said, "微信令牌")
    assert "a-wrong-secret" not in said
    assert "3 项检查未通过（共 8 项）" in said

    # the token is revoked: named, with where to get a new one; the rest still checked
    world.standin.token = "111111:SOME-OTHER-token"
    code, said = await doctor(world, "--lang", "en")
    assert code == 1
    assert line(said, "bot token").startswith("❌") and "/token at @BotFather" in said
    assert line(said, "database").startswith("✅") and TOKEN not in said

    # nothing listens at the Bot API URL any more
    await world.standin.stop()
    code, said = await doctor(world, "--lang", "en")
    assert code == 1 and "ConnectError" in line(said, "bot token") and "TELEGRAM_BASE_URL" in said


@pytest.mark.sqlite_only(SQLITE_FILE)
async def test_a_missing_database_directory_and_a_broken_file(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    broken.chmod(0o600)
    code, said = await doctor(world, RIDER_DB_PATH=str(broken))
    assert code == 1 and line(said, "数据库").startswith("❌") and "rider-bot restore" in said


@pytest.mark.skipif(pgcluster.backend() != "postgresql", reason="the PostgreSQL pass runs it")
async def test_the_database_check_on_postgresql(world: World, pg_url: str) -> None:
    """With RIDER_DATABASE_URL the doctor connects and reads, changing nothing: the schema version, the URL without
    its password; a database that takes no writes (made read-only on the server) and one that refuses
    connections are each named with what to do, exit 1."""
    password = "pw-doctor-never-shown"
    url = pg_url.replace("@", f":{password}@", 1)
    code, said = await doctor(world, RIDER_DATABASE_URL=url)
    assert code == 0, said
    assert line(said, "数据库").startswith("✅") and "postgresql://postgres:***@127.0.0.1" in line(said, "数据库"), said
    assert "暂无进程负责发送与定时任务" in line(said, "数据库"), "no bot runs: nobody leads"
    await pgcluster.set_read_only(pg_url, True)
    try:
        code, said = await doctor(world, "--lang", "en", RIDER_DATABASE_URL=url)
    finally:
        await pgcluster.set_read_only(pg_url, False)
    assert code == 1 and line(said, "database").startswith("❌"), said
    assert "default_transaction_read_only = on" in line(said, "database") and "takes no writes" in said
    await pgcluster.set_reachable(pg_url, False)
    try:
        code, said = await doctor(world, RIDER_DATABASE_URL=url)
    finally:
        await pgcluster.set_reachable(pg_url, True)
    assert code == 1 and line(said, "数据库").startswith("❌") and "连不上 PostgreSQL" in said, said
    assert password not in said
    # a bot process leads (elected on the database): the doctor names it, as /readyz does
    db = await Database(pg_url).open()
    leader = leadership_for(db)
    try:
        await leader.start()
        await asyncio.wait_for(leader.wait_gained(), 10)
        code, said = await doctor(world, "--lang", "en", RIDER_DATABASE_URL=url)
    finally:
        await leader.stop()
        await db.close()
    assert code == 0 and f"sending and jobs led by {whoami()}" in line(said, "database"), said


def test_clock_skew_against_the_bot_api_server() -> None:
    settings = Settings()
    now = datetime.now(UTC)
    ok = clock_finding("zh-CN", settings, now - timedelta(seconds=3), now)
    assert ok.ok and "相差 +3 秒" in ok.detail
    off = clock_finding("en", settings, now - timedelta(minutes=2), now)
    assert not off.ok and "+120 s off" in off.detail and "timedatectl set-ntp true" in off.fix
    unknown = clock_finding("en", settings, None, None)
    assert unknown.ok and "could not compare" in unknown.detail
