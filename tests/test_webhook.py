"""Webhook mode through the real stack: the stand-in POSTs updates to PTB's webhook server (tornado) on 127.0.0.1,
the bot answers through the stand-in's Bot API. Every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Conflict

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.standin.server import StandIn
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.ownstandin import standin_fixture, standin_settings
from tests.ports import free_port

TOKEN = "123456:TEST-webhook-token"
SECRET = "s3cret-webhook_Token-42"
XUZHOU = (34.2617, 117.1859)
QUIET = 0.5  # how long "nothing happens" is watched for


def webhook_settings(standin: StandIn, tmp_path: Path, port: int) -> Settings:
    return standin_settings(
        TOKEN,
        standin,
        tmp_path / "rider.sqlite3",
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SECRET,
        http_port=0,
    )


async def start_runtime(settings: Settings) -> Runtime:
    runtime = Runtime(settings, ManualClock(DEFAULT_NOW))
    try:
        await asyncio.wait_for(runtime.start(poll_timeout=1), 20)
    except BaseException:
        await runtime.stop()
        raise
    return runtime


standin = standin_fixture(TOKEN)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def runtime(standin: StandIn, tmp_path: Path, port: int) -> AsyncIterator[Runtime]:
    rt = await start_runtime(webhook_settings(standin, tmp_path, port))
    try:
        yield rt
    finally:
        await rt.stop()


def replies(messages: list[dict]) -> list[tuple[str | None, list[list[str]]]]:
    """What the rider sees of the bot's answers: texts and inline button labels."""
    out = []
    for m in messages:
        rows = (m.get("reply_markup") or {}).get("inline_keyboard", [])
        out.append((m.get("text"), [[b["text"] for b in row] for row in rows]))
    return out


async def conversation(standin: StandIn) -> list:
    rider = ChatUser(standin, 1001, "骑手小王")
    start = await rider.send("/start")
    located = await rider.share_location(*XUZHOU)
    return [*replies(start), *replies(located), standin.reply_keyboard(1001)]


async def test_set_webhook_was_called_with_url_and_secret(runtime: Runtime, standin: StandIn, port: int) -> None:
    [call] = [c for c in standin.calls if c["method"] == "setWebhook"]
    assert call["ok"]
    assert call["params"]["url"] == f"http://127.0.0.1:{port}/telegram"
    assert call["params"]["secret_token"] == SECRET
    assert not [c for c in standin.calls if c["method"] == "getUpdates"], "webhook mode must not poll"
    info = standin.webhook_info()
    assert info["url"] == f"http://127.0.0.1:{port}/telegram"
    assert info["pending_update_count"] == 0


async def test_webhook_answers_match_polling(runtime: Runtime, standin: StandIn, tmp_path: Path) -> None:
    by_webhook = await conversation(standin)
    deliveries = standin.webhook_deliveries
    assert deliveries and all(d["status"] == 200 and d["error"] is None for d in deliveries)
    assert [d["update_id"] for d in deliveries] == sorted(d["update_id"] for d in deliveries), "in order"
    assert "last_error_date" not in standin.webhook_info()

    polling_dir = tmp_path / "polling"
    polling_dir.mkdir()
    async with StandIn(token=TOKEN) as polled:
        poller = await start_runtime(standin_settings(TOKEN, polled, polling_dir / "rider.sqlite3", http_port=0))
        try:
            by_polling = await conversation(polled)
        finally:
            await poller.stop()
    assert by_webhook == by_polling
    assert "骑手小王" in by_webhook[0][0]
    assert by_webhook[1][0].startswith("📍 离你最近的驿站")


def start_update(chat_id: int) -> dict:
    user = {"id": chat_id, "is_bot": False, "first_name": "冒充者"}
    return {
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "from": user,
            "chat": {"id": chat_id, "type": "private", "first_name": "冒充者"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        }
    }


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""], ids=["missing", "wrong", "empty"])
async def test_post_without_the_right_secret_is_refused(runtime: Runtime, standin: StandIn, secret: str | None) -> None:
    chat_id = 4242
    response = await standin.post_to_webhook(start_update(chat_id), secret_token=secret)
    assert response.status_code == 403
    await asyncio.sleep(QUIET)
    assert standin.bot_messages(chat_id) == []
    assert not [c for c in standin.calls if c["params"].get("chat_id") in (chat_id, str(chat_id))]

    # the same update with the right secret is processed: the refusal was about the header only
    ok = await standin.post_to_webhook(start_update(chat_id))
    assert ok.status_code == 200
    [greeting] = await standin.wait_for_bot_messages(chat_id, 1, timeout=8)
    assert "冒充者" in greeting["text"]


async def test_broken_json_is_rejected_without_crashing(runtime: Runtime, standin: StandIn) -> None:
    response = await standin.post_to_webhook(b"{not json", secret_token=SECRET)
    assert response.status_code == 400
    rider = ChatUser(standin, 1001, "骑手小王")
    [reply] = await rider.send("/start")
    assert "骑手小王" in reply["text"]


async def test_restart_after_stop(standin: StandIn, tmp_path: Path, port: int) -> None:
    settings = webhook_settings(standin, tmp_path, port)
    rider = ChatUser(standin, 1001, "骑手小王")
    first = await start_runtime(settings)
    try:
        [hello] = await rider.send("/start")
    finally:
        await first.stop()

    # while the bot is down, a message waits at the stand-in; delivery fails and is retried
    standin.webhook_backoff = (0.05, 0.2)
    standin.webhook_max_attempts = 1000
    before = standin.last_seq(1001)
    standin.inject_message(1001, text="/start", first_name="骑手小王")

    await standin.wait_for_webhook(lambda: any(d["error"] for d in standin.webhook_deliveries), timeout=5)
    info = standin.webhook_info()
    assert info["pending_update_count"] == 1
    assert info["last_error_message"] and info["last_error_date"]
    assert standin.bot_messages(1001)[-1]["_seq"] <= before

    second = await start_runtime(settings)
    try:
        [again] = await standin.wait_for_bot_messages(1001, 1, after_seq=before, timeout=8)
        assert again["text"] == hello["text"]
        [reply] = await rider.share_location(*XUZHOU)
        assert reply["text"].startswith("📍 离你最近的驿站")
    finally:
        await second.stop()
    assert len([c for c in standin.calls if c["method"] == "setWebhook"]) == 2
    assert standin.webhook_info()["pending_update_count"] == 0


# ---------------------------------------------------------------- the stand-in's webhook API on its own


@pytest.fixture
async def bot(standin: StandIn) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=standin.base_url, base_file_url=standin.base_file_url) as client:
        yield client


async def test_get_updates_conflicts_while_a_webhook_is_set(bot: Bot, standin: StandIn, port: int) -> None:
    assert await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token=SECRET, max_connections=5)
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates(timeout=0)
    info = await bot.get_webhook_info()
    assert info.url == f"http://127.0.0.1:{port}/telegram"
    assert info.max_connections == 5
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates(timeout=0) == ()


async def test_set_webhook_during_a_long_poll_ends_it_with_409(bot: Bot, standin: StandIn, port: int) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5, read_timeout=10))
    await asyncio.sleep(0.2)
    await bot.set_webhook(f"http://localhost:{port}/telegram")
    with pytest.raises(Conflict, match="webhook is active"):
        await asyncio.wait_for(poll, 5)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/telegram",
        "http://example.com/telegram",
        "http://10.0.0.1:8443/telegram",
        "https://127.0.0.1:8443/telegram",
        "http://user:pw@127.0.0.1/telegram",
        "ftp://127.0.0.1/telegram",
    ],
)
async def test_only_loopback_http_webhooks_are_accepted(bot: Bot, standin: StandIn, url: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)bad webhook"):
        await bot.set_webhook(url)
    assert standin.webhook_info()["url"] == ""
    with pytest.raises(ValueError, match=r"(?i)bad webhook"):
        await standin.post_to_webhook({"message": {}}, url=url)


async def test_bad_secret_token_is_refused(bot: Bot, port: int) -> None:
    with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed"):
        await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token="has spaces!")


async def _read_post(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes]:
    """What a test's own webhook receiver reads of one POST from the stand-in: its headers (lower-case names) and
    its body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return headers, await reader.readexactly(int(headers.get("content-length", "0")))


async def _answer(writer: asyncio.StreamWriter, status: int) -> None:
    writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    writer.close()


async def test_delivery_order_secret_header_and_bounded_retries(bot: Bot, standin: StandIn) -> None:
    """A tiny webhook receiver: fails the first two tries, then records what it gets."""
    received: list[tuple[int, str | None]] = []
    all_received = asyncio.Event()
    answers = iter([500, 503])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers, body = await _read_post(reader)
        status = next(answers, 200)
        if status == 200:
            received.append((json.loads(body)["update_id"], headers.get("x-telegram-bot-api-secret-token")))
            if len(received) == 3:
                all_received.set()
        await _answer(writer, status)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    hook_port = server.sockets[0].getsockname()[1]
    try:
        standin.webhook_backoff = (0.01, 0.05)
        ids = [
            standin.inject_update({"message": {"message_id": n, "date": 0, "chat": {"id": 1, "type": "private"}}})
            for n in range(3)
        ]
        await bot.set_webhook(f"http://127.0.0.1:{hook_port}/hook", secret_token=SECRET)

        await asyncio.wait_for(all_received.wait(), 5)
        assert received == [(i, SECRET) for i in ids]
        await standin.wait_for_webhook(lambda: standin.webhook_info()["pending_update_count"] == 0, timeout=5)
        statuses = [d["status"] for d in standin.webhook_deliveries]
        assert statuses == [500, 503, 200, 200, 200]
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 503 X"
    finally:
        server.close()
        await server.wait_closed()


async def test_parallel_delivery_keeps_max_connections_in_flight_one_per_chat_and_retries_each_update(
    bot: Bot, standin: StandIn
) -> None:
    """webhook_parallel (as Telegram with max_connections > 1): several POSTs at once, never more than
    max_connections, never two of one chat (the next of a chat only after the previous got its 2xx), and a
    failing update retried while other chats' updates get through."""
    in_flight: list[int] = []  # chat ids of the POSTs in flight
    most = 0
    received: list[tuple[int, int]] = []  # (chat, update_id) in the order answered 2xx
    failed_once: set[int] = set()
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal most
        _, body = await _read_post(reader)
        update = json.loads(body)
        chat, update_id = update["message"]["chat"]["id"], update["update_id"]
        assert chat not in in_flight, "two updates of one chat in flight at once"
        in_flight.append(chat)
        most = max(most, len(in_flight))
        if most >= 3:
            release.set()
        await asyncio.wait_for(release.wait(), 5)
        in_flight.remove(chat)
        status = 200
        if chat == 1 and update_id not in failed_once:  # chat 1's updates each fail their first try
            failed_once.add(update_id)
            status = 502
        else:
            received.append((chat, update_id))
        await _answer(writer, status)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    hook_port = server.sockets[0].getsockname()[1]
    try:
        standin.webhook_parallel = 8
        standin.webhook_backoff = (0.01, 0.05)
        ids = {}
        for n in range(12):
            chat = 1 + n % 4
            message = {"message_id": n, "date": 0, "chat": {"id": chat, "type": "private"}}
            ids.setdefault(chat, []).append(standin.inject_update({"message": message}))
        await bot.set_webhook(f"http://127.0.0.1:{hook_port}/hook", max_connections=3)
        await standin.wait_for_webhook(lambda: standin.webhook_info()["pending_update_count"] == 0, timeout=10)
        assert most == 3, "max_connections deliveries in flight at once, never more"
        for chat, sent in ids.items():
            assert [u for c, u in received if c == chat] == sent, f"chat {chat}'s updates in order, each once"
        assert failed_once == set(ids[1])
        assert len(standin.webhook_deliveries) == 12 + len(failed_once)
    finally:
        server.close()
        await server.wait_closed()


async def test_delivery_gives_up_after_max_attempts(bot: Bot, standin: StandIn) -> None:
    dead_port = free_port()  # nothing listens there: connection refused
    standin.webhook_backoff = (0.01, 0.02)
    standin.webhook_max_attempts = 3
    standin.inject_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}})
    await bot.set_webhook(f"http://127.0.0.1:{dead_port}/hook")

    await standin.wait_for_webhook(lambda: standin.webhook_info()["pending_update_count"] == 0, timeout=5)
    assert [d["attempt"] for d in standin.webhook_deliveries] == [1, 2, 3]
    assert all(d["status"] is None for d in standin.webhook_deliveries)
    info = await bot.get_webhook_info()
    assert info.last_error_message and info.last_error_date is not None
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).last_error_message is None


async def test_post_to_webhook_needs_a_target(standin: StandIn) -> None:
    with pytest.raises(RuntimeError, match="no webhook"):
        await standin.post_to_webhook({"message": {}})
    with pytest.raises(httpx.ConnectError):
        await standin.post_to_webhook({"message": {}}, url=f"http://127.0.0.1:{free_port()}/x", timeout=2)


# ---------------------------------------------------------------- hostile POSTs to the bot's webhook


async def raw_post(port: int, body_size: int, headers: dict[str, str], *, chunked: bool = False) -> int | None:
    """POST `body_size` bytes in 64 KB pieces as a client that does not wait politely; returns the status the
    server answered with (None if it closed without one). Reading runs beside writing, because the server may
    answer before the body is sent, and stop reading it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = ["POST /telegram HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {body_size}")
    status: list[int] = []

    async def read_status() -> None:
        line = await reader.readline()
        if line.startswith(b"HTTP/1.1 "):
            status.append(int(line.split()[1]))

    reading = asyncio.create_task(read_status())
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        piece = b"{" + b" " * (64 * 1024 - 1)
        sent = 0
        while sent < body_size and not reading.done():
            n = min(len(piece), body_size - sent)
            writer.write(f"{n:x}\r\n".encode() + piece[:n] + b"\r\n" if chunked else piece[:n])
            await writer.drain()
            sent += n
        if chunked and not reading.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        await asyncio.wait_for(reading, 10)
    except (ConnectionError, asyncio.IncompleteReadError):
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            await asyncio.wait_for(reading, 2)
    finally:
        reading.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return status[0] if status else None


def peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux ≥ 4.0)


def peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_unauthenticated_big_posts_are_refused_before_the_body_is_read(
    runtime: Runtime, standin: StandIn, port: int
) -> None:
    """Eight 5 MB POSTs at once, without or with a wrong secret: every one is a 403, and the process's peak
    memory grows by far less than the 40 MB a server reading the bodies would hold."""
    await asyncio.to_thread(peak_rss_reset)
    base = await asyncio.to_thread(peak_rss_kb)
    secrets_sent = [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}] * 4
    statuses = await asyncio.gather(*(raw_post(port, 5 * 1024 * 1024, h) for h in secrets_sent))
    grown_mb = (await asyncio.to_thread(peak_rss_kb) - base) / 1024
    assert statuses == [403] * 8
    print(f"webhook: peak memory grew by {grown_mb:.1f} MB")
    assert grown_mb < 16, f"peak memory grew by {grown_mb:.1f} MB"
    # the bot is still there for Telegram
    [reply] = await ChatUser(standin, 1001, "骑手小王").send("/start")
    assert "骑手小王" in reply["text"]


async def test_a_body_over_one_megabyte_is_refused_even_with_the_secret(runtime: Runtime, port: int) -> None:
    right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert await raw_post(port, 2 * 1024 * 1024, right) == 413
    assert await raw_post(port, 2 * 1024 * 1024, right, chunked=True) == 413  # no Content-Length to go by


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"{not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": {"message_id": 1, "date": 0}}',  # no chat: PTB cannot build it
    ],
    ids=["empty", "blank", "broken", "not-utf8", "array", "no-update-id", "string-id", "no-chat"],
)
async def test_a_malformed_body_with_the_secret_is_a_400_without_a_traceback(
    runtime: Runtime, standin: StandIn, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await standin.post_to_webhook(body, secret_token=SECRET)
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    [refusal] = [r for r in caplog.records if "webhook POST refused (400)" in r.getMessage()]
    assert refusal.levelno == logging.INFO
    [reply] = await ChatUser(standin, 1001, "骑手小王").send("/start")
    assert "骑手小王" in reply["text"]
