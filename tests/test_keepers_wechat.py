"""The same station features on WeChat, through the same core: a keeper joins and sets today's status from the
official account, a rider there sees it on the place's card and reports ⚠️ 信息有误 from it."""

from __future__ import annotations

from bot.app import Runtime
from tests.test_wechat import WeChatRider, callback, settings, text_of, wang, wx  # noqa: F401 (fixtures)

PLACE = "xz-hanfeng-xiaoge"


async def test_a_wechat_keeper_and_a_wechat_rider(runtime: Runtime, wang: WeChatRider, wx, callback) -> None:  # noqa: F811
    keeper = WeChatRider(runtime, wx, callback, "oKeeperChen0001")
    code = await runtime.services.roles.invites.create_invite("keeper", PLACE)
    [joined] = await keeper.say(f"/join {code}")
    assert "驿站管理员" in text_of(joined)
    [card] = await keeper.say("/station")
    assert card["msgtype"] == "msgmenu" and "驿站管理" in text_of(card)
    answer = await keeper.tap(card, "停电")
    assert any("已更新" in text_of(m) for m in answer)
    [bad] = await keeper.say("/hours 25:00-26:00")
    assert "看不懂营业时间" in text_of(bad)

    name = runtime.services.finder.place(PLACE).name
    [found] = await wang.say(name)
    assert "今日停电" in text_of(found) and "驿站 刚刚更新" in text_of(found)
    [menu] = await wang.tap(found, "信息有误")
    assert "哪里不对" in text_of(menu)
    [thanks] = await wang.tap(menu, "电话不对")
    assert "已转给" in text_of(thanks)
    await runtime.services.outbox.wait_idle(8.0)  # the thanks was a passive reply; the notice goes through the outbox
    notices = keeper.wx.sent_to(keeper.openid)
    assert any("电话不对" in text_of(m) for m in notices), "the keeper's notice went out on WeChat"
