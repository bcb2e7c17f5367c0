"""Station keepers through the real stack: an admin's invite, /join, today's status from a button, and the very
next rider's answer showing it with "驿站 N 分钟前更新"; a keeper acting on another place changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser

PLACE, OTHER = "xz-hanfeng-xiaoge", "xz-milan-dangqun"
ADMIN_ID, KEEPER_ID = 9001, 4001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=(ADMIN_ID,))


@pytest.fixture
async def keeper(runtime: Runtime) -> ChatUser:
    """A person who joined as the keeper of PLACE with an invite code, the way the CLI hands them out."""
    code = await runtime.services.roles.invites.create_invite("keeper", PLACE)
    chat = ChatUser(runtime.standin, KEEPER_ID, "驿站站长老陈")
    [joined] = await chat.send(f"/join {code}")
    assert "驿站管理员" in joined["text"] and "小哥驿站" in joined["text"]
    return chat


async def answer_near(rider: ChatUser, runtime: Runtime, place_id: str = PLACE) -> str:
    place = runtime.services.finder.place(place_id)
    [reply] = await rider.share_location(place.lat, place.lon)
    return reply["text"]


def block_of(text: str, name: str) -> str:
    """The lines of one hit in a nearest answer (from its name to the next blank line)."""
    start = text.index(name)
    end = text.find("\n\n", start)
    return text[start : end if end > 0 else None]


async def test_status_from_a_button_shows_in_the_next_answer(
    runtime: Runtime, keeper: ChatUser, rider: ChatUser, clock: ManualClock
) -> None:
    name = runtime.services.finder.place(PLACE).name
    before = block_of(await answer_near(rider, runtime), name)
    assert "闭站" not in before and "更新" not in before

    [card] = await keeper.send("/station")
    assert name in card["text"] and "驿站管理" in card["text"]
    answer, replies = await keeper.tap(card, "今日闭站", replies=3)
    assert "闭站" in answer["text"]
    assert "已更新" in replies[0]["text"]
    assert "恢复时间" in replies[2]["text"]

    hit = block_of(await answer_near(rider, runtime), name)
    assert "⛔ 今日闭站" in hit and "驿站 刚刚更新" in hit

    clock.advance(timedelta(minutes=10))
    [saved, _card] = await keeper.send("14:00 电路检修", replies=2)
    assert "已更新" in saved["text"]
    clock.advance(timedelta(minutes=10))
    hit = block_of(await answer_near(rider, runtime), name)
    assert "预计 14:00 恢复（电路检修）" in hit and "驿站 10 分钟前更新" in hit

    clock.advance(timedelta(hours=5))  # 15:20: the "closed until 14:00" has lapsed
    hit = block_of(await answer_near(rider, runtime), name)
    assert "闭站" not in hit and "驿站 5 小时前更新" in hit

    rows = await runtime.services.db.fetchall(
        "SELECT field, new FROM place_audit WHERE place_id = ? ORDER BY id", (PLACE,)
    )
    assert [r["field"] for r in rows] == ["status", "status"]
    assert "电路检修" in rows[1]["new"]


async def test_hours_amenities_phone_from_commands(runtime: Runtime, keeper: ChatUser, rider: ChatUser) -> None:
    [saved, _] = await keeper.send("/hours 09:00-18:00", replies=2)
    assert "已更新" in saved["text"]
    await keeper.send("/amenities 饮水 充电 microwave", replies=2)
    await keeper.send("/phone 0516-88886666", replies=2)
    place = runtime.services.finder.place(PLACE)
    assert str(place.hours) == "09:00-18:00"
    assert place.amenities == {"water", "charging", "microwave"}
    assert place.phone == "0516-88886666"
    [detail] = await rider.send(place.name)  # a typed name finds the card, with the new data
    assert "0516-88886666" in detail["text"] and "驿站 刚刚更新" in detail["text"]
    fields = await runtime.services.db.fetchall("SELECT field, old FROM place_audit WHERE place_id = ?", (PLACE,))
    assert {r["field"] for r in fields} == {"hours", "amenities", "phone"}
    assert any(r["old"] == "24h" for r in fields), "the audit keeps the old value"


async def test_bad_input_and_another_place_change_nothing(runtime: Runtime, keeper: ChatUser, rider: ChatUser) -> None:
    db = runtime.services.db
    before = [tuple(r) for r in await db.fetchall("SELECT * FROM places ORDER BY id")]
    other = runtime.services.finder.place(OTHER)
    [refused] = await keeper.send(f"/hours {OTHER} 09:00-18:00")
    assert "不是" in refused["text"] and other.name in refused["text"] and "没有做任何更改" in refused["text"]
    [refused] = await keeper.send(f"/status {OTHER} 闭站")
    assert "没有做任何更改" in refused["text"]
    [bad] = await keeper.send("/hours 25:00-26:00")
    assert "看不懂营业时间" in bad["text"]
    [bad] = await keeper.send("/amenities 饮水 火箭")
    assert "火箭" in bad["text"] and "没有做任何更改" in bad["text"]
    [bad] = await keeper.send("/phone call me")
    assert "电话号码" in bad["text"]
    [usage] = await keeper.send("/status 下雨")
    assert "可用" in usage["text"]
    # a forged status button for the other place
    [card] = await keeper.send("/station")
    answer, _ = await keeper.press(card, f"ks:closed:{OTHER}", replies=0)
    assert "不是" in answer["text"]
    # a rider is no keeper at all
    [not_keeper] = await rider.send("/status 闭站")
    assert "还不是驿站管理员" in not_keeper["text"]
    assert [tuple(r) for r in await db.fetchall("SELECT * FROM places ORDER BY id")] == before
    assert await db.fetchall("SELECT * FROM place_audit") == []
    assert await db.fetchall("SELECT * FROM place_live") == []


async def test_an_admin_may_keep_any_place(runtime: Runtime, rider: ChatUser) -> None:
    admin = ChatUser(runtime.standin, ADMIN_ID, "管理员")
    [card] = await admin.send(f"/station {OTHER}")
    _, replies = await admin.tap(card, "信息无误", replies=1)
    assert "已确认" in replies[0]["text"]
    row = await runtime.services.db.fetchone("SELECT confirmed_by FROM place_live WHERE place_id = ?", (OTHER,))
    assert row["confirmed_by"] == "admin"


async def test_invite_for_an_unknown_place_is_refused(runtime: Runtime) -> None:
    from bot.people import ScopeError

    with pytest.raises(ScopeError) as caught:
        await runtime.services.roles.invites.create_invite("keeper", "no-such-place")
    assert caught.value.code == "unknown_place"


async def test_the_cli_invites_a_keeper_for_a_place(runtime: Runtime, settings: Settings, clock: ManualClock) -> None:
    """`rider-bot invite --role keeper --place ID` as a separate process; the code works in chat."""
    from datetime import datetime

    from tests.conftest import SHANGHAI
    from tests.test_people import DISPLAY, _cli

    made, unknown, missing = await asyncio.gather(
        _cli(settings.db_path, "invite", "--role", "keeper", "--place", PLACE),
        _cli(settings.db_path, "invite", "--role", "keeper", "--place", "no-such-place"),
        _cli(settings.db_path, "invite", "--role", "keeper"),
    )
    assert made.returncode == 0, made.stderr
    assert "驿站管理员：小哥驿站（汉风街道）" in made.stdout
    [code] = DISPLAY.findall(made.stdout.split("\n")[0])
    assert unknown.returncode == 1 and "no-such-place" in unknown.stderr
    assert missing.returncode == 2 and "--place" in missing.stderr
    clock.set(datetime.now(SHANGHAI))  # the CLI used the real clock
    [joined] = await ChatUser(runtime.standin, KEEPER_ID).send(f"/join {code}")
    assert joined["text"] == "✅ 你已成为驿站管理员：小哥驿站（汉风街道）"


async def test_stale_places_in_the_cli_and_the_digest(
    runtime: Runtime, keeper: ChatUser, settings: Settings, clock: ManualClock
) -> None:
    """Places last written by an import long ago are stale; one the keeper confirmed is not."""
    from tests.test_people import _cli

    async with runtime.services.db.transaction() as conn:  # as if the list had been imported in early 2025
        await conn.execute("UPDATE places SET updated_at = '2025-01-02T00:00:00+00:00'")
    [card] = await keeper.send("/station")
    await keeper.tap(card, "信息无误")
    total = len(runtime.services.finder.catalog)
    result = await _cli(settings.db_path, "stations", "stale", "--days", "90")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{total - 1} 个地点超过 90 天未确认")
    assert all(PLACE not in line for line in lines) and "2025-01-02\timport" in lines[1]
    # the admins' morning digest names them
    admin = ChatUser(runtime.standin, ADMIN_ID, "管理员")
    await admin.send("/start")
    before = runtime.standin.last_seq(ADMIN_ID)
    clock.set(clock.now().replace(hour=8, minute=31) + timedelta(days=1))
    await runtime.services.deadlines.tick()
    [digest] = await runtime.standin.wait_for_bot_messages(ADMIN_ID, 1, after_seq=before, timeout=8)
    assert f"{total - 1} 个地点超过 90 天没有人确认" in digest["text"]


async def test_the_entrance_photo_shows_under_the_details(runtime: Runtime, keeper: ChatUser, rider: ChatUser) -> None:
    from tests.chat import button
    from tests.reporting import jpeg

    [card] = await keeper.send("/station")
    _, [ask] = await keeper.tap(card, "入口照片")
    assert "请发送" in ask["text"]
    [saved, _card] = await keeper.send(photo=jpeg((30, 90, 200)), replies=2)
    assert "已更新" in saved["text"]
    assert not await runtime.services.db.fetchall("SELECT 1 FROM reports"), "the photo is no 随手拍 report"
    place = runtime.services.finder.place(PLACE)
    [answer] = await rider.share_location(place.lat, place.lon)
    _, [details, photo] = await rider.press(answer, button(answer, "详情")["callback_data"], replies=2)
    assert place.name in details["text"]
    assert "photo" in photo and "入口" in photo["caption"]


async def test_the_cancel_label_is_no_keepers_note(runtime: Runtime, keeper: ChatUser) -> None:
    """The cancel label typed while the note after a status tap is asked ends the question (the status stays); it
    is not saved as the note."""
    [card] = await keeper.send("/station")
    await keeper.tap(card, "今日闭站", replies=3)
    [cancelled] = await keeper.send("✖ 取消")
    assert cancelled["text"] == "已取消。"
    live = await runtime.services.db.fetchone("SELECT status, note FROM place_live WHERE place_id = ?", (PLACE,))
    assert live["status"] == "closed" and not live["note"], tuple(live)
    assert (await runtime.services.db.fetchone("SELECT COUNT(*) FROM dialogs"))[0] == 0
