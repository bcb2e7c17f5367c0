"""Opening hours as stations post them: "08:00-22:00", "24h", ranges that pass midnight, several ranges.

Riders ask "is it open now and until when?", so the model answers exactly that for a local time; the time zone
is the caller's (Asia/Shanghai by default), never the server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~～至]\s*(\d{1,2}):(\d{2})\s*$")
_ALWAYS = frozenset(a.replace(" ", "") for a in ("24h", "24小时", "24 小时", "全天", "00:00-24:00", "0:00-24:00"))
DAY = 24 * 60


class HoursError(ValueError):
    pass


@dataclass(frozen=True)
class OpenState:
    state: str  # "always" | "open" | "closed" | "unknown"
    at: time | None = None  # closes at (open) or opens at (closed)
    next_day: bool = False  # the time above is tomorrow


@dataclass(frozen=True)
class Hours:
    ranges: tuple[tuple[int, int], ...] = ()  # minutes after midnight; end <= start means "past midnight"
    always: bool = False

    @property
    def known(self) -> bool:
        return self.always or bool(self.ranges)

    def __str__(self) -> str:
        if self.always:
            return "24h"
        return ";".join(f"{_fmt(s)}-{_fmt(e)}" for s, e in self.ranges)

    def state_at(self, when: datetime) -> OpenState:
        if self.always:
            return OpenState("always")
        if not self.ranges:
            return OpenState("unknown")
        now = when.hour * 60 + when.minute
        # Ranges as spans in minutes after today's midnight, also shifted a day back (past-midnight ranges that
        # began yesterday) and forward, so that touching or overlapping ranges chain: "08:00-12:00;12:00-18:00"
        # closes at 18:00, not 12:00.
        spans = [
            (start + shift, (end if end > start else end + DAY) + shift)
            for start, end in self.ranges
            for shift in (-DAY, 0, DAY)
        ]
        if any(s <= now < e for s, e in spans):
            until = now
            while until < now + DAY:
                extended = max((e for s, e in spans if s <= until < e), default=until)
                if extended == until:
                    break
                until = extended
            if until >= now + DAY:
                return OpenState("always")
            return OpenState("open", _time(until), next_day=until >= DAY)
        later = [s for s, _ in self.ranges if s > now]
        if later:
            return OpenState("closed", _time(min(later)))
        return OpenState("closed", _time(min(s for s, _ in self.ranges)), next_day=True)


@lru_cache(maxsize=8192)  # a city's places share a handful of spellings ("08:00-22:00", "24h", …)
def parse_hours(text: str) -> Hours:
    """Parse the CSV `hours` cell; raises HoursError with a message fit for a validation report."""
    raw = (text or "").strip()
    if not raw:
        return Hours()
    if raw.lower().replace(" ", "") in _ALWAYS:
        return Hours(always=True)
    ranges = []
    for part in re.split(r"[;,，；]", raw):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if not match:
            raise HoursError(f"bad hours {part.strip()!r}: expected HH:MM-HH:MM or 24h")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"bad hours {part.strip()!r}: time out of range")
        start, end = h1 * 60 + m1, (h2 * 60 + m2) % DAY
        if start == 0 and h2 == 24:  # "00:00~24:00" with any dash is the whole day, like "00:00-24:00"
            return Hours(always=True)
        if start == end:
            raise HoursError(f"bad hours {part.strip()!r}: opening and closing time are the same")
        ranges.append((start, end))
    if not ranges:
        raise HoursError(f"bad hours {raw!r}")
    return Hours(ranges=tuple(sorted(ranges)))


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _time(minutes: int) -> time:
    return time(minutes // 60 % 24, minutes % 60)
