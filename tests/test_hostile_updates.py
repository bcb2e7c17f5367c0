"""Hostile updates through the real stack (PTB polling the Bot API stand-in, a SQLite file): a forged button whose
data carries a newline writes one log line, not two, and so does an exception quoting a rider's words; a message
without a sender is dropped without a traceback.

Logging is set up the way `rider-bot run` does it (`bot.logs.setup_logging`), its handler pointed at a buffer."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from telegram import Update
from telegram.ext import ContextTypes, MessageHandler, filters

from bot.app import Runtime
from bot.config import Settings
from bot.logs import escape_controls, setup_logging
from bot.texts import t
from tests.chat import ChatUser, settle

FORGED_LINE = "2026-11-26 10:00:00,000 ERROR bot.reports.workflow: admin 4242 granted role admin to 6666"


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup_logging(Settings())
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_a_forged_button_with_a_newline_makes_one_log_line(
    runtime: Runtime, rider: ChatUser, log_buffer: io.StringIO
) -> None:
    [hello] = await rider.send("/start")
    for data in (f"rx:1\n{FORGED_LINE}", f"rx:2\r\n{FORGED_LINE}", f"rx:3\u2028{FORGED_LINE}", "rx:4\x1b[2J\x1b[H"):
        answer, _ = await rider.press(hello, data, replies=0)
        assert answer.get("show_alert"), data  # refused politely, as any forged button
    await settle(runtime)
    lines = log_buffer.getvalue().splitlines()
    refused = [line for line in lines if "refused" in line and "rx:" in line]
    assert len(refused) == 4, lines
    assert not [line for line in lines if line.startswith("2026-11-26 10:00:00,000")], "a forged line got through"
    assert any("rx:1\\n2026-11-26" in line for line in refused)
    assert any("rx:2\\r\\n2026-11-26" in line for line in refused)
    assert any("rx:3\\u20282026-11-26" in line for line in refused)
    assert any("rx:4\\x1b[2J\\x1b[H" in line for line in refused)
    assert "\x1b" not in log_buffer.getvalue()


async def test_an_exception_quoting_what_a_rider_sent_makes_no_forged_line(
    runtime: Runtime, rider: ChatUser, log_buffer: io.StringIO
) -> None:
    """A bug whose exception message quotes the rider's words (a handler that raises `ValueError(text)`, added in
    front of ours) is logged by our error handler with its traceback: the traceback keeps its lines, but the
    message in it is escaped, in the exception and in the one it was raised from."""
    assert runtime.application is not None

    async def buggy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text if update.effective_message else ""
        if text and text.startswith("bug"):
            try:
                raise KeyError(text)
            except KeyError as exc:
                raise ValueError(f"could not parse {text}") from exc

    handler = MessageHandler(filters.TEXT, buggy)
    runtime.application.add_handler(handler, group=-100)
    try:
        for text in (f"bug 1\n{FORGED_LINE}", f"bug 2\r\n{FORGED_LINE}", f"bug 3\u2028{FORGED_LINE}\x1b[2J"):
            [answer] = await rider.send(text)
            assert answer["text"] == t("zh-CN", "error.generic")  # the rider gets the polite answer
        await settle(runtime)
    finally:
        runtime.application.remove_handler(handler, group=-100)
    text = log_buffer.getvalue()
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("2026-11-26 10:00:00,000")], "a forged line got through"
    assert "\x1b" not in text and "\u2028" not in text and "\r" not in text
    tracebacks = [line for line in lines if line.startswith("Traceback (most recent call last)")]
    assert len(tracebacks) == 6, text  # each ValueError and the KeyError it came from, each in one piece
    assert any(line.startswith("ValueError: could not parse bug 1\\n2026-11-26") for line in lines), text
    assert any(line.startswith("KeyError: 'bug 2\\r\\n2026-11-26") for line in lines), text
    assert any("bug 3\\u20282026-11-26" in line and line.endswith("\\x1b[2J") for line in lines), text


def test_escaping_keeps_ordinary_text() -> None:
    assert escape_controls("骑手小王 sent 米兰社区 (3 km) \\ ok") == "骑手小王 sent 米兰社区 (3 km) \\ ok"
    assert escape_controls("a\tb\x00c\x7f\x85\u202ed") == "a\\tb\\x00c\\x7f\\x85\\u202ed"


def senderless_message(update_id: int, chat: dict, text: str) -> dict:
    message = {"message_id": update_id, "date": 1_700_000_000, "chat": chat, "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


@pytest.mark.parametrize(
    "chat",
    [
        {"id": 5150, "type": "private", "first_name": "无名"},
        {"id": -5150, "type": "group", "title": "骑手群"},
        {"id": -1005150, "type": "supergroup", "title": "骑手大群"},
    ],
    ids=["private", "group", "supergroup"],
)
async def test_a_message_without_a_sender_is_dropped_cleanly(
    runtime: Runtime, rider: ChatUser, chat: dict, caplog: pytest.LogCaptureFixture
) -> None:
    assert runtime.standin is not None
    standin = runtime.standin
    caplog.set_level(logging.INFO)
    for n, text in enumerate(["/start", "米兰社区", "/report", "/join K7P2-9XQM"]):
        standin.inject_update(senderless_message(900_000 + n, chat, text))
    await settle(runtime)
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    dropped = [r for r in caplog.records if "without a sender" in r.getMessage()]
    assert len(dropped) == 4
    assert standin.bot_messages(chat["id"]) == []
    # the bot carries on for everyone else
    [hello] = await rider.send("/start")
    assert "骑手小王" in hello["text"]
