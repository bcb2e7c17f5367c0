"""The stand-in's in-memory records (chats, messages, files) and the people the chat page offers.

Shared by the mixins that make up ``StandIn``; plain data, no behaviour beyond a one-line summary for errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

#: The people the chat page offers; also the names used when the bot writes to a chat it has not seen.
DEFAULT_USERS: list[dict] = [
    {"id": 1001, "first_name": "骑手小王", "role": "骑手"},
    {"id": 2001, "first_name": "网格员老李", "role": "网格员"},
    {"id": 3001, "first_name": "社区书记", "role": "社区"},
    {"id": 4001, "first_name": "驿站站长老陈", "role": "驿站"},
]


@dataclass
class _Entry:
    message: dict
    from_bot: bool
    seq: int
    deleted: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class _Chat:
    chat: dict
    entries: dict[int, _Entry] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict | None = None
    force_reply: dict | None = None
    last_action: dict | None = None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    content: bytes | None
    mime_type: str
    url: str | None = None


def json_response(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def summary(msg: dict) -> str:
    for key in ("text", "caption"):
        if msg.get(key):
            text = msg[key].replace("\n", " ⏎ ")
            return f"#{msg.get('message_id')} {key}={text[:80]!r}"
    for key in ("venue", "location", "photo", "document"):
        if key in msg:
            return f"#{msg.get('message_id')} <{key}>"
    return f"#{msg.get('message_id')} <{', '.join(k for k in msg if not k.startswith('_'))}>"
