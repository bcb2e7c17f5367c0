"""A WeChat user's messages through the inbound ledger, as the Telegram door's updates (docs/RELIABILITY.md,
promise 18; docs/SCALING.md): each at least once, and one of a user's at a time across processes.

Through the real stack: Runtime with /wechat on 127.0.0.1, WeChat's API played by bot/standin/wechat.py, whose
media download a test can hold (`hold_media`) to keep a message mid-way for as long as it needs. "Processes" are
two Runtimes on one database, as in tests/test_catalog_sync.py. Every wait is bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.geo.coords import wgs84_to_gcj02
from bot.standin.wechat import Callback, WeChatStandIn
from bot.store import dialogs
from bot.texts import t
from handlers.wechat import door as door_module
from handlers.wechat.conversation import Conversation
from tests import test_wechat as tw
from tests.reporting import jpeg
from tests.test_wechat import TIMEOUT, WeChatRider, text_of

wx, settings, callback, wang = tw.wx, tw.settings, tw.callback, tw.wang
HERE = (34.2540, 117.2080)  # WGS-84, inside 蝶梦社区第2网格 of the sample grids


async def until(ready: Callable[[], object], what: str) -> None:
    for _ in range(int(TIMEOUT / 0.02)):
        if ready():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {TIMEOUT} s: {what}")


async def ledger_row(runtime: Runtime, key: str) -> dict | None:
    assert runtime.services is not None
    row = await runtime.services.db.fetchone(
        "SELECT done, payload, boot FROM inbound_seen WHERE channel = 'wechat' AND key = ?", (key,)
    )
    return None if row is None else {"done": row[0], "payload": row[1], "boot": row[2]}


async def recorded(runtime: Runtime, key: str) -> None:
    for _ in range(int(TIMEOUT / 0.02)):
        if await ledger_row(runtime, key) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} was not recorded")


async def test_a_message_cut_off_mid_way_runs_again_after_the_restart_and_answers_once(
    runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process stops (as a kill would: its work cut off) while a photo is being downloaded: WeChat got its
    "success", the ledger row stays unfinished with its contents. The next start runs it, and the rider gets its
    answer as customer-service messages, once; WeChat's retry then changes nothing."""
    monkeypatch.setattr(door_module, "PASSIVE_WINDOW", 0.3)
    monkeypatch.setattr(door_module, "STOP_WAIT", 0.1)
    release = wx.hold_media()
    request = wang.callback.image(wang.openid, wx.register_media(jpeg()), msg_id=8_100_001)
    response = await wang.post(request)
    assert response.status_code == 200 and response.text == "success"
    await until(lambda: wx.downloads_waiting == 1, "the download is held")
    row = await ledger_row(runtime, "msg:8100001")
    assert row is not None and row["done"] == 0 and row["payload"] is not None
    await runtime.stop()  # cuts the held work off: nothing answered, nothing marked done
    assert wx.sent_to(wang.openid) == []

    release.set()
    await runtime.start(poll_timeout=1)
    assert runtime.services is not None
    added, ask_place = await wx.wait_for_sent(wang.openid, 2, timeout=TIMEOUT)
    assert text_of(added) == t("zh-CN", "draft.photo_added", n=1)
    assert t("zh-CN", "draft.ask_location") in text_of(ask_place)
    await until(lambda: not runtime.wechat or not runtime.wechat.door._late, "the re-run is over")
    row = await ledger_row(runtime, "msg:8100001")
    assert row is not None and row["done"] == 1 and row["payload"] is None

    retry = await wang.post(request)  # WeChat's retry of the same message, after all that
    assert retry.status_code == 200 and retry.text == "success"
    await runtime.services.outbox.wait_idle(TIMEOUT)
    assert len(wx.sent_to(wang.openid)) == 2, "answered once"
    user = await tw._user_row(runtime, wang.openid)
    draft = await dialogs.get_dialog(runtime.services.db, user["id"])
    assert draft is not None and len(draft.data["photos"]) == 1


async def test_a_photo_and_a_location_sent_at_once_run_one_after_the_other(
    runtime: Runtime, settings: Settings, clock: ManualClock, wx: WeChatStandIn, callback: Callback
) -> None:
    """A rider sends a photo and, the same second, the location: on PostgreSQL the two reach two processes. The
    location waits for the photo's turn to end (its download held meanwhile) and lands in the draft the photo
    started, instead of racing it. On SQLite (one process) the same through the in-process order."""
    assert runtime.services is not None
    shared = runtime.services.db.dialect == "postgresql"
    other = Runtime(settings, clock) if shared else runtime
    if shared:
        await other.start(poll_timeout=1)
    try:
        openid = "oRiderZhao0001"
        photo_side, location_side = WeChatRider(runtime, wx, callback, openid), WeChatRider(other, wx, callback, openid)
        release = wx.hold_media()
        second = int(time.time())
        photo = callback.image(openid, wx.register_media(jpeg()), msg_id=9_200_001, create_time=second)
        location = callback.location(openid, *wgs84_to_gcj02(*HERE), msg_id=9_200_002, create_time=second)
        photo_sent = asyncio.create_task(photo_side.post(photo))
        await until(lambda: wx.downloads_waiting == 1, "the photo is being worked on")
        location_sent = asyncio.create_task(location_side.post(location))
        await recorded(other, "msg:9200002")
        if shared:  # the location's process leaves it to the one holding the rider's turn, and says "success"
            response = await location_sent
            assert response.status_code == 200 and response.text == "success"
        release.set()
        responses = await asyncio.gather(photo_sent, location_sent)
        assert all(r.status_code == 200 for r in responses)

        answers = await wx.wait_for_sent(openid, 3, timeout=TIMEOUT)  # photo added, where?, the categories
        assert text_of(answers[0]) == t("zh-CN", "draft.photo_added", n=1)
        assert t("zh-CN", "draft.ask_location") in text_of(answers[1])
        assert answers[2]["msgtype"] == "msgmenu"
        assert t("zh-CN", "draft.ask_category") in answers[2]["msgmenu"]["head_content"]
        user = await tw._user_row(runtime, openid)
        draft = await dialogs.get_dialog(runtime.services.db, user["id"])
        assert draft is not None and len(draft.data["photos"]) == 1
        assert draft.data["lat"] == pytest.approx(HERE[0], abs=1e-5)
        assert draft.data["lon"] == pytest.approx(HERE[1], abs=1e-5)
        for key in ("msg:9200001", "msg:9200002"):
            row = await ledger_row(runtime, key)
            assert row is not None and row["done"] == 1
    finally:
        if shared:
            await other.stop()


async def test_an_invite_code_is_recorded_without_its_contents(
    runtime: Runtime, wang: WeChatRider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """加入 CODE never reaches the database, not even in the ledger while it runs (it runs only where it arrived)."""
    seen: list[dict | None] = []
    join = Conversation.join

    async def watched(self: Conversation, user: Any, code: str) -> Any:
        seen.append(await ledger_row(runtime, "msg:9300001"))
        return await join(self, user, code)

    monkeypatch.setattr(Conversation, "join", watched)
    [answer] = await wang.exchange(wang.callback.text(wang.openid, "/join ZZZZ-ZZZZ", msg_id=9_300_001))
    assert text_of(answer) == t("zh-CN", "join.invalid")
    assert seen and seen[0] is not None and seen[0]["done"] == 0 and seen[0]["payload"] is None


async def test_on_postgresql_another_process_runs_the_message_of_one_that_stopped_mid_way(
    runtime: Runtime,
    settings: Settings,
    clock: ManualClock,
    wx: WeChatStandIn,
    callback: Callback,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes; the one working a rider's photo goes away mid-download (its work cut off, its locks gone as
    after a kill). The other's sweep runs the message within seconds, without any restart, and the rider gets the
    answer once as customer-service messages."""
    assert runtime.services is not None
    if runtime.services.db.dialect != "postgresql":
        pytest.skip("one process on SQLite: the restart test above covers it")
    monkeypatch.setattr(door_module, "PASSIVE_WINDOW", 0.3)
    monkeypatch.setattr(door_module, "STOP_WAIT", 0.1)
    doomed = Runtime(settings, clock)
    await doomed.start(poll_timeout=1)
    try:
        openid = "oRiderSun00001"
        release = wx.hold_media()
        request = callback.image(openid, wx.register_media(jpeg()), msg_id=9_400_001)
        response = await WeChatRider(doomed, wx, callback, openid).post(request)
        assert response.status_code == 200 and response.text == "success"
        await until(lambda: wx.downloads_waiting == 1, "the download is held")
    finally:
        await doomed.stop()
    assert wx.sent_to(openid) == []
    release.set()
    added, ask_place = await wx.wait_for_sent(openid, 2, timeout=3 * TIMEOUT)  # the sweep, then the outbox's leader
    assert text_of(added) == t("zh-CN", "draft.photo_added", n=1)
    assert t("zh-CN", "draft.ask_location") in text_of(ask_place)
    row = await ledger_row(runtime, "msg:9400001")
    assert row is not None and row["done"] == 1
    await runtime.services.outbox.wait_idle(TIMEOUT)
    assert len(wx.sent_to(openid)) == 2


async def test_a_message_waiting_for_its_turn_here_still_gets_its_passive_reply(
    runtime: Runtime, wang: WeChatRider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two quick texts to one process: the second waits for the first (slow) one's turn and, ready within the
    window, still goes back in its own HTTP response — no customer-service message spent on it."""
    handle, calls = Conversation.handle, []

    async def first_slow(self: Conversation, user: Any, inbound: Any) -> Any:
        calls.append(inbound.text)
        if len(calls) == 1:  # long enough for the second to arrive meanwhile, well within the 4 s window
            await asyncio.sleep(1.5)
        return await handle(self, user, inbound)

    monkeypatch.setattr(Conversation, "handle", first_slow)
    first = asyncio.create_task(wang.exchange(wang.callback.text(wang.openid, "帮助", msg_id=9_500_001)))
    await until(lambda: calls, "the first is being worked on")
    second = await wang.exchange(wang.callback.text(wang.openid, "help", msg_id=9_500_002))
    assert calls == ["帮助", "help"]
    assert await ledger_row(runtime, "msg:9500002") is not None
    for answers in (await first, second):
        assert [a.get("passive") for a in answers] == [True]
        assert text_of(answers[0]) == t("zh-CN", "wechat.help")
