"""Category questions on WeChat: the same draft, asked as customer-service msgmenu options (the option id is the
button data), numbers typed as text; the lift's yes-path tells a WeChat rider to call 119/96333 at once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import Runtime
from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from bot.geo.coords import wgs84_to_gcj02
from bot.standin.wechat import Callback, WeChatStandIn
from handlers.wechat import parsing
from handlers.wechat.conversation import Inbound
from tests.reporting import jpeg
from tests.test_wechat import APPID, SECRET, TIMEOUT, TOKEN, WeChatRider, callback, text_of, wang, wx  # noqa: F401

HERE = (34.2540, 117.2080)


@pytest.fixture
def settings(settings: Settings, wx: WeChatStandIn) -> Settings:  # noqa: F811
    return replace(settings, wechat_token=TOKEN, wechat_appid=APPID, wechat_secret=SECRET, wechat_api_base=wx.url,
                   categories_toml=DEFAULT_CATEGORIES_TOML)  # fmt: skip


async def _category(wang: WeChatRider, wx: WeChatStandIn, label: str) -> list[dict]:  # noqa: F811
    await wang.image(wx.register_media(jpeg()))
    [categories] = await wang.location_gcj(*wgs84_to_gcj02(*HERE))
    return await wang.tap(categories, label)


async def test_questions_as_msgmenu_options(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider) -> None:  # noqa: F811
    [question] = await _category(wang, wx, "电梯安全")
    assert question["msgtype"] == "msgmenu" and "有人被困吗？" in question["msgmenu"]["head_content"]
    assert [o["id"] for o in question["msgmenu"]["list"]] == ["rd:a:trapped:yes", "rd:a:trapped:no", "rd:x"]
    call, words = await wang.tap(question, "是")
    assert "119" in text_of(call) and "96333" in text_of(call)
    [summary] = await wang.tap(words, "跳过")
    assert "有人被困吗？ 是" in text_of(summary)
    [received] = await wang.tap(summary, "提交")
    ref = text_of(received).split("编号 ")[1].split("。")[0]
    row = await runtime.services.db.fetchone("SELECT assignee_kind, urgent FROM reports WHERE id = ?", (int(ref[3:]),))
    assert tuple(row) == ("department", 1)


async def test_ticks_and_a_typed_number_on_wechat(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider) -> None:  # noqa: F811
    [question] = await _category(wang, wx, "飞线充电")
    [number] = await wang.tap(question, "否")
    assert "几辆车？" in text_of(number)
    [words] = await wang.say("4")  # typed, not tapped
    assert "补充说明" in text_of(words)
    [summary] = await wang.tap(words, "跳过")
    assert "几辆车？ 4" in text_of(summary) and "正在充电吗？ 否" in text_of(summary)
    await wang.say("取消")
    [question] = await _category(wang, wx, "消防通道堵塞")
    [ticked] = await wang.tap(question, "电动车")
    assert "☑️ 电动车" in text_of(ticked)
    [single] = await wang.tap(ticked, "选好了")
    assert "堵在哪里？" in text_of(single)
    [words] = await wang.say("安全出口")  # a choice typed by its label
    [summary] = await wang.tap(words, "跳过")
    assert "堵塞的是？ 电动车" in text_of(summary) and "堵在哪里？ 安全出口" in text_of(summary)


async def test_a_withdrawn_report_is_told_to_a_wechat_worker(
    runtime: Runtime,
    wx: WeChatStandIn,  # noqa: F811
    wang: WeChatRider,  # noqa: F811
) -> None:
    from tests.test_wechat import WeChatRider as Person

    worker = Person(runtime, wx, Callback(token=TOKEN, appid=APPID), "oWorkerLi0001")
    code = await runtime.services.roles.invites.create_invite("worker", "xz-hanfeng-diemeng-g2")
    [joined] = await worker.say(f"/join {code}")
    assert "✅" in text_of(joined)
    [question] = await _category(wang, wx, "道路坑洼/井盖")
    [words] = await wang.tap(question, "跳过")
    [summary] = await wang.tap(words, "跳过")
    [received] = await wang.tap(summary, "提交")
    ref = text_of(received).split("编号 ")[1].split("。")[0]
    await runtime.services.outbox.wait_idle()
    before = len(wx.sent_to(worker.openid))
    assert before > 0, "the card reached the worker on WeChat"
    done = await runtime.services.reports.moderation.hide_report(None, int(ref[3:]), "测试撤回")
    assert done.ok
    await runtime.services.outbox.wait_idle()
    told = [text_of(m) for m in wx.sent_to(worker.openid)[before:]]
    assert told == [f"⛔ {ref} 已被管理员撤回，无需处理。"], "WeChat cannot edit: one short notice instead"


async def _said_again(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider, text: str) -> list[dict]:  # noqa: F811
    """`text` said and answered, then its message run again by a restart, as after a kill between the step's
    commit and the transaction that records its answer and marks it done (its ledger row open again with its
    contents, its answer not queued): the second run's answers, the same."""
    msg_id = next(wang.msg_ids)
    first = await wang.exchange(wang.callback.text(wang.openid, text, msg_id=msg_id))
    key = f"msg:{msg_id}"
    payload = parsing.encode(key, Inbound(wang.openid, "text", text=text))
    reopen = "UPDATE inbound_seen SET done = 0, payload = ? WHERE channel = 'wechat' AND key = ?"
    await runtime.services.db.write(reopen, (payload, key))
    await runtime.services.db.write("DELETE FROM outbox WHERE idem_key LIKE ?", (f"wx:{key}:%",))
    before = len(wx.sent_to(wang.openid))
    await runtime.stop()
    await runtime.start(poll_timeout=1)
    again = await wx.wait_for_sent(wang.openid, len(first), after=before, timeout=TIMEOUT)
    assert [text_of(m) for m in again] == [text_of(m) for m in first]
    return again


async def test_typed_words_run_again_are_answered_as_done(
    runtime: Runtime,
    wx: WeChatStandIn,  # noqa: F811
    wang: WeChatRider,  # noqa: F811
) -> None:
    """A typed number run again: the draft holds it already, so the answer asks for the words again and the
    number is not taken as the report's description; a typed 取消 run again is still 已取消 (not "nothing")."""
    [question] = await _category(wang, wx, "飞线充电")
    await wang.tap(question, "否")
    [words] = await _said_again(runtime, wx, wang, "4")
    assert "补充说明" in text_of(words)
    [draft] = await runtime.services.db.fetchone("SELECT data FROM dialogs")
    assert '"description"' not in draft and '"vehicles": "4"' in draft, draft
    [cancelled] = await _said_again(runtime, wx, wang, "取消")
    assert "已取消" in text_of(cancelled)
