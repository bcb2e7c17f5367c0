"""The WeChat door through the real stack: Runtime with the /wechat endpoint on 127.0.0.1, WeChat's API played by
bot/standin/wechat.py (token, media, customer-service messages, menu), callbacks signed (and encrypted) the way
WeChat's servers sign them, a real SQLite file. Every wait is bounded."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import ConfigError, Settings, load_settings
from bot.geo.coords import wgs84_to_gcj02
from bot.geo.index import great_circle_m
from bot.outbox import messages as out
from bot.presenters.places import nearest_text
from bot.standin.wechat import Callback, WeChatStandIn
from bot.store import dialogs
from bot.texts import t
from bot.tls import client_context
from handlers.wechat import door as door_module
from handlers.wechat.api import WeChatApi
from handlers.wechat.conversation import Conversation
from handlers.wechat.menu import publish_menu
from tests import wechatting
from tests.chat import ChatUser
from tests.reporting import bind, grid_at, jpeg
from tests.wechatting import APPID, SECRET, TOKEN

# the WeChat API stand-in and the settings that point the door at it, as this module's fixtures
wx = wechatting.wx
settings = wechatting.settings

AES_KEY = base64.b64encode(os.urandom(32)).decode().rstrip("=")
HERE = (34.2540, 117.2080)  # WGS-84, inside 蝶梦社区第2网格 of the sample grids
TIMEOUT = 8.0


class WeChatRider:
    """A person on WeChat: posts what WeChat's servers would post for them and reads what they are shown —
    the passive reply, or the customer-service messages that arrive through the stand-in."""

    def __init__(self, runtime: Runtime, wx: WeChatStandIn, callback: Callback, openid: str) -> None:
        self.runtime, self.wx, self.callback, self.openid = runtime, wx, callback, openid
        self.msg_ids = iter(range(10_000_000 + int.from_bytes(os.urandom(3), "big") * 10, 10**12))

    @property
    def url(self) -> str:
        assert self.runtime.web is not None
        return f"{self.runtime.web.url}/wechat"

    async def post(self, request: tuple[dict[str, str], bytes]) -> httpx.Response:
        params, body = request
        async with httpx.AsyncClient(verify=client_context(), timeout=TIMEOUT, trust_env=False) as client:
            return await client.post(self.url, params=params, content=body)

    async def exchange(self, request: tuple[dict[str, str], bytes]) -> list[dict[str, Any]]:
        """Post, then everything the person sees in answer (custom/send bodies; a passive text as one of them)."""
        await self.runtime.services.outbox.wait_idle(TIMEOUT)
        before = len(self.wx.sent_to(self.openid))
        response = await self.post(request)
        assert response.status_code == 200, response.text
        reply = self.callback.read_reply(response.content)
        if reply is not None:
            assert reply["ToUserName"] == self.openid and reply["FromUserName"] == self.callback.account
            return [{"msgtype": "text", "text": {"content": reply["Content"]}, "passive": True}]
        assert response.text == "success"
        await self.runtime.services.outbox.wait_idle(TIMEOUT)
        return self.wx.sent_to(self.openid)[before:]

    async def say(self, text: str, *, option: str | None = None) -> list[dict[str, Any]]:
        return await self.exchange(self.callback.text(self.openid, text, msg_id=next(self.msg_ids), menu_id=option))

    async def tap(self, menu: dict[str, Any], label: str) -> list[dict[str, Any]]:
        """Tap a msgmenu option: WeChat sends its content as text, with its id as bizmsgmenuid."""
        for option in menu["msgmenu"]["list"]:
            if label in option["content"]:
                return await self.say(option["content"], option=option["id"])
        raise AssertionError(f"no option {label!r} in {[o['content'] for o in menu['msgmenu']['list']]}")

    async def location_gcj(self, lat: float, lon: float) -> list[dict[str, Any]]:
        return await self.exchange(self.callback.location(self.openid, lat, lon, msg_id=next(self.msg_ids)))

    async def image(self, media_id: str) -> list[dict[str, Any]]:
        return await self.exchange(self.callback.image(self.openid, media_id, msg_id=next(self.msg_ids)))

    async def event(self, event: str, **kwargs: Any) -> list[dict[str, Any]]:
        return await self.exchange(self.callback.event(self.openid, event, **kwargs))


def text_of(message: dict[str, Any]) -> str:
    if message["msgtype"] == "text":
        return message["text"]["content"]
    if message["msgtype"] == "msgmenu":
        menu = message["msgmenu"]
        return "\n".join([menu["head_content"], *(o["content"] for o in menu["list"]), menu["tail_content"]])
    return ""


@pytest.fixture
def callback() -> Callback:
    return Callback(token=TOKEN, appid=APPID)


@pytest.fixture
def wang(runtime: Runtime, wx: WeChatStandIn, callback: Callback) -> WeChatRider:
    return WeChatRider(runtime, wx, callback, "oRiderWang0001")


async def _user_row(runtime: Runtime, openid: str) -> Any:
    return await runtime.services.db.fetchone(
        "SELECT * FROM users WHERE channel = 'wechat' AND external_id = ?", (openid,)
    )


# ---------------------------------------------------------------------- the endpoint


async def test_url_verification_echoes_echostr_only_when_signed(runtime: Runtime, callback: Callback) -> None:
    assert runtime.web is not None
    url = f"{runtime.web.url}/wechat"
    async with httpx.AsyncClient(verify=client_context(), timeout=TIMEOUT, trust_env=False) as client:
        ok = await client.get(url, params=callback.verify_url("7391846250"))
        assert ok.status_code == 200 and ok.text == "7391846250"
        forged = {**callback.verify_url("123"), "signature": "0" * 40}
        assert (await client.get(url, params=forged)).status_code == 403
        assert (await client.get(url, params={"echostr": "123"})).status_code == 403


async def test_a_bad_signature_is_refused_and_nothing_is_processed(runtime: Runtime, wang: WeChatRider) -> None:
    params, body = wang.callback.text(wang.openid, "帮助", msg_id=1)
    for forged in ({**params, "signature": "f" * 40}, {**params, "nonce": params["nonce"] + "x"}, {}):
        response = await wang.post((forged, body))
        assert response.status_code == 403
    assert await _user_row(runtime, wang.openid) is None
    row = await runtime.services.db.fetchone("SELECT COUNT(*) FROM wechat_inbox")
    assert row[0] == 0


async def test_help_and_a_place_name_are_answered_passively(runtime: Runtime, wang: WeChatRider) -> None:
    [help_text] = await wang.say("帮助")
    assert help_text.get("passive") and text_of(help_text) == t("zh-CN", "wechat.help")
    user = await _user_row(runtime, wang.openid)
    assert user is not None and user["channel"] == "wechat"
    [card] = await wang.say("米兰社区")
    assert card.get("passive")
    assert "米兰社区" in text_of(card) and "uri.amap.com" in text_of(card)
    [english] = await wang.say("/lang")
    assert text_of(english) == t("en", "lang.switched")
    [help_en] = await wang.say("help")
    assert text_of(help_en) == t("en", "wechat.help")


async def test_a_location_is_gcj02_and_converted_before_the_query(runtime: Runtime, wang: WeChatRider) -> None:
    glat, glon = wgs84_to_gcj02(*HERE)
    assert great_circle_m(glat, glon, *HERE) > 300  # the offset that would send a rider to the wrong gate
    [answer] = await wang.location_gcj(glat, glon)
    assert answer.get("passive")
    expected = nearest_text("zh-CN", runtime.services.finder.nearest(*HERE))
    assert text_of(answer) == expected + "\n" + t("zh-CN", "wechat.nearest_hint")
    user = await _user_row(runtime, wang.openid)
    assert great_circle_m(user["last_lat"], user["last_lon"], *HERE) < 1.0
    # and the menu's 附近驿站 now uses it
    [again] = await wang.event("CLICK", key="NEARBY_STATIONS")
    assert text_of(again).startswith(expected)


async def test_subscribe_greets_and_explains(wang: WeChatRider) -> None:
    [hello] = await wang.event("subscribe")
    assert text_of(hello) == t("zh-CN", "wechat.welcome")
    assert await wang.event("unsubscribe") == []


async def test_menu_clicks(runtime: Runtime, wang: WeChatRider) -> None:
    [need] = await wang.event("CLICK", key="NEARBY_STATIONS")
    assert text_of(need) == t("zh-CN", "wechat.need_location")
    # the periodic LOCATION event is WGS-84: remembered as is, nothing said
    assert await wang.event("LOCATION", Latitude=f"{HERE[0]:.6f}", Longitude=f"{HERE[1]:.6f}", Precision="30") == []
    user = await _user_row(runtime, wang.openid)
    assert great_circle_m(user["last_lat"], user["last_lon"], *HERE) < 1.0
    [stations] = await wang.event("CLICK", key="NEARBY_STATIONS")
    assert text_of(stations).startswith(nearest_text("zh-CN", runtime.services.finder.nearest(*HERE)))
    [friendly] = await wang.event("CLICK", key="FRIENDLY")
    scope = runtime.services.finder.nearest(*HERE, scope="friendly")
    assert text_of(friendly).startswith(nearest_text("zh-CN", scope))
    [mine] = await wang.event("CLICK", key="MY_REPORTS")
    assert text_of(mine) == t("zh-CN", "my.empty")
    [ask] = await wang.event("CLICK", key="REPORT")  # asks for a photo, with 取消 to tap: a msgmenu
    assert ask["msgtype"] == "msgmenu" and "随手拍" in ask["msgmenu"]["head_content"]
    assert [o["id"] for o in ask["msgmenu"]["list"]] == ["rd:x"]
    [cancelled] = await wang.tap(ask, "取消")
    assert text_of(cancelled) == t("zh-CN", "draft.cancelled")


async def test_an_image_starts_a_report_draft(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider) -> None:
    media_id = wx.register_media(jpeg())
    added, ask_place = await wang.image(media_id)
    assert text_of(added) == t("zh-CN", "draft.photo_added", n=1)
    assert t("zh-CN", "draft.ask_location") in text_of(ask_place)
    assert t("zh-CN", "wechat.location_hint") in text_of(ask_place)  # no location button on WeChat: say how
    assert ("GET", "/cgi-bin/media/get") in wx.calls
    user = await _user_row(runtime, wang.openid)
    draft = await dialogs.get_dialog(runtime.services.db, user["id"])
    assert draft is not None and len(draft.data["photos"]) == 1


async def test_a_retried_message_is_processed_once(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider) -> None:
    request = wang.callback.text(wang.openid, "米兰社区", msg_id=424242)
    first, second = await wang.post(request), await wang.post(request)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text  # the retry gets the answer already given, not a second run
    media_id = wx.register_media(jpeg((10, 200, 90)))
    image = wang.callback.image(wang.openid, media_id, msg_id=515151)
    responses = await asyncio.gather(*(wang.post(image) for _ in range(3)))
    assert all(r.status_code == 200 for r in responses)
    await runtime.services.outbox.wait_idle(TIMEOUT)
    assert wx.calls.count(("GET", "/cgi-bin/media/get")) == 1
    user = await _user_row(runtime, wang.openid)
    draft = await dialogs.get_dialog(runtime.services.db, user["id"])
    assert len(draft.data["photos"]) == 1
    # events are deduplicated by FromUserName + CreateTime
    click = wang.callback.event(wang.openid, "CLICK", key="MY_REPORTS", create_time=1_790_000_000)
    await wang.post(click)
    await wang.post(click)
    rows = await runtime.services.db.fetchall("SELECT key FROM wechat_inbox WHERE key LIKE 'ev:%'")
    assert [r["key"] for r in rows] == [f"ev:{wang.openid}:1790000000:click"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"this is not xml", 400),
        (b"<xml><MsgType>text</MsgType>", 400),
        (b"<xml><ToUserName>gh</ToUserName><Content>x</Content></xml>", 400),  # no MsgType
        (
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>text</MsgType><Content>&b;</Content><MsgId>1</MsgId></xml>",
            400,
        ),
        (
            b"<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>text</MsgType><Content><a>nested</a></Content><MsgId>1</MsgId></xml>",
            400,
        ),
        (
            b"<xml><ToUserName>gh</ToUserName><FromUserName>../../etc</FromUserName><CreateTime>1</CreateTime>"
            b"<MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>",
            400,
        ),
        (b"", 400),
        (b"\xff\xfe<xml/>", 400),
        (b"<xml><Content>" + b"x" * (65 * 1024) + b"</Content></xml>", 413),
    ],
)
async def test_malformed_or_oversized_bodies_are_refused(
    runtime: Runtime, wang: WeChatRider, body: bytes, status: int
) -> None:
    response = await wang.post((wang.callback.signed_params(), body))
    assert response.status_code == status
    row = await runtime.services.db.fetchone("SELECT COUNT(*) FROM wechat_inbox")
    assert row[0] == 0
    assert (await runtime.services.db.fetchone("SELECT COUNT(*) FROM users WHERE channel = 'wechat'"))[0] == 0


async def test_other_message_types_get_a_polite_answer(wang: WeChatRider) -> None:
    [answer] = await wang.exchange(wang.callback.voice(wang.openid, msg_id=77))
    assert text_of(answer) == t("zh-CN", "wechat.unsupported")
    [refused] = await wang.say("消防通道堵塞", option="rw:acc:999999:1")  # a forged option id
    assert text_of(refused) == t("zh-CN", "work.not_found")
    [expired] = await wang.say("x", option="not-ours")
    assert text_of(expired) == t("zh-CN", "callback.expired")


# ---------------------------------------------------------------------- safe mode


@pytest.fixture
async def aes_runtime(settings: Settings, clock: ManualClock) -> AsyncIterator[Runtime]:
    rt = Runtime(replace(settings, wechat_aes_key=AES_KEY), clock)
    await rt.start(poll_timeout=1)
    try:
        yield rt
    finally:
        await rt.stop()


async def test_aes_safe_mode_round_trip(aes_runtime: Runtime, wx: WeChatStandIn) -> None:
    callback = Callback(token=TOKEN, appid=APPID, aes_key=AES_KEY)
    rider = WeChatRider(aes_runtime, wx, callback, "oSafeMode00001")
    [answer] = await rider.say("帮助")  # read_reply checks MsgSignature and decrypts
    assert answer.get("passive") and text_of(answer) == t("zh-CN", "wechat.help")
    # a wrong msg_signature is a forgery, whatever the plain signature says
    params, body = callback.text(rider.openid, "帮助", msg_id=99)
    assert (await rider.post(({**params, "msg_signature": "0" * 40}, body))).status_code == 403
    # encrypted for another account: refused
    other = Callback(token=TOKEN, appid="wxSomeoneElse000", aes_key=AES_KEY)
    assert (await rider.post(other.text(rider.openid, "帮助", msg_id=100))).status_code == 400
    # an answer that needs the customer-service API still leaves through the outbox
    [menu] = await rider.event("CLICK", key="REPORT")
    assert menu["msgtype"] == "msgmenu"


async def test_an_encrypted_message_needs_the_key(runtime: Runtime, wx: WeChatStandIn) -> None:
    callback = Callback(token=TOKEN, appid=APPID, aes_key=AES_KEY)
    rider = WeChatRider(runtime, wx, callback, "oNoKey000001")
    response = await rider.post(callback.text(rider.openid, "帮助", msg_id=5))
    assert response.status_code == 400


# ---------------------------------------------------------------------- sending, tokens, menu


async def test_sender_maps_wechat_errors(runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider) -> None:
    assert runtime.wechat is not None
    sender = runtime.wechat.sender
    assert (await sender.send(wang.openid, out.text("一"))).ok
    issued = wx.tokens_issued
    wx.expire_tokens()  # 42001: the token is replaced and the call made again
    assert (await sender.send(wang.openid, out.text("二"))).ok
    assert wx.tokens_issued == issued + 1
    wx.fail_next("/cgi-bin/message/custom/send", 45015, "response out of time limit")
    late = await sender.send(wang.openid, out.text("三"))
    assert not late.ok and late.permanent
    wx.fail_next("/cgi-bin/message/custom/send", 45047, "out of response count limit")
    assert (await sender.send(wang.openid, out.text("四"))).permanent
    wx.fail_next("/cgi-bin/message/custom/send", 45009, "reach max api daily quota limit")
    quota = await sender.send(wang.openid, out.text("五"))
    assert not quota.ok and not quota.permanent and quota.retry_after
    # a photo with a caption and buttons: the shareable copy uploaded, then the caption as a msgmenu
    stored = await runtime.services.photos.put(jpeg())
    message = out.photo(
        stored.sha256, "说明", buttons=[[out.button("5⭐", "rc:1:5")], [out.link("地图", "https://x.example")]]
    )
    before = len(wx.sent_to(wang.openid))
    assert (await sender.send(wang.openid, message)).ok
    image, menu = wx.sent_to(wang.openid)[before:]
    assert wx.uploads[image["image"]["media_id"]] == await runtime.services.photos.shareable(stored.sha256)
    assert menu["msgmenu"]["list"] == [{"id": "rc:1:5", "content": "5⭐"}]
    assert "https://x.example" in menu["msgmenu"]["head_content"]
    # a failure after the image: the retry sends only what is missing
    wx.fail_next("/cgi-bin/message/custom/send", -1, "system busy", after=1)
    other = out.photo(stored.sha256, "再一次", buttons=[[out.button("5⭐", "rc:1:5")]])
    before = len(wx.sent_to(wang.openid))
    busy = await sender.send(wang.openid, other)
    assert not busy.ok and not busy.permanent
    assert (await sender.send(wang.openid, other)).ok
    assert [m["msgtype"] for m in wx.sent_to(wang.openid)[before:]] == ["image", "msgmenu"]


async def test_the_access_token_is_shared_through_sqlite(runtime: Runtime, wx: WeChatStandIn) -> None:
    db = runtime.services.db
    first = WeChatApi(db, base=wx.url, appid=APPID, secret=SECRET)
    second = WeChatApi(db, base=wx.url, appid=APPID, secret=SECRET)
    try:
        issued = wx.tokens_issued
        token = await first.token()
        assert await second.token() == token
        assert wx.tokens_issued <= issued + 1
        assert await second.token(failed=token) != token  # refused by WeChat: replaced once
        assert await first.token() == await second.token()
    finally:
        await first.close()
        await second.close()


async def test_the_menu_is_published(settings: Settings, wx: WeChatStandIn) -> None:
    body = await publish_menu(settings)
    assert wx.menus == [body]
    keys = [b.get("key") or [s["key"] for s in b["sub_button"]] for b in body["button"]]
    assert keys == ["NEARBY_STATIONS", "FRIENDLY", ["REPORT", "MY_REPORTS"]]
    assert all(len(b["name"].encode()) <= 16 for b in body["button"])  # WeChat's limit for top-level names


def test_menu_dry_run_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["wechat", "menu", "--dry-run"]) == 0
    assert '"key": "NEARBY_STATIONS"' in capsys.readouterr().out


# ---------------------------------------------------------------------- one whole 随手拍 loop across channels


async def test_a_wechat_rider_and_a_telegram_grid_worker(
    runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider
) -> None:
    assert runtime.standin is not None
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    seen = runtime.standin.last_seq(worker.user_id)
    # the rider snaps the hazard on WeChat
    added, _ = await wang.image(wx.register_media(jpeg((180, 30, 30))))
    assert "第 1 张" in text_of(added)
    [categories] = await wang.location_gcj(*wgs84_to_gcj02(*HERE))
    assert categories["msgtype"] == "msgmenu"
    assert t("zh-CN", "draft.ask_category") in categories["msgmenu"]["head_content"]
    [words] = await wang.tap(categories, "消防通道堵塞")
    [summary] = await wang.tap(words, "跳过")
    assert "请确认上报内容" in text_of(summary) and "消防通道堵塞" in text_of(summary)
    [received] = await wang.tap(summary, "提交")
    assert "已收到，编号 SP-" in text_of(received)
    ref = text_of(received).split("编号 ")[1].split("。")[0]
    report = await runtime.services.db.fetchone("SELECT * FROM reports WHERE id = ?", (int(ref.split("-")[1]),))
    assert great_circle_m(report["lat"], report["lon"], *HERE) < 1.0  # stored in WGS-84
    # the grid worker gets it on Telegram, with the photo that came from WeChat
    await runtime.services.outbox.wait_idle(TIMEOUT)
    card, pin = await runtime.standin.wait_for_bot_messages(worker.user_id, 2, after_seq=seen, timeout=TIMEOUT)
    assert "photo" in card and ref in card["caption"]
    assert pin["venue"]["location"]["latitude"] == pytest.approx(HERE[0], abs=1e-6)
    before = len(wx.sent_to(wang.openid))
    _, [accepted] = await worker.tap(card, "接单")
    assert "已接单" in accepted["text"]
    # … and the rider on WeChat is told, through the customer-service API
    await runtime.services.outbox.wait_idle(TIMEOUT)
    told = await wx.wait_for_sent(wang.openid, 2, after=before, timeout=TIMEOUT)
    texts = [text_of(m) for m in told]
    assert any("已被网格员接单" in x for x in texts), texts
    assert any("获得 10 积分" in x for x in texts), texts
    [mine] = await wang.say("我的上报")
    assert ref in text_of(mine)


# ---------------------------------------------------------------------- the 5-second window, settings


async def test_a_slow_answer_says_success_and_follows_through_the_outbox(
    runtime: Runtime, wx: WeChatStandIn, wang: WeChatRider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(door_module, "PASSIVE_WINDOW", 0.05)
    handle = Conversation.handle

    async def slow(self: Conversation, user: Any, inbound: Any) -> Any:
        await asyncio.sleep(0.4)
        return await handle(self, user, inbound)

    monkeypatch.setattr(Conversation, "handle", slow)
    before = len(wx.sent_to(wang.openid))
    request = wang.callback.text(wang.openid, "帮助", msg_id=8080)
    response = await wang.post(request)
    assert response.status_code == 200 and response.text == "success"
    [late] = await wx.wait_for_sent(wang.openid, 1, after=before, timeout=TIMEOUT)
    assert text_of(late) == t("zh-CN", "wechat.help")
    # WeChat's retry (it did get "success", but a retry must be safe anyway): not processed again
    assert (await wang.post(request)).text == "success"
    await asyncio.sleep(0.6)
    await runtime.services.outbox.wait_idle(TIMEOUT)
    assert len(wx.sent_to(wang.openid)) == before + 1


def test_settings_from_the_environment() -> None:
    env = {
        "RIDER_WECHAT_TOKEN": "tok",
        "RIDER_WECHAT_AES_KEY": AES_KEY,
        "RIDER_WECHAT_APPID": APPID,
        "RIDER_WECHAT_SECRET": SECRET,
        "RIDER_WECHAT_API_BASE": "http://127.0.0.1:9",
    }
    settings = load_settings(env=env)
    assert (settings.wechat_token, settings.wechat_appid, settings.wechat_api_base) == (
        "tok",
        APPID,
        "http://127.0.0.1:9",
    )
    assert {settings.redacted()[k] for k in ("wechat_token", "wechat_aes_key", "wechat_secret")} == {"***"}
    with pytest.raises(ConfigError):
        load_settings(env={**env, "RIDER_WECHAT_AES_KEY": "too-short"})


async def test_what_riders_type_on_wechat_too(runtime: Runtime, wang: WeChatRider) -> None:
    [hello] = await wang.say("你好")
    assert "我是骑手助手" in text_of(hello)
    [need] = await wang.say("附近有厕所吗")
    assert text_of(need) == t("zh-CN", "wechat.need_location")
    await wang.location_gcj(*wgs84_to_gcj02(*HERE))
    [toilets] = await wang.say("附近有厕所吗")
    assert "筛选：🚻卫生间" in text_of(toilets)
    [city] = await wang.say("Xuzhou")
    assert text_of(city).startswith("🏙 徐州")


async def test_console_link_on_wechat_for_a_supervisor_only(runtime: Runtime, wang: WeChatRider) -> None:
    [refused] = await wang.say("/console")
    assert text_of(refused) == t("zh-CN", "console.no_role")
    user = await _user_row(runtime, wang.openid)
    await runtime.services.roles.grant(user["id"], "supervisor", "xz-hanfeng", by="test")
    [answer] = await wang.say("看板")
    link = text_of(answer)
    assert "/console/login?t=" in link
    url = link[link.index("http") :].split()[0].split('"')[0]
    async with httpx.AsyncClient(verify=client_context(), timeout=TIMEOUT, trust_env=False) as client:
        page = await client.get(url)
        assert page.status_code == 200 and "登录" in page.text
