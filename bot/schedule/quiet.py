"""Quiet hours: non-urgent reminders wait for the morning; a blocked fire lane does not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class QuietHours:
    start: time = time(22, 0)
    end: time = time(7, 0)

    def contains(self, when: datetime) -> bool:
        t = when.timetz().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def defer(self, when: datetime) -> datetime:
        """`when` itself, or the end of the quiet period it falls in (same time zone)."""
        if not self.contains(when):
            return when
        end = when.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > when else end + timedelta(days=1)


def parse_quiet(text: str) -> QuietHours:
    """ "22:00-07:00" → QuietHours; "" or "off" → no quiet hours at all."""
    text = text.strip()
    if not text or text.lower() == "off":
        return QuietHours(time(0, 0), time(0, 0))
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return QuietHours(start, end)
