"""The keeper's word on a place as answer lines: 待核实, today's status, "驿站 10 分钟前更新".

Separate from the finder's presenters so the station card's layout and the live lines can change independently;
`bot/presenters/places.py` calls `live_lines` for every hit and card.
"""

from __future__ import annotations

from datetime import datetime

from bot.places.model import Place
from bot.texts import t


def ago_text(lang: str, now: datetime, then: datetime) -> str:
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 1:
        return t(lang, "live.just_now")
    if minutes < 60:
        return t(lang, "live.minutes_ago", n=minutes)
    if minutes < 24 * 60:
        return t(lang, "live.hours_ago", n=minutes // 60)
    return t(lang, "live.days_ago", n=minutes // (24 * 60))


def live_lines(lang: str, place: Place, now: datetime | None) -> list[str]:
    live = place.live
    if live is None or now is None:
        return []
    lines = []
    if live.disputed:
        lines.append(t(lang, "live.disputed"))
    status = live.status_at(now)
    if status != "open":
        line = t(lang, f"live.status.{status}")
        if live.until is not None:
            line += t(lang, "live.until", time=live.until.astimezone(now.tzinfo).strftime("%H:%M"))
        if live.note:
            line += f"（{live.note}）"
        lines.append(line)
    elif live.note and live.until is None:
        lines.append(t(lang, "live.note", note=live.note))
    if live.updated_at is not None:
        lines.append(t(lang, "live.updated", ago=ago_text(lang, now, live.updated_at)))
    return lines
