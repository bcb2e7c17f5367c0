"""Helpers for report tests: real JPEGs, and people bound to roles the way a city would bind them."""

from __future__ import annotations

import io

from PIL import Image

from bot.app import Runtime
from tests.chat import ChatUser


def jpeg(colour: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def bind(runtime: Runtime, person: ChatUser, role: str, scope: str) -> None:
    code = await runtime.services.roles.invites.create_invite(role, scope)
    [reply] = await person.send(f"/join {code}")
    assert "✅" in reply["text"], reply["text"]


def grid_at(runtime: Runtime, lat: float, lon: float) -> str:
    route = runtime.services.grids.route(lat, lon)
    assert route.how == "inside" and route.grid is not None
    return route.grid.id
