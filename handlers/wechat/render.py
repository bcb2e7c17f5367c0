"""Core messages (bot/outbox/messages.py) in WeChat's shapes: the one place that knows both.

WeChat has no inline buttons and no reply keyboards. Buttons that carry an action become a customer-service
`msgmenu` (the options come back as a text message whose `bizmsgmenuid` is the option id: our button data);
buttons that open a URL become links in the text; a photo is uploaded as temporary media and sent by media_id;
a map pin becomes text with the place and an Amap link (GCJ-02, which is what Amap expects).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bot.geo.coords import wgs84_to_gcj02
from bot.outbox.messages import Message
from bot.texts import t

MAX_TEXT_BYTES = 2000  # WeChat cuts text messages at 2048 bytes; keep a margin
MAX_MENU_OPTIONS = 12


def _links(lang: str, message: Message) -> list[str]:
    return [
        t(lang, "wechat.link", label=b["text"], url=b["url"])
        for row in message.get("buttons") or []
        for b in row
        if "url" in b
    ]


def options(message: Message) -> list[dict[str, str]]:
    """The action buttons of a message, flattened in reading order, as msgmenu options."""
    found = [
        {"id": b["data"], "content": b["text"]} for row in message.get("buttons") or [] for b in row if "data" in b
    ]
    return found[:MAX_MENU_OPTIONS]


def body_text(lang: str, message: Message) -> str:
    """A message's words as WeChat shows them: its text (or caption, or pin), its links, and what a Telegram
    reply keyboard would have offered, said in words."""
    kind = message.get("kind")
    if kind == "venue":
        glat, glon = wgs84_to_gcj02(message["lat"], message["lon"])
        amap = (
            f"https://uri.amap.com/marker?position={glon:.6f},{glat:.6f}"
            f"&name={quote(message['title'])}&coordinate=gaode&callnative=1"
        )
        text = t(lang, "wechat.venue", title=message["title"], address=message.get("address", ""), amap=amap)
    elif kind == "photo":
        text = message.get("caption") or ""
    else:
        text = message.get("text") or ""
    parts = [text] if text else []
    parts += _links(lang, message)
    if message.get("keyboard") == "location":
        parts.append(t(lang, "wechat.location_hint"))
    return "\n".join(parts)


def passive_text(lang: str, messages: list[Message]) -> str | None:
    """The answer as one short text that can go back in the HTTP response itself, or None when it needs the
    customer-service API (several messages, a photo, options to tap, or too long)."""
    if len(messages) != 1:
        return None
    message = messages[0]
    if message.get("kind") != "text" or options(message):
        return None
    text = body_text(lang, message)
    if not text or len(text.encode()) > MAX_TEXT_BYTES:
        return None
    return text


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Pieces of at most `limit` UTF-8 bytes, cut at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        while len(line.encode()) > limit:  # one very long line: cut by characters
            cut = len(line)
            while len(line[:cut].encode()) > limit:
                cut = cut * 3 // 4
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return pieces or [""]


def custom_messages(openid: str, lang: str, message: Message) -> list[dict[str, Any]]:
    """The customer-service API bodies for one core message, in order. An image appears as
    {"upload": sha256, ...}: the sender uploads the photo's shareable copy and fills in the media_id."""
    steps: list[dict[str, Any]] = []
    if message.get("kind") == "photo":
        steps.append({"touser": openid, "msgtype": "image", "image": {"upload": message["sha256"]}})
    text = body_text(lang, message)
    menu = options(message)
    pieces = split_text(text) if text else []
    if menu:
        head = pieces.pop() if pieces else ""
        steps += [{"touser": openid, "msgtype": "text", "text": {"content": p}} for p in pieces]
        steps.append(
            {
                "touser": openid,
                "msgtype": "msgmenu",
                "msgmenu": {"head_content": head, "list": menu, "tail_content": ""},
            }
        )
    else:
        steps += [{"touser": openid, "msgtype": "text", "text": {"content": p}} for p in pieces]
    return steps
