"""What the report modules share: the reply a door renders, the policy knobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.outbox import messages as out
from bot.store.dialogs import Answered

MAX_PHOTOS = 4
MAX_WORDS = 500
REPORT_DIALOG = "report"
REASON_DIALOG = "work_reason"
RESOLVE_DIALOG = "work_resolve"
POINTS_VALID = 10
POINTS_JOINED = 5


@dataclass
class Reply:
    messages: list[out.Message] = field(default_factory=list)
    alert: str | None = None  # a button's short answer (toast); `popup` shows it as a dialog
    popup: bool = False
    retire: bool = False  # the pressed message's buttons are spent: the door removes them
    # …or replaced: the card the worker holds carries the next possible actions after every step
    rebutton: out.Buttons | None = None
    # Outbox rows (idempotency keys) that answer this step, queued in its commit so they survive a crash: the door
    # sends them right after its own answer (`Services.send_now`); the outbox delivers any it could not.
    queued: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportPolicy:
    draft_ttl: timedelta = timedelta(minutes=30)
    max_per_hour: int = 5
    duplicate_radius_m: float = 50.0
    duplicate_window: timedelta = timedelta(days=7)
    reopen_window: timedelta = timedelta(days=7)
    grid_max_distance_m: float = 300.0
    coverage_m: float = 20_000.0  # reports farther than this from every grid are refused (bot/reports/coverage.py)
    category_routes: dict[str, str] = field(default_factory=dict)  # category → department code


class StaleReport(Exception):
    """Someone changed the report between our read and our write; nothing was written."""


def closed_by(step: str | None, kind: str, report_id: int, said: str = "") -> Answered | None:
    """What a worker's words closed (a reason for 退回/转派, a note for 办结), to record with the close: the same
    update run again is then told where the report stands (`said`: the refusal it got, if it was refused)."""
    if step is None:
        return None
    return Answered(step, kind, {"report_id": report_id, "said": said} if said else {"report_id": report_id})
