"""Roles and invite codes through the real stack: the CLI (in-process and as a subprocess) makes a code, a person
sends /join CODE in chat, and the role shows up in the store, in /whoami and in `users_with`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.people import InviteError, Role, RoleService, ScopeError, normalise_code
from bot.people.invites import ALPHABET, CODE_LENGTH, code_hash, new_code
from bot.people.secret import invite_key, secret_path
from bot.services.container import Services
from bot.store.db import Database
from bot.store.users import get_or_create_user
from bot.texts import t
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW, SHANGHAI

ROOT = Path(__file__).resolve().parent.parent
STREET, COMMUNITY, GRID, GRID2 = "test-street-1", "test-community-1", "test-grid-1", "test-grid-2"
GRID_ROWS = [
    (STREET, "铜山街道", "street", None),
    (COMMUNITY, "米兰社区", "community", STREET),
    (GRID, "第1网格", "grid", COMMUNITY),
    (GRID2, "第2网格", "grid", COMMUNITY),
]
DISPLAY = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3}\b")
ZH = "zh-CN"
SECRET = "invite-secret-for-tests-0123456789"


async def add_grids(db: Database) -> None:
    """A street, a community and two grids, written directly: the grid importer is a separate piece of work."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO grids (id, name, level, parent_id, geometry, updated_at) VALUES (?, ?, ?, ?, '{}', ?)",
            [(*row, DEFAULT_NOW.isoformat()) for row in GRID_ROWS],
        )


@pytest.fixture
async def services(runtime: Runtime) -> Services:
    assert runtime.services is not None
    await add_grids(runtime.services.db)
    return runtime.services


async def user_of(services: Services, chat: ChatUser):  # type: ignore[no-untyped-def]
    return await services.users.identify("telegram", str(chat.user_id))


def wrong_code(right: str) -> str:
    while True:
        guess = new_code()
        if guess != normalise_code(right):
            return guess


# --- joining through the chat ------------------------------------------------------------------------------


async def test_a_cli_code_makes_a_grid_worker_once(services: Services, rider: ChatUser, runtime: Runtime) -> None:
    roles = services.roles
    code = await roles.invites.create_invite("worker", GRID)
    assert DISPLAY.fullmatch(code), code

    [reply] = await rider.send(f"/join {code}")
    assert reply["text"] == "✅ 你已成为网格员：米兰社区第1网格"
    me = await user_of(services, rider)
    assert await roles.roles_of(me) == [Role("worker", GRID)]
    assert [u.id for u in await roles.users_with("worker", GRID)] == [me.id]
    assert await roles.users_with("worker", GRID2) == []
    assert not await roles.is_admin(me)

    [whoami] = await rider.send("/whoami")
    assert "网格员：米兰社区第1网格" in whoami["text"]

    other = ChatUser(runtime.standin, 1002, "小李")
    [again] = await other.send(f"/join {code}")
    assert again["text"] == t(ZH, "join.used")
    assert [u.id for u in await roles.users_with("worker", GRID)] == [me.id], "a used code grants nothing"
    [plain] = await other.send("/whoami")
    assert plain["text"] == t(ZH, "role.whoami_rider")


async def test_join_without_a_code_explains_how(services: Services, rider: ChatUser) -> None:
    [reply] = await rider.send("/join")
    assert reply["text"] == t(ZH, "join.usage")
    assert "/join K7P2-9XQM-4HTW-B3ZD" in reply["text"]
    [reply] = await rider.send("/join    ")
    assert reply["text"] == t(ZH, "join.usage")


async def test_a_code_typed_sloppily_on_a_phone_still_works(services: Services, rider: ChatUser) -> None:
    code = await services.roles.invites.create_invite("supervisor", COMMUNITY)
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    [reply] = await rider.send(f"/join {sloppy}")
    assert reply["text"] == "✅ 你已成为督导员：米兰社区"
    assert [u.external_id for u in await services.roles.users_with("supervisor", COMMUNITY)] == ["1001"]


async def test_an_english_speaker_joins_a_department(services: Services, rider: ChatUser) -> None:
    await rider.send("/lang")
    code = await services.roles.invites.create_invite("department", "chengguan", by="admin:test")
    [reply] = await rider.send(f"/join {code}")
    assert reply["text"] == "✅ Your new role: department contact: Urban Management"
    [bad] = await rider.send("/join NOPE-NOPE")
    assert bad["text"] == t("en", "join.invalid")
    [whoami] = await rider.send("/whoami")
    assert "department contact: Urban Management" in whoami["text"]


async def test_an_expired_code_is_refused(services: Services, rider: ChatUser, clock: ManualClock) -> None:
    invites = services.roles.invites
    soon = await invites.create_invite("worker", GRID, ttl=timedelta(hours=1))
    later = await invites.create_invite("worker", GRID2, ttl=timedelta(hours=1))
    clock.advance(timedelta(minutes=59))
    [ok] = await rider.send(f"/join {later}")
    assert ok["text"].startswith("✅")
    clock.advance(timedelta(minutes=1, seconds=1))
    [reply] = await rider.send(f"/join {soon}")
    assert reply["text"] == t(ZH, "join.expired")
    assert await services.roles.users_with("worker", GRID) == []


async def test_six_wrong_guesses_lock_join_for_fifteen_minutes(
    services: Services, rider: ChatUser, runtime: Runtime, clock: ManualClock
) -> None:
    code = await services.roles.invites.create_invite("worker", GRID)
    for _ in range(6):
        [reply] = await rider.send(f"/join {wrong_code(code)}")
        assert reply["text"] == t(ZH, "join.invalid")
    [locked] = await rider.send(f"/join {code}")
    assert locked["text"] == t(ZH, "join.rate_limited", minutes=15)
    assert "15 分钟" in locked["text"]

    # Someone else is not locked out by the rider's guesses.
    other = ChatUser(runtime.standin, 1003, "小赵")
    second = await services.roles.invites.create_invite("worker", GRID2)
    [theirs] = await other.send(f"/join {second}")
    assert theirs["text"].startswith("✅")

    clock.advance(timedelta(minutes=14, seconds=59))
    [still] = await rider.send(f"/join {code}")
    assert still["text"] == t(ZH, "join.rate_limited", minutes=15), "a correct code is refused while locked"
    clock.advance(timedelta(seconds=2))
    [ok] = await rider.send(f"/join {code}")
    assert ok["text"] == "✅ 你已成为网格员：米兰社区第1网格", "the locked attempts did not use the code"


async def test_the_database_never_holds_a_plain_code(services: Services, rider: ChatUser, settings: Settings) -> None:
    invites = services.roles.invites
    codes = [await invites.create_invite("worker", GRID) for _ in range(5)]
    await rider.send(f"/join {codes[0]}")
    canon = [normalise_code(c) for c in codes]
    assert all(canon)
    rows = await services.db.fetchall("SELECT * FROM invites")
    key = invite_key(secret_path(settings.db_path))  # the secret beside the database, not in it
    assert {row["code_hash"] for row in rows} == {code_hash(c, key) for c in canon if c}
    assert not {row["code_hash"] for row in rows} & {hashlib.sha256(c.encode()).hexdigest() for c in canon if c}
    for row in rows:
        stored = " ".join(str(row[k]) for k in row.keys())  # noqa: SIM118 - aiosqlite.Row is not a mapping
        for code, plain in zip(codes, canon, strict=True):
            assert code not in stored and plain not in stored and plain.lower() not in stored
    # Nor anywhere in the database files (main file and write-ahead log).
    blob = b"".join(p.read_bytes() for p in settings.db_path.parent.glob(settings.db_path.name + "*"))
    for code, plain in zip(codes, canon, strict=True):
        assert code.encode() not in blob and plain.encode() not in blob


# --- the CLI as a separate process ------------------------------------------------------------------------


def _cli_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIDER_", "TELEGRAM_"))}
    env["RIDER_DB_PATH"] = str(db_path)
    return env


async def _cli(db_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=ROOT,
        env=_cli_env(db_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_real_cli_prints_a_code_that_works_in_chat(
    services: Services, rider: ChatUser, settings: Settings, clock: ManualClock
) -> None:
    made, unknown_grid, unknown_dept, wrong_level, no_grid = await asyncio.gather(
        _cli(settings.db_path, "invite", "--role", "worker", "--grid", GRID, "--ttl-hours", "24"),
        _cli(settings.db_path, "invite", "--role", "worker", "--grid", "no-such-grid"),
        _cli(settings.db_path, "--lang", "en", "invite", "--role", "department", "--dept", "nope"),
        _cli(settings.db_path, "invite", "--role", "supervisor", "--scope", GRID),
        _cli(settings.db_path, "invite", "--role", "worker"),
    )
    assert made.returncode == 0, made.stderr
    assert "米兰社区第1网格" in made.stdout and "Asia/Shanghai" in made.stdout
    [code] = DISPLAY.findall(made.stdout.split("\n")[0])
    expires = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d)", made.stdout)
    assert expires
    # The CLI uses the real clock; the chat's clock is moved to the same moment.
    now = datetime.now(SHANGHAI)
    expected = (now + timedelta(hours=24)).replace(second=0, microsecond=0, tzinfo=None)
    assert abs(datetime.strptime(expires.group(1), "%Y-%m-%d %H:%M") - expected) <= timedelta(minutes=2)
    clock.set(now)
    [reply] = await rider.send(f"/join {code}")
    assert reply["text"] == "✅ 你已成为网格员：米兰社区第1网格"

    assert unknown_grid.returncode == 1 and "no-such-grid" in unknown_grid.stderr
    assert unknown_grid.stderr.strip() == t(ZH, "role.scope_unknown_grid", scope="no-such-grid")
    assert unknown_dept.returncode == 1 and "no department" in unknown_dept.stderr
    assert "chengguan (Urban Management)" in unknown_dept.stderr
    assert wrong_level.returncode == 1 and t(ZH, "role.scope_unknown_area", scope=GRID) in wrong_level.stderr
    assert no_grid.returncode == 2 and "--grid" in no_grid.stderr
    assert len(await services.db.fetchall("SELECT 1 FROM invites")) == 1, "refused invites are not stored"


# --- admins and direct grants -----------------------------------------------------------------------------


@pytest.fixture
async def admin_runtime(settings: Settings, clock: ManualClock) -> AsyncIterator[Runtime]:
    rt = Runtime(replace(settings, admins=(4242,)), clock)
    await rt.start(poll_timeout=1)
    try:
        yield rt
    finally:
        await rt.stop()


async def test_admins_from_settings_are_admins_without_a_row(admin_runtime: Runtime) -> None:
    services = admin_runtime.services
    assert services is not None and admin_runtime.standin is not None
    boss = ChatUser(admin_runtime.standin, 4242, "站长")
    rider = ChatUser(admin_runtime.standin, 1001, "骑手小王")
    [whoami] = await boss.send("/whoami")
    assert "管理员" in whoami["text"]
    [plain] = await rider.send("/whoami")
    assert plain["text"] == t(ZH, "role.whoami_rider")

    roles = services.roles
    boss_user, rider_user = await user_of(services, boss), await user_of(services, rider)
    assert await roles.is_admin(boss_user) and not await roles.is_admin(rider_user)
    assert await roles.roles_of(boss_user) == [Role("admin", "")]
    assert await services.db.fetchall("SELECT * FROM roles") == []
    assert [u.id for u in await roles.users_with("admin", "")] == [boss_user.id]
    assert not await roles.revoke(boss_user.id, "admin", ""), "configuration, not a row"
    assert await roles.is_admin(boss_user)

    # An admin invite makes a second admin, who then shows up next to the configured one.
    code = await roles.invites.create_invite("admin", "")
    [joined] = await rider.send(f"/join {code}")
    assert joined["text"] == "✅ 你已成为管理员"
    assert await roles.is_admin(rider_user)
    assert {u.id for u in await roles.users_with("admin", "")} == {boss_user.id, rider_user.id}
    # A Telegram id in settings does not make a WeChat user with the same number an admin.
    wechat = await services.users.identify("wechat", "4242")
    assert not await roles.is_admin(wechat)


async def test_grant_revoke_and_scope_validation(services: Services, rider: ChatUser) -> None:
    roles = services.roles
    await rider.send("/whoami")
    me = await user_of(services, rider)
    assert await roles.grant(me.id, "worker", GRID, by="test")
    assert not await roles.grant(me.id, "worker", GRID, by="test"), "already held"
    assert await roles.grant(me.id, "worker", GRID2, by="test")
    assert await roles.grant(me.id, "supervisor", STREET, by="test")
    assert await roles.roles_of(me) == [Role("worker", GRID), Role("worker", GRID2), Role("supervisor", STREET)]
    assert await roles.has(me, "worker", GRID2)
    [whoami] = await rider.send("/whoami")
    for words in ("网格员：米兰社区第1网格", "网格员：米兰社区第2网格", "督导员：铜山街道"):
        assert words in whoami["text"]
    assert await roles.revoke(me.id, "worker", GRID2)
    assert not await roles.revoke(me.id, "worker", GRID2)
    assert await roles.users_with("worker", GRID2) == []

    for role, scope, why in [
        ("worker", COMMUNITY, "unknown_grid"),
        ("worker", "no-such-grid", "unknown_grid"),
        ("supervisor", GRID, "unknown_area"),
        ("department", "nope", "unknown_department"),
        ("admin", "x", "admin_scope"),
        ("boss", "", "unknown_role"),
    ]:
        with pytest.raises(ScopeError) as caught:
            await roles.invites.create_invite(role, scope)
        assert caught.value.code == why
        with pytest.raises(ScopeError):
            await roles.grant(me.id, role, scope, by="test")
    assert await services.db.fetchall("SELECT 1 FROM invites") == []
    assert [code for code, _, _ in await roles.departments()] == [
        "zhujian",
        "chengguan",
        "gongan",
        "wuye",
        "xiaofang",
        "shizheng",
    ]


async def test_two_people_racing_for_one_code(services: Services) -> None:
    code = await services.roles.invites.create_invite("worker", GRID)
    people = [await services.users.identify("telegram", str(2000 + i)) for i in range(5)]
    results = await asyncio.gather(*(services.roles.invites.redeem(p, code) for p in people), return_exceptions=True)
    assert sum(isinstance(r, Role) for r in results) == 1
    assert sorted(r.code for r in results if isinstance(r, InviteError)) == ["used"] * 4
    assert len(await services.roles.users_with("worker", GRID)) == 1


# --- normalisation (hypothesis) ----------------------------------------------------------------------------

codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)
LOOKALIKES = {"0": "0Oo", "1": "1IiLl"}
SEPARATORS = ["", "", "", " ", "-", "  ", " - ", "\u2014", "\u3000"]


@st.composite
def typed_versions(draw: st.DrawFn, code: str) -> str:
    """How a person might type `code`: any case, O for 0, I or L for 1, spaces and dashes anywhere."""
    out = [draw(st.sampled_from(SEPARATORS))]
    for ch in code:
        ch = draw(st.sampled_from(LOOKALIKES.get(ch, ch + ch.lower())))
        out += [ch, draw(st.sampled_from(SEPARATORS))]
    typed = "".join(out)
    if draw(st.booleans()):
        typed = typed.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})  # full-width keyboard
    return typed


@st.composite
def near_misses(draw: st.DrawFn, code: str) -> str:
    """One slip away from `code`: a character changed to a different one, dropped, added or swapped."""
    i = draw(st.integers(0, len(code) - 1))
    kind = draw(st.sampled_from(["change", "drop", "add", "swap"]))
    if kind == "change":
        other = draw(st.sampled_from([c for c in ALPHABET if c != code[i]]))
        return code[:i] + other + code[i + 1 :]
    if kind == "drop":
        return code[:i] + code[i + 1 :]
    if kind == "add":
        return code[:i] + draw(st.sampled_from(ALPHABET)) + code[i:]
    j = draw(st.integers(0, len(code) - 1))
    assume(code[i] != code[j])
    chars = list(code)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@given(data=st.data(), code=codes)
@hsettings(max_examples=300)
def test_every_way_of_typing_a_code_normalises_to_it(data: st.DataObject, code: str) -> None:
    assert normalise_code(data.draw(typed_versions(code))) == code


@given(data=st.data(), code=codes)
@hsettings(max_examples=300)
def test_no_slip_normalises_to_the_code(data: st.DataObject, code: str) -> None:
    assert normalise_code(data.draw(near_misses(code))) != code


@given(text=st.text(max_size=24))
@hsettings(max_examples=300)
def test_random_text_is_either_rejected_or_a_canonical_code(text: str) -> None:
    result = normalise_code(text)
    assert result is None or (len(result) == CODE_LENGTH and set(result) <= set(ALPHABET))


@given(data=st.data(), noise=st.text(max_size=16))
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
async def test_only_the_code_redeems_in_a_real_database(data: st.DataObject, noise: str) -> None:
    """End to end through the store: a typed version of the code redeems; random text and slips never do."""
    async with Database(":memory:") as db:
        await add_grids(db)
        roles = RoleService(db, ManualClock(DEFAULT_NOW), invite_secret=SECRET)
        user = await get_or_create_user(db, "telegram", "1")
        drawn = data.draw(codes)  # the code is drawn, not random, so hypothesis can replay and shrink
        with patch("bot.people.invites.new_code", return_value=drawn):
            code = await roles.invites.create_invite("worker", GRID)
        canonical = normalise_code(code)
        assert canonical == drawn
        slip = data.draw(near_misses(canonical))
        for attempt in (noise, slip):
            if normalise_code(attempt) == canonical:
                continue
            with pytest.raises(InviteError) as caught:
                await roles.invites.redeem(user, attempt)
            assert caught.value.code == "invalid"
        assert await roles.invites.redeem(user, data.draw(typed_versions(canonical))) == Role("worker", GRID)
        assert (
            code_hash(canonical, SECRET.encode()) == (await db.fetchone("SELECT code_hash FROM invites"))["code_hash"]
        )
