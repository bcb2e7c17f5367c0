"""The Telegram Bot API stand-in, driven by python-telegram-bot itself as the client, plus its control API."""

from __future__ import annotations

import asyncio
import datetime as dtm
import struct
import time
import warnings
import zlib

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter

from bot.standin import DEMO_TOKEN, StandIn
from bot.standin.formatting import FormattingError, parse_html, parse_markdown_v2, parse_text
from bot.standin.media import image_size

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

USER = 1001
PRESETS = [
    {"name": "人民广场驿站", "lat": 31.2304, "lon": 121.4737},
    {"name": "静安寺爱心驿站", "lat": 31.2235, "lon": 121.4452},
]


def make_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture
async def standin():
    stand = StandIn(presets=PRESETS)
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()


@pytest.fixture
async def bot(standin):
    async with Bot(DEMO_TOKEN, base_url=standin.base_url, base_file_url=standin.base_file_url) as client:
        yield client


@pytest.fixture
async def http(standin):
    async with httpx.AsyncClient(base_url=standin.url, timeout=10) as client:
        yield client


def seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ---------------------------------------------------------------- Bot API through PTB


async def test_get_me(bot: Bot, standin: StandIn) -> None:
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "rider_helper_bot"
    assert me.first_name == "骑手助手"
    assert standin.calls[-1]["method"] == "getMe"
    assert standin.calls[-1]["ok"] is True


async def test_get_updates_long_poll_returns_promptly_and_respects_offset(bot: Bot, standin: StandIn) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    standin.inject_message(USER, text="/start")
    updates = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 1.5
    assert len(updates) == 1
    msg = updates[0].message
    assert msg.text == "/start"
    assert msg.chat.id == USER and msg.chat.type == "private"
    assert msg.from_user.id == USER and not msg.from_user.is_bot
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bot_command", 0, 6)]

    # not confirmed yet: delivered again
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    # confirmed by offset: gone
    standin.inject_message(USER, text="第二条")
    rest = await bot.get_updates(offset=updates[0].update_id + 1, timeout=0)
    assert [u.message.text for u in rest] == ["第二条"]
    assert rest[0].update_id == updates[0].update_id + 1
    assert await bot.get_updates(offset=rest[0].update_id + 1, timeout=0) == ()


async def test_get_updates_times_out_empty_and_limit(bot: Bot, standin: StandIn) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.8 < time.monotonic() - started < 3
    for i in range(3):
        standin.inject_message(USER, text=f"m{i}")
    assert [u.message.text for u in await bot.get_updates(limit=2)] == ["m0", "m1"]


async def test_second_get_updates_conflicts_with_first(bot: Bot, standin: StandIn) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(DEMO_TOKEN, base_url=standin.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(Conflict):
            await asyncio.wait_for(first, 3)
        assert await asyncio.wait_for(second, 3) == ()


async def test_send_message_with_inline_and_reply_keyboards(bot: Bot, standin: StandIn) -> None:
    standin.inject_message(USER, text="/start", first_name="骑手小王")
    kb = ReplyKeyboardMarkup(
        [[KeyboardButton("📍 发送位置", request_location=True)], ["🚻 附近厕所"]], resize_keyboard=True
    )
    sent = await bot.send_message(USER, "你好，请发送位置", reply_markup=kb)
    assert sent.text == "你好，请发送位置"
    assert sent.from_user.is_bot and sent.from_user.id == 123456789
    assert sent.chat.first_name == "骑手小王"
    assert sent.reply_markup is None  # reply keyboards are not echoed in the Message
    assert standin.reply_keyboard(USER)["keyboard"][0][0] == {"text": "📍 发送位置", "request_location": True}

    inline = InlineKeyboardMarkup([[InlineKeyboardButton("导航", callback_data="nav:1")]])
    msg = await bot.send_message(USER, "最近的驿站", reply_markup=inline)
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == "nav:1"

    call = next(c for c in standin.calls if c["method"] == "sendMessage")
    assert call["params"]["reply_markup"]["keyboard"][0][0]["request_location"] is True
    assert call["params"]["chat_id"] == str(USER)

    transcript = standin.transcript(USER)
    assert [m["_from_bot"] for m in transcript] == [False, True, True]
    assert transcript[1]["_reply_markup"]["keyboard"][1][0]["text"] == "🚻 附近厕所"
    assert transcript[2]["reply_markup"]["inline_keyboard"][0][0]["text"] == "导航"
    assert [m["_seq"] for m in transcript] == sorted(m["_seq"] for m in transcript)

    await bot.send_message(USER, "好的", reply_markup=ReplyKeyboardRemove())
    assert standin.reply_keyboard(USER) is None


async def test_send_message_validation(bot: Bot, standin: StandIn) -> None:
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "长" * 4097)
    await bot.send_message(USER, "长" * 4096)
    # length is counted after entity parsing
    await bot.send_message(USER, "<b>" + "长" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "   ")
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            USER,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="x" * 65)]]),
        )
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(USER, "<br>坏标签", parse_mode=ParseMode.HTML)
    assert [c["ok"] for c in standin.calls if c["method"] == "sendMessage"] == [False, True, True] + [False] * 3


async def test_html_parse_mode_stores_plain_text_and_entities(bot: Bot, standin: StandIn) -> None:
    msg = await bot.send_message(
        USER, '<b>人民广场</b> &amp; <a href="https://example.org/x">详情</a>', parse_mode=ParseMode.HTML
    )
    assert msg.text == "人民广场 & 详情"
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("bold", 0, 4), ("text_link", 7, 2)]
    assert msg.entities[1].url == "https://example.org/x"
    raw = standin.calls[-1]["params"]["text"]
    assert raw.startswith("<b>")


async def test_send_venue_and_location(bot: Bot, standin: StandIn) -> None:
    venue = await bot.send_venue(
        USER,
        latitude=31.2304,
        longitude=121.4737,
        title="人民广场驿站",
        address="黄浦区人民大道 100 号",
        google_place_id="gp1",
    )
    assert venue.venue.title == "人民广场驿站"
    assert venue.venue.location.latitude == pytest.approx(31.2304)
    assert venue.location.longitude == pytest.approx(121.4737)
    assert venue.venue.google_place_id == "gp1"
    loc = await bot.send_location(USER, latitude=31.0, longitude=121.0)
    assert loc.location.latitude == 31.0
    items = standin.bot_messages(USER)
    assert items[0]["venue"]["address"] == "黄浦区人民大道 100 号"
    assert "venue" not in items[1] and items[1]["location"] == {"latitude": 31.0, "longitude": 121.0}


async def test_send_photo_upload_and_download(bot: Bot, standin: StandIn) -> None:
    png = make_png(640, 480)
    msg = await bot.send_photo(USER, png, caption="<i>现场</i>", parse_mode=ParseMode.HTML)
    assert msg.caption == "现场"
    assert msg.caption_entities[0].type == "italic"
    sizes = msg.photo
    assert 2 <= len(sizes) <= 3
    assert (sizes[-1].width, sizes[-1].height) == (640, 480)
    assert sizes[0].width == 90
    assert len({s.file_id for s in sizes}) == len(sizes)
    file = await bot.get_file(sizes[-1].file_id)
    assert file.file_size == len(png)
    assert bytes(await file.download_as_bytearray()) == png
    # re-send by file_id
    again = await bot.send_photo(USER, sizes[-1].file_id)
    assert again.photo[-1].file_id == sizes[-1].file_id
    call = next(c for c in standin.calls if c["method"] == "sendPhoto")
    assert call["params"]["photo"]["size"] == len(png)
    # a URL is just recorded
    by_url = await bot.send_photo(USER, "https://example.org/p.jpg")
    assert by_url.photo
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(USER, "no-such-file-id")


async def test_injected_photo_download_returns_same_bytes(bot: Bot, standin: StandIn) -> None:
    png = make_png(1600, 1200)
    standin.inject_message(USER, photo=png, caption="路面坑洞")
    [update] = await bot.get_updates(timeout=2)
    photo = update.message.photo
    assert update.message.caption == "路面坑洞"
    assert [(p.width, p.height) for p in photo] == [(90, 68), (320, 240), (1600, 1200)]
    assert all(p.file_size == len(png) for p in photo)
    tg_file = await bot.get_file(photo[-1].file_id)
    assert tg_file.file_path.startswith(standin.base_file_url)
    buf = __import__("io").BytesIO()
    await tg_file.download_to_memory(buf)
    assert buf.getvalue() == png
    assert [d["found"] for d in standin.downloads] == [True], "every download is recorded"


async def test_document_size_limit(bot: Bot, standin: StandIn) -> None:
    standin.inject_message(
        USER, document=(b"%PDF-1.4 small", "巡查报告.pdf", "application/pdf"), document_size=30 * 1024 * 1024
    )
    standin.inject_message(USER, document=(b"hello", "ok.txt", "text/plain"))
    updates = await bot.get_updates(timeout=2)
    big, small = (u.message.document for u in updates)
    assert big.file_name == "巡查报告.pdf" and big.file_size == 30 * 1024 * 1024
    assert big.mime_type == "application/pdf"
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(big.file_id)
    assert bytes(await (await bot.get_file(small.file_id)).download_as_bytearray()) == b"hello"


async def test_send_document_multipart_with_chinese_name(bot: Bot, standin: StandIn) -> None:
    msg = await bot.send_document(USER, b"a,b\n1,2\n", filename="驿站清单.csv", caption="清单")
    assert msg.document.file_name == "驿站清单.csv"
    assert msg.document.file_size == 8
    assert msg.caption == "清单"
    data = await (await bot.get_file(msg.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"a,b\n1,2\n"


async def test_edit_message_text_and_markup(bot: Bot, standin: StandIn) -> None:
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("更多", callback_data="more")]])
    msg = await bot.send_message(USER, "查询中…", reply_markup=kb)
    seq = standin.last_seq(USER)
    edited = await bot.edit_message_text("找到 3 个驿站", chat_id=USER, message_id=msg.message_id, reply_markup=kb)
    assert edited.text == "找到 3 个驿站"
    assert edited.edit_date is not None
    [item] = await standin.wait_for_bot_messages(USER, 1, after_seq=seq)
    assert item["message_id"] == msg.message_id and item["text"] == "找到 3 个驿站"
    assert len(standin.transcript(USER)) == 1
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("找到 3 个驿站", chat_id=USER, message_id=msg.message_id, reply_markup=kb)
    await bot.edit_message_reply_markup(chat_id=USER, message_id=msg.message_id)
    assert "reply_markup" not in standin.transcript(USER)[0]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    user_msg = standin.inject_message(USER, text="hi")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=user_msg["message_id"])
    assert await bot.delete_message(USER, msg.message_id) is True
    assert [m["message_id"] for m in standin.transcript(USER)] == [user_msg["message_id"]]


async def test_callback_query_round_trip(bot: Bot, standin: StandIn) -> None:
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("导航", callback_data="nav:7")]])
    msg = await bot.send_message(USER, "驿站", reply_markup=kb)
    query_id = standin.inject_callback(USER, msg.message_id, "nav:7")
    [update] = await bot.get_updates(timeout=2)
    query = update.callback_query
    assert query.id == query_id and query.data == "nav:7"
    assert query.message.message_id == msg.message_id
    assert query.message.text == "驿站"
    assert query.from_user.id == USER
    waiter = asyncio.create_task(standin.wait_for_callback_answer(query_id, timeout=3))
    assert await bot.answer_callback_query(query_id, text="已开始导航", show_alert=True)
    answer = await waiter
    assert answer["text"] == "已开始导航" and answer["show_alert"] is True
    assert standin.callback_answers[query_id] == answer
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")


async def test_callback_on_missing_message_is_inaccessible(bot: Bot, standin: StandIn) -> None:
    standin.inject_message(USER, text="hi")
    standin.inject_callback(USER, 777, "old")
    updates = await bot.get_updates(timeout=2)
    query = updates[-1].callback_query
    assert query.message.message_id == 777
    assert not query.message.is_accessible


async def test_location_messages_and_live_edits(bot: Bot, standin: StandIn) -> None:
    msg = standin.inject_message(USER, location=(31.23, 121.47), live_period=900)
    edited = standin.inject_edited_location(USER, msg["message_id"], 31.231, 121.471)
    assert edited["edit_date"] >= edited["date"]
    first, second = await bot.get_updates(timeout=2)
    assert first.message.location.live_period == 900
    assert second.edited_message.location.latitude == pytest.approx(31.231)
    assert second.edited_message.edit_date is not None
    assert standin.transcript(USER)[0]["location"]["longitude"] == pytest.approx(121.471)


async def test_commands_and_misc_methods(bot: Bot, standin: StandIn) -> None:
    from telegram import BotCommand, MenuButtonCommands

    assert await bot.delete_webhook()
    info = await bot.get_webhook_info()
    assert info.url == ""
    assert await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("near", "附近驿站")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "near"]
    assert standin.commands("zh-hans")[1]["description"] == "附近驿站"
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest):
        await bot.send_chat_action(USER, "dancing")
    standin.inject_message(USER, text="hi", first_name="骑手小王", username="xiaowang")
    chat = await bot.get_chat(USER)
    assert chat.first_name == "骑手小王" and chat.username == "xiaowang"
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(424242)
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_wrong_token_and_unknown_method(standin: StandIn) -> None:
    wrong = Bot("123456789:wrong", base_url=standin.base_url)
    with pytest.raises(InvalidToken):
        async with wrong:
            pass
    async with httpx.AsyncClient() as client:
        r = await client.post(f"{standin.base_url}{DEMO_TOKEN}/sendDice", data={"chat_id": 1})
        assert r.status_code == 404 and r.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }
        r = await client.get(f"{standin.base_url}bad/getMe")
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        # JSON bodies and case-insensitive method names work too
        r = await client.post(f"{standin.base_url}{DEMO_TOKEN}/SENDMESSAGE", json={"chat_id": 5, "text": "hi"})
        assert r.json()["result"]["text"] == "hi"


async def test_fault_429_raises_retry_after(bot: Bot, standin: StandIn) -> None:
    standin.faults.retry_after = 7
    standin.faults.fail_next("429")
    with pytest.raises(RetryAfter) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await bot.send_message(USER, "hi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seconds(caught.value.retry_after) == 7
    assert standin.bot_messages(USER) == []
    await bot.get_me()  # faults only hit send*/edit*
    await bot.send_message(USER, "hi")
    assert len(standin.bot_messages(USER)) == 1
    assert standin.faults.injected == [{"method": "sendMessage", "kind": "429"}]


async def test_fault_5xx_and_drop(bot: Bot, standin: StandIn) -> None:
    standin.faults.fail_next("5xx")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER, "a")
    standin.faults.fail_next("drop")  # after acting: the message exists, the client sees an error
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "b")
    assert [m["text"] for m in standin.bot_messages(USER)] == ["b"]
    standin.faults.drop_when = "before"
    standin.faults.fail_next("drop")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "c")
    assert [m["text"] for m in standin.bot_messages(USER)] == ["b"]
    await bot.send_message(USER, "d")
    assert [m["text"] for m in standin.bot_messages(USER)] == ["b", "d"]


async def test_random_faults_are_seeded(bot: Bot, standin: StandIn) -> None:
    import random

    standin.faults.fail_rate = 0.5
    standin.faults.kinds = ("429", "5xx")
    standin.faults.rng = random.Random(42)
    outcomes = []
    for i in range(20):
        try:
            await bot.send_message(USER, f"m{i}")
            outcomes.append("ok")
        except RetryAfter:
            outcomes.append("429")
        except NetworkError:
            outcomes.append("5xx")
    assert {"ok", "429", "5xx"} <= set(outcomes)
    assert len(standin.bot_messages(USER)) == outcomes.count("ok")
    expected = random.Random(42)
    replay = []
    for _ in range(20):
        replay.append(expected.choice(["429", "5xx"]) if expected.random() < 0.5 else "ok")
    assert outcomes == replay


async def test_wait_for_bot_messages_timeout_is_helpful(standin: StandIn) -> None:
    standin.inject_message(USER, text="/start")
    with pytest.raises(TimeoutError, match=r"1 bot message\(s\) in chat 1001.*user #1 text='/start'"):
        await standin.wait_for_bot_messages(USER, 1, timeout=0.2)
    with pytest.raises(TimeoutError):
        await standin.wait_for_callback_answer("nope", timeout=0.1)


async def test_wait_for_bot_messages_wakes_on_send(bot: Bot, standin: StandIn) -> None:
    seq = standin.last_seq(USER)
    waiter = asyncio.create_task(standin.wait_for_bot_messages(USER, 2, after_seq=seq, timeout=3))
    await bot.send_message(USER, "一")
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await bot.send_message(USER, "二")
    assert [m["text"] for m in await waiter] == ["一", "二"]


async def test_inject_update_raw(bot: Bot, standin: StandIn) -> None:
    raw = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}}
    uid = standin.inject_update({"message": raw})
    standin.inject_update({"poll": {"id": "p"}})  # filtered out by allowed_updates below
    explicit = standin.inject_update({"update_id": uid + 10, "message": {**raw, "text": "raw"}})
    after = standin.inject_message(USER, text="x")
    updates = await bot.get_updates(timeout=1, allowed_updates=["message"])
    assert [u.update_id for u in updates] == [uid, explicit, explicit + 1]
    assert updates[1].message.text == "raw"
    assert updates[2].message.message_id == after["message_id"]


# ---------------------------------------------------------------- control API


async def test_control_presets_page_and_messages(http: httpx.AsyncClient, bot: Bot, standin: StandIn) -> None:
    assert (await http.get("/_standin/presets")).json() == PRESETS
    page = await http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'data-testid="composer-input"' in page.text
    assert (await http.get("/_standin/static/chat.js")).status_code == 200

    r = await http.post(f"/_standin/users/{USER}/messages", json={"text": "/start", "first_name": "骑手小王"})
    assert r.status_code == 200 and r.json()["text"] == "/start"
    [update] = await bot.get_updates(timeout=2)
    assert update.message.from_user.first_name == "骑手小王"

    r = await http.post(
        f"/_standin/users/{USER}/messages",
        json={"location": {"latitude": 31.2, "longitude": 121.4, "live_period": 900}},
    )
    assert r.json()["location"]["live_period"] == 900
    loc_id = r.json()["message_id"]
    r = await http.post(f"/_standin/users/{USER}/messages", json={"location": {"latitude": 91, "longitude": 0}})
    assert r.status_code == 400 and "纬度" in r.json()["error"]
    r = await http.post(
        f"/_standin/users/{USER}/location_edits",
        json={"message_id": loc_id, "latitude": 31.201, "longitude": 121.401},
    )
    assert r.json()["location"]["latitude"] == pytest.approx(31.201)

    r = await http.get(f"/_standin/chats/{USER}/messages", params={"after": 0})
    body = r.json()
    assert [m["message_id"] for m in body["messages"]] == [1, 2]  # the edit moved #2 to a later seq
    last = body["last_seq"]

    poll = asyncio.create_task(http.get(f"/_standin/chats/{USER}/messages", params={"after": last, "wait": 10}))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await bot.send_message(USER, "收到", reply_markup=ReplyKeyboardMarkup([["好"]]))
    body = (await asyncio.wait_for(poll, 3)).json()
    assert [m["text"] for m in body["messages"]] == ["收到"]
    assert body["messages"][0]["_from_bot"] is True
    assert body["reply_keyboard"]["keyboard"] == [[{"text": "好"}]]
    assert body["last_seq"] > last

    await bot.delete_message(USER, 1)
    body = (await http.get(f"/_standin/chats/{USER}/messages", params={"after": body["last_seq"]})).json()
    assert body["messages"] == [{"message_id": 1, "_deleted": True, "_from_bot": False, "_seq": body["last_seq"]}]

    calls = (await http.get("/_standin/calls", params={"method": "sendMessage"})).json()
    assert [c["params"]["text"] for c in calls] == ["收到"]


async def test_control_long_poll_times_out_empty(http: httpx.AsyncClient) -> None:
    started = time.monotonic()
    body = (await http.get("/_standin/chats/555/messages", params={"after": 0, "wait": 0.5})).json()
    boot = body.pop("boot")
    assert body == {"messages": [], "last_seq": 0, "reply_keyboard": None, "force_reply": False}
    assert isinstance(boot, str) and boot, "each stand-in says which one it is, so a page notices a restart"
    assert 0.4 < time.monotonic() - started < 3


async def test_control_callback_waits_for_answer(http: httpx.AsyncClient, bot: Bot, standin: StandIn) -> None:
    msg = await bot.send_message(
        USER, "选择", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    )

    async def answer() -> None:
        [update] = await bot.get_updates(timeout=3)
        await bot.answer_callback_query(update.callback_query.id, text="好的")

    answering = asyncio.create_task(answer())
    r = await http.post(f"/_standin/users/{USER}/callbacks", json={"message_id": msg.message_id, "data": "a"})
    await answering
    assert r.json() == {"text": "好的", "show_alert": False}


async def test_control_photo_upload_and_file_route(http: httpx.AsyncClient, standin: StandIn) -> None:
    import base64

    png = make_png(40, 30)
    r = await http.post(
        f"/_standin/users/{USER}/messages",
        json={"photo_base64": base64.b64encode(png).decode(), "caption": "随手拍"},
    )
    photo = r.json()["photo"]
    assert photo[-1]["width"] == 40 and r.json()["caption"] == "随手拍"
    served = await http.get(f"/_standin/files/{photo[-1]['file_id']}")
    assert served.content == png and served.headers["content-type"] == "image/png"
    assert (await http.get("/_standin/files/nope")).status_code == 404


# ---------------------------------------------------------------- pure helpers


def test_formatting_helpers() -> None:
    assert parse_html("a &lt;b&gt; &#128512;") == ("a <b> 😀", [])
    text, ents = parse_html("😀<b>x</b>")
    assert text == "😀x" and ents == [{"type": "bold", "offset": 2, "length": 1}]
    with pytest.raises(FormattingError, match="Can't find end tag"):
        parse_html("<b>open")
    with pytest.raises(FormattingError, match="Unmatched end tag"):
        parse_html("<b>x</i>")
    text, ents = parse_markdown_v2(r"*粗* _斜_ `代码` [链接](https://a.b/c) 1\.5")
    assert text == "粗 斜 代码 链接 1.5"
    assert [e["type"] for e in ents] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(FormattingError, match=r"Character '\.' is reserved"):
        parse_markdown_v2("1.5")
    text, ents = parse_text("/near@rider_helper_bot 看 https://x.org #tag", None)
    assert [e["type"] for e in ents] == ["bot_command", "url", "hashtag"]


def test_image_size_sniffing() -> None:
    assert image_size(make_png(3, 2)) == (3, 2)
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9"
    )
    assert image_size(jpeg) == (640, 480)
    assert image_size(b"not an image") is None
