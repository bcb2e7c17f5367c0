"""Invite codes against guessing, through the real stack (Runtime, PTB polling the stand-in, a SQLite file, the
real CLI in a subprocess): 80-bit codes, stored as an HMAC under a secret that is not in the database, a link
that joins like /join, a global budget of wrong guesses for everyone together, the admins told through the
outbox when it is spent, and old 40-bit codes expired by the migration."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.people import normalise_code
from bot.people.invites import GLOBAL_BUDGET, code_hash, new_code
from bot.people.secret import invite_key, secret_path
from bot.store.db import Database, _migrations, _split_sql
from bot.texts import t
from tests.chat import ChatUser
from tests.test_people import COMMUNITY, GRID, add_grids

ROOT = Path(__file__).resolve().parent.parent
ADMIN, ADMIN_EN = 4242, 4343


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=(ADMIN,))


async def bound_runtime(runtime: Runtime) -> Runtime:
    assert runtime.services is not None
    await add_grids(runtime.services.db)
    return runtime


async def test_twelve_guesses_from_twelve_fresh_accounts_are_not_all_evaluated(
    runtime: Runtime, clock: ManualClock
) -> None:
    services = (await bound_runtime(runtime)).services
    assert services is not None and runtime.standin is not None
    standin = runtime.standin
    boss = ChatUser(standin, ADMIN, "站长")
    await boss.send("/start")
    second = ChatUser(standin, ADMIN_EN, "Ops")
    await second.send("/lang")
    second_user = await services.users.identify("telegram", str(ADMIN_EN))
    await services.roles.grant(second_user.id, "admin", "", by="test")
    real = await services.roles.invites.create_invite("worker", GRID)

    answers = []
    for n in range(11):
        guesser = ChatUser(standin, 700_000 + n, f"新号{n}")
        [reply] = await guesser.send(f"/join {new_code()}")
        answers.append(reply["text"])
    holder = ChatUser(standin, 700_011, "真网格员")
    [refused] = await holder.send(f"/join {real}")
    answers.append(refused["text"])

    assert GLOBAL_BUDGET == 10
    assert answers[:10] == [t("zh-CN", "join.invalid")] * 10
    assert answers[10:] == [t("zh-CN", "join.rate_limited", minutes=15)] * 2, "the budget is spent for everyone"
    attempts = await services.db.fetchall("SELECT user_id FROM join_attempts")
    assert len(attempts) == 10, "the 11th guess and the real code were not even looked up"
    invite = await services.db.fetchone("SELECT used_by FROM invites")
    assert invite["used_by"] is None

    # the admins are told once, each in their language, through the outbox
    await services.outbox.wait_idle(8)
    expected_zh = t("zh-CN", "security.join_burst", count=10, accounts=10, minutes=15, until="10:15")
    expected_en = t("en", "security.join_burst", count=10, accounts=10, minutes=15, until="10:15")
    _greeting, alert = await standin.wait_for_bot_messages(ADMIN, 2, timeout=8)
    assert alert["text"] == expected_zh
    assert [m["text"] for m in standin.bot_messages(ADMIN_EN)][-1] == expected_en
    rows = await services.db.fetchall("SELECT address FROM outbox WHERE idem_key LIKE 'security:join-burst:%'")
    assert sorted(r["address"] for r in rows) == sorted([str(ADMIN), str(ADMIN_EN)])

    # when the window has passed, the real code still works (the refused attempt did not use it up)
    clock.advance(timedelta(minutes=15, seconds=1))
    [joined] = await holder.send(f"/join {real}")
    assert joined["text"] == "✅ 你已成为网格员：米兰社区第1网格"


async def test_typos_of_another_length_do_not_spend_the_global_budget(runtime: Runtime) -> None:
    services = (await bound_runtime(runtime)).services
    assert services is not None and runtime.standin is not None
    for n in range(GLOBAL_BUDGET + 2):
        [reply] = await ChatUser(runtime.standin, 710_000 + n).send("/join K7P2-9XQM")  # half a code
        assert reply["text"] == t("zh-CN", "join.invalid")
    code = await services.roles.invites.create_invite("supervisor", COMMUNITY)
    [ok] = await ChatUser(runtime.standin, 719_999).send(f"/join {code}")
    assert ok["text"].startswith("✅")


async def test_the_cli_link_joins_like_join(runtime: Runtime, settings: Settings) -> None:
    """The real CLI (another process) makes the code and the t.me link; the bot reads the same secret file."""
    services = (await bound_runtime(runtime)).services
    assert services is not None and runtime.standin is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env |= {"RIDER_DB_PATH": str(settings.db_path), "RIDER_BOT_USERNAME": "@rider_test_bot"}
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "invite", "--role", "worker", "--grid", GRID],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    [link] = [word for word in made.stdout.split() if word.startswith("https://t.me/")]
    assert link.startswith("https://t.me/rider_test_bot?start=")
    payload = link.split("start=", 1)[1]
    assert normalise_code(payload) == payload and len(payload) == 16  # 80 bits, as Telegram allows it
    assert payload[:4] in made.stdout.split("\n")[0]
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    [plain] = await rider.send("/start hello")  # any other payload: the usual greeting
    assert "骑手小王" in plain["text"]
    [joined] = await rider.send(f"/start {payload}")  # what Telegram sends when the link is opened
    assert joined["text"] == "✅ 你已成为网格员：米兰社区第1网格"


@pytest.mark.sqlite_only("reads the SQLite file to show the key is not in it")
async def test_a_copy_of_the_database_gives_no_code_away(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    services = runtime.services
    assert services is not None
    code = await services.roles.invites.create_invite("admin", "")
    canonical = normalise_code(code)
    assert canonical is not None
    [row] = await services.db.fetchall("SELECT code_hash FROM invites")
    assert row["code_hash"] != hashlib.sha256(canonical.encode()).hexdigest(), "not a plain hash any more"
    key_file = secret_path(settings.db_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = invite_key(secret_path(settings.db_path))
    assert row["code_hash"] == code_hash(canonical, key)
    blob = b"".join(p.read_bytes() for p in settings.db_path.parent.glob(settings.db_path.name + "-*") if p != key_file)
    assert key.hex().encode() not in blob + settings.db_path.read_bytes()
    await runtime.stop()

    # The same database under another secret: the stored hash matches nothing.
    other = Runtime(replace(settings, invite_secret="another-secret-0123456789abcdef"), clock)
    await other.start(poll_timeout=1)
    try:
        assert other.standin is not None
        [reply] = await ChatUser(other.standin, 1001).send(f"/join {code}")
        assert reply["text"] == t("zh-CN", "join.invalid")
    finally:
        await other.stop()


def build_until(path: Path, stop_suffix: str) -> None:
    """A database as the version before `stop_suffix` left it, with an outstanding and a used old-style code."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")  # fmt: skip
        for version, name, sql in _migrations():
            if name.endswith(stop_suffix):
                break
            for statement in _split_sql(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        conn.execute(
            "INSERT INTO users (id, channel, external_id, display_name, created_at) VALUES (1, 'telegram', '9', '', '')"
        )
        for code, used in (("K7P29XQM", None), ("ABCD1234", 1)):
            conn.execute(
                "INSERT INTO invites (code_hash, role, scope, created_at, expires_at, used_by) VALUES (?, 'admin', '',"
                " '2026-01-01T00:00:00+00:00', '2099-01-01T00:00:00+00:00', ?)",
                (hashlib.sha256(code.encode()).hexdigest(), used),
            )
    finally:
        conn.close()


@pytest.mark.sqlite_only("builds an old SQLite database statement by statement")
async def test_old_outstanding_codes_expire_with_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    build_until(path, "_invite_hmac.sql")
    async with Database(path) as db:
        rows = {r["used_by"]: r["expires_at"] for r in await db.fetchall("SELECT used_by, expires_at FROM invites")}
    assert rows[1] == "2099-01-01T00:00:00+00:00", "used codes stay as history"
    assert rows[None] == "2026-01-01T00:00:00+00:00", "the outstanding old code expired: expiry = creation"
