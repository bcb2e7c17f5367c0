"""Storage errors are counted at every door: the database stops taking writes (as on a read-only mount), a rider
is told nothing was saved, an Open311 client gets 503 with Retry-After, and rider_storage_errors_total says so."""

from __future__ import annotations

import httpx

from bot.app import Runtime
from bot.store import apikeys
from bot.texts import t
from bot.tls import client_context
from tests import pgcluster
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.test_ops_metrics import metrics_now, moved

HERE = (34.2540, 117.2080)


async def test_storage_errors_are_counted_at_each_door(runtime: Runtime) -> None:
    assert runtime.services is not None and runtime.web is not None and runtime.standin is not None
    db = runtime.services.db
    key = await apikeys.create_key(db, "city-platform", DEFAULT_NOW.isoformat())
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    await rider.send("/start")
    form = {"api_key": key, "service_code": "fire_lane", "lat": HERE[0], "long": HERE[1], "description": "消防通道被堵"}
    before = await metrics_now(runtime)
    await pgcluster.read_only(db, True)  # PostgreSQL: the database made read-only on the server
    try:
        [told] = await rider.send("/lang")  # the first write of the update fails
        async with httpx.AsyncClient(
            verify=client_context(), base_url=f"{runtime.web.url}/open311/v2", timeout=10
        ) as api:
            refused = await api.post("/requests.json", data=form)
    finally:
        await pgcluster.read_only(db, False)
    assert told["text"] == t("zh-CN", "error.storage")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
    assert "try again later" in refused.json()[0]["description"]
    after = await metrics_now(runtime)
    assert moved(before, after, "rider_storage_errors_total", channel="telegram") == 1
    assert moved(before, after, "rider_storage_errors_total", channel="open311") == 1
    assert moved(before, after, "rider_updates_total", channel="telegram", kind="command", outcome="storage_error") == 1
    assert moved(before, after, "rider_http_requests_total", door="open311", code="503") == 1
    async with httpx.AsyncClient(verify=client_context(), base_url=f"{runtime.web.url}/open311/v2", timeout=10) as api:
        assert (await api.post("/requests.json", data=form)).status_code in (200, 201)  # writable again
