"""Moderation through the real stack: hiding a photo and a whole report after they were forwarded (the card is
edited, photos deleted, nothing of it travels or is served again), bans from chat and the CLI (reporting refused
politely, finding stations untouched), the rejection streak's one-tap ban suggestion, and `rider-bot audit`."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace

import httpx
import pytest

from bot.app import Runtime
from bot.config import Settings
from bot.store import apikeys
from bot.tls import client_context
from tests.chat import ChatUser, buttons
from tests.conftest import DEFAULT_NOW
from tests.reporting import bind, grid_at, jpeg
from tests.test_reports_cli import ROOT, read_csv

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
ADMIN = 9001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=(ADMIN,))


@pytest.fixture
async def people(runtime: Runtime) -> dict[str, ChatUser]:
    found = {
        "rider": ChatUser(runtime.standin, 1001, "骑手小王"),
        "worker": ChatUser(runtime.standin, 2001, "网格员老李"),
        "supervisor": ChatUser(runtime.standin, 3001, "社区书记"),
        "admin": ChatUser(runtime.standin, ADMIN, "管理员"),
    }
    grid = grid_at(runtime, *HERE)
    await bind(runtime, found["worker"], "worker", grid)
    await bind(runtime, found["supervisor"], "supervisor", runtime.services.grids.ancestors(grid)[0].id)
    await found["admin"].send("/start")
    return found


async def cli(settings: Settings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--db", str(settings.db_path), *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def _report(rider: ChatUser, photos: int = 1, caption: str = "消防通道被堵") -> str:
    await rider.send(photo=jpeg((200, 10, 10)), caption=caption, replies=2)
    for i in range(1, photos):
        await rider.send(photo=jpeg((10, 200, 10 * i)), replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "消防通道堵塞")
    _, [received] = await rider.tap(summary, "提交")
    return received["text"].split("编号 ")[1].split("。")[0]


async def _settled(runtime: Runtime, person: ChatUser, count: int) -> list[dict]:
    """The person's bot messages as they stand now (edits applied, deleted ones gone), after the outbox drained."""
    await runtime.services.outbox.wait_idle()
    await runtime.standin.wait_for_bot_messages(person.user_id, count, after_seq=0, timeout=8)
    return runtime.standin.bot_messages(person.user_id)


async def _uid(runtime: Runtime, telegram_id: int) -> int:
    row = await runtime.services.db.fetchone("SELECT id FROM users WHERE external_id = ?", (str(telegram_id),))
    return int(row["id"])


async def test_hiding_a_photo_after_forwarding(
    runtime: Runtime, people: dict[str, ChatUser], settings: Settings
) -> None:
    rider, worker, admin = people["rider"], people["worker"], people["admin"]
    before = len(runtime.standin.bot_messages(worker.user_id))
    ref = await _report(rider, photos=2)
    messages = (await _settled(runtime, worker, before + 3))[before:]
    card, second, pin = messages
    assert "photo" in card and ref in card["caption"] and "photo" in second and "venue" in pin
    # only admins (or supervisors of the area) may hide
    [refused] = await rider.send(f"/hidephoto {ref} 1 看不顺眼")
    assert "没有权限" in refused["text"]
    [usage] = await admin.send("/hidephoto")
    assert "用法" in usage["text"]
    [done] = await admin.send(f"/hidephoto {ref} 1 拍到了路人的脸")
    assert "已隐藏" in done["text"]
    await runtime.services.outbox.wait_idle()
    now = {m["message_id"]: m for m in runtime.standin.bot_messages(worker.user_id)}
    assert card["message_id"] not in now, "the message carrying the hidden photo is deleted"
    assert second["message_id"] in now and pin["message_id"] in now
    [again] = [m for m in now.values() if m.get("text", "").startswith(card["caption"].split("\n")[0])]
    assert "照片已被管理员撤回" in again["text"] and "接单" in str(buttons(again)), "the card, as text, still works"
    # the hidden photo never travels again: a transfer forwards the other one only
    officer = ChatUser(runtime.standin, 4001, "住建科员")
    await bind(runtime, officer, "department", "zhujian")
    seen = runtime.standin.last_seq(officer.user_id)
    _, [targets] = await worker.tap(again, "转派")
    _, [ask] = await worker.tap(targets, "住建")
    assert "原因" in ask["text"]
    await worker.send("属于住建")
    await runtime.services.outbox.wait_idle()
    forwarded = await runtime.standin.wait_for_bot_messages(officer.user_id, 2, after_seq=seen, timeout=8)
    assert [("photo" in m, "venue" in m) for m in forwarded] == [(True, False), (False, True)]
    kept = await runtime.services.db.fetchone("SELECT sha256 FROM report_photos WHERE seq = 2")
    sent = await runtime.services.db.fetchall("SELECT payload FROM outbox WHERE address = '4001' AND payload LIKE ?",
                                              ('%"photo"%',))  # fmt: skip
    assert [json.loads(r["payload"])["sha256"] for r in sent] == [kept["sha256"]]
    # exports count only what may be shown; `reports show` tells the admin what was hidden
    code, out, _ = await cli(settings, "reports", "export")
    [record] = read_csv(out.encode("utf-8"))
    assert record["rider_bot:photos_before"] == "1"
    code, out, _ = await cli(settings, "reports", "show", ref)
    assert code == 0 and "（已隐藏）" in out and "hide_photo" in out


async def test_hiding_a_report_withdraws_the_card_and_serves_it_nowhere(
    runtime: Runtime, people: dict[str, ChatUser], settings: Settings
) -> None:
    rider, worker, supervisor = people["rider"], people["worker"], people["supervisor"]
    before = len(runtime.standin.bot_messages(worker.user_id))
    ref = await _report(rider)
    card, pin = (await _settled(runtime, worker, before + 2))[before:]
    [done] = await supervisor.send(f"/hide {ref} 恶意上报，辱骂内容")  # a supervisor of the report's community
    assert "已隐藏" in done["text"]
    await runtime.services.outbox.wait_idle()
    now = {m["message_id"]: m for m in runtime.standin.bot_messages(worker.user_id)}
    assert now[card["message_id"]]["caption"] == f"⛔ {ref} 已被管理员撤回，无需处理。"
    assert not buttons(now[card["message_id"]]) and pin["message_id"] not in now
    answer, _ = await worker.tap(card, "接单", replies=0)
    assert "找不到" in answer["text"] or "不存在" in answer["text"] or answer.get("show_alert")
    [queue] = await worker.send("/queue")
    assert ref not in queue["text"]
    [mine] = await rider.send("/myreports")
    assert ref not in mine["text"]
    assert runtime.web is not None
    async with httpx.AsyncClient(verify=client_context(), base_url=f"{runtime.web.url}/open311/v2", timeout=10) as api:
        assert (await api.get(f"/requests/{ref}.json")).status_code == 404
        assert ref not in (await api.get("/requests.json")).text
    code, out, _ = await cli(settings, "reports", "export", "--format", "geojson")
    assert json.loads(out)["features"] == []
    code, out, _ = await cli(settings, "--lang", "en", "reports", "show", ref)
    assert "Hidden" in out and "恶意上报" in out
    code, out, _ = await cli(settings, "--lang", "en", "hide", ref, "--reason", "again")
    assert code == 1 and "already hidden" in out + _


async def test_ban_and_unban_from_chat_and_cli(
    runtime: Runtime, people: dict[str, ChatUser], settings: Settings
) -> None:
    rider, admin = people["rider"], people["admin"]
    await rider.send("/start")
    uid = await _uid(runtime, rider.user_id)
    [refused] = await people["worker"].send(f"/ban {uid} 7 乱报")
    assert "没有权限" in refused["text"]
    [done] = await admin.send(f"/ban {uid} 7 连续乱报")
    assert "已被暂停上报" in done["text"]
    [told] = await rider.send("/report")
    assert "暂停" in told["text"] and "连续乱报" in told["text"] and "查找驿站" in told["text"]
    [told] = await rider.send(photo=jpeg())
    assert "暂停" in told["text"]
    [stations] = await rider.share_location(*HERE)
    assert "附近" in stations["text"] or "驿站" in stations["text"], "finding stations is never taken away"
    code, out, _ = await cli(settings, "--lang", "en", "users", "unban", str(uid), "--reason", "appeal accepted")
    assert code == 0 and "may report again" in out
    [asked] = await rider.send("/report")
    assert "随手拍" in asked["text"]
    await rider.send("/cancel")
    code, out, err = await cli(settings, "users", "ban", str(uid), "--days", "0", "--reason", "x")
    assert code == 1 and "1–3650" in err
    code, out, _ = await cli(settings, "users", "ban", str(uid), "--days", "3", "--reason", "再次乱报")
    assert code == 0
    [told] = await rider.send("/report")
    assert "再次乱报" in told["text"]
    code, out, _ = await cli(settings, "--lang", "en", "audit", "--user", str(uid))
    assert code == 0
    lines = out.splitlines()
    assert sum(" ban " in line for line in lines) == 2 and sum(" unban " in line for line in lines) == 1
    assert "appeal accepted" in out and "Now: banned from reporting until" in out


async def test_three_false_reports_put_a_ban_suggestion_before_an_admin(
    runtime: Runtime, people: dict[str, ChatUser], settings: Settings
) -> None:
    rider, worker, admin = people["rider"], people["worker"], people["admin"]
    for n in range(3):
        if n == 2:
            assert not [m for m in runtime.standin.bot_messages(admin.user_id) if "虚假" in m.get("text", "")]
        before = len(runtime.standin.bot_messages(worker.user_id))
        ref = await _report(rider, caption=f"第{n}次")
        card, _pin = (await _settled(runtime, worker, before + 2))[before:]
        _, [ask] = await worker.tap(card, "退回")
        _, [done] = await worker.tap(ask, "虚假上报")
        assert "已退回" in done["text"] and ref in done["text"]
        await runtime.services.outbox.wait_idle()  # the rider's "rejected" notice is in before the next report
    await runtime.services.outbox.wait_idle()
    [suggestion] = [m for m in runtime.standin.bot_messages(admin.user_id) if "虚假" in m.get("text", "")]
    uid = await _uid(runtime, rider.user_id)
    assert f"#{uid}" in suggestion["text"] and "不会自动封禁" in suggestion["text"]
    [told] = await rider.send("/report")
    assert "暂停" not in told["text"], "never an automatic ban"
    await rider.send("/cancel")
    _, [banned] = await admin.tap(suggestion, "暂停上报 7 天")
    assert "已被暂停上报" in banned["text"]
    [told] = await rider.send("/report")
    assert "7 天内 3 次虚假上报" in told["text"]
    code, out, _ = await cli(settings, "audit", "--user", str(uid))
    assert code == 0 and out.count("false_report") == 3 and "suggest_ban" in out and " ban " in out


async def test_a_banned_open311_client_is_refused(runtime: Runtime, settings: Settings) -> None:
    key = await apikeys.create_key(runtime.services.db, "noisy-platform", DEFAULT_NOW.isoformat())
    client = await runtime.services.users.identify("open311", "noisy-platform", "noisy-platform")
    code, out, _ = await cli(settings, "--lang", "en", "users", "ban", str(client.id), "--days", "1", "--reason", "x")
    assert code == 0 and "may not report until" in out
    assert runtime.web is not None
    async with httpx.AsyncClient(verify=client_context(), base_url=f"{runtime.web.url}/open311/v2", timeout=10) as api:
        form = {"api_key": key, "service_code": "road", "lat": HERE[0], "long": HERE[1]}
        response = await api.post("/requests.json", data=form)
    assert response.status_code == 403 and "reason: 'x'" in response.json()[0]["description"]
