"""Category questions over Open311, with the bundled data/categories.toml: `services` says metadata=true where a
category asks something, `services/{code}` is the GeoReport v2 service definition, a POST's attribute[code]=…
is validated (missing required, unknown value, unknown attribute: a 400 error array naming each) and its rules
apply (the lift yes-path goes straight to the department), and reads return the answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot.app import Runtime
from bot.config import DEFAULT_CATEGORIES_TOML, Settings
from tests.chat import ChatUser
from tests.reporting import bind
from tests.test_open311 import HERE, api, key

__all__ = ["api", "key"]  # the fixtures, shared with tests/test_open311.py


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, categories_toml=DEFAULT_CATEGORIES_TOML)


def filing(key: str, service: str, *attributes: tuple[str, str]) -> dict[str, Any]:
    """A form body with repeated fields (attribute[code][]), as the spec's clients send it."""
    pairs = [("api_key", key), ("service_code", service), ("lat", str(HERE[0])), ("long", str(HERE[1])), *attributes]
    return {"content": urlencode(pairs), "headers": {"content-type": "application/x-www-form-urlencoded"}}


async def test_services_and_service_definitions(api: httpx.AsyncClient) -> None:
    services = {s["service_code"]: s for s in (await api.get("/services.json")).json()}
    assert services["elevator"]["metadata"] is True and services["fire_lane"]["metadata"] is True
    assert services["dogs"]["metadata"] is False
    definition = (await api.get("/services/fire_lane.json")).json()
    assert definition["service_code"] == "fire_lane"
    blocked, where = definition["attributes"]
    assert blocked == {
        "variable": True, "code": "blocked_by", "datatype": "multivaluelist", "required": True,
        "datatype_description": blocked["datatype_description"], "order": 1, "description": "堵塞的是？",
        "rider_bot:description_en": "What is blocking it?",
        "values": [{"key": "ebike", "name": "电动车", "rider_bot:name_en": "E-bikes"},
                   {"key": "car", "name": "汽车", "rider_bot:name_en": "Cars"},
                   {"key": "debris", "name": "杂物", "rider_bot:name_en": "Clutter"}],
    }  # fmt: skip
    assert (where["datatype"], where["required"], where["order"]) == ("singlevaluelist", False, 2)
    [vehicles] = [a for a in (await api.get("/services/flying_lead.json")).json()["attributes"] if a["order"] == 2]
    assert (
        vehicles["datatype"] == "number" and "values" not in vehicles and "1 to 200" in vehicles["datatype_description"]
    )
    # XML: <service_definition><attributes><attribute>…<values><value><key>…
    response = await api.get("/services/elevator.xml")
    top = ET.fromstring(response.content)
    assert top.tag == "service_definition" and top.findtext("service_code") == "elevator"
    [attr] = top.find("attributes")
    assert attr.tag == "attribute" and attr.findtext("code") == "trapped" and attr.findtext("required") == "true"
    assert [v.findtext("key") for v in attr.find("values")] == ["yes", "no"]
    assert (await api.get("/services/dogs.json")).json() == {"service_code": "dogs", "attributes": []}
    assert (await api.get("/services/volcano.json")).status_code == 404


async def test_attributes_are_validated_every_error_at_once(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    missing = await api.post("/requests.json", **filing(key, "elevator"))
    assert missing.status_code == 400
    assert missing.json() == [{"code": 400, "description": "attribute[trapped] is required for service elevator"}]
    several = await api.post(
        "/requests.json",
        **filing(key, "fire_lane", ("attribute[blocked_by][]", "ebike"), ("attribute[blocked_by][]", "boat"),
                    ("attribute[where]", "roof"), ("attribute[colour]", "red")),
    )  # fmt: skip
    assert several.status_code == 400
    texts = [e["description"] for e in several.json()]
    assert all(e["code"] == 400 for e in several.json()) and len(texts) == 3
    assert "attribute[blocked_by]: unknown value 'boat'; one of ebike, car, debris" in texts
    assert "attribute[where]: unknown value 'roof'; one of corridor, lane, exit" in texts
    assert any("attribute[colour] is not an attribute of service fire_lane" in x for x in texts)
    number = await api.post("/requests.xml", **filing(key, "flying_lead", ("attribute[charging]", "no"),
                                                         ("attribute[vehicles]", "lots")))  # fmt: skip
    assert number.status_code == 400
    [error] = ET.fromstring(number.content)
    assert error.findtext("description") == "attribute[vehicles] must be a number from 1 to 200"
    row = await runtime.services.db.fetchone("SELECT COUNT(*) FROM reports")
    assert row[0] == 0, "nothing is filed when an attribute is wrong"


async def test_a_valid_post_applies_the_rules_and_reads_return_the_answers(
    runtime: Runtime, api: httpx.AsyncClient, key: str
) -> None:
    officer = ChatUser(runtime.standin, 4001, "住建科员")
    await bind(runtime, officer, "department", "zhujian")
    seen = runtime.standin.last_seq(officer.user_id)
    response = await api.post("/requests.json", **filing(key, "elevator", ("attribute[trapped]", "true")))
    assert response.status_code == 200, response.text
    [filed] = response.json()
    assert "住建" in filed["service_notice"]
    row = await runtime.services.db.fetchone(
        "SELECT assignee_kind, assignee, urgent FROM reports WHERE id = ?", (int(filed["service_request_id"][3:]),)
    )
    assert tuple(row) == ("department", "zhujian", 1)
    await runtime.services.outbox.wait_idle()
    [card, _pin] = await runtime.standin.wait_for_bot_messages(officer.user_id, 2, after_seq=seen, timeout=8)
    assert "有人被困吗？ 是" in card["text"]
    # multiple choice, both ways of sending it
    fire = await api.post("/requests.json", **filing(key, "fire_lane", ("attribute[blocked_by]", "car,ebike")))
    assert fire.status_code == 200, fire.text
    [read] = (await api.get(f"/requests/{fire.json()[0]['service_request_id']}.json")).json()
    assert read["rider_bot:answers"] == {"blocked_by": "ebike,car"}
    [lift] = (await api.get(f"/requests/{filed['service_request_id']}.json")).json()
    assert lift["rider_bot:answers"] == {"trapped": "yes"}
    top = ET.fromstring((await api.get(f"/requests/{filed['service_request_id']}.xml")).content)
    answers = top.find("request/{urn:rider-bot:open311}answers")
    assert answers is not None and answers.findtext("trapped") == "yes"
