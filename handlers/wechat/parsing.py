"""Reading what WeChat's servers post to /wechat: the request checks that need no storage, wechatpy's parse with our
own limits, the message reduced to an `Inbound`, and the numbers the door files it under (its dedupe key, its
place in the user's order) and the JSON it is recorded as in the inbound ledger (so any process can run it)."""

from __future__ import annotations

import json
import re
import time
import zlib
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from wechatpy.parser import parse_message

from handlers.wechat.conversation import JOIN_WORDS, Inbound

MAX_BODY = 64 * 1024
MAX_SKEW = 300  # seconds between WeChat's timestamp and our clock; beyond it a request is refused as old
MAX_NONCE = 64
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadRequest(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


def fresh(timestamp: str) -> bool:
    """WeChat's timestamp is its clock's unix time: more than MAX_SKEW away from ours is an old request."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(time.time() - int(timestamp)) <= MAX_SKEW


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY:
                raise BadRequest(413, "body too large")
        except ValueError as exc:
            raise BadRequest(400, "bad Content-Length") from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, "body too large")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise BadRequest(400, "empty body")
    return body


def body_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, "body is not UTF-8") from exc


def refuse_doctype(xml: str) -> None:
    # WeChat never sends a DTD; refusing one keeps entity tricks (billion laughs, external entities) out.
    if "<!DOCTYPE" in xml.upper() or "<!ENTITY" in xml.upper():
        raise BadRequest(400, "DTDs are not accepted")


_STRING_FIELDS = ("ToUserName", "FromUserName", "MsgType", "Content", "Event", "EventKey", "MediaId",
                  "Location_X", "Location_Y", "bizmsgmenuid")  # fmt: skip


def parse(xml: str) -> Any:
    refuse_doctype(xml)
    try:
        message = parse_message(xml)
    except Exception as exc:  # ExpatError, no <xml> root, no MsgType…
        raise BadRequest(400, f"not a WeChat message ({type(exc).__name__})") from exc
    data = getattr(message, "_data", None)
    if not isinstance(data, dict):
        raise BadRequest(400, "not a WeChat message")
    for name in _STRING_FIELDS:  # a nested or repeated tag would reach us as a dict or a list
        if name in data and data[name] is not None and not isinstance(data[name], str):
            raise BadRequest(400, f"malformed <{name}>")
    if not _OPENID.fullmatch(data.get("FromUserName") or ""):
        raise BadRequest(400, "missing or malformed FromUserName")
    try:
        int(data.get("CreateTime") or 0)
        int(data.get("MsgId") or 0)
    except ValueError as exc:
        raise BadRequest(400, "malformed CreateTime or MsgId") from exc
    return message


def inbound_of(message: Any) -> Inbound:
    data: dict[str, Any] = message._data
    kind = str(data.get("MsgType") or "").lower()
    openid = data["FromUserName"]
    if kind == "text":
        return Inbound(openid, "text", text=data.get("Content") or "", menu_id=data.get("bizmsgmenuid") or "")
    if kind == "image":
        return Inbound(openid, "image", media_id=data.get("MediaId") or "")
    if kind == "location":
        return Inbound(openid, "location", lat=data.get("Location_X") or "", lon=data.get("Location_Y") or "")
    if kind == "event":
        event = str(data.get("Event") or "").lower()
        return Inbound(
            openid,
            "event",
            event=event,
            key=data.get("EventKey") or "",
            lat=str(data.get("Latitude") or ""),
            lon=str(data.get("Longitude") or ""),
        )
    return Inbound(openid, "other")


def dedupe_key(message: Any, inbound: Inbound) -> str:
    """WeChat's advice: MsgId for messages; FromUserName + CreateTime for events (which have no MsgId). The event
    name is added, because entering the chat can bring a subscribe and a LOCATION event in the same second."""
    data: dict[str, Any] = message._data
    msg_id = int(data.get("MsgId") or 0)
    if inbound.kind != "event" and msg_id:
        return f"msg:{msg_id}"
    return f"ev:{inbound.openid}:{int(data.get('CreateTime') or 0)}:{inbound.event or inbound.kind}"


_SEQ_SPAN = 10**9  # CreateTime × 10⁹ stays below 2⁶³ until the year 2262


def seq_of(message: Any, inbound: Inbound) -> int:
    """The message's place in its user's order: CreateTime (seconds), then within one second the low digits of
    MsgId, which WeChat hands out in increasing order (events, which have none: a hash of the event's name, as for
    their dedupe key). Two unfinished messages of one user sharing a number would be confused by the per-chat
    order; for that their MsgIds would have to differ by a multiple of 10⁹ within one second."""
    data: dict[str, Any] = message._data
    created = min(max(int(data.get("CreateTime") or 0), 0), 9 * _SEQ_SPAN)  # a forged 10¹⁵ must not overflow
    msg_id = int(data.get("MsgId") or 0)
    within = msg_id if inbound.kind != "event" and msg_id else zlib.crc32((inbound.event or inbound.kind).encode())
    return created * _SEQ_SPAN + within % _SEQ_SPAN


def secret(inbound: Inbound) -> bool:
    """An invite code (加入 CODE, /join CODE) must never reach the database, not even in the ledger: such a message
    is recorded without its contents and can run only in the process that received it."""
    return inbound.kind == "text" and inbound.text.strip().partition(" ")[0].casefold() in JOIN_WORDS


def encode(key: str, inbound: Inbound) -> str:
    """What the inbound ledger keeps of a message until it is done: enough for any process to run it."""
    return json.dumps({"key": key, "inbound": asdict(inbound)}, ensure_ascii=False)


def decode(payload: str) -> tuple[str, Inbound]:
    data = json.loads(payload)
    return str(data["key"]), Inbound(**data["inbound"])
