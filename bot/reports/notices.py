"""What people are told about reports, as channel-neutral messages in each recipient's language."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.outbox import messages as out
from bot.presenters.places import distance_text, ride_url
from bot.reports import actions
from bot.reports.categories import category
from bot.reports.model import Report
from bot.reports.states import OPEN, Status
from bot.texts import t


def age_text(lang: str, since: str, now: datetime) -> str:
    seconds = max(0.0, (now - datetime.fromisoformat(since)).total_seconds())
    if seconds < 3600:
        return t(lang, "age.minutes", n=max(1, int(seconds // 60)))
    if seconds < 86400 * 2:
        return t(lang, "age.hours", n=int(seconds // 3600))
    return t(lang, "age.days", n=int(seconds // 86400))


def status_text(lang: str, status: str) -> str:
    return t(lang, f"status.{status}")


def category_text(lang: str, token: str) -> str:
    return category(token).label(lang)


WAITING_STATUSES = frozenset({Status.FORWARDED, Status.TRANSFERRED, Status.REOPENED})


def span_text(lang: str, delta: timedelta) -> str:
    """A time limit or what is left of it, in the unit a worker on an e-bike reads at a glance."""
    minutes = max(1, int(delta.total_seconds() // 60))
    if minutes < 120:
        return t(lang, "age.minutes", n=minutes)
    if minutes < 48 * 60:
        return t(lang, "age.hours", n=minutes // 60)
    return t(lang, "age.days", n=minutes // 1440)


def deadline_text(lang: str, report: Report, now: datetime, accept_minutes: int, resolve_minutes: int) -> str:
    """ "30 分钟内接单 · 还剩 12 分钟": the limit of the step the worker owes next, and what is left of it."""
    if report.status in WAITING_STATUSES and report.accept_due:
        phase, limit, due = "accept", accept_minutes, report.accept_due
    elif report.status == Status.ACCEPTED and report.resolve_due:
        phase, limit, due = "resolve", resolve_minutes, report.resolve_due
    else:
        return ""
    left = datetime.fromisoformat(due) - now
    limit_text = span_text(lang, timedelta(minutes=limit))
    if left.total_seconds() <= 0:
        return t(lang, f"ux.deadline.{phase}_over", limit=limit_text, over=span_text(lang, -left))
    return t(lang, f"ux.deadline.{phase}", limit=limit_text, left=span_text(lang, left))


def route_button(lang: str, report: Report) -> dict[str, str]:
    return out.link(t(lang, "ux.route"), ride_url(report.lat, report.lon, report.ref))


def work_buttons(lang: str, report: Report) -> out.Buttons:
    """The buttons a grid worker needs for this report's current status (and version), and the way there."""
    if report.status not in OPEN or report.status == Status.NEW:
        return [[route_button(lang, report)]]
    if report.status == Status.ACCEPTED:
        first = out.button(t(lang, "work.resolve"), actions.work("resolve", report.id, report.version))
    else:
        first = out.button(t(lang, "work.accept"), actions.work("accept", report.id, report.version))
    return [
        [first, route_button(lang, report)],
        [
            out.button(t(lang, "work.transfer"), actions.work("transfer", report.id, report.version)),
            out.button(t(lang, "work.reject"), actions.work("reject", report.id, report.version)),
        ],
    ]


def work_card(
    lang: str,
    report: Report,
    *,
    where: str,
    followers: int,
    now: datetime,
    status: bool = True,
    answers: list[str] | None = None,
    deadline: str = "",
    origin: str = "",
) -> str:
    """The worker's card; `answers` are the category questions' lines (有人被困吗？ 是), one per line; then where
    the report came from and the time left for the next step."""
    card = t(
        lang,
        "work.card",
        status=status_text(lang, report.status) if status else t(lang, "work.new_for_you"),
        ref=report.ref,
        category=category_text(lang, report.category),
        where=where,
        words=report.description or t(lang, "draft.no_words"),
        age=age_text(lang, report.created_at, now),
        followers=followers,
    )
    card += "".join(f"\n❓ {line}" for line in answers or ())
    extra = [line for line in (origin, deadline and "⏱ " + deadline) if line]
    return "\n".join([card, *extra])


def forward_messages(
    lang: str,
    report: Report,
    *,
    where: str,
    pin_address: str,
    followers: int,
    photos: list[str],
    now: datetime,
    answers: list[str] | None = None,
    deadline: str = "",
    origin: str = "",
) -> list[out.Message]:
    """A report arriving at a worker: the card on the first photo, the other photos, then a map pin."""
    card = work_card(
        lang, report, where=where, followers=followers, now=now, status=False, answers=answers,
        deadline=deadline, origin=origin,
    )  # fmt: skip
    buttons = work_buttons(lang, report)
    messages: list[out.Message] = []
    if photos:
        messages.append(out.photo(photos[0], card, buttons=buttons))
        messages.extend(out.photo(sha) for sha in photos[1:])
    else:
        messages.append(out.text(card, buttons))
    title = f"{report.ref} {category_text(lang, report.category)}"
    messages.append(out.venue(report.lat, report.lon, title[:100], (pin_address or title)[:200]))
    return messages


def rating_buttons(lang: str, report: Report) -> out.Buttons:
    stars = [out.button(t(lang, "rate.stars", stars=n), actions.rate(report.id, n)) for n in range(1, 6)]
    return [stars, [out.button(t(lang, "rate.reopen"), actions.reopen(report.id))]]


def distance(lang: str, metres: float) -> str:
    return distance_text(lang, metres)
