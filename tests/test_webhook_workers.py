"""Identical webhook workers on one PostgreSQL database (issue 12, docs/SCALING.md "Order across processes").

Three `Runtime`s in webhook mode — their own pools, chat-lock connections and boot ids, on one database and one
Bot API stand-in — stand for three processes behind a load balancer; the test posts Telegram's updates straight
to the worker it picks, as nginx would. One more worker runs as a child process so that it can be killed -9.
A chat's answers show the order its updates were handled in: each text is answered with "没有找到「<text>」".
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.standin.server import StandIn
from bot.store.db import Database
from tests import pgcluster
from tests.childproc import BotChild
from tests.conftest import DEFAULT_NOW
from tests.ports import free_port

pytestmark = pytest.mark.skipif(
    pgcluster.backend() != "postgresql",
    reason="several worker processes need the shared PostgreSQL database; on SQLite there is one process, whose "
    "order and budgets are in-process (tests/test_webhook.py, tests/test_bad_inputs.py)",
)

TOKEN = "123456:TEST-webhook-workers"
ANSWER = re.compile(r"没有找到「(序号\d+)」")
SLOW_DOWN = "消息太快了，请稍等几秒再发。"


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    async with StandIn(token=TOKEN) as stand:
        yield stand


def worker_settings(standin: StandIn, tmp_path: Path, port: int, public_port: int, **extra: Any) -> Settings:
    return Settings(
        telegram_token=TOKEN,
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        mode="webhook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        webhook_url=f"http://127.0.0.1:{public_port}/telegram",  # one public URL for all (the load balancer's)
        http_port=None,
        db_path=tmp_path / "rider.sqlite3",
        demo_people=False,
        categories_toml=None,
        **extra,
    )


@contextlib.asynccontextmanager
async def workers(standin: StandIn, tmp_path: Path, n: int, **extra: Any) -> AsyncIterator[list[str]]:
    """`n` webhook workers on one database; yields the URL of each."""
    ports = [free_port() for _ in range(n)]
    runtimes: list[Runtime] = []
    try:
        for port in ports:
            runtime = Runtime(worker_settings(standin, tmp_path, port, ports[0], **extra), ManualClock(DEFAULT_NOW))
            runtimes.append(runtime)
            await asyncio.wait_for(runtime.start(), 60)
        yield [f"http://127.0.0.1:{port}/telegram" for port in ports]
    finally:
        for runtime in runtimes:
            await runtime.stop()


def text_update(update_id: int, user_id: int, text: str) -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "骑手", "language_code": "zh-hans"}
    chat = {"id": user_id, "type": "private", "first_name": "骑手"}
    message = {"message_id": update_id, "date": int(time.time()), "from": user, "chat": chat, "text": text}
    return {"update_id": update_id, "message": message}


async def post(standin: StandIn, url: str, update: dict) -> None:
    response = await standin.post_to_webhook(update, url=url, timeout=20)
    assert response.status_code == 200, (response.status_code, response.text)


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:  # noqa: ASYNC109
    """A bounded poll: the stand-in records what the workers send, in several processes."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        await asyncio.sleep(0.05)
    return value


def answered(standin: StandIn, chat: int) -> list[str]:
    """The texts the bot answered in this chat, in the order it answered them."""
    return [m.group(1) for msg in standin.bot_messages(chat) if (m := ANSWER.search(msg.get("text") or ""))]


async def test_a_chats_updates_run_in_update_order_whichever_worker_gets_them(standin: StandIn, tmp_path: Path) -> None:
    async with workers(standin, tmp_path, 3) as urls:
        # Out of order: while the chat's first update is being handled (its answer meets a 429 and waits a second),
        # the next four arrive at the same moment at three workers, last first.
        chat = 7001
        standin.faults.retry_after = 1
        standin.faults.fail_next("429")
        await post(standin, urls[0], text_update(50_001, chat, "序号1"))
        await until(lambda: standin.faults.injected, 10, "the first answer to be under way")
        late = [(urls[1], 5), (urls[2], 4), (urls[0], 3), (urls[1], 2)]
        await asyncio.gather(*(post(standin, url, text_update(50_000 + n, chat, f"序号{n}")) for url, n in late))
        await until(lambda: len(answered(standin, chat)) >= 5, 20, "five answers")
        assert answered(standin, chat) == [f"序号{n}" for n in range(1, 6)]

        # In order, each update delivered twice at once to two workers (a redelivery racing the original), the
        # first one slow again: every update is answered once, in order.
        chat = 7002
        standin.faults.fail_next("429")
        ids = range(60_001, 60_013)
        for i, update_id in enumerate(ids):
            update = text_update(update_id, chat, f"序号{update_id - 60_000}")
            await asyncio.gather(post(standin, urls[i % 3], update), post(standin, urls[(i + 1) % 3], update))
        await until(lambda: len(answered(standin, chat)) >= len(ids), 30, "twelve answers")
        await asyncio.sleep(0.5)  # a second copy of any answer would show up by now
        assert answered(standin, chat) == [f"序号{n}" for n in range(1, 13)]

    async with Database(tmp_path / "rider.sqlite3") as db:
        rows = await db.fetchall("SELECT key, done, payload FROM inbound_seen WHERE chat IN ('7001', '7002')")
    assert len(rows) == 17 and all(r[1] == 1 and r[2] is None for r in rows)


class ChildWorker(BotChild):
    """A webhook worker in its own process (tests/webhookworker.py), to be killed -9."""

    def __init__(self, standin: StandIn, tmp_path: Path, public_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        config = {
            "token": TOKEN, "base_url": standin.base_url, "base_file_url": standin.base_file_url,
            "db_path": str(tmp_path / "rider.sqlite3"), "port": self.port,
            "webhook_url": f"http://127.0.0.1:{public_port}/telegram",
        }  # fmt: skip
        super().__init__("tests.webhookworker", config, tmp_path, "worker", label="the worker")


async def test_a_killed_workers_unfinished_updates_are_handled_by_another_within_seconds(
    standin: StandIn, tmp_path: Path
) -> None:
    async with workers(standin, tmp_path, 1) as urls:
        public_port = int(urls[0].split(":")[2].split("/")[0])
        child = ChildWorker(standin, tmp_path, public_port)
        await child.start()
        try:
            chat = 7101
            standin.faults.retry_after = 120  # the child's first answer would wait two minutes: it is killed first
            standin.faults.fail_next("429")
            await post(standin, child.url, text_update(70_001, chat, "序号1"))
            await until(lambda: standin.faults.injected, 10, "the child's first answer to be under way")
            for n in (2, 3):  # recorded by the child (200 to Telegram), waiting for the chat the child holds
                await post(standin, child.url, text_update(70_000 + n, chat, f"序号{n}"))
            await child.kill()
            killed = time.monotonic()
            await until(lambda: len(answered(standin, chat)) >= 3, 20, "the three updates to be answered")
            took = time.monotonic() - killed
        finally:
            await child.stop()  # the kill above, or a failure before it
        print(f"taken over {took:.1f} s after the kill")
        assert answered(standin, chat) == ["序号1", "序号2", "序号3"]
        assert took < 10, f"the surviving worker took {took:.1f} s to take over the killed one's updates"


async def test_a_flooder_spread_over_workers_spends_one_budget(standin: StandIn, tmp_path: Path) -> None:
    """Per-user budget 4, everyone's budget 10, both refilling too slowly to matter during the test."""
    limits = {"flood_burst": 4, "flood_per_second": 0.01, "flood_global_burst": 10, "flood_global_per_second": 0.01}
    async with workers(standin, tmp_path, 3, **limits) as urls:
        flooder = 7201
        for n in range(1, 13):
            await post(standin, urls[n % 3], text_update(80_000 + n, flooder, f"序号{n}"))
        await until(lambda: len(standin.bot_messages(flooder)) >= 5, 20, "four answers and one warning")
        # Three quiet riders, three messages each: everyone's budget has 6 of its 10 left.
        quiet = [7211, 7212, 7213]
        for n in range(1, 4):
            for i, rider in enumerate(quiet):
                await post(standin, urls[(n + i) % 3], text_update(81_000 + 10 * n + i, rider, f"序号{n}"))
        await until(lambda: sum(len(answered(standin, r)) for r in quiet) >= 6, 20, "six answers to the others")
        await asyncio.sleep(0.5)  # anything more would have been sent by now

    texts = [m.get("text") for m in standin.bot_messages(flooder)]
    assert answered(standin, flooder) == ["序号1", "序号2", "序号3", "序号4"]
    assert texts.count(SLOW_DOWN) == 1, texts
    assert len(texts) == 5, texts
    assert sum(len(answered(standin, r)) for r in quiet) == 6
    assert not any(SLOW_DOWN in (m.get("text") or "") for r in quiet for m in standin.bot_messages(r))


async def test_workers_without_a_configured_secret_share_one(standin: StandIn, tmp_path: Path) -> None:
    async with workers(standin, tmp_path, 2) as urls:
        secrets_set = [c["params"].get("secret_token") for c in standin.calls if c["method"] == "setWebhook"]
        assert len(secrets_set) == 2 and secrets_set[0] and secrets_set[0] == secrets_set[1]
        for n, url in enumerate(urls):  # Telegram's posts (with the one secret) are accepted by every worker
            await post(standin, url, text_update(90_001 + n, 7301, f"序号{n + 1}"))
        await until(lambda: len(answered(standin, 7301)) >= 2, 10, "both answers")
    async with workers(standin, tmp_path, 1) as urls:  # a restart keeps it: Telegram's pending posts still pass
        again = [c["params"].get("secret_token") for c in standin.calls if c["method"] == "setWebhook"]
        assert again[-1] == secrets_set[0]
