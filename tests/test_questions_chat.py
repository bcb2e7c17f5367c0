"""Category questions in chat, through the real stack with the bundled data/categories.toml: each question type
asked as buttons (or typed), the lift's yes-path (urgent, straight to the department, the rider told to call
119/96333 at once), and the answers on the worker's card and in `/queue`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from bot.reports.questions_file import load
from tests.chat import ChatUser, button, buttons
from tests.reporting import bind, grid_at, jpeg, new_messages
from tests.test_reports_cli import cli, read_csv

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, categories_toml=DEFAULT_CATEGORIES_TOML)


async def _to_category(rider: ChatUser, label: str) -> list[dict]:
    await rider.send(photo=jpeg(), replies=2)
    [categories] = await rider.share_location(*HERE)
    _, replies = await rider.tap(categories, label)
    return replies


async def _row(runtime: Runtime, ref: str) -> dict:
    row = await runtime.services.db.fetchone("SELECT * FROM reports WHERE id = ?", (int(ref.split("-")[1]),))
    assert row is not None
    return dict(row)


async def test_the_lift_yes_path_is_urgent_goes_to_the_department_and_tells_the_rider_to_call(
    runtime: Runtime, rider: ChatUser
) -> None:
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    officer = ChatUser(runtime.standin, 4001, "住建科员")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    await bind(runtime, officer, "department", "zhujian")
    worker.seen = runtime.standin.last_seq(worker.user_id)
    officer.seen = runtime.standin.last_seq(officer.user_id)

    [question] = await _to_category(rider, "电梯安全")
    assert "有人被困吗？" in question["text"] and "必答" in question["text"]
    assert [b["text"] for b in buttons(question)] == ["是", "否", "✖ 取消"], "required: no skip button"
    _, [call, words] = await rider.tap(question, "是", replies=2)
    assert "119" in call["text"] and "96333" in call["text"], "told at once, before the report is even sent"
    assert "补充说明" in words["text"]
    _, [summary] = await rider.tap(words, "跳过")
    assert "有人被困吗？ 是" in summary["text"]
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到" in received["text"] and "住建" in received["text"]
    ref = received["text"].split("编号 ")[1].split("。")[0]

    row = await _row(runtime, ref)
    assert (row["assignee_kind"], row["assignee"], row["urgent"]) == ("department", "zhujian", 1)
    created = datetime.fromisoformat(row["created_at"])
    assert datetime.fromisoformat(row["accept_due"]) - created == timedelta(minutes=5), "the rule's 5 minutes"
    assert datetime.fromisoformat(row["resolve_due"]) - created == timedelta(minutes=60)
    answers = await runtime.services.db.fetchall("SELECT question, value FROM report_answers")
    assert [tuple(a) for a in answers] == [("trapped", "yes")]

    card, _pin = await new_messages(runtime, officer, 2)
    assert ref in card["caption"] and "有人被困吗？ 是" in card["caption"]
    assert runtime.standin.last_seq(worker.user_id) == worker.seen, "skipped the grid queue"
    # the department's /queue card shows the answer too
    [queue] = await officer.send("/queue")
    _, [fresh] = await officer.tap(queue, ref)
    assert "有人被困吗？ 是" in fresh["text"]


async def test_the_lift_no_path_stays_with_the_grid(runtime: Runtime, rider: ChatUser) -> None:
    [question] = await _to_category(rider, "电梯安全")
    _, [words] = await rider.tap(question, "否")
    _, [summary] = await rider.tap(words, "跳过")
    _, [received] = await rider.tap(summary, "提交")
    row = await _row(runtime, received["text"].split("编号 ")[1].split("。")[0])
    assert row["assignee_kind"] == "grid"
    created = datetime.fromisoformat(row["created_at"])
    assert datetime.fromisoformat(row["accept_due"]) - created == timedelta(minutes=30), "the category's own limit"


async def test_multiple_and_single_choice(runtime: Runtime, rider: ChatUser) -> None:
    [question] = await _to_category(rider, "消防通道堵塞")
    assert "堵塞的是？" in question["text"] and "可多选" in question["text"]
    # "done" with nothing ticked is refused; ticks toggle
    answer, _ = await rider.tap(question, "选好了", replies=1)
    assert "至少选一项" in answer["text"]
    _, [ticked] = await rider.tap(question, "电动车")
    assert "☑️ 电动车" in [b["text"] for b in buttons(ticked)]
    _, [ticked] = await rider.tap(ticked, "杂物")
    _, [ticked] = await rider.tap(ticked, "汽车")
    _, [ticked] = await rider.tap(ticked, "汽车")  # untick
    assert {b["text"] for b in buttons(ticked)} >= {"☑️ 电动车", "⬜ 汽车", "☑️ 杂物"}
    _, [single] = await rider.tap(ticked, "选好了")
    assert "问题 2/2" in single["text"] and "堵在哪里？" in single["text"] and "跳过" in str(buttons(single))
    _, [words] = await rider.tap(single, "楼道")
    _, [summary] = await rider.tap(words, "跳过")
    assert "堵塞的是？ 电动车、杂物" in summary["text"] and "堵在哪里？ 楼道" in summary["text"]
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到" in received["text"]
    answers = await runtime.services.db.fetchall("SELECT question, value FROM report_answers ORDER BY rowid")
    assert [tuple(a) for a in answers] == [("blocked_by", "ebike,debris"), ("where", "corridor")]


async def test_yes_no_then_a_typed_number_with_a_bad_one_first(runtime: Runtime, rider: ChatUser) -> None:
    [question] = await _to_category(rider, "飞线充电")
    assert "正在充电吗？" in question["text"]
    _, [number] = await rider.tap(question, "是")
    assert "几辆车？" in number["text"] and {"1", "2", "3", "5", "跳过"} <= {b["text"] for b in buttons(number)}
    [again, asked] = await rider.send("很多", replies=2)
    assert "请输入一个数字" in again["text"] and "几辆车？" in asked["text"]
    [again, _] = await rider.send("500", replies=2)
    assert "1 到 200 之间" in again["text"]
    [words] = await rider.send("6")
    assert "补充说明" in words["text"]
    [summary] = await rider.send("楼道里拉了好几根线")
    assert "几辆车？ 6" in summary["text"] and "正在充电吗？ 是" in summary["text"]
    _, [received] = await rider.tap(summary, "提交")
    row = await _row(runtime, received["text"].split("编号 ")[1].split("。")[0])
    created = datetime.fromisoformat(row["created_at"])
    # charging → urgent and 30 min to accept; 6 ≥ 5 vehicles → 8 h to resolve (instead of the category's 24 h)
    assert row["urgent"] == 1 and row["assignee_kind"] == "grid"
    assert datetime.fromisoformat(row["accept_due"]) - created == timedelta(minutes=30)
    assert datetime.fromisoformat(row["resolve_due"]) - created == timedelta(minutes=480)


async def test_an_optional_question_can_be_skipped_and_words_can_be_typed(runtime: Runtime, rider: ChatUser) -> None:
    [question] = await _to_category(rider, "道路坑洼/井盖")
    assert "选答" in question["text"]
    _, [words] = await rider.tap(question, "跳过")
    assert "补充说明" in words["text"]
    # the category "other" asks for words as its question: typed text answers it, not the draft's description
    await rider.press(words, "rd:x")
    [question] = await _to_category(rider, "其他")
    assert "一句话说明" in question["text"] and "100 字以内" in question["text"]
    [words] = await rider.send("路边的广告牌快掉下来了")
    assert "补充说明" in words["text"]
    _, [summary] = await rider.tap(words, "跳过")
    assert "一句话说明是什么问题 路边的广告牌快掉下来了" in summary["text"]


async def test_a_forged_answer_changes_nothing(runtime: Runtime, rider: ChatUser) -> None:
    [question] = await _to_category(rider, "电梯安全")
    _, [hint, again] = await rider.press(question, "rd:a:trapped:maybe", replies=2)
    assert "按钮" in hint["text"] and "有人被困吗？" in again["text"]
    _, [again] = await rider.press(question, "rd:a:charging:yes")  # another category's question
    assert "有人被困吗？" in again["text"]
    answer, [refused] = await rider.press(question, "rd:a:trapped:_skip")  # required: no skipping
    assert "必须回答" in answer["text"] and "必须回答" in refused["text"]
    draft = await runtime.services.db.fetchone("SELECT data FROM dialogs")
    assert '"answers"' not in draft["data"] and '"skipped"' not in draft["data"]
    [cancelled] = await rider.send("/cancel")  # /cancel works while a question waits
    assert "已取消" in cancelled["text"]
    assert await runtime.services.db.fetchone("SELECT 1 FROM dialogs") is None


def test_the_bundled_file_is_valid() -> None:
    parsed = load(Path(DEFAULT_CATEGORIES_TOML), {"zhujian", "chengguan", "gongan", "wuye", "xiaofang", "shizheng"})
    assert parsed.ok, parsed.errors
    kinds = {q.type for q in parsed.questionnaire.questions}
    assert kinds == {"yesno", "single", "multi", "number", "text"}


async def test_answers_in_reports_show_and_the_exports(runtime: Runtime, rider: ChatUser, settings: Settings) -> None:
    [question] = await _to_category(rider, "消防通道堵塞")
    _, [ticked] = await rider.tap(question, "汽车")
    _, [single] = await rider.tap(ticked, "选好了")
    _, [words] = await rider.tap(single, "安全出口")
    _, [summary] = await rider.tap(words, "跳过")
    _, [received] = await rider.tap(summary, "提交")
    ref = received["text"].split("编号 ")[1].split("。")[0]
    shown = await cli(settings.db_path, "show", ref)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "问答：" in text and "堵塞的是？ 汽车" in text and "堵在哪里？ 安全出口" in text
    exported = await cli(settings.db_path, "export", "--format", "csv")
    [record] = read_csv(exported.stdout)
    assert json.loads(record["rider_bot:answers"]) == {"blocked_by": "car", "where": "exit"}
    geo = json.loads((await cli(settings.db_path, "export", "--format", "geojson")).stdout)
    assert geo["features"][0]["properties"]["rider_bot:answers"] == {"blocked_by": "car", "where": "exit"}


async def test_a_tick_or_done_tapped_twice_is_the_same_step_not_an_undo(runtime: Runtime, rider: ChatUser) -> None:
    """Each tick carries the state it sets, and "done" again keeps the answer: a double tap on one keyboard (in the
    rain, with one hand) or an update re-run after its process was killed between saving and answering leaves the
    choice as the rider saw it (found by the scale-out test: a re-run toggled back, then "pick one" left the rider
    stuck). A button sent before ticks carried their state still toggles."""
    [question] = await _to_category(rider, "消防通道堵塞")
    assert button(question, "电动车")["callback_data"] == "rd:a:blocked_by:ebike:1"
    _, [ticked] = await rider.tap(question, "电动车")
    assert button(ticked, "电动车")["callback_data"] == "rd:a:blocked_by:ebike:0"
    _, [again] = await rider.tap(question, "电动车")  # the same button of the same keyboard again
    assert "☑️ 电动车" in [b["text"] for b in buttons(again)], "a second tick is not an untick"
    _, [single] = await rider.tap(again, "选好了")
    assert "堵在哪里？" in single["text"]
    _, [still] = await rider.tap(again, "选好了")  # done again: the answer stands, the next question again
    assert "堵在哪里？" in still["text"] and "至少选一项" not in still["text"]
    _, [legacy] = await rider.press(again, "rd:a:blocked_by:car")  # an old keyboard's toggle: ticks 汽车 back in
    assert {"☑️ 电动车", "☑️ 汽车"} <= {b["text"] for b in buttons(legacy)}, "picking starts from the answer"
    _, [legacy] = await rider.press(legacy, "rd:a:blocked_by:car")
    assert "⬜ 汽车" in [b["text"] for b in buttons(legacy)]
    _, [single] = await rider.tap(legacy, "选好了")
    _, [words] = await rider.tap(single, "楼道")
    _, [summary] = await rider.tap(words, "跳过")
    blocked_by = summary["text"].split("堵塞的是？ ")[1].split("\n")[0]
    assert blocked_by == "电动车", summary["text"]
