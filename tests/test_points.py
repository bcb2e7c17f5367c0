"""Points that buy something, through the real stack: an admin loads rewards and adjusts a balance (the CLI,
in-process on the same database file), a rider sees /points and redeems, the place's keeper confirms with
/redeem CODE. Every refusal, and two keepers confirming one code at the same moment (points taken once)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.cli import _parser
from bot.clock import ManualClock
from bot.config import Settings
from bot.points.cli import run as run_points
from tests.chat import ChatUser, buttons

PLACE, OTHER = "xz-hanfeng-xiaoge", "xz-milan-dangqun"
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=(9001,))


async def cli(settings: Settings, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`rider-bot …` in-process: the same parser and code, its own connection to the bot's database file."""
    status = await run_points(_parser().parse_args(list(argv)), settings, "zh-CN")
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def join(runtime: Runtime, user_id: int, place: str) -> ChatUser:
    code = await runtime.services.roles.invites.create_invite("keeper", place)
    chat = ChatUser(runtime.standin, user_id, f"站长{user_id}")
    await chat.send(f"/join {code}")
    return chat


def rewards_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "rewards.csv"
    path.write_text("place_id,reward,cost,daily_stock,valid_from,valid_to\n" + body, encoding="utf-8")
    return str(path)


@pytest.fixture
async def loaded(runtime: Runtime, rider: ChatUser, settings: Settings, tmp_path: Path, capsys) -> ChatUser:  # type: ignore[no-untyped-def]
    """Rewards at two places and a rider with 50 points, near PLACE."""
    path = rewards_file(
        tmp_path,
        f"{PLACE},矿泉水一瓶,20,2,,\n{PLACE},雨衣,45,1,2026-01-01,2026-12-31\n{PLACE},充电宝,80,3,,\n"
        f"{OTHER},毛巾,10,5,,\n",
    )
    status, out, err = await cli(settings, "rewards", "import", path, capsys=capsys)
    assert status == 0, err
    assert "4 个奖励" in out
    await rider.send("/start")
    status, out, _ = await cli(
        settings, "points", "adjust", "telegram:1001", "50", "--reason", "活动奖励", capsys=capsys
    )
    assert status == 0 and "余额 50" in out
    place = runtime.services.finder.place(PLACE)
    await rider.share_location(place.lat, place.lon)
    return rider


async def make_code(rider: ChatUser, label: str = "矿泉水") -> str:
    [points] = await rider.send("/points")
    _, [text, photo] = await rider.tap(points, label, replies=2)
    assert "photo" in photo and "兑换码" in photo["caption"]
    return CODE.search(text["text"]).group(1)


async def rider_told(runtime: Runtime, rider: ChatUser, before: int) -> str:
    [message] = await runtime.standin.wait_for_bot_messages(rider.user_id, 1, after_seq=before, timeout=8)
    return message["text"]


async def balance(runtime: Runtime) -> int:
    row = await runtime.services.db.fetchone(
        "SELECT SUM(delta) FROM points p JOIN users u ON u.id = p.user_id WHERE u.external_id = '1001'"
    )
    return int(row[0])


async def test_points_page_and_a_redemption_round_trip(
    runtime: Runtime, loaded: ChatUser, settings: Settings, capsys
) -> None:  # type: ignore[no-untyped-def]
    rider = loaded
    [page] = await rider.send("/points")
    text = page["text"]
    assert "你的积分：50" in text and "活动奖励" in text and "怎样赚积分" in text
    assert "矿泉水一瓶" in text and "雨衣" in text and "毛巾" not in text  # 毛巾 is 5 km+ away in 鼓楼区
    labels = [b["text"] for b in buttons(page)]
    assert any("雨衣" in label for label in labels) and not any("充电宝" in label for label in labels), (
        "no button for a reward the balance does not cover"
    )
    keeper = await join(runtime, 4001, PLACE)
    code = await make_code(rider)
    assert await balance(runtime) == 50, "nothing is spent until the keeper confirms"
    before = runtime.standin.last_seq(rider.user_id)
    [done] = await keeper.send(f"/redeem {code}")
    assert "已核销" in done["text"] and "20" in done["text"]
    assert "剩余 30 积分" in await rider_told(runtime, rider, before)
    [again] = await keeper.send(f"/redeem {code[:3]} {code[3:]}")
    assert "已经用过" in again["text"]
    assert await balance(runtime) == 30

    status, out, _ = await cli(settings, "points", "show", "telegram:1001", capsys=capsys)
    assert status == 0 and "积分余额：30" in out and "spent\t-20" in out and "adjusted\t+50" in out
    status, out, _ = await cli(settings, "points", "export", capsys=capsys)
    assert out.splitlines()[0].startswith("id,user_id,channel") and len(out.splitlines()) == 3
    with pytest.raises(Exception, match="append-only"):
        async with runtime.services.db.transaction() as conn:
            await conn.execute("UPDATE points SET delta = 1000")


async def test_every_refusal_is_clear(
    runtime: Runtime, loaded: ChatUser, clock: ManualClock, settings: Settings, capsys
) -> None:  # type: ignore[no-untyped-def]
    rider = loaded
    keeper = await join(runtime, 4001, PLACE)
    elsewhere = await join(runtime, 4002, OTHER)
    [usage] = await keeper.send("/redeem 12ab")
    assert "六位兑换码" in usage["text"]
    [not_keeper] = await rider.send("/redeem 123456")
    assert "还不是驿站管理员" in not_keeper["text"]

    expired = await make_code(rider)
    clock.advance(timedelta(minutes=31))
    [refused] = await keeper.send(f"/redeem {expired}")
    assert "已过期" in refused["text"]

    first, second = await make_code(rider), await make_code(rider)
    [refused] = await elsewhere.send(f"/redeem {first}")
    assert "小哥驿站" in refused["text"] and "不能在你的驿站核销" in refused["text"]
    unused = next(c for c in ("000000", "000001", "000002") if c not in (first, second, expired))
    [unknown] = await keeper.send(f"/redeem {unused}")
    assert "没有这个兑换码" in unknown["text"]
    for code in (first, second):
        before = runtime.standin.last_seq(rider.user_id)
        [ok] = await keeper.send(f"/redeem {code}")
        assert "已核销" in ok["text"]
        assert "兑换成功" in await rider_told(runtime, rider, before)  # before the rider's next /points
    assert await balance(runtime) == 10
    [page] = await rider.send("/points")
    assert not any("兑换" in b["text"] for b in buttons(page)), "10 points buy nothing here"

    # today's stock (2 bottles) is gone: with points again, the rider still cannot make a third code
    status, _, _ = await cli(settings, "points", "adjust", "telegram:1001", "100", "--reason", "补发", capsys=capsys)
    assert status == 0
    [page] = await rider.send("/points")
    _, [refused] = await rider.tap(page, "矿泉水", replies=1)
    assert "兑完" in refused["text"]
    assert await balance(runtime) == 110


async def test_the_balance_no_longer_covering_a_code(runtime: Runtime, loaded: ChatUser) -> None:
    """Two 45-point codes against 50 points: each was covered when made, the second no longer when confirmed."""
    rider = loaded
    keeper = await join(runtime, 4001, PLACE)
    first, second = await make_code(rider, "雨衣"), await make_code(rider, "雨衣")
    [ok] = await keeper.send(f"/redeem {first}")
    assert "已核销" in ok["text"]
    [refused] = await keeper.send(f"/redeem {second}")
    assert "积分已不够（需要 45，现有 5）" in refused["text"]
    assert await balance(runtime) == 5


async def test_two_keepers_confirming_one_code_at_once_take_points_once(runtime: Runtime, loaded: ChatUser) -> None:
    rider = loaded
    one, two = await join(runtime, 4001, PLACE), await join(runtime, 4002, PLACE)
    code = await make_code(rider)
    answers = await asyncio.gather(one.send(f"/redeem {code}"), two.send(f"/redeem {code}"))
    texts = sorted(reply["text"] for [reply] in answers)
    assert sum("已核销" in t for t in texts) == 1 and sum("已经用过" in t for t in texts) == 1, texts
    spent = await runtime.services.db.fetchall("SELECT delta FROM points WHERE kind = 'spent'")
    assert [r["delta"] for r in spent] == [-20]
    assert await balance(runtime) == 30


async def test_bad_reward_files_change_nothing(runtime: Runtime, settings: Settings, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    good = rewards_file(tmp_path, f"{PLACE},矿泉水一瓶,20,2,,\n")
    assert (await cli(settings, "rewards", "import", good, capsys=capsys))[0] == 0
    before = [tuple(r) for r in await runtime.services.db.fetchall("SELECT * FROM rewards")]
    bad = rewards_file(
        tmp_path,
        f"{PLACE},矿泉水一瓶,20,2,,\n"
        f"{PLACE},毛巾,-5,2,,\n"
        "no-such-place,雨伞,10,1,,\n"
        f"{PLACE},雨衣,10,-1,,\n"
        f"{PLACE},饮料,10,1,2026-13-01,\n"
        f"{PLACE},饭卡,10,1,2026-12-31,2026-01-01\n"
        f"{PLACE},矿泉水一瓶,30,2,,\n"
        f"{PLACE},少一列,10\n",
    )
    status, _, err = await cli(settings, "rewards", "import", bad, capsys=capsys)
    assert status == 1
    lines = err.strip().splitlines()
    assert lines[0].startswith("第 3 行") and "cost" in lines[0] and "超出范围" in lines[0]
    assert "第 4 行" in err and "no-such-place" in err
    assert "第 5 行: daily_stock" in err
    assert "第 6 行: valid_from" in err and "2026-13-01" in err
    assert "第 7 行: valid_to" in err
    assert "第 8 行: reward" in err and "重复" in err
    assert "第 9 行" in err and "字段数不对" in err
    assert "什么都没有导入" in err
    (tmp_path / "header.csv").write_text("place,reward\nx,y\n", encoding="utf-8")
    status, _, err = await cli(settings, "rewards", "import", str(tmp_path / "header.csv"), capsys=capsys)
    assert status == 1 and "缺少必需的列" in err
    assert [tuple(r) for r in await runtime.services.db.fetchall("SELECT * FROM rewards")] == before
    status, _, err = await cli(settings, "points", "adjust", "telegram:777", "5", "--reason", "x", capsys=capsys)
    assert status == 1 and "没有这个用户" in err


async def test_guessing_codes_is_limited(runtime: Runtime, loaded: ChatUser, clock: ManualClock) -> None:
    rider = loaded
    keeper = await join(runtime, 4001, PLACE)
    code = await make_code(rider)
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code][:10]
    for guess in guesses:
        [refused] = await keeper.send(f"/redeem {guess}")
        assert "没有这个兑换码" in refused["text"]
    [limited] = await keeper.send(f"/redeem {code}")
    assert "次数太多" in limited["text"], "even the right code waits: a guesser cannot tell"
    clock.advance(timedelta(minutes=16))
    [late] = await keeper.send(f"/redeem {code}")
    assert "已核销" in late["text"], "after the window, and the code (30 minutes) still valid"
    refusals = await runtime.services.db.fetchall("SELECT new FROM place_audit WHERE field = 'redeem_refused'")
    assert len(refusals) == 10
