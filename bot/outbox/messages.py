"""Channel-neutral outgoing messages: what the core wants said, before any door decides how to say it.

A message is a small JSON-able dict so it can wait in the outbox table across restarts:
  {"kind": "text", "text": …, "buttons": [[{"text": …, "data": …} | {"text": …, "url": …}]], "keyboard": …,
   "lang": …}
  {"kind": "photo", "sha256": …, "file_ref": …, "file_channel": …, "caption": …, "buttons": …}
  {"kind": "venue", "lat": …, "lon": …, "title": …, "address": …, "buttons": …}
`keyboard` names a reply keyboard the door knows ("main", "location", "remove"); `data` is an action payload
made by the core (see bot/reports/actions.py), at most 64 bytes so every channel can carry it.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]
Buttons = list[list[dict[str, str]]]


def text(body: str, buttons: Buttons | None = None, keyboard: str | None = None, lang: str | None = None) -> Message:
    """`lang` is the language of a named `keyboard`'s labels when the message waits in the outbox (a direct
    answer is rendered in the asker's language anyway)."""
    message: Message = {"kind": "text", "text": body}
    if buttons:
        message["buttons"] = buttons
    if keyboard:
        message["keyboard"] = keyboard
    if lang:
        message["lang"] = lang
    return message


def photo(
    sha256: str, caption: str = "", *, file_ref: str = "", file_channel: str = "", buttons: Buttons | None = None
) -> Message:
    message: Message = {"kind": "photo", "sha256": sha256, "caption": caption}
    if file_ref:
        message["file_ref"], message["file_channel"] = file_ref, file_channel
    if buttons:
        message["buttons"] = buttons
    return message


def venue(lat: float, lon: float, title: str, address: str, buttons: Buttons | None = None) -> Message:
    message: Message = {"kind": "venue", "lat": lat, "lon": lon, "title": title, "address": address}
    if buttons:
        message["buttons"] = buttons
    return message


def button(label: str, data: str) -> dict[str, str]:
    if len(data.encode()) > 64:
        raise ValueError(f"button data over 64 bytes: {data!r}")
    return {"text": label, "data": data}


def link(label: str, url: str) -> dict[str, str]:
    return {"text": label, "url": url}
