"""A 随手拍 report as the core sees it; the readable number riders quote on the phone is `ref` (SP-000123)."""

from __future__ import annotations

import re
from dataclasses import dataclass

REF_PREFIX = "SP-"
_REF = re.compile(r"^\s*SP-?0*(\d{1,9})\s*$", re.I)


def ref_of(report_id: int) -> str:
    return f"{REF_PREFIX}{report_id:06d}"


def parse_ref(text: str) -> int | None:
    match = _REF.match(text or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ReportCore:
    """The `reports` columns every view of a report carries: `Report` (the core's working copy)
    and `ReportRow` (readers outside the chat, bot/store/report_rows.py) add their own to one list, so the two
    cannot drift apart."""

    id: int
    reporter_id: int
    category: str
    lat: float
    lon: float
    description: str
    status: str
    version: int
    grid_id: str | None
    assignee_kind: str
    assignee: str
    merged_into: int | None
    rating: int | None
    created_at: str
    updated_at: str
    resolved_at: str | None

    @property
    def ref(self) -> str:
        return ref_of(self.id)


@dataclass(frozen=True)
class Report(ReportCore):
    urgent: int = 0
    accept_due: str | None = None
    resolve_due: str | None = None
    escalation_level: int = 0
    hidden_at: str | None = None  # hidden by a moderator: for admins' eyes only (bot/reports/moderation.py)


@dataclass(frozen=True)
class Event:
    at: str
    actor_id: int | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str
