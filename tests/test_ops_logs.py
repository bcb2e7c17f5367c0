"""RIDER_LOG_FORMAT=json: one JSON object a line with the update's id, a hash of its chat, the report it touched,
the handler and its latency — and never the token, a phone number or what people wrote.

Logging is set up as `rider-bot run` does it, turned up to DEBUG (PTB then logs every Bot API call with its
parameters, our replies and so the riders' own words included). An unfiltered handler sees the same records
first and proves the secrets and texts really were in them, so the greps on the JSON output are not vacuous.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.logs import setup_logging
from bot.observe import chat_hash
from bot.standin.server import StandIn
from tests.chat import ChatUser, settle
from tests.conftest import DEFAULT_NOW
from tests.reporting import jpeg

TOKEN = "918273645:JSON-logs-Wq8sLp2Xc5Nv"
PHONE = "13812345678"
SAID = "我在解放路口等单"  # a rider's own words
CAPTION = "井盖丢了很危险"
HERE = (34.2540, 117.2080)


class Raw(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logs() -> Iterator[tuple[io.StringIO, Raw]]:
    root = logging.getLogger()
    updates = logging.getLogger("bot.updates")
    saved = (root.handlers[:], root.level, updates.level)
    settings = load_settings(env={"TELEGRAM_TOKEN": TOKEN, "RIDER_LOG_FORMAT": "json"})
    setup_logging(settings, level=logging.DEBUG)
    [handler] = root.handlers
    buffer = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    raw = Raw()
    root.handlers.insert(0, raw)
    try:
        yield buffer, raw
    finally:
        root.handlers[:], level, updates_level = saved
        root.setLevel(level)
        updates.setLevel(updates_level)


@pytest.fixture
async def runtime(tmp_path: Path, logs: tuple[io.StringIO, Raw]) -> AsyncIterator[Runtime]:
    standin = StandIn(token=TOKEN)
    await standin.start()
    settings = Settings(
        telegram_token=TOKEN,
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        db_path=tmp_path / "rider.sqlite3",
        http_port=0,
        log_format="json",
        categories_toml=None,
    )
    rt = Runtime(settings, ManualClock(DEFAULT_NOW))
    try:
        await rt.start(poll_timeout=1)
        rt.standin = standin  # a real token, so not the runtime's own stand-in; tests.chat.settle looks here
        yield rt
    finally:
        await rt.stop()
        await standin.stop()


async def test_json_lines_carry_the_update_and_nothing_personal(
    runtime: Runtime, logs: tuple[io.StringIO, Raw]
) -> None:
    buffer, raw = logs
    standin = runtime.standin
    assert standin is not None
    rider = ChatUser(standin, 1001, "骑手小王")
    await rider.send("/start")
    await rider.send(f"{SAID}，电话{PHONE}")
    first = await rider.send(photo=jpeg(), caption=CAPTION, replies=2)
    assert first
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "井盖")
    _, [received] = await rider.tap(summary, "提交")
    ref = received["text"].split("编号 ")[1].split("。")[0]
    standin.faults.fail_next("5xx")  # an error path, with a traceback
    await rider.send("/help")
    await settle(runtime)
    # a log call that quotes input (a multi-line one: the control-character escaping rewrites the record)
    logging.getLogger("bot.test").warning("could not parse %r from user %s", f"{SAID}\n{PHONE}", 1001)

    text = buffer.getvalue()
    entries = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert entries and all(isinstance(e, dict) and {"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    handled = [e for e in entries if e["msg"] == "update handled"]
    assert len(handled) == 7, handled  # /start, text, photo, location, two taps, /help
    assert all(isinstance(e["update_id"], int) and e["latency_ms"] >= 0 for e in handled)
    assert {e["chat"] for e in handled} == {chat_hash(1001)} and chat_hash(1001) != "1001"
    assert {e["kind"] for e in handled} == {"command", "text", "photo", "location", "callback"}
    assert {"start.start", "search.on_text", "reports.on_photo", "reports.on_report_button"} <= {
        e["handler"] for e in handled
    }
    assert [e for e in handled if e.get("report") == ref], "the submit names its report"
    errors = [e for e in entries if e["level"] == "error"]
    assert errors and errors[0]["handler"] == "start.help_command" and errors[0]["outcome"] == "error"
    assert errors[0].get("error") and "Traceback" not in text

    # the raw records did hold them; the JSON lines do not
    rawtext = "\n".join(raw.lines)
    for secret in (TOKEN, PHONE, SAID, CAPTION):
        assert secret in rawtext, f"{secret!r} was never logged: this check would prove nothing"
        assert secret not in text, f"{secret!r} reached the JSON log"
    assert '"chat": 1001' not in text and "骑手小王" not in text
    assert [e for e in entries if e["msg"] == "could not parse '…' from user 1001"]
