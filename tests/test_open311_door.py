"""The Open311 door's fixes found by an outside client (issue #13): points outside the deployment's coverage are
refused (and the chat says so politely), percent-encoded invalid UTF-8 is a 400, the discovery document is
served, a service_request_id list is answered whole, and the 90-day span check is exact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.app import Runtime
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.reporting import jpeg
from tests.test_open311 import HERE, api, assert_error, form, from_json, insert, key

__all__ = ["api", "key"]  # the fixtures, shared with tests/test_open311.py

FAR_AWAY = {"Seoul": (37.5665, 126.9780), "Bangkok": (13.7563, 100.5018), "Mumbai": (19.0760, 72.8777)}


async def test_points_outside_coverage_are_refused_with_a_400(api: httpx.AsyncClient, key: str) -> None:
    for city, (lat, lon) in {**FAR_AWAY, "Shanghai": (31.2304, 121.4737), "sea": (34.5, 122.5)}.items():
        response = await api.post("/requests.json", data=form(key, lat=lat, long=lon))
        assert "coverage" in assert_error(response, 400), city
    response = await api.post("/requests.xml", data=form(key, lat=37.5665, long=126.9780))
    assert_error(response, 400, "xml")
    # 10 km from the nearest grid is inside the default 20 km; the sample grid itself of course too
    ok = await api.post("/requests.json", data=form(key, lat=HERE[0] + 0.09, long=HERE[1]))
    assert ok.status_code == 200, ok.text
    assert (await api.post("/requests.json", data=form(key))).status_code == 200


async def test_the_chat_refuses_a_report_outside_coverage_politely(runtime: Runtime) -> None:
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    await rider.send(photo=jpeg(), caption="路面塌陷", replies=2)
    [refused] = await rider.share_location(31.2304, 121.4737)  # Shanghai: in China, far from every grid
    assert "不在我们的服务范围" in refused["text"] and "徐州" in refused["text"]
    [categories] = await rider.share_location(*HERE)
    assert "请选择类别" in categories["text"], "the draft goes on once the place is ours"


async def test_percent_encoded_invalid_utf8_is_a_400(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    before = (await runtime.services.db.fetchone("SELECT COUNT(*) FROM reports"))[0]
    body = f"api_key={key}&service_code=fire_lane&lat={HERE[0]}&long={HERE[1]}&description=%FF%FEbad"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    assert_error(await api.post("/requests.json", content=body, headers=headers), 400)
    assert (await runtime.services.db.fetchone("SELECT COUNT(*) FROM reports"))[0] == before, "nothing stored"
    assert_error(await api.get("/requests.json?status=%C3%28"), 400)
    assert_error(await api.get("/services.json?x=%FF"), 400)
    fine = await api.get("/requests.json?status=open&x=%E4%BD%A0")  # 你: valid UTF-8 is fine
    assert fine.status_code == 200


async def test_discovery_document_in_both_formats(api: httpx.AsyncClient) -> None:
    response = await api.get("/discovery.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    [endpoint] = document["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert document["changeset"] and "key_service" in document
    xml = await api.get("/discovery.xml")
    top = ET.fromstring(xml.content)
    assert top.tag == "discovery"
    formats = [f.text for f in top.find("endpoints").find("endpoint").find("formats")]  # type: ignore[union-attr]
    assert formats == ["text/xml", "application/json"]


async def test_a_list_of_ids_is_answered_whole(runtime: Runtime, api: httpx.AsyncClient) -> None:
    stamp = (DEFAULT_NOW - timedelta(hours=1)).isoformat()
    ids = await insert(runtime.services.db, [("fire_lane", "forwarded", stamp, *HERE)] * 120)
    response = await api.get("/requests.json", params={"service_request_id": ",".join(map(str, ids))})
    assert len(from_json(response)) == 120, "not paged at 50"
    too_many = ",".join(str(i) for i in range(1, 202))
    assert_error(await api.get("/requests.json", params={"service_request_id": too_many}), 400)


async def test_the_90_day_span_is_exact(api: httpx.AsyncClient) -> None:
    start = datetime(2026, 8, 1, 8, 0, tzinfo=DEFAULT_NOW.tzinfo)

    async def span(end: datetime | str) -> int:
        end_text = end if isinstance(end, str) else end.isoformat()
        return (
            await api.get("/requests.json", params={"start_date": start.isoformat(), "end_date": end_text})
        ).status_code

    assert await span(start + timedelta(days=90)) == 200
    assert await span(start + timedelta(days=90, seconds=1)) == 400
    assert await span(start + timedelta(days=90, hours=12)) == 400, "no extra day of slack"
    assert await span((start + timedelta(days=90)).date().isoformat()) == 200  # that day's midnight: 89 d 16 h
    assert await span((start + timedelta(days=91)).date().isoformat()) == 400
