"""The bot token (and the webhook secret) never reach the logs, even on error paths whose records carry the
Bot API URL (`.../bot<token>/sendMessage`): logging is set up the way `rider-bot run` does it
(`bot.logs.setup_logging`), turned up to DEBUG with httpx's request lines on, and the stand-in makes sends fail.

An unfiltered handler sees the same records first: it proves the token really was in them, so the assertions
on the redacted output are not vacuous."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.error import InvalidToken

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.logs import RedactSecrets, setup_logging
from bot.standin.server import StandIn
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.ownstandin import standin_fixture, standin_settings
from tests.ports import free_port

TOKEN = "918273645:TOKEN-safety-Zq9xVv7Lw3dKp"
SECRET = "webhook-secret-Qm4Rt8Yz"
LOG_ERROR = "error while handling an update"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Logs:
    redacted: io.StringIO  # what setup_logging's handler wrote
    raw: ListHandler  # the same records, formatted before redaction

    @property
    def text(self) -> str:
        return self.redacted.getvalue()

    def assert_clean(self, *secrets: str) -> None:
        for secret in secrets:
            assert secret not in self.text, f"{secret!r} reached the log:\n{self.text[-4000:]}"


@pytest.fixture
def logs() -> Iterator[Logs]:
    """setup_logging(settings, DEBUG) writing to a buffer; httpx's per-request INFO lines switched on."""
    root = logging.getLogger()
    httpx_logger = logging.getLogger("httpx")
    saved = (root.handlers[:], root.level, httpx_logger.level)
    setup_logging(Settings(telegram_token=TOKEN, webhook_secret=SECRET), level=logging.DEBUG)
    [handler] = root.handlers
    assert any(isinstance(f, RedactSecrets) for f in handler.filters)
    buffer = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    raw = ListHandler()
    root.handlers.insert(0, raw)  # runs before the redacting handler
    httpx_logger.setLevel(logging.INFO)  # "HTTP Request: POST http://…/bot<token>/sendMessage …"
    try:
        yield Logs(buffer, raw)
    finally:
        root.handlers[:], level, httpx_level = saved
        root.setLevel(level)
        httpx_logger.setLevel(httpx_level)


standin = standin_fixture(TOKEN)


@pytest.fixture
async def runtime(standin: StandIn, tmp_path: Path, logs: Logs) -> AsyncIterator[Runtime]:
    rt = Runtime(standin_settings(TOKEN, standin, tmp_path / "rider.sqlite3", http_port=0), ManualClock(DEFAULT_NOW))
    try:
        await rt.start(poll_timeout=1)
        yield rt
    finally:
        await rt.stop()


async def test_failed_send_5xx_is_logged_without_the_token(runtime: Runtime, standin: StandIn, logs: Logs) -> None:
    rider = ChatUser(standin, 1001, "骑手小王")
    standin.faults.fail_next("5xx")  # the /start reply gets 502 Bad Gateway
    [apology] = await rider.send("/start")  # on_error tells the rider something went wrong
    assert apology["text"]
    assert standin.faults.injected == [{"method": "sendMessage", "kind": "5xx"}]

    assert f"{LOG_ERROR}: NetworkError" in logs.text
    assert "Bad Gateway" in logs.text  # the traceback made it through, redacted
    assert "Traceback (most recent call last)" in logs.text
    assert "/bot***/sendMessage" in logs.text and "502 Bad Gateway" in logs.text  # httpx's line, redacted
    assert TOKEN in logs.raw.text, "the unredacted records did carry the token"
    logs.assert_clean(TOKEN)


async def test_dropped_connection_is_logged_without_the_token(runtime: Runtime, standin: StandIn, logs: Logs) -> None:
    rider = ChatUser(standin, 1001, "骑手小王")
    standin.faults.drop_when = "before"
    standin.faults.fail_next("drop")  # the connection is cut before any answer
    [apology] = await rider.send("/start")
    assert apology["text"]

    assert f"{LOG_ERROR}: NetworkError" in logs.text
    assert "RemoteProtocolError" in logs.text
    assert TOKEN in logs.raw.text
    logs.assert_clean(TOKEN)


async def test_rejected_token_at_startup(standin: StandIn, tmp_path: Path, logs: Logs) -> None:
    """Telegram answers 401: PTB raises InvalidToken("The token `<token>` was rejected by the server.").
    Logged, it is redacted; but its str() carries the token, so it must never escape other than through
    logging (an uncaught exception printed by Python would bypass the filter)."""
    standin.token = "111111:SOME-OTHER-token"  # the stand-in now rejects ours
    runtime = Runtime(
        standin_settings(TOKEN, standin, tmp_path / "rider.sqlite3", http_port=0), ManualClock(DEFAULT_NOW)
    )
    try:
        with pytest.raises(InvalidToken) as caught:
            await runtime.start(poll_timeout=1)
    finally:
        await runtime.stop()
    assert TOKEN in str(caught.value)
    logging.getLogger("bot.main").error("could not start", exc_info=caught.value)
    assert "could not start" in logs.text and "was rejected by the server" in logs.text
    logs.assert_clean(TOKEN)


async def test_webhook_mode_keeps_token_and_secret_out_of_the_log(standin: StandIn, tmp_path: Path, logs: Logs) -> None:
    """PTB logs every Bot API call's parameters at DEBUG, setWebhook's secret_token included."""
    port = free_port()
    settings = standin_settings(
        TOKEN,
        standin,
        tmp_path / "rider.sqlite3",
        http_port=0,
        mode="webhook",
        webhook_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SECRET,
    )
    runtime = Runtime(settings, ManualClock(DEFAULT_NOW))
    try:
        await runtime.start()
        rider = ChatUser(standin, 1001, "骑手小王")
        standin.faults.fail_next("5xx")
        await rider.send("/start")
        response = await standin.post_to_webhook({"message": {}}, secret_token="wrong-secret")
        assert response.status_code == 403
    finally:
        await runtime.stop()
    assert f"{LOG_ERROR}: NetworkError" in logs.text
    assert SECRET in logs.raw.text and TOKEN in logs.raw.text
    logs.assert_clean(TOKEN, SECRET)
