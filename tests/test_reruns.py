"""An update handled again acts once: the steps a rider takes are idempotent.

Every update is recorded before it runs and marked done after; one whose process was killed in between is run
again by the next process (docs/RELIABILITY.md, promise 18: at least once). When the kill falls after the step's
effect was committed and before it was marked done, the step runs a second time on its own result. These tests
make exactly that happen through the real stack — the step answered, its ledger row opened again with its
contents, the process restarted (which re-runs it) — and check that the second run changes nothing and tells the
rider where things stand (found by the scale-out test: a multiple-choice tick run twice toggled back, and the
rider was stuck on "pick at least one").
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from bot.app import Runtime
from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from bot.standin.server import StandIn
from tests.chat import ChatUser, buttons
from tests.ownstandin import standin_fixture
from tests.reporting import grid_team, jpeg
from tests.test_corrections import flag

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids


TOKEN = "123456:rerun-test-token"
# Telegram outlives the bot's process: one stand-in across the restart (the offline demo's goes with it).
standin = standin_fixture(TOKEN)


@pytest.fixture
def settings(settings: Settings, standin: StandIn) -> Settings:
    return replace(
        settings, categories_toml=DEFAULT_CATEGORIES_TOML, telegram_token=TOKEN,
        telegram_base_url=standin.base_url, telegram_base_file_url=standin.base_file_url,
    )  # fmt: skip


@pytest.fixture
def rider(standin: StandIn) -> ChatUser:
    return ChatUser(standin, 1001, "骑手小王")


async def _last_update_id(runtime: Runtime) -> int:
    row = await runtime.services.db.fetchone(
        "SELECT MAX(CAST(key AS INTEGER)) FROM inbound_seen WHERE channel = 'telegram'"
    )
    assert row is not None and row[0] is not None
    return int(row[0])


async def _done(runtime: Runtime, key: str) -> None:
    for _ in range(80):  # bounded: 8 s
        row = await runtime.services.db.fetchone(
            "SELECT done FROM inbound_seen WHERE channel = 'telegram' AND key = ?", (key,)
        )
        if row is not None and row[0] == 1:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"update {key} was not marked done")


async def _handled_again(runtime: Runtime, rider: ChatUser, update: dict) -> list[dict]:
    """As if the process had been killed after the update's effects were committed and before it was marked done:
    its ledger row open again with its contents, then a restart, which runs it again. Returns what the second run
    sent or changed (an answer the same as the first run's edits nothing: Telegram refuses "not modified")."""
    key = str(update["update_id"])
    await _done(runtime, key)  # the first run is over
    reopen = "UPDATE inbound_seen SET done = 0, payload = ? WHERE channel = 'telegram' AND key = ?"
    await runtime.services.db.write(reopen, (json.dumps(update), key))
    before = rider.standin.last_seq(rider.user_id)
    await runtime.stop()
    await runtime.start(poll_timeout=1)
    await _done(runtime, key)  # the second
    return [m for m in rider.standin.bot_messages(rider.user_id) if m["_seq"] > before]


async def _tapped_again(runtime: Runtime, rider: ChatUser, message: dict, label: str) -> dict:
    """`label`'s button on `message` is tapped (and answered), then that update is handled again: the chat's last
    message after both."""
    data = next(b["callback_data"] for b in buttons(message) if label in b["text"])
    await rider.press(message, data)
    await _handled_again(runtime, rider, {
        "update_id": await _last_update_id(runtime),
        "callback_query": {
            "id": "4382000000000000001",
            "from": {"id": rider.user_id, "is_bot": False, "first_name": rider.first_name},
            "message": message,
            "chat_instance": "1",
            "data": data,
        },
    })  # fmt: skip
    return rider.standin.bot_messages(rider.user_id)[-1]


async def _sent_again(runtime: Runtime, person: ChatUser) -> dict:
    """The person's last message, handled again: the chat's last message after both runs."""
    await _handled_again(runtime, person, {"update_id": await _last_update_id(runtime), "message": person.last_sent})
    return person.standin.bot_messages(person.user_id)[-1]


async def test_every_step_of_a_report_handled_again_changes_nothing(runtime: Runtime, standin: StandIn) -> None:
    """A whole report, each update handled a second time right after its first run (the process restarted in
    between, as after a kill between the step's commit and its done mark): the rider's nine steps, the worker's
    four, the rating. The report comes out as if nothing had been run twice."""
    team = await grid_team(runtime, *HERE, standin=standin)
    rider, worker = team["rider"], team["worker"]
    await rider.send(photo=jpeg(), replies=2)
    await _sent_again(runtime, rider)
    await rider.share_location(*HERE)
    categories = await _sent_again(runtime, rider)
    question = await _tapped_again(runtime, rider, categories, "消防通道堵塞")
    ticked = await _tapped_again(runtime, rider, question, "电动车")
    ticked = await _tapped_again(runtime, rider, ticked, "杂物")
    single = await _tapped_again(runtime, rider, ticked, "选好了")
    words = await _tapped_again(runtime, rider, single, "楼道")
    summary = await _tapped_again(runtime, rider, words, "跳过")
    assert "堵塞的是？ 电动车、杂物" in summary["text"] and "堵在哪里？ 楼道" in summary["text"], summary["text"]
    receipt = await _tapped_again(runtime, rider, summary, "提交")
    assert "编号" in receipt["text"]
    await runtime.services.outbox.wait_idle()
    card = next(m for m in standin.bot_messages(worker.user_id) if "接单" in str(buttons(m)))
    accepted = await _tapped_again(runtime, worker, card, "接单")
    ask_photo = await _tapped_again(runtime, worker, accepted, "办结")
    assert "处理后的照片" in ask_photo["text"]
    await worker.send(photo=jpeg((40, 160, 60)))
    ask_note = await _sent_again(runtime, worker)
    assert "说明" in ask_note["text"] or "备注" in ask_note["text"], ask_note["text"]
    [resolved] = await worker.send("已清理")
    again = await _sent_again(runtime, worker)
    assert again["text"] == resolved["text"], "the note's second run is told it is done, not read as a place"
    await runtime.services.outbox.wait_idle()
    notice = next(m for m in reversed(standin.bot_messages(rider.user_id)) if "⭐" in str(buttons(m)))
    await _tapped_again(runtime, rider, notice, "5")
    db = runtime.services.db
    [report] = await db.fetchall("SELECT id, status, rating FROM reports")
    assert (report["status"], report["rating"]) == ("confirmed", 5)
    answers = await db.fetchall("SELECT question, value FROM report_answers ORDER BY question")
    assert [tuple(a) for a in answers] == [("blocked_by", "ebike,debris"), ("where", "corridor")]
    photos = await db.fetchall("SELECT phase FROM report_photos ORDER BY phase")
    assert [p[0] for p in photos] == ["after", "before"]
    events = [e[0] for e in await db.fetchall("SELECT action FROM report_events ORDER BY id")]
    assert len(events) == len(set(events)), f"each step once in the audit log: {events}"
    told = {person: [m.get("text") or m.get("caption") or "" for m in standin.bot_messages(person)]
            for person in (rider.user_id, worker.user_id)}  # fmt: skip
    for said in ("已收到，编号", "已被网格员接单", "积分", "已办结。", "谢谢你的评价"):
        assert sum(said in text for text in told[rider.user_id]) == 1, (said, told[rider.user_id])
    for said in ("新工单", "已接单"):
        assert sum(said in text for text in told[worker.user_id]) == 1, (said, told[worker.user_id])
    # "已记录：SP-… 已办结。" once per run of the note: its second run answers as its first did.
    assert sum("已办结" in text for text in told[worker.user_id]) == 2, told[worker.user_id]
    odd = ("至少选一项", "出错", "没有找到")
    assert not any(o in text for o in odd for text in told[rider.user_id] + told[worker.user_id])


async def test_a_tick_handled_again_stays_ticked(runtime: Runtime, rider: ChatUser) -> None:
    await rider.send(photo=jpeg(), replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [question] = await rider.tap(categories, "消防通道堵塞")
    again = await _tapped_again(runtime, rider, question, "电动车")
    assert "☑️ 电动车" in [b["text"] for b in buttons(again)], "the tick is not undone by its second run"
    _, [single] = await rider.tap(again, "选好了")
    assert "堵在哪里？" in single["text"]


async def test_done_handled_again_keeps_the_answer_and_asks_on(runtime: Runtime, rider: ChatUser) -> None:
    await rider.send(photo=jpeg(), replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [question] = await rider.tap(categories, "消防通道堵塞")
    _, [ticked] = await rider.tap(question, "杂物")
    before = rider.standin.last_seq(rider.user_id)
    again = await _tapped_again(runtime, rider, ticked, "选好了")
    assert "堵在哪里？" in again["text"]
    said = [m.get("text") or "" for m in rider.standin.bot_messages(rider.user_id) if m["_seq"] > before]
    assert not any("至少选一项" in text for text in said), said
    _, [words] = await rider.tap(again, "楼道")
    _, [summary] = await rider.tap(words, "跳过")
    assert "堵塞的是？ 杂物" in summary["text"]


async def test_submit_handled_again_files_one_report(runtime: Runtime, rider: ChatUser) -> None:
    await rider.send(photo=jpeg(), caption="井盖松动", replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [question] = await rider.tap(categories, "其他")
    _, [summary] = await rider.tap(question, "跳过")
    receipt = await _tapped_again(runtime, rider, summary, "提交")
    assert "已收到" in receipt["text"]
    await runtime.services.outbox.wait_idle()
    [count] = await runtime.services.db.fetchone("SELECT COUNT(*) FROM reports")
    assert count == 1
    receipts = [m for m in rider.standin.bot_messages(rider.user_id) if "编号" in (m.get("text") or "")]
    assert len(receipts) == 1, "the receipt is sent once"


async def test_lang_handled_again_does_not_switch_back(runtime: Runtime, rider: ChatUser) -> None:
    [switched] = await rider.send("/lang")
    assert "Switched to English" in switched["text"]
    update = {"update_id": await _last_update_id(runtime), "message": rider.last_sent}
    again = await _handled_again(runtime, rider, update)
    assert [m["text"] for m in again] == ["Switched to English."], "the second run answers as the first did"
    [row] = await runtime.services.db.fetchall("SELECT lang FROM users WHERE external_id = ?", (str(rider.user_id),))
    assert row[0] == "en"
    [switched] = await rider.send("/lang")  # a new /lang still switches
    assert "已切换为中文" in switched["text"]


async def test_a_workers_after_photo_handled_again_is_kept_once(runtime: Runtime, standin: StandIn) -> None:
    worker, card = await _a_workers_card(runtime, standin)
    _, [accepted] = await worker.tap(card, "接单")
    _, [ask_photo] = await worker.tap(accepted, "办结")
    assert "处理后的照片" in ask_photo["text"]
    [ask_note] = await worker.send(photo=jpeg((40, 160, 60)))
    update = {"update_id": await _last_update_id(runtime), "message": worker.last_sent}
    again = await _handled_again(runtime, worker, update)
    assert [m["text"] for m in again] == [ask_note["text"]], "asked for the note again"
    row = await runtime.services.db.fetchone(
        "SELECT d.data FROM dialogs d JOIN users u ON u.id = d.user_id WHERE u.external_id = ?", (str(worker.user_id),)
    )
    assert row is not None and len(json.loads(row[0])["photos"]) == 1, "the same after-photo is kept once"
    [done] = await worker.send("已清理")
    assert "已办结" in done["text"]


async def _a_workers_card(runtime: Runtime, standin: StandIn) -> tuple[ChatUser, dict]:
    """A filed report's card in its grid worker's chat (the notices to everyone delivered): the worker, the card."""
    team = await grid_team(runtime, *HERE, standin=standin)
    rider, worker = team["rider"], team["worker"]
    await rider.send(photo=jpeg(), caption="井盖松动", replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [question] = await rider.tap(categories, "其他")
    _, [summary] = await rider.tap(question, "跳过")
    _, [received] = await rider.tap(summary, "提交")
    assert "编号" in received["text"]
    await runtime.services.outbox.wait_idle()
    return worker, next(m for m in standin.bot_messages(worker.user_id) if "接单" in str(buttons(m)))


async def _state(runtime: Runtime) -> tuple:
    """What a worker's step may change: the report, its audit log, the notices queued, refusals, dialogs, points."""
    await runtime.services.outbox.wait_idle()
    db = runtime.services.db
    report = tuple(await db.fetchone("SELECT status, version, assignee_kind, assignee FROM reports"))
    events = [tuple(e) for e in await db.fetchall("SELECT action, actor_id, note FROM report_events ORDER BY id")]
    notices = sorted(r[0] for r in await db.fetchall("SELECT idem_key FROM outbox"))
    counts = [(await db.fetchone(f"SELECT COUNT(*) FROM {table}"))[0] for table in ("refusals", "dialogs", "points")]
    return report, events, notices, counts


async def _words_again(runtime: Runtime, person: ChatUser, first: dict) -> None:
    """`first`, the answer to the person's last words: their update run again answers the same and changes
    nothing (before, the words found their question closed and were read as a place: "没有找到「…」")."""
    before = await _state(runtime)
    update = {"update_id": await _last_update_id(runtime), "message": person.last_sent}
    again = await _handled_again(runtime, person, update)
    assert [m["text"] for m in again] == [first["text"]], [m["text"] for m in again]
    assert await _state(runtime) == before, "the second run changed something"


async def test_a_workers_note_closing_resolve_handled_again(runtime: Runtime, standin: StandIn) -> None:
    worker, card = await _a_workers_card(runtime, standin)
    _, [accepted] = await worker.tap(card, "接单")
    await worker.tap(accepted, "办结")
    await worker.send(photo=jpeg((40, 160, 60)))
    [done] = await worker.send("已清理")
    assert "已办结" in done["text"]
    await _words_again(runtime, worker, done)
    [events] = await runtime.services.db.fetchone("SELECT COUNT(*) FROM report_events WHERE action = 'resolve'")
    assert events == 1


async def test_a_workers_reason_for_reject_handled_again(runtime: Runtime, standin: StandIn) -> None:
    worker, card = await _a_workers_card(runtime, standin)
    _, [ask] = await worker.tap(card, "退回")
    assert "退回原因" in ask["text"]
    [done] = await worker.send("照片里看不出问题")
    assert "已退回" in done["text"]
    await _words_again(runtime, worker, done)


async def test_a_workers_reason_for_transfer_handled_again(runtime: Runtime, standin: StandIn) -> None:
    worker, card = await _a_workers_card(runtime, standin)
    _, [targets] = await worker.tap(card, "转派")
    _, [ask] = await worker.tap(targets, "住建")
    assert "转派原因" in ask["text"]
    [done] = await worker.send("归住建管")
    assert "已转派" in done["text"]
    await _words_again(runtime, worker, done)


async def test_a_typed_answer_handled_again_is_not_taken_for_the_words(runtime: Runtime, rider: ChatUser) -> None:
    """The last question answered by typing its choice ("楼道"): run again, the draft already holds it and now asks
    for the words — the same words are not taken as the report's description (which skipped that question)."""
    await rider.send(photo=jpeg(), replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [question] = await rider.tap(categories, "消防通道堵塞")
    _, [ticked] = await rider.tap(question, "杂物")
    _, [single] = await rider.tap(ticked, "选好了")
    assert "堵在哪里？" in single["text"]
    [words] = await rider.send("楼道")
    assert "补充说明" in words["text"]
    again = await _handled_again(
        runtime, rider, {"update_id": await _last_update_id(runtime), "message": rider.last_sent}
    )
    assert [m["text"] for m in again] == [words["text"]], "asked for the words again"
    row = await runtime.services.db.fetchone("SELECT data FROM dialogs")
    draft = json.loads(row[0])
    assert draft["answers"] == {"blocked_by": "debris", "where": "corridor"} and "description" not in draft
    [described] = await rider.send("堵了一周")  # the words question still takes the rider's next words
    assert "堵在哪里？ 楼道" in described["text"] and "堵了一周" in described["text"]


@pytest.mark.parametrize("words", ["✖ 取消", "/cancel"])  # the keyboard's label typed, the command
async def test_cancel_handled_again(runtime: Runtime, rider: ChatUser, words: str) -> None:
    await rider.send(photo=jpeg(), replies=2)
    [cancelled] = await rider.send(words)
    assert "已取消" in cancelled["text"]
    update = {"update_id": await _last_update_id(runtime), "message": rider.last_sent}
    again = await _handled_again(runtime, rider, update)
    assert [m["text"] for m in again] == [cancelled["text"]], "not read as a place search, nor 'nothing to cancel'"


PLACE = "xz-hanfeng-xiaoge"  # a bundled station


async def test_a_keepers_note_handled_again(runtime: Runtime, standin: StandIn) -> None:
    """The note after a keeper's status tap closes its question with the change, in one commit: run again, the
    keeper is told it is saved (before, the note was read as a place search), and nothing is audited twice."""
    code = await runtime.services.roles.invites.create_invite("keeper", PLACE)
    keeper = ChatUser(standin, 4001, "驿站站长老陈")
    await keeper.send(f"/join {code}")
    [card] = await keeper.send("/station")
    await keeper.tap(card, "今日闭站", replies=3)
    saved = await keeper.send("14:00 电路检修", replies=2)
    assert "已更新" in saved[0]["text"]
    audited = await runtime.services.db.fetchall("SELECT field, new FROM place_audit ORDER BY id")
    update = {"update_id": await _last_update_id(runtime), "message": keeper.last_sent}
    again = await _handled_again(runtime, keeper, update)
    assert [m["text"] for m in again][:1] == [saved[0]["text"]] and len(again) == 2, again
    assert "今日闭站" in str(buttons(again[1])), "the keeper's card again"
    assert await runtime.services.db.fetchall("SELECT field, new FROM place_audit ORDER BY id") == audited


async def test_a_flaggers_words_handled_again(runtime: Runtime, standin: StandIn, rider: ChatUser) -> None:
    assert "一句话" in await flag(rider, runtime, "其他", PLACE)
    [thanks] = await rider.send("门口在装修，找不到入口")
    assert "已转给" in thanks["text"]
    await runtime.services.outbox.wait_idle()
    notices = sorted(r[0] for r in await runtime.services.db.fetchall("SELECT idem_key FROM outbox"))
    update = {"update_id": await _last_update_id(runtime), "message": rider.last_sent}
    again = await _handled_again(runtime, rider, update)
    assert [m["text"] for m in again] == [thanks["text"]], "the answer it got, not a place search"
    [flags] = await runtime.services.db.fetchone("SELECT COUNT(*) FROM place_flags")
    assert flags == 1
    await runtime.services.outbox.wait_idle()
    assert sorted(r[0] for r in await runtime.services.db.fetchall("SELECT idem_key FROM outbox")) == notices


async def test_a_suggested_places_name_handled_again(runtime: Runtime, rider: ChatUser) -> None:
    await rider.send("/suggest")
    await rider.share_location(34.3050, 117.2550)
    [kinds] = await rider.send("东湖骑手驿站")
    assert "驿站" in str(buttons(kinds))
    update = {"update_id": await _last_update_id(runtime), "message": rider.last_sent}
    [again] = await _handled_again(runtime, rider, update)
    assert again["text"] == kinds["text"] and buttons(again) == buttons(kinds), "the kinds to pick, as before"
    _, [ask] = await rider.tap(again, "驿站")
    assert "照片" in ask["text"]


async def _stations_state(runtime: Runtime) -> list[int]:
    """What a photo for the stations may change: place audit rows, flags, suggestions, drafts (dialogs), reports,
    queued notices."""
    await runtime.services.outbox.wait_idle()
    tables = ("place_audit", "place_flags", "place_suggestions", "dialogs", "reports", "outbox")
    return [(await runtime.services.db.fetchone(f"SELECT COUNT(*) FROM {table}"))[0] for table in tables]


async def _photo_again(runtime: Runtime, person: ChatUser, first: list[dict]) -> None:
    """The person's photo that closed a question of the stations', its update run again: answered as the first
    run was and nothing changed (before, it found the question closed and started a 随手拍 draft: "已添加照片")."""
    before = await _stations_state(runtime)
    update = {"update_id": await _last_update_id(runtime), "message": person.last_sent}
    again = await _handled_again(runtime, person, update)
    assert [m.get("text") for m in again] == [m.get("text") for m in first], again
    assert await _stations_state(runtime) == before, "the second run changed something (a draft, a second row)"


async def test_a_keepers_entrance_photo_handled_again(runtime: Runtime, standin: StandIn) -> None:
    code = await runtime.services.roles.invites.create_invite("keeper", PLACE)
    keeper = ChatUser(standin, 4001, "驿站站长老陈")
    await keeper.send(f"/join {code}")
    [card] = await keeper.send("/station")
    _, [ask] = await keeper.tap(card, "入口照片")
    assert "请发送" in ask["text"]
    saved = await keeper.send(photo=jpeg((30, 90, 200)), replies=2)
    assert "已更新" in saved[0]["text"] and "今日闭站" in str(buttons(saved[1])), "told and shown the card"
    await _photo_again(runtime, keeper, saved)
    [(audited,)] = await runtime.services.db.fetchall("SELECT COUNT(*) FROM place_audit WHERE field = 'photo'")
    assert audited == 1


async def test_a_flags_photo_handled_again(runtime: Runtime, rider: ChatUser) -> None:
    assert "一句话" in await flag(rider, runtime, "其他", PLACE)
    [thanks] = await rider.send(photo=jpeg((90, 30, 30)))
    assert "已转给" in thanks["text"]
    await _photo_again(runtime, rider, [thanks])


async def test_a_suggested_places_photo_handled_again(runtime: Runtime, rider: ChatUser) -> None:
    await rider.send("/suggest")
    await rider.share_location(34.3050, 117.2550)
    [kinds] = await rider.send("东湖骑手驿站")
    _, [ask] = await rider.tap(kinds, "驿站")
    assert "照片" in ask["text"]
    [thanks] = await rider.send(photo=jpeg((30, 30, 90)))
    assert "已提交" in thanks["text"]
    await _photo_again(runtime, rider, [thanks])
    [(suggested,)] = await runtime.services.db.fetchall("SELECT COUNT(*) FROM place_suggestions")
    assert suggested == 1


async def test_a_workers_cancel_of_a_reason_handled_again(runtime: Runtime, standin: StandIn) -> None:
    """The cancel label typed while a 退回 reason is asked ends the question, the report untouched; run again, it is
    told the same (not taken as the reason, nor read as a place)."""
    worker, card = await _a_workers_card(runtime, standin)
    await worker.tap(card, "退回")
    [cancelled] = await worker.send("✖ 取消")
    assert cancelled["text"] == "已取消，SP-000001 没有改动。"
    await _words_again(runtime, worker, cancelled)
    [status] = await runtime.services.db.fetchone("SELECT status FROM reports")
    assert status != "rejected"
