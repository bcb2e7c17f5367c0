"""`rider-bot outbox list|retry|drop`, run for real as a subprocess against the database of a bot that is running.

Dead letters are made the way they happen: the outbox sends to someone who blocked the bot (403, permanent).
Once they unblock it, a retry from the command line is picked up by the running dispatcher by itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.store.errors import INTEGRITY_ERRORS
from tests.clirun import cli

BLOCKER = 5001


async def status_of(runtime: Runtime, row_id: int) -> str | None:
    assert runtime.services is not None
    row = await runtime.services.db.fetchone("SELECT status FROM outbox WHERE id = ?", (row_id,))
    return row[0] if row else None


async def until_status(runtime: Runtime, row_id: int, wanted: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout  # the dispatcher looks at least every 5 s; generous for a busy machine
    while (status := await status_of(runtime, row_id)) != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"row {row_id} is {status}, waited {timeout:g}s for {wanted}")
        await asyncio.sleep(0.05)


async def test_dead_letters_listed_retried_and_dropped_while_the_bot_runs(runtime: Runtime, settings: object) -> None:
    standin, services = runtime.standin, runtime.services
    assert standin is not None and services is not None
    db_path: Path = settings.db_path  # type: ignore[attr-defined]
    standin.blocked.add(BLOCKER)
    async with services.db.transaction() as conn:
        for n in (1, 2, 3):
            await enqueue(conn, f"ops-cli:{n}", Recipient(None, "telegram", str(BLOCKER)), out.text(f"第{n}条通知"))
    services.wake_outbox()
    rows = await services.db.fetchall("SELECT id FROM outbox WHERE idem_key LIKE 'ops-cli:%' ORDER BY id")
    ids = [r[0] for r in rows]
    for row_id in ids:
        await until_status(runtime, row_id, "dead")

    code, listed, err = await cli(db_path, "outbox", "list", "--dead")
    assert code == 0, err
    lines = listed.strip().splitlines()
    assert [line.split()[0] for line in lines] == [f"#{i}" for i in ids], listed
    assert all("[dead]" in line and f"telegram:{BLOCKER}" in line and "Forbidden" in line for line in lines)
    code, english, _ = await cli(db_path, "--lang", "en", "outbox", "list")
    assert code == 0 and "1 attempts" in english and "error: Forbidden" in english

    # the rider unblocks the bot; the operator sends the first one again
    standin.blocked.discard(BLOCKER)
    before = standin.last_seq(BLOCKER)
    code, said, _ = await cli(db_path, "outbox", "retry", str(ids[0]), "--by", "值班员小李")
    assert code == 0 and f"已重新排队 1 条消息：#{ids[0]}" in said, said
    await until_status(runtime, ids[0], "sent")
    [delivered] = await standin.wait_for_bot_messages(BLOCKER, 1, after_seq=before, timeout=5)
    assert delivered["text"] == "第1条通知"

    # the second must never go out: dropped, and the audit keeps what it was
    code, said, _ = await cli(db_path, "outbox", "drop", str(ids[1]))
    assert code == 0 and f"已删除消息 #{ids[1]}（原状态 dead）" in said, said
    assert await status_of(runtime, ids[1]) is None

    # the rest
    code, said, _ = await cli(db_path, "outbox", "retry", "--all-dead")
    assert code == 0 and f"已重新排队 1 条消息：#{ids[2]}" in said, said
    await until_status(runtime, ids[2], "sent")
    texts = [m.get("text") for m in standin.bot_messages(BLOCKER)]
    assert texts.count("第1条通知") == 1 and texts.count("第3条通知") == 1 and "第2条通知" not in texts

    # refusals: polite, specific, non-zero
    code, _, err = await cli(db_path, "outbox", "retry", str(ids[0]))
    assert code == 1 and f"消息 #{ids[0]} 的状态是 sent" in err
    code, _, err = await cli(db_path, "outbox", "drop", "999999")
    assert code == 1 and "没有编号为 999999 的消息" in err
    code, _, err = await cli(db_path, "outbox", "retry")
    assert code == 2 and "--all-dead" in err
    code, said, _ = await cli(db_path, "outbox", "retry", "--all-dead")
    assert code == 0 and "没有失败的消息" in said

    query = "SELECT outbox_id, action, actor, from_status, note FROM outbox_audit ORDER BY id"
    audit = await services.db.fetchall(query)
    assert [(a[0], a[1], a[3]) for a in audit] == [(ids[0], "retry", "dead"), (ids[1], "drop", "dead"),
                                                  (ids[2], "retry", "dead")]  # fmt: skip
    assert audit[0][2] == "值班员小李" and audit[1][2]  # --by, else the system user
    assert "Forbidden" in audit[0][4]
    kept = json.loads(audit[1][4])
    assert kept["id"] == ids[1] and json.loads(kept["payload"])["text"] == "第2条通知"
    with pytest.raises(INTEGRITY_ERRORS, match="append-only"):
        await services.db.write("DELETE FROM outbox_audit")
