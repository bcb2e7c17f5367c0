"""Button payloads for the report flows: short, versioned where it matters, trusted for nothing.

Every payload is re-checked on the server: who pressed it (roles), whether the report is still at the version
the button was made for (a stale button changes nothing), and whether the transition is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.reports.categories import CATEGORY_BY_TOKEN

PREFIXES = ("rd:", "rw:", "rt:", "rc:", "ro:", "rq:", "rm:", "rh:", "rs:", "ri:")
_ID = r"(\d{1,9})"
# re.ASCII: `\d` is 0-9 only (not '١٢٣' or '１２'); parse() uses fullmatch, so `$` never admits a trailing newline.
_PATTERNS = {
    "draft": re.compile(r"^rd:(cat|loc|skip|ok|x|merge|new)(?::([a-z_]{1,20}|\d{1,9}))?$", re.ASCII),
    # A category question's answer: rd:a:<question code>:<value key | number | _skip | _done>[:<1 | 0>], the last
    # part on a multiple choice's option: tick it (1) or untick it (0), the state wanted, never a toggle
    "answer": re.compile(r"^rd:a:([a-z][a-z0-9_]{0,19}):([a-z0-9_.]{1,21})(?::([01]))?$", re.ASCII),
    "work": re.compile(rf"^rw:(acc|tr|res|rej|show):{_ID}:(\d{{1,6}})$", re.ASCII),
    "target": re.compile(rf"^rt:{_ID}:(\d{{1,6}}):([gd])\.([A-Za-z0-9_.-]{{1,40}})$", re.ASCII),
    "rate": re.compile(rf"^rc:{_ID}:([1-5])$", re.ASCII),
    "reopen": re.compile(rf"^ro:{_ID}$", re.ASCII),
    "queue": re.compile(rf"^rq:{_ID}$", re.ASCII),
    # the rider's loop: h = 👍 我也遇到 (a hazard), s = 🔁 重新上报 (a rejected report), i = its timeline
    "rider": re.compile(rf"^r([hsi]):{_ID}$", re.ASCII),
    # moderation: f = reject as a false report (report, version), b = ban (user, days), n = dismiss (user)
    "moderation": re.compile(rf"^rm:(?:(f):{_ID}:(\d{{1,6}})|(b):{_ID}:(\d{{1,4}})|(n):{_ID})$", re.ASCII),
}
WORK_ACTIONS = {"acc": "accept", "tr": "transfer", "res": "resolve", "rej": "reject", "show": "show"}
_WORK_CODES = {v: k for k, v in WORK_ACTIONS.items()}


@dataclass(frozen=True)
class DraftAction:
    verb: str  # cat | loc | skip | ok | x | merge | new | a (an answer: arg is "<question>:<value>[:<1 | 0>]")
    arg: str = ""


@dataclass(frozen=True)
class WorkAction:
    verb: str  # accept | transfer | resolve | reject | show
    report_id: int
    version: int


@dataclass(frozen=True)
class TargetChoice:
    report_id: int
    version: int
    kind: str  # "grid" | "department"
    target: str


@dataclass(frozen=True)
class Rate:
    report_id: int
    stars: int


@dataclass(frozen=True)
class Reopen:
    report_id: int


@dataclass(frozen=True)
class ShowReport:
    report_id: int


@dataclass(frozen=True)
class ModerationAction:
    verb: str  # false (target: a report, arg: its version) | ban (target: a user, arg: days) | dismiss
    target: int
    arg: int = 0


@dataclass(frozen=True)
class MeToo:
    report_id: int


@dataclass(frozen=True)
class Resubmit:
    report_id: int


@dataclass(frozen=True)
class Timeline:
    report_id: int


RiderAction = MeToo | Resubmit | Timeline
Payload = DraftAction | WorkAction | TargetChoice | Rate | Reopen | ShowReport | ModerationAction | RiderAction
_RIDER = {"h": MeToo, "s": Resubmit, "i": Timeline}


def me_too(report_id: int) -> str:
    return f"rh:{report_id}"


def resubmit(report_id: int) -> str:
    return f"rs:{report_id}"


def timeline(report_id: int) -> str:
    return f"ri:{report_id}"


def is_report_payload(data: str | None) -> bool:
    return bool(data) and data.startswith(PREFIXES)  # type: ignore[union-attr]


def draft(verb: str, arg: str | int = "") -> str:
    return f"rd:{verb}:{arg}" if arg != "" else f"rd:{verb}"


def answer(question: str, value: str, tick: bool | None = None) -> str:
    """`tick`: a multiple choice's option carries the state it sets (ticked or not), so that a double tap or an
    update re-run after a kill leaves the choice as the rider saw it, where a toggle would undo it."""
    return f"rd:a:{question}:{value}" if tick is None else f"rd:a:{question}:{value}:{int(tick)}"


def work(verb: str, report_id: int, version: int) -> str:
    return f"rw:{_WORK_CODES[verb]}:{report_id}:{version}"


def target(report_id: int, version: int, kind: str, target_id: str) -> str:
    return f"rt:{report_id}:{version}:{kind[0]}.{target_id}"


def rate(report_id: int, stars: int) -> str:
    return f"rc:{report_id}:{stars}"


def reopen(report_id: int) -> str:
    return f"ro:{report_id}"


def show(report_id: int) -> str:
    return f"rq:{report_id}"


def reject_false(report_id: int, version: int) -> str:
    return f"rm:f:{report_id}:{version}"


def ban(user_id: int, days: int) -> str:
    return f"rm:b:{user_id}:{days}"


def dismiss(user_id: int) -> str:
    return f"rm:n:{user_id}"


def parse(data: str | None) -> Payload | None:
    if not data or len(data) > 64:
        return None
    if m := _PATTERNS["draft"].fullmatch(data):
        verb, arg = m.group(1), m.group(2) or ""
        if verb == "cat" and arg not in CATEGORY_BY_TOKEN:
            return None
        if verb == "merge" and not arg.isdigit():
            return None
        return DraftAction(verb, arg)
    if m := _PATTERNS["answer"].fullmatch(data):
        return DraftAction("a", ":".join(part for part in m.groups() if part is not None))
    if m := _PATTERNS["work"].fullmatch(data):
        return WorkAction(WORK_ACTIONS[m.group(1)], int(m.group(2)), int(m.group(3)))
    if m := _PATTERNS["target"].fullmatch(data):
        kind = "grid" if m.group(3) == "g" else "department"
        return TargetChoice(int(m.group(1)), int(m.group(2)), kind, m.group(4))
    if m := _PATTERNS["rate"].fullmatch(data):
        return Rate(int(m.group(1)), int(m.group(2)))
    if m := _PATTERNS["reopen"].fullmatch(data):
        return Reopen(int(m.group(1)))
    if m := _PATTERNS["queue"].fullmatch(data):
        return ShowReport(int(m.group(1)))
    if m := _PATTERNS["rider"].fullmatch(data):
        return _RIDER[m.group(1)](int(m.group(2)))
    if m := _PATTERNS["moderation"].fullmatch(data):
        if m.group(1):
            return ModerationAction("false", int(m.group(2)), int(m.group(3)))
        if m.group(4):
            return ModerationAction("ban", int(m.group(5)), int(m.group(6)))
        return ModerationAction("dismiss", int(m.group(8)))
    return None
