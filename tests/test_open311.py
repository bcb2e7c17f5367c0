"""The Open311 GeoReport v2 door, exercised by a client written from the spec (wiki.open311.org/GeoReport_v2):
httpx against the running stack's HTTP server, every endpoint in JSON and XML (parsed with xml.etree), the
spec's errors, filters and paging, a POST that reaches a bound grid worker on Telegram, no personal data in any
answer, API keys hashed at rest, and random query strings that never make the server fail."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from bot.app import Runtime
from bot.reports.categories import CATEGORIES
from bot.store import apikeys
from bot.store.db import Database
from bot.tls import client_context
from tests.chat import ChatUser
from tests.conftest import DEFAULT_NOW
from tests.reporting import bind, grid_at, jpeg

ROOT = Path(__file__).resolve().parent.parent
HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
NS = "{urn:rider-bot:open311}"
SPEC_REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
)  # fmt: skip
OPEN = ("new", "forwarded", "accepted", "transferred", "reopened")
CLOSED = ("resolved", "confirmed", "rejected", "merged")


# ---------------------------------------------------------------------------------------------------- a client


def from_xml(response: httpx.Response, root: str, item: str) -> list[dict[str, str]]:
    """The XML answer as a list of {field: text}; our namespaced elements come back as ``rider_bot:name``."""
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml")
    top = ET.fromstring(response.content)
    assert top.tag == root
    out = []
    for element in top:
        assert element.tag == item
        out.append({child.tag.replace(NS, "rider_bot:"): child.text or "" for child in element})
    return out


def from_json(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert isinstance(data, list)
    return data


def assert_error(response: httpx.Response, status: int, fmt: str = "json") -> str:
    assert response.status_code == status, response.text
    if fmt == "xml":
        [err] = from_xml(response, "errors", "error")
        assert err["code"] == str(status) and err["description"]
        return err["description"]
    [err] = from_json(response)
    assert err["code"] == status and err["description"]
    return err["description"]


@pytest.fixture
async def api(runtime: Runtime) -> Any:
    assert runtime.web is not None
    async with httpx.AsyncClient(
        verify=client_context(), base_url=f"{runtime.web.url}/open311/v2", timeout=10
    ) as client:
        yield client


@pytest.fixture
async def key(runtime: Runtime) -> str:
    return await apikeys.create_key(runtime.services.db, "city-platform", DEFAULT_NOW.isoformat())


def form(api_key: str | None, **fields: Any) -> dict[str, Any]:
    data = {"service_code": "fire_lane", "lat": HERE[0], "long": HERE[1], "description": "消防通道被堵"}
    if api_key is not None:
        data["api_key"] = api_key
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


async def insert(
    db: Database, rows: list[tuple[str, str, str, float, float]], reporter_id: int | None = None
) -> list[int]:
    """(category, status, created_at, lat, lon) rows straight into the table; returns their ids."""
    ids = []
    async with db.transaction() as conn:
        if reporter_id is None:
            cursor = await conn.execute(
                "INSERT INTO users (channel, external_id, display_name, created_at) VALUES ('test', 'x', 'x', ?)"
                " ON CONFLICT DO NOTHING",
                (DEFAULT_NOW.isoformat(),),
            )
            row = await (await conn.execute("SELECT id FROM users WHERE channel = 'test'")).fetchone()
            reporter_id = row[0]
        for category, status, created, lat, lon in rows:
            cursor = await conn.execute(
                "INSERT INTO reports (reporter_id, category, lat, lon, description, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (reporter_id, category, lat, lon, f"{category} {status}", status, created, created),
            )
            ids.append(cursor.lastrowid)
    return ids


def ref(report_id: int) -> str:
    return f"SP-{report_id:06d}"


def stamp(days_ago: float) -> str:
    return (DEFAULT_NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------------- services


async def test_services_list_our_categories_in_json_and_xml(api: httpx.AsyncClient) -> None:
    response = await api.get("/services.json")
    assert response.status_code == 200
    services = from_json(response)
    assert [s["service_code"] for s in services] == [c.token for c in CATEGORIES]
    fire = services[0]
    assert fire["service_name"] == "消防通道堵塞"
    assert fire["metadata"] is False and fire["type"] == "realtime"
    assert "Blocked fire lane" in fire["keywords"] and fire["description"] and fire["group"] == "消防"
    xml = from_xml(await api.get("/services.xml"), "services", "service")
    assert [s["service_code"] for s in xml] == [c.token for c in CATEGORIES]
    assert xml[0]["metadata"] == "false" and xml[0]["type"] == "realtime" and xml[0]["service_name"] == "消防通道堵塞"
    assert xml[0]["rider_bot:department"] == "xiaofang"
    # without category questions (this runtime has none) metadata is false and the definition has no attributes
    assert (await api.get("/services/fire_lane.json")).json() == {"service_code": "fire_lane", "attributes": []}
    assert_error(await api.get("/services/nope.xml"), 404, "xml")


# ---------------------------------------------------------------------------------------------------- filing


async def test_a_posted_request_is_routed_and_forwarded_to_the_grid_worker(
    runtime: Runtime, api: httpx.AsyncClient, key: str
) -> None:
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    before = runtime.standin.last_seq(worker.user_id)
    response = await api.post(
        "/requests.json",
        data=form(key, description="消防通道被电动车堵住了", media_url="https://city.example/p/1.jpg",
                  first_name="Secret", last_name="Person", email="secret@example.org", phone="13800000000"),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [created] = from_json(response)
    assert set(created) == {"service_request_id", "token", "service_notice", "account_id"}
    assert created["service_request_id"].startswith("SP-") and created["token"] and created["account_id"] is None
    assert "蝶梦" in created["service_notice"]  # the grid it went to
    report_id = int(created["service_request_id"][3:])
    # the same intake as chat: committed, routed, audited
    row = await runtime.services.db.fetchone(
        "SELECT r.status, r.assignee_kind, r.category, u.channel, u.external_id FROM reports r"
        " JOIN users u ON u.id = r.reporter_id WHERE r.id = ?",
        (report_id,),
    )
    assert tuple(row) == ("forwarded", "grid", "fire_lane", "open311", "city-platform")
    events = await runtime.services.db.fetchall(
        "SELECT action FROM report_events WHERE report_id = ? ORDER BY id", (report_id,)
    )
    assert [e[0] for e in events] == ["create", "route"]
    # forwarded through the outbox to the worker on Telegram: the card (text: no photo), then the map pin
    await runtime.services.outbox.wait_idle()
    card, pin = await runtime.standin.wait_for_bot_messages(worker.user_id, 2, after_seq=before, timeout=8)
    assert created["service_request_id"] in card["text"] and "消防通道被电动车堵住了" in card["text"]
    assert "https://city.example/p/1.jpg" in card["text"]
    assert "Secret" not in card["text"] and "13800000000" not in card["text"]
    assert pin["venue"]["location"]["latitude"] == pytest.approx(HERE[0], abs=1e-6)
    # the contact fields are stored nowhere
    dump = ""
    for table in ("reports", "users", "report_events", "outbox", "open311_tokens", "dialogs"):
        dump += "\n".join(str(tuple(r)) for r in await runtime.services.db.fetchall(f"SELECT * FROM {table}"))
    assert "secret@example.org" not in dump and "13800000000" not in dump and "Person" not in dump
    # nothing is queued for the API client itself (it polls)
    assert await runtime.services.db.fetchall("SELECT * FROM report_followers WHERE report_id = ?", (report_id,)) == []

    # read it back: by ref and by number, JSON and XML
    for path in (f"/requests/{created['service_request_id']}.json", f"/requests/{report_id}.json"):
        [got] = from_json(await api.get(path))
        assert got["service_request_id"] == created["service_request_id"]
        assert got["status"] == "open" and got["rider_bot:status"] == "forwarded"
        assert got["service_code"] == "fire_lane" and got["lat"] == pytest.approx(HERE[0])
        assert set(SPEC_REQUEST_FIELDS) <= set(got)
        assert got["requested_datetime"].endswith("+08:00")
        assert got["agency_responsible"] and got["rider_bot:grid_id"]
    [got] = from_xml(await api.get(f"/requests/{created['service_request_id']}.xml"), "service_requests", "request")
    assert got["status"] == "open" and float(got["long"]) == pytest.approx(HERE[1])
    # the token resolves at once (we create synchronously)
    for fmt in ("json", "xml"):
        response = await api.get(f"/tokens/{created['token']}.{fmt}")
        [tok] = from_json(response) if fmt == "json" else from_xml(response, "service_requests", "request")
        assert tok == {"service_request_id": created["service_request_id"], "token": created["token"]}

    # XML POST, with the key in the query string as some clients send it
    response = await api.post(f"/requests.xml?api_key={key}", data=form(None, service_code="lights"))
    assert response.status_code == 200, response.text
    [made] = from_xml(response, "service_requests", "request")
    assert made["service_request_id"].startswith("SP-") and made["token"] and made["account_id"] == ""


async def test_address_string_is_located_through_our_place_search(
    runtime: Runtime, api: httpx.AsyncClient, key: str
) -> None:
    finder = runtime.services.finder
    for place in finder.catalog.places:
        if (await finder.search(place.name)).status == "unique":
            break
    else:
        pytest.skip("no uniquely named place in the sample data")
    response = await api.post("/requests.json", data=form(key, lat=None, long=None, address_string=place.name))
    assert response.status_code == 200, response.text
    [created] = from_json(response)
    [got] = from_json(await api.get(f"/requests/{created['service_request_id']}.json"))
    assert (got["lat"], got["long"]) == (pytest.approx(place.lat), pytest.approx(place.lon))
    description = assert_error(
        await api.post("/requests.json", data=form(key, lat=None, long=None, address_string="火星基地九号")), 400
    )
    assert "address_string" in description


async def test_filing_errors_follow_the_spec(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    # 403: no key, a wrong key, a revoked key (in both formats)
    assert_error(await api.post("/requests.json", data=form(None)), 403)
    assert_error(await api.post("/requests.xml", data=form("rb311_" + "x" * 43)), 403, "xml")
    assert_error(await api.post("/requests.json", data=form("not a key at all")), 403)
    spare = await apikeys.create_key(runtime.services.db, "spare", DEFAULT_NOW.isoformat())
    assert (await api.post("/requests.json", data=form(spare))).status_code == 200
    assert await apikeys.revoke_key(runtime.services.db, "spare", DEFAULT_NOW.isoformat())
    assert_error(await api.post("/requests.json", data=form(spare)), 403)
    # 400: service_code, location, values
    assert "service_code" in assert_error(await api.post("/requests.json", data=form(key, service_code="nope")), 400)
    assert "service_code" in assert_error(await api.post("/requests.xml", data=form(key, service_code="")), 400, "xml")
    assert "location" in assert_error(await api.post("/requests.json", data=form(key, lat=None, long=None)), 400)
    assert_error(await api.post("/requests.json", data=form(key, long=None)), 400)
    assert_error(await api.post("/requests.json", data=form(key, lat="91")), 400)
    assert_error(await api.post("/requests.json", data=form(key, lat="nan")), 400)
    assert_error(await api.post("/requests.json", data=form(key, lat="٣٤")), 400)
    assert_error(await api.post("/requests.json", data=form(key, lat="48.85", long="2.35")), 400)  # Paris
    assert_error(await api.post("/requests.json", data=form(key, description="字" * 501)), 400)
    assert_error(await api.post("/requests.json", data=form(key, media_url="file:///etc/passwd")), 400)
    # the body is form data as the spec says; anything else is refused before the key is even read
    response = await api.post("/requests.json", json=form(key))
    assert_error(response, 415)
    binary = await api.post(
        "/requests.json", content=b"\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_error(binary, 400)
    # nothing above created a report (only the one good request with the spare key)
    row = await runtime.services.db.fetchone("SELECT COUNT(*) FROM reports")
    assert row[0] == 1


async def test_keys_are_limited_per_hour(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    runtime.services.settings.extra["open311_requests_per_hour"] = 2
    try:
        for _ in range(2):
            assert (await api.post("/requests.json", data=form(key))).status_code == 200
        response = await api.post("/requests.json", data=form(key))
        assert_error(response, 429)
        assert response.headers["retry-after"]
    finally:
        del runtime.services.settings.extra["open311_requests_per_hour"]


# ---------------------------------------------------------------------------------------------------- reading


async def test_not_found_and_other_errors_come_in_the_spec_format(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/requests/SP-999999.json"), 404)
    assert_error(await api.get("/requests/999999.xml"), 404, "xml")
    assert_error(await api.get("/requests/..%2f..%2fetc.json"), 404)
    assert_error(await api.get("/requests/not-an-id.json"), 404)
    assert_error(await api.get("/tokens/unknown-token.json"), 404)
    assert_error(await api.get("/tokens/unknown-token.xml"), 404, "xml")
    assert_error(await api.get("/nothing.json"), 404)
    assert_error(await api.get("/requests.html"), 404)
    assert_error(await api.get("/requests"), 404)
    response = await api.delete("/requests.json")
    assert_error(response, 405)
    assert "POST" in response.headers["allow"]
    assert_error(await api.post("/services.xml"), 405, "xml")


async def test_filters_and_paging(runtime: Runtime, api: httpx.AsyncClient) -> None:
    db = runtime.services.db
    far = (34.3000, 117.1000)  # also in Xuzhou, outside a box drawn around HERE
    rows = [("fire_lane", s, stamp(i + 1), *HERE) for i, s in enumerate(OPEN + CLOSED)]  # 1..9 days ago
    rows += [("lights", "forwarded", stamp(2.5), *far), ("road", "rejected", stamp(120), *HERE)]
    ids = await insert(db, rows)
    recent = ids[:10]  # the last one is older than the default 90-day window

    async def get(**query: Any) -> list[dict[str, Any]]:
        response = await api.get("/requests.json", params=query)
        assert response.status_code == 200, response.text
        return from_json(response)

    def refs(items: list[dict[str, Any]]) -> list[str]:
        return [item["service_request_id"] for item in items]

    # default: the last 90 days, newest first
    everything = await get()
    assert refs(everything) == [ref(i) for i in (ids[0], ids[1], ids[9], *ids[2:9])]
    assert {item["status"] for item in everything} == {"open", "closed"}
    # status
    assert {item["rider_bot:status"] for item in await get(status="open")} == set(OPEN)
    assert {item["rider_bot:status"] for item in await get(status="closed")} == set(CLOSED)
    assert len(await get(status="open,closed")) == len(recent)
    # service_code (comma list)
    assert refs(await get(service_code="lights")) == [ref(ids[9])]
    assert len(await get(service_code="lights,fire_lane")) == 10
    # dates: an explicit window reaches older reports; date-only end_date includes the whole day
    assert refs(await get(start_date=stamp(130)[:10], end_date=stamp(100)[:10])) == [ref(ids[10])]
    window = await get(start_date=stamp(3.5), end_date=stamp(1.5))
    assert sorted(refs(window)) == sorted(ref(i) for i in (ids[1], ids[2], ids[9]))
    assert refs(await get(start_date=stamp(1))) == [ref(ids[0])]  # inclusive start, to start + 90 days
    assert refs(await get(end_date=stamp(8))) == [ref(ids[7]), ref(ids[8])]  # inclusive end, 90 days before
    # bbox (our extension): min_lon,min_lat,max_lon,max_lat
    box = f"{HERE[1] - 0.01},{HERE[0] - 0.01},{HERE[1] + 0.01},{HERE[0] + 0.01}"
    assert ref(ids[9]) not in refs(await get(bbox=box)) and len(await get(bbox=box)) == 9
    small = f"{far[1] - 0.001},{far[0] - 0.001},{far[1] + 0.001},{far[0] + 0.001}"
    assert refs(await get(**{"rider_bot:bbox": small})) == [ref(ids[9])]
    # paging
    pages = [refs(await get(page=n, page_size=4)) for n in (1, 2, 3, 4)]
    assert [len(page) for page in pages] == [4, 4, 2, 0]
    assert [r for page in pages for r in page] == refs(everything)
    # service_request_id overrides the other filters (and reaches outside the window)
    picked = await get(service_request_id=f"{ref(ids[10])},{ids[3]}, sp{ids[4]}", status="open")
    assert refs(picked) == [ref(ids[3]), ref(ids[4]), ref(ids[10])]
    # XML, same answer
    xml = from_xml(await api.get("/requests.xml", params={"status": "closed"}), "service_requests", "request")
    assert {item["status"] for item in xml} == {"closed"} and len(xml) == 4
    assert all(item["rider_bot:status"] in CLOSED for item in xml)
    # bad values are 400s with a reason
    for bad in (
        {"status": "pending"}, {"service_code": "nope"}, {"page": "0"}, {"page_size": "1000"}, {"page": "-1"},
        {"page_size": "x"}, {"start_date": "yesterday"}, {"end_date": "2026-13-01"},
        {"start_date": stamp(200), "end_date": stamp(1)},  # more than 90 days
        {"start_date": stamp(1), "end_date": stamp(2)},  # end before start
        {"bbox": "1,2,3"}, {"bbox": "117.3,34.3,117.1,34.2"}, {"bbox": "a,b,c,d"}, {"bbox": "0,0,200,10"},
        {"service_request_id": "SP-1,hello"},
    ):  # fmt: skip
        assert_error(await api.get("/requests.json", params=bad), 400)
    assert_error(await api.get("/requests.xml", params={"status": "pending"}), 400, "xml")


async def test_private_reads_need_a_key_when_configured(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    runtime.services.settings.extra["open311_private_reads"] = True
    try:
        assert_error(await api.get("/requests.json"), 403)
        assert (await api.get("/requests.json", params={"api_key": key})).status_code == 200
        assert (await api.get("/services.json")).status_code == 200  # the service list stays public
    finally:
        del runtime.services.settings.extra["open311_private_reads"]


async def test_no_personal_data_leaves_through_any_read(runtime: Runtime, api: httpx.AsyncClient, key: str) -> None:
    telegram_id, name = 7_654_321_987, "隐私骑手Zed"
    rider = ChatUser(runtime.standin, telegram_id, name)
    await rider.send(photo=jpeg(), caption="井盖丢了", replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "道路坑洼")
    _, [received] = await rider.tap(summary, "提交")
    chat_ref = received["text"].split("编号 ")[1].split("。")[0]
    [created] = from_json(await api.post("/requests.json", data=form(key)))
    created_ref = created["service_request_id"]
    user_ids = [str(r[0]) for r in await runtime.services.db.fetchall("SELECT id FROM users")]
    answers = []
    for fmt in ("json", "xml"):
        answers += [
            await api.get(f"/requests.{fmt}"),
            await api.get(f"/requests.{fmt}", params={"service_request_id": f"{chat_ref},{created_ref}"}),
            await api.get(f"/requests/{chat_ref}.{fmt}"),
            await api.get(f"/requests/{created['service_request_id']}.{fmt}"),
            await api.get(f"/tokens/{created['token']}.{fmt}"),
            await api.get(f"/services.{fmt}"),
        ]  # fmt: skip
    listed = from_json(answers[0])
    assert {item["service_request_id"] for item in listed} == {chat_ref, created["service_request_id"]}
    assert any(item["description"] == "井盖丢了" for item in listed)  # the words are the report, not the person
    for response in answers:
        assert response.status_code == 200
        text = response.text
        for secret in (str(telegram_id), name, "telegram", "city-platform", key, "reporter"):
            assert secret not in text, (secret, response.url)
    for item in listed:
        assert not {k for k in item if "reporter" in k or "user" in k or "account" in k}
        assert str(item["rider_bot:assignee"]) not in user_ids or item["rider_bot:assignee_kind"] != "user"


# ---------------------------------------------------------------------------------------------------- keys


def run_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--db", str(db), "apikey", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


async def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, db, *args)


@pytest.mark.sqlite_only("scans the SQLite file's bytes for the key (stored hashed on both backends)")
async def test_keys_from_the_cli_are_shown_once_and_stored_only_hashed(
    runtime: Runtime, api: httpx.AsyncClient
) -> None:
    db_path = runtime.settings.db_path
    made = await cli(db_path, "create", "xuzhou-12345")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("rb311_") and len(secret) == 49 and "once" in made.stderr
    assert (await cli(db_path, "create", "xuzhou-12345")).returncode == 2  # one live key per name
    assert (await cli(db_path, "create", "bad name!")).returncode == 2
    listed = await cli(db_path, "list")
    assert listed.returncode == 0 and "xuzhou-12345" in listed.stdout and "live" in listed.stdout
    assert secret not in listed.stdout + listed.stderr
    # it works
    assert (await api.post("/requests.json", data=form(secret))).status_code == 200
    # at rest: only the SHA-256, in no file of the database (main file, WAL, shared memory)
    row = await runtime.services.db.fetchone("SELECT key_hash FROM api_keys WHERE name = 'xuzhou-12345'")
    assert row[0] == hashlib.sha256(secret.encode()).hexdigest()
    files = [str(p) for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert len(files) >= 2
    # Read in another process: closing any descriptor of a SQLite file in this process would drop the running
    # bot's POSIX locks on it (fcntl locks are per process), and its reads would go stale.
    scan = "import sys; print(sum(sys.argv[1].encode() in open(f, 'rb').read() for f in sys.argv[2:]))"
    for needle in (secret, secret[6:]):
        found = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", scan, needle, *files], capture_output=True, text=True, check=True
        )
        assert found.stdout.strip() == "0", files
    control = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", scan, row[0], *files], capture_output=True, text=True, check=True
    )
    assert control.stdout.strip() != "0", "the scan finds what is there (the hash)"
    # revoked: refused from then on, still listed
    revoked = await cli(db_path, "revoke", "xuzhou-12345")
    assert revoked.returncode == 0, revoked.stderr
    assert_error(await api.post("/requests.json", data=form(secret)), 403)
    assert "revoked" in (await cli(db_path, "list")).stdout
    assert (await cli(db_path, "revoke", "xuzhou-12345")).returncode == 1
    # a new key under the same name files as the same client
    again = (await cli(db_path, "create", "xuzhou-12345")).stdout.strip()
    assert again != secret
    response = await api.post("/requests.json", data=form(again))
    assert response.status_code == 200, (again, response.text)
    clients = await runtime.services.db.fetchall("SELECT id FROM users WHERE channel = 'open311'")
    assert len(clients) == 1
    assert (await asyncio.to_thread(run_cli, db_path.parent / "missing.sqlite3", "list")).returncode == 1


# ---------------------------------------------------------------------------------------------------- robustness


def closing(client: httpx.Client, run: Any) -> None:
    with client:
        run()


PARAM_NAMES = st.sampled_from(
    ["service_code", "status", "start_date", "end_date", "bbox", "rider_bot:bbox", "page", "page_size",
     "service_request_id", "jurisdiction_id", "api_key", "x"]
)  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["open", "closed", "fire_lane", "2026-11-26", "2026-11-26T08:00:00Z", "1", "0", "-1", "1e309",
                     "117.1,34.2,117.3,34.3", "SP-000001", "nan", "9999-12-31T23:59:59+14:00", "0001-01-01", "٣"]),
    st.from_regex(r"[0-9.,:T+\-Z ]{0,30}", fullmatch=True),
)  # fmt: skip


async def test_random_query_strings_never_fail_the_server(runtime: Runtime) -> None:
    assert runtime.web is not None
    base = f"{runtime.web.url}/open311/v2"
    client = httpx.Client(
        timeout=10, verify=client_context()
    )  # used and closed in the worker thread: the server runs on this loop

    @examples(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from(["/requests.json", "/requests.xml", "/requests/SP-000001.json", "/services.xml",
                         "/tokens/abc.json"]),
        st.one_of(st.lists(st.tuples(PARAM_NAMES, VALUES), max_size=6).map(urlencode), st.text(max_size=60)),
    )  # fmt: skip
    def probe(path: str, query: str) -> None:
        response = client.get(f"{base}{path}?{quote(query, safe='=&,:+')}")
        assert response.status_code in (200, 400, 404), (query, response.status_code, response.text)
        if response.status_code != 200:
            assert response.content.startswith(b"<?xml") or response.json()[0]["code"] == response.status_code

    await asyncio.to_thread(closing, client, probe)


async def test_random_form_bodies_never_fail_the_server(runtime: Runtime, key: str) -> None:
    assert runtime.web is not None
    url = f"{runtime.web.url}/open311/v2/requests.json"
    client = httpx.Client(
        timeout=10, verify=client_context()
    )  # used and closed in the worker thread: the server runs on this loop
    fields = st.sampled_from(["service_code", "lat", "long", "address_string", "description", "media_url",
                              "email", "first_name", "z"])  # fmt: skip

    @examples(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(fields, VALUES, max_size=6), st.booleans())
    def probe(data: dict[str, str], with_key: bool) -> None:
        body = {**data, **({"api_key": key} if with_key else {})}
        response = client.post(url, data=body)
        assert response.status_code in (200, 400, 403), (body, response.status_code, response.text)

    await asyncio.to_thread(closing, client, probe)
