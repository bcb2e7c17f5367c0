"""Typed names we don't know fall back to a configured geocoder (geopy Nominatim), here a loopback stand-in."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser

KNOWN = {"人民广场": ("34.2600", "117.1800", "人民广场, 徐州市, 江苏省, 中国")}


async def _search(request: Request) -> JSONResponse:
    request.app.state.queries.append(dict(request.query_params))
    hit = KNOWN.get(request.query_params.get("q", ""))
    if hit is None:
        return JSONResponse([])
    lat, lon, name = hit
    return JSONResponse([{"lat": lat, "lon": lon, "display_name": name, "place_id": 1, "importance": 0.5}])


@pytest.fixture
async def nominatim() -> AsyncIterator[Starlette]:
    app = Starlette(routes=[Route("/search", _search)])
    app.state.queries = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(100):
        if server.started:
            break
        await asyncio.sleep(0.02)
    app.state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield app
    server.should_exit = True
    await asyncio.wait_for(task, 5)


async def test_unknown_name_is_geocoded_and_answered_with_nearby_stations(
    settings: Settings, clock: ManualClock, nominatim: Starlette
) -> None:
    runtime = Runtime(replace(settings, geocoder_url=nominatim.state.url), clock)
    await runtime.start(poll_timeout=1)
    try:
        rider = ChatUser(runtime.standin, 1001)
        [reply] = await rider.send("人民广场")
        assert "地图上找到「人民广场, 徐州市" in reply["text"]
        assert "离你最近的驿站" in reply["text"]
        assert nominatim.state.queries[0]["q"] == "人民广场"
        assert nominatim.state.queries[0].get("countrycodes") == "cn"
        [reply] = await rider.send("Atlantis")
        assert "没有找到「Atlantis」" in reply["text"]
    finally:
        await runtime.stop()
