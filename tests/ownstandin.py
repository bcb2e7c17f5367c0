"""For test modules that start their own `Runtime`s (webhook mode, a token of their own, several processes on one
database) instead of conftest's `runtime`: a Bot API stand-in on the module's token and the settings that point a
Runtime at it (tests/ports.py gives the free ports for its webhook or HTTP doors). One place, so that these modules
agree on how a bot finds its stand-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.standin.server import StandIn


def standin_fixture(token: str, name: str = "standin") -> Any:
    """A fixture `name`: a started stand-in that accepts `token`, stopped after the test.
    Use as `standin = standin_fixture(TOKEN)` at a test module's top level."""

    @pytest.fixture(name=name)
    async def fixture() -> AsyncIterator[StandIn]:
        async with StandIn(token=token) as stand:
            yield stand

    return fixture


def standin_settings(token: str, standin: StandIn, db_path: Path, **changes: Any) -> Settings:
    """Settings of a bot on `token` talking to `standin` (its token may differ: a test of a rejected token),
    its database at `db_path`; `changes` are the test's own (mode, ports, categories)."""
    base: dict[str, Any] = {
        "telegram_token": token,
        "telegram_base_url": standin.base_url,
        "telegram_base_file_url": standin.base_file_url,
        "db_path": db_path,
    }
    return Settings(**{**base, **changes})
