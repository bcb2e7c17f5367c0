"""GET /metrics, /readyz and /healthz on the HTTP doors' port, through the real stack (docs/OPERATIONS.md).

The metrics are scraped over HTTP while a small burst of riders goes through PTB and the stand-in, and the
counters are compared before and after: each one must move by what the burst did, no more, no less where the
amount is known. Counters are process-wide (one registry), so every check is a difference.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue, utcnow
from bot.tls import client_context
from tests import pgcluster
from tests.chat import ChatUser, settle
from tests.reporting import bind, grid_at, jpeg

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(runtime: Runtime, **kwargs: object) -> httpx.Response:
    assert runtime.web is not None
    async with httpx.AsyncClient(verify=client_context(), base_url=runtime.web.url, timeout=10, **kwargs) as client:  # type: ignore[arg-type]
        return await client.get("/metrics")


async def metrics_now(runtime: Runtime) -> Samples:
    response = await scrape(runtime)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


async def sent_rows(runtime: Runtime) -> int:
    assert runtime.services is not None
    row = await runtime.services.db.fetchone("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")
    return int(row[0]) if row else 0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, flood_burst=8, flood_per_second=0.01, metrics_token="metrics-secret-42")


async def test_a_burst_moves_the_counters_it_should(runtime: Runtime, clock: ManualClock) -> None:
    standin = runtime.standin
    assert standin is not None and runtime.web is not None
    services = runtime.services
    assert services is not None and services.outbox is not None
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    await services.outbox.wait_idle()
    await settle(runtime)
    sent_before = await sent_rows(runtime)
    before = await metrics_now(runtime)

    riders = [ChatUser(standin, 1100 + n, f"骑手{n}") for n in range(3)]
    scrapes: list[Samples] = []

    async def scraper() -> None:  # Prometheus does not wait for a quiet moment: scrape while the burst runs
        for _ in range(5):
            scrapes.append(await metrics_now(runtime))
            await asyncio.sleep(0.05)

    async def rider_session(rider: ChatUser) -> None:
        await rider.send("/start")
        await rider.send("驿站")

    standin.faults.retry_after = 1
    standin.faults.fail_next("429")  # the next send is refused once; the rate limiter waits and retries
    await asyncio.gather(scraper(), *(rider_session(r) for r in riders))
    # a report: photo, place, category, submit — committed, forwarded to the grid worker through the outbox
    reporter = riders[0]
    await reporter.send(photo=jpeg(), caption="消防通道被堵", replies=2)
    [categories] = await reporter.share_location(*HERE)
    _, [summary] = await reporter.tap(categories, "消防通道堵塞")
    _, [received] = await reporter.tap(summary, "提交")
    assert "已收到，编号 SP-" in received["text"]
    # a flooder: 8 messages pass, the 9th is told to slow down, the 10th and 11th are ignored
    flooder = ChatUser(standin, 1200, "刷屏者")
    for n in range(9):
        await flooder.send(f"第{n}条")
    for n in (9, 10):
        standin.inject_message(flooder.user_id, text=f"第{n}条")
    # a redelivered update is dropped by the guard
    first = standin.inject_message(riders[1].user_id, text="/help")
    await settle(runtime)
    update = {"update_id": 0, "message": first}
    last_id = standin.inject_update({"message": first})
    update["update_id"] = last_id
    standin.inject_update(update)
    # a dead letter: the outbox writes to someone who blocked the bot
    standin.blocked.add(999999999)
    async with services.db.transaction() as conn:
        await enqueue(conn, "ops-test:dead", Recipient(None, "telegram", "999999999"), out.text("无人接收"))
    services.wake_outbox()
    await settle(runtime)
    await services.outbox.wait_idle()
    async with httpx.AsyncClient(verify=client_context(), base_url=runtime.web.url, timeout=10) as client:
        assert (await client.get("/open311/v2/services.json")).status_code == 200
        assert (await client.get("/open311/v2/nothing.json")).status_code == 404
    after = await metrics_now(runtime)

    assert len(scrapes) == 5 and all(value(s, "rider_outbox_rows", status="dead") >= 0 for s in scrapes)
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="command", outcome="ok") >= 5
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="text", outcome="ok") == 3 + 8
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="text", outcome="flood") == 3
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="photo", outcome="ok") == 1
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="location", outcome="ok") == 1
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="callback", outcome="ok") == 2
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="command", outcome="duplicate") == 1
    assert moved(before, after, "rider_flood_drops_total", channel="telegram", verdict="warn") == 1
    assert moved(before, after, "rider_flood_drops_total", channel="telegram", verdict="drop") == 2
    assert moved(before, after, "rider_handler_seconds_count", handler="search.on_text") == 3 + 8
    assert moved(before, after, "rider_handler_seconds_count", handler="reports.on_photo") == 1
    assert value(after, "rider_handler_seconds_bucket", handler="search.on_text", le="+Inf") >= 11
    assert moved(before, after, "rider_bot_api_429_total") == 1
    assert moved(before, after, "rider_bot_api_calls_total", result="ok") > 10
    assert value(after, "rider_bot_api_last_success_timestamp_seconds") > 0
    # every outbox row sent meanwhile (the report's worker card among them) is counted once; the dead letter not
    sent = await sent_rows(runtime) - sent_before
    assert sent >= 2
    assert moved(before, after, "rider_outbox_sent_total", channel="telegram") == sent
    assert moved(before, after, "rider_outbox_delivery_seconds_count", channel="telegram") == sent
    assert moved(before, after, "rider_outbox_dead_total", channel="telegram") == 1
    assert value(after, "rider_outbox_rows", status="dead") == value(before, "rider_outbox_rows", status="dead") + 1
    assert value(after, "rider_outbox_rows", status="pending") == 0
    assert value(after, "rider_outbox_oldest_due_age_seconds") == 0
    assert value(after, "rider_leader") == 1, "alone on its database, this process dispatches"
    assert value(after, "rider_reports", status="forwarded") == 1
    assert moved(before, after, "rider_http_requests_total", door="open311", code="200") == 1
    assert moved(before, after, "rider_http_requests_total", door="open311", code="404") == 1

    # the accept deadline passes: one breach, one escalation, one overdue report
    clock.advance(timedelta(days=1))
    overdue = await metrics_now(runtime)
    assert value(overdue, "rider_reports_overdue", phase="accept") == 1
    assert value(after, "rider_reports_overdue", phase="accept") == 0
    await services.deadlines.tick()
    late = await metrics_now(runtime)
    assert moved(after, late, "rider_deadline_breaches_total", phase="accept") == 1
    levels = [moved(after, late, "rider_escalations_total", phase="accept", level=str(n)) for n in range(1, 6)]
    assert sum(levels) == 1  # a day late: straight to the level due now, the skipped ones are not sent


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_delivery_latency_counts_from_when_each_message_was_due(runtime: Runtime) -> None:
    """rider_outbox_delivery_seconds: from being due to being delivered. The receipt is due at the commit and sent
    by the door at once, before its `next_at` (the grace the dispatcher leaves the door): it must count its real
    latency, not 0. A quiet-hours notice is due when its hold ends, and counts from there even after a retry."""
    standin, services = runtime.standin, runtime.services
    assert standin is not None and services is not None and services.outbox is not None
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    await services.outbox.wait_idle()
    await settle(runtime)
    last = (await services.db.fetchone("SELECT COALESCE(MAX(id), 0) FROM outbox"))[0]
    before = await metrics_now(runtime)
    rider = ChatUser(standin, 1301, "骑手小赵")
    await rider.send(photo=jpeg(), caption="消防通道被堵", replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "消防通道堵塞")
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到，编号 SP-" in received["text"]
    await services.outbox.wait_idle(timeout=15)
    # a notice held back for a moment (quiet hours), whose first send is refused (a 5xx): due when the hold ends
    standin.faults.fail_next("5xx")
    hold = utcnow() + timedelta(seconds=0.3)
    async with services.db.transaction() as conn:
        await enqueue(conn, "ops-test:held", Recipient(None, "telegram", str(worker.user_id)), out.text("稍后"),
                      not_before=hold)  # fmt: skip
    services.wake_outbox()
    for _ in range(200):  # bounded: the retry comes base_backoff after the refused send
        row = await services.db.fetchone("SELECT status FROM outbox WHERE idem_key = 'ops-test:held'")
        if row[0] == "sent":
            break
        await asyncio.sleep(0.05)
    await settle(runtime)
    after = await metrics_now(runtime)
    rows = await services.db.fetchall(
        "SELECT idem_key, created_at, next_at, due_at, sent_at, attempts FROM outbox WHERE id > ? AND status = 'sent'",
        (last,),
    )
    receipt = next(r for r in rows if r["idem_key"].endswith(":receipt"))
    assert _at(receipt["sent_at"]) < _at(receipt["next_at"]), "the door sent the receipt before the grace ended"
    assert [r["attempts"] for r in rows if r["idem_key"] == "ops-test:held"] == [2]
    # everything else here (the receipt, the worker's card and pin) was due when its transaction committed
    due = {r["idem_key"]: hold if r["idem_key"] == "ops-test:held" else _at(r["created_at"]) for r in rows}
    latencies = [(_at(r["sent_at"]) - due[r["idem_key"]]).total_seconds() for r in rows]
    assert all(x > 0 for x in latencies), latencies
    assert moved(before, after, "rider_outbox_delivery_seconds_count", channel="telegram") == len(rows)
    observed = moved(before, after, "rider_outbox_delivery_seconds_sum", channel="telegram")
    assert observed == pytest.approx(sum(latencies), abs=1e-4), (observed, latencies)
    assert all(_at(r["due_at"]) == due[r["idem_key"]] for r in rows)


async def test_metrics_are_refused_to_other_addresses_and_proxied_requests(runtime: Runtime) -> None:
    """Only a direct connection from 127.0.0.1 gets in without the token. The doors listen on 127.0.0.1 here;
    connecting from 127.0.0.2 (another loopback address, a different peer) stands in for a remote client."""
    remote = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    refused = await scrape(runtime, transport=remote)
    assert refused.status_code == 401 and "rider_" not in refused.text
    assert refused.headers["www-authenticate"].startswith("Bearer")
    wrong = await scrape(runtime, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
                         headers={"Authorization": "Bearer metrics-secret-41"})  # fmt: skip
    assert wrong.status_code == 401
    allowed = await scrape(runtime, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
                           headers={"Authorization": "Bearer metrics-secret-42"})  # fmt: skip
    assert allowed.status_code == 200 and "rider_updates_total" in allowed.text
    # behind a reverse proxy on the same machine every peer is 127.0.0.1: a forwarded request needs the token,
    # and a forged X-Forwarded-For: 127.0.0.1 does not help
    for header in ({"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"},
                   {"Forwarded": "for=127.0.0.1"}):  # fmt: skip
        proxied = await scrape(runtime, headers=header)
        assert proxied.status_code == 401, header
    assert (await scrape(runtime)).status_code == 200
    # the token never shows up in the exposition
    assert "metrics-secret-42" not in allowed.text


async def test_readyz_names_the_failing_item(runtime: Runtime) -> None:
    assert runtime.web is not None and runtime.services is not None
    services = runtime.services
    async with httpx.AsyncClient(verify=client_context(), base_url=runtime.web.url, timeout=15) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert ready.json()["failing"] == [] and set(checks) == {"database", "bot_api", "outbox", "leader"}
        assert checks["leader"]["detail"].startswith("leader"), "alone on its database, this process leads"

        # the outbox falls behind: the dispatcher is stopped and a message has been due for ten minutes (nine of
        # them a receipt's grace, left to the door that answers: waiting time all the same)
        assert services.outbox is not None
        await services.outbox.stop()
        async with services.db.transaction() as conn:
            await enqueue(conn, "ops-test:late", Recipient(None, "telegram", "1001"), out.text("迟到"),
                          now=utcnow() - timedelta(minutes=10), grace=timedelta(minutes=9))  # fmt: skip
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["failing"] == ["outbox"], ready.text
        detail = ready.json()["checks"]["outbox"]["detail"]
        waited = float(detail.split("oldest waiting ")[1].split(" s")[0])
        assert 595 <= waited < 700, detail

        # the database stops taking writes (a read-only mount; on PostgreSQL, a database made read-only)
        await pgcluster.read_only(services.db, True)
        try:
            ready = await client.get("/readyz")
        finally:
            await pgcluster.read_only(services.db, False)
        assert ready.status_code == 503 and ready.json()["failing"] == ["database", "outbox"], ready.text
        detail = ready.json()["checks"]["database"]["detail"]
        assert "readonly" in detail or "read-only" in detail, detail
        assert (await client.get("/readyz")).json()["checks"]["database"]["ok"], "writable again, at once"
        if services.db.dialect == "postgresql":  # the server goes away, then comes back: the pool reconnects
            await pgcluster.set_reachable(services.db.url, False)  # type: ignore[attr-defined]
            try:
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and "database" in ready.json()["failing"], ready.text
                assert (await client.get("/healthz")).status_code == 200
            finally:
                await pgcluster.set_reachable(services.db.url, True)  # type: ignore[attr-defined]
            assert (await client.get("/readyz")).json()["checks"]["database"]["ok"], "reconnected by itself"
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready

        # the Bot API goes away: polling fails, and getMe (asked because the last success is stale) fails too
        services.settings = replace(services.settings, ready_bot_api_max_age=0.5)
        assert runtime.standin is not None
        await runtime.standin.stop()
        await asyncio.sleep(1.0)
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "bot_api" in ready.json()["failing"], ready.text
