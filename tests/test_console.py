"""The web console through the real stack: /console in the chat, the one-time link, the session cookie, scope,
CSRF, inert HTML, photos and exports in scope, and console actions that reach the rider like chat actions."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from PIL import Image

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser
from tests.consoling import HERE, OTHER_STREET, STREET, client, console_link, csrf_of, file_report, inside, sign_in
from tests.reporting import bind, jpeg


@pytest.fixture
async def people(runtime: Runtime) -> dict[str, ChatUser]:
    standin = runtime.standin
    crew = {
        "rider": ChatUser(standin, 1001, "骑手小王"),
        "worker": ChatUser(standin, 2001, "网格员老李"),
        "boss": ChatUser(standin, 3001, "社区书记"),
        "other": ChatUser(standin, 3002, "丰财书记"),
    }
    grid = runtime.services.grids.route(*HERE).grid.id
    await bind(runtime, crew["worker"], "worker", grid)
    await bind(runtime, crew["boss"], "supervisor", STREET)
    await bind(runtime, crew["other"], "supervisor", OTHER_STREET)
    return crew


async def _user(runtime: Runtime, person: ChatUser):
    return await runtime.services.users.identify("telegram", str(person.user_id), person.first_name)


async def test_link_signs_in_once_and_the_queue_shows_the_streets_reports(
    runtime: Runtime, people: dict[str, ChatUser]
) -> None:
    mine = await file_report(people["rider"], HERE, "楼下消防通道堵了")
    theirs = await file_report(people["rider"], await inside(runtime, OTHER_STREET), "丰财街道的井盖", "道路坑洼/井盖")
    link = await console_link(people["boss"])
    async with client(runtime) as http:
        await sign_in(http, link)
        cookie = http.cookies.jar
        assert any(c.name == "rider_console" and c.has_nonstandard_attr("HttpOnly") for c in cookie)
        queue = await http.get("/console/queue")
        assert f"SP-{mine:06d}" in queue.text and f"SP-{theirs:06d}" not in queue.text
        assert "content-security-policy" in queue.headers
    async with client(runtime) as http:  # the same link again, in another browser
        again = await http.get(link)
        assert again.status_code == 403 and "已经用过" in again.text
        posted = await http.post("/console/login", data={"t": link.split("t=")[1]})
        assert posted.status_code == 403 and "rider_console" not in http.cookies


async def test_cookie_flags_and_sign_out(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    link = await console_link(people["boss"])
    async with client(runtime) as http:
        token = link.split("t=")[1]
        done = await http.post("/console/login", data={"t": token})
        header = done.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=strict" in header and "max-age=43200" in header
        assert "secure" not in header  # plain HTTP on 127.0.0.1
        csrf = await csrf_of(http)
        refused = await http.post("/console/logout", data={})
        assert refused.status_code == 403
        assert (await http.get("/console/queue")).status_code == 200
        await http.post("/console/logout", data={"csrf": csrf})
        http.cookies.set("rider_console", done.cookies["rider_console"], domain="127.0.0.1", path="/console")
        assert (await http.get("/console/queue")).status_code == 401, "a signed-out session stays signed out"


async def test_secure_cookie_behind_https(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    link = await console_link(people["boss"])
    async with client(runtime) as http:
        done = await http.post(
            "/console/login", data={"t": link.split("t=")[1]}, headers={"X-Forwarded-Proto": "https"}
        )
        assert "secure" in done.headers["set-cookie"].lower()


async def test_expired_link_and_revoked_role_get_a_clear_page(
    runtime: Runtime, clock: ManualClock, people: dict[str, ChatUser]
) -> None:
    link = await console_link(people["boss"])
    clock.advance(timedelta(minutes=11))
    async with client(runtime) as http:
        page = await http.get(link)
        assert page.status_code == 403 and "已过期" in page.text
    fresh = await console_link(people["boss"])
    boss = await _user(runtime, people["boss"])
    async with client(runtime) as http:
        await sign_in(http, fresh)
        third = await console_link(people["boss"])
        await runtime.services.roles.revoke(boss.id, "supervisor", STREET)
        assert (await http.get("/console/queue")).status_code == 401, "revoking the role closes the open session"
        page = await http.get(third)
        assert page.status_code == 403 and "撤销" in page.text
    [answer] = await people["boss"].send("/console")
    assert "仅供" in answer["text"] and "http" not in answer["text"]


async def test_a_grid_worker_and_a_rider_get_no_link_and_links_are_rate_limited(
    runtime: Runtime, people: dict[str, ChatUser]
) -> None:
    for who in ("worker", "rider"):
        [answer] = await people[who].send("/console")
        assert "仅供" in answer["text"] and "http" not in answer["text"]
    for _ in range(5):
        await console_link(people["boss"])
    [answer] = await people["boss"].send("/console")
    assert "太频繁" in answer["text"] and "http" not in answer["text"]


async def test_another_streets_report_is_404_and_recorded(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    theirs = await file_report(people["rider"], await inside(runtime, OTHER_STREET), "别处的问题", "道路坑洼/井盖")
    before = await runtime.services.db.fetchall("SELECT sha256 FROM report_photos WHERE report_id = ?", (theirs,))
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        page = await http.get(f"/console/reports/{theirs}")
        assert page.status_code == 404 and "管辖范围" in page.text and "别处的问题" not in page.text
        photo = await http.get(f"/console/photos/{theirs}/{before[0][0]}")
        assert photo.status_code == 404 and photo.headers["content-type"].startswith("text/html")
        assert (await http.get("/console/reports/999999")).status_code == 404
    rows = await runtime.services.db.fetchall(
        "SELECT action, reason FROM refusals WHERE report_id = ? ORDER BY id", (theirs,)
    )
    assert [tuple(r) for r in rows] == [
        ("console_view", "console_out_of_scope"),
        ("console_photo", "console_out_of_scope"),
    ]


async def test_csrf_missing_or_wrong_changes_nothing(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    report_id = await file_report(people["rider"], HERE, "需要接单")
    async with client(runtime) as http:
        csrf = await sign_in(http, await console_link(people["boss"]))
        for data in ({"version": "2"}, {"version": "2", "csrf": "0" * 32}, {"version": "2", "csrf": csrf[:-1] + "x"}):
            answer = await http.post(f"/console/reports/{report_id}/accept", data=data)
            assert answer.status_code == 403 and "没有做任何更改" in answer.text
        row = await runtime.services.db.fetchone("SELECT status, version FROM reports WHERE id = ?", (report_id,))
        assert tuple(row) == ("forwarded", 2)
        events = await runtime.services.db.fetchone(
            "SELECT COUNT(*) FROM report_events WHERE report_id = ? AND action = 'accept'", (report_id,)
        )
        assert events[0] == 0
        ok = await http.post(f"/console/reports/{report_id}/accept", data={"version": "2", "csrf": csrf})
        assert ok.status_code == 303
    row = await runtime.services.db.fetchone("SELECT status FROM reports WHERE id = ?", (report_id,))
    assert row[0] == "accepted"
    await runtime.services.outbox.wait_idle()
    told = [m for m in runtime.standin.bot_messages(1001) if "已被网格员接单" in (m.get("text") or "")]
    assert told, "the rider hears of a console accept exactly as of a chat accept"


async def test_html_in_a_description_and_a_note_is_inert(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    report_id = await file_report(people["rider"], HERE, evil)
    async with client(runtime) as http:
        csrf = await sign_in(http, await console_link(people["boss"]))
        await http.post(
            f"/console/reports/{report_id}/reject",
            data={"version": "2", "csrf": csrf, "note": "<b>no</b><script>x()</script>"},
        )
        page = await http.get(f"/console/reports/{report_id}")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
        assert "&lt;b&gt;no&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;" in page.text
        assert "<script>alert" not in page.text and "<img src=x" not in page.text and "<b>no" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_photos_are_the_exif_free_copies_and_only_in_scope(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    report_id = await file_report(people["rider"], HERE, "有照片")
    [(sha,)] = await runtime.services.db.fetchall("SELECT sha256 FROM report_photos WHERE report_id = ?", (report_id,))
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        page = await http.get(f"/console/reports/{report_id}")
        assert f"/console/photos/{report_id}/{sha}" in page.text
        photo = await http.get(f"/console/photos/{report_id}/{sha}")
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        assert photo.content == await runtime.services.photos.shareable(sha)
        assert not Image.open(io.BytesIO(photo.content)).getexif()
        assert (await http.get(f"/console/photos/{report_id}/{'a' * 64}")).status_code == 404
        assert (await http.get(f"/console/photos/{report_id}/..%2F..%2Fetc%2Fpasswd")).status_code == 404
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["other"]))
        assert (await http.get(f"/console/photos/{report_id}/{sha}")).status_code == 404
    async with client(runtime) as http:
        assert (await http.get(f"/console/photos/{report_id}/{sha}")).status_code == 401


async def test_exports_hold_only_the_sessions_scope(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    mine = await file_report(people["rider"], HERE, "=cmd|' /C calc'!A0")
    theirs = await file_report(people["rider"], await inside(runtime, OTHER_STREET), "别处", "道路坑洼/井盖")
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        text = (await http.get("/console/export.csv?state=all")).content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["service_request_id"] for r in rows] == [f"SP-{mine:06d}"]
        assert rows[0]["description"].startswith("'="), "formula cells are defused as in the CLI export"
        assert "rider_bot:reporter_id" not in rows[0]
        geo = json.loads((await http.get("/console/export.geojson")).text)
        assert [f["id"] for f in geo["features"]] == [f"SP-{mine:06d}"]
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["other"]))
        geo = json.loads((await http.get("/console/export.geojson")).text)
        assert [f["id"] for f in geo["features"]] == [f"SP-{theirs:06d}"]


async def test_resolve_with_an_after_photo_reaches_the_rider(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    report_id = await file_report(people["rider"], HERE, "路灯坏了", "灯损坏")
    async with client(runtime) as http:
        csrf = await sign_in(http, await console_link(people["boss"]))
        await http.post(f"/console/reports/{report_id}/accept", data={"version": "2", "csrf": csrf})
        no_photo = await http.post(
            f"/console/reports/{report_id}/resolve", data={"version": "3", "csrf": csrf, "note": "修好了"}
        )
        assert no_photo.status_code == 303
        row = await runtime.services.db.fetchone("SELECT status FROM reports WHERE id = ?", (report_id,))
        assert row[0] == "accepted", "no after-photo, no resolution"
        seen = runtime.standin.last_seq(1001)
        done = await http.post(
            f"/console/reports/{report_id}/resolve",
            data={"version": "3", "csrf": csrf, "note": "已更换灯泡"},
            files={"photo": ("after.jpg", jpeg((40, 160, 60)), "image/jpeg")},
        )
        assert done.status_code == 303
        page = await http.get(f"/console/reports/{report_id}")
        assert "已办结" in page.text and "已更换灯泡" in page.text
    row = await runtime.services.db.fetchone("SELECT status FROM reports WHERE id = ?", (report_id,))
    assert row[0] == "resolved"
    await runtime.services.outbox.wait_idle()
    await runtime.standin.wait_for_bot_messages(1001, 1, after_seq=seen, timeout=8)
    [notice] = [m for m in runtime.standin.bot_messages(1001) if m["_seq"] > seen and "photo" in m]
    assert "photo" in notice and "已更换灯泡" in notice["caption"]
    assert any("⭐" in b["text"] or "★" in b["text"] for row in notice["reply_markup"]["inline_keyboard"] for b in row)


async def test_sessions_survive_a_restart(settings: Settings, clock: ManualClock) -> None:
    first = Runtime(settings, clock)
    await first.start(poll_timeout=1)
    try:
        boss = ChatUser(first.standin, 3001, "社区书记")
        await bind(first, boss, "supervisor", STREET)
        async with client(first) as http:
            await sign_in(http, await console_link(boss))
            cookie = http.cookies["rider_console"]
    finally:
        await first.stop()
    stored = await _stored_sessions(settings)
    assert cookie not in stored and len(stored) == 1, "only a hash of the session is stored"
    second = Runtime(settings, clock)
    await second.start(poll_timeout=1)
    try:
        async with client(second) as http:
            http.cookies.set("rider_console", cookie, domain="127.0.0.1", path="/console")
            assert (await http.get("/console/queue")).status_code == 200
    finally:
        await second.stop()


async def _stored_sessions(settings: Settings) -> list[str]:
    from bot.store.db import Database

    async with Database(settings.db_path) as db:
        return [row[0] for row in await db.fetchall("SELECT token_hash FROM console_sessions")]


async def test_what_a_moderator_hid_is_not_shown(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    hidden = await file_report(people["rider"], HERE, "广告骚扰")
    shown = await file_report(people["rider"], HERE, "井盖松动", "道路坑洼/井盖")
    [(sha,)] = await runtime.services.db.fetchall("SELECT sha256 FROM report_photos WHERE report_id = ?", (shown,))
    moderation = runtime.services.reports.moderation
    await moderation.hide_report(None, hidden, "spam")
    await moderation.hide_photo(None, shown, 1, "a face")
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        assert (await http.get(f"/console/reports/{hidden}")).status_code == 404
        queue = await http.get("/console/queue?state=all")
        assert f"SP-{shown:06d}" in queue.text and f"SP-{hidden:06d}" not in queue.text
        page = await http.get(f"/console/reports/{shown}")
        assert page.status_code == 200 and sha not in page.text
        assert (await http.get(f"/console/photos/{shown}/{sha}")).status_code == 404
        text = (await http.get("/console/export.csv?state=all")).content.decode("utf-8-sig")
        assert f"SP-{hidden:06d}" not in text and f"SP-{shown:06d}" in text


async def test_english_on_request_and_no_open_redirect(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        zh = await http.get("/console/queue")
        assert "工单" in zh.text and '<html lang="zh-CN">' in zh.text
        switched = await http.get("/console/lang", params={"to": "en", "back": "/console/queue?state=all"})
        assert switched.status_code == 303 and switched.headers["location"] == "/console/queue?state=all"
        en = await http.get("/console/queue")
        assert "Queue" in en.text and "Reported" in en.text and '<html lang="en">' in en.text
        for back in ("https://evil.example/", "//evil.example/", "/console//evil.example"):
            away = await http.get("/console/lang", params={"to": "zh-CN", "back": back})
            assert away.headers["location"] == "/console/", back


async def test_live_updates_announce_a_change(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    import asyncio

    report_id = await file_report(people["rider"], HERE, "实时更新")
    async with client(runtime) as http:
        csrf = await sign_in(http, await console_link(people["boss"]))
        async with http.stream("GET", "/console/events") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await asyncio.wait_for(anext(lines), 10) == "retry: 3000"
            assert await asyncio.wait_for(anext(lines), 10) == "event: hello"

            async with client(runtime) as other:
                other.cookies = http.cookies
                done = await other.post(f"/console/reports/{report_id}/accept", data={"version": "2", "csrf": csrf})
                assert done.status_code == 303

            async def change() -> str:
                async for line in lines:
                    if line.startswith("event: "):
                        return line
                return ""

            assert await asyncio.wait_for(change(), 10) == "event: change"
    async with client(runtime) as anonymous:
        assert (await anonymous.get("/console/events")).status_code == 401


async def test_a_report_page_lists_the_duplicates_merged_into_it(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    first = await file_report(people["rider"], HERE, "第一次上报")
    rider2 = ChatUser(runtime.standin, 1002, "骑手小张")
    await rider2.send(photo=jpeg((10, 10, 200)), caption="同一个问题", replies=2)
    [categories] = await rider2.share_location(HERE[0] + 0.0001, HERE[1])
    _, [offer] = await rider2.tap(categories, "消防通道堵塞")
    _, [merged] = await rider2.tap(offer, "补充我的照片")
    row = await runtime.services.db.fetchone("SELECT id FROM reports WHERE merged_into = ?", (first,))
    assert row is not None, merged
    async with client(runtime) as http:
        await sign_in(http, await console_link(people["boss"]))
        page = await http.get(f"/console/reports/{first}")
        assert f'href="/console/reports/{row[0]}"' in page.text and "合并进来的重复上报" in page.text


async def test_a_post_from_another_site_is_refused(runtime: Runtime, people: dict[str, ChatUser]) -> None:
    report_id = await file_report(people["rider"], HERE, "跨站请求")
    link = await console_link(people["boss"])
    evil = {"Origin": "https://evil.example"}
    async with client(runtime) as http:
        refused = await http.post("/console/login", data={"t": link.split("t=")[1]}, headers=evil)
        assert refused.status_code == 403 and "rider_console" not in http.cookies
        ours = {"Origin": runtime.web.url}
        csrf = await sign_in(http, link)  # the link was not spent by the refused POST
        answer = await http.post(
            f"/console/reports/{report_id}/accept", data={"version": "2", "csrf": csrf}, headers=evil
        )
        assert answer.status_code == 403
        row = await runtime.services.db.fetchone("SELECT status FROM reports WHERE id = ?", (report_id,))
        assert row[0] == "forwarded"
        done = await http.post(
            f"/console/reports/{report_id}/accept", data={"version": "2", "csrf": csrf}, headers=ours
        )
        assert done.status_code == 303
