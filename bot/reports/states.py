"""The report's state machine: the only way a status changes is an allowed (status, action) pair.

new → forwarded → accepted → resolved → confirmed / reopened, with transferred, rejected and merged on the side.
Everything else is impossible by construction: `advance` raises instead of writing a status that is not in the
table, and the workflow writes statuses only through it.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    FORWARDED = "forwarded"
    ACCEPTED = "accepted"
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    REJECTED = "rejected"
    MERGED = "merged"


class Action(StrEnum):
    ROUTE = "route"  # system: the new report reaches its first assignee
    MERGE = "merge"  # the reporter joins an existing report instead
    ACCEPT = "accept"  # 接单
    TRANSFER = "transfer"  # 转派 (another grid or a department)
    RESOLVE = "resolve"  # 办结 (after-photo and note required)
    REJECT = "reject"  # 退回 (reason required)
    CONFIRM = "confirm"  # the reporter rates the result
    REOPEN = "reopen"  # the reporter says it is not fixed (within the reopen window)


_WORKING = (Status.FORWARDED, Status.TRANSFERRED, Status.REOPENED)
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.NEW, Action.ROUTE): Status.FORWARDED,
    (Status.NEW, Action.MERGE): Status.MERGED,
    **{(s, Action.ACCEPT): Status.ACCEPTED for s in _WORKING},
    **{(s, Action.TRANSFER): Status.TRANSFERRED for s in (*_WORKING, Status.ACCEPTED)},
    **{(s, Action.REJECT): Status.REJECTED for s in (*_WORKING, Status.ACCEPTED)},
    (Status.ACCEPTED, Action.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Action.CONFIRM): Status.CONFIRMED,
    (Status.RESOLVED, Action.REOPEN): Status.REOPENED,
}
TERMINAL = frozenset({Status.CONFIRMED, Status.REJECTED, Status.MERGED})
OPEN = frozenset({Status.NEW, Status.FORWARDED, Status.ACCEPTED, Status.TRANSFERRED, Status.REOPENED})
# Who may take an action: the people working the report, or the people who reported it.
WORKER_ACTIONS = frozenset({Action.ACCEPT, Action.TRANSFER, Action.RESOLVE, Action.REJECT})
REPORTER_ACTIONS = frozenset({Action.CONFIRM, Action.REOPEN, Action.MERGE})


class InvalidTransition(ValueError):
    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"cannot {action.value} a report that is {status.value}")
        self.status, self.action = status, action


def advance(status: Status | str, action: Action | str) -> Status:
    key = (Status(status), Action(action))
    if key not in TRANSITIONS:
        raise InvalidTransition(*key)
    return TRANSITIONS[key]


def allowed_actions(status: Status | str) -> set[Action]:
    return {action for (s, action) in TRANSITIONS if s == Status(status)}
