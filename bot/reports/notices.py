"""What people are told about reports, as channel-neutral messages in each recipient's language."""

from __future__ import annotations

from datetime import datetime

from bot.outbox import messages as out
from bot.presenters.places import distance_text
from bot.reports import actions
from bot.reports.categories import category
from bot.reports.model import Report
from bot.reports.states import Status
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


def work_buttons(lang: str, report: Report) -> out.Buttons:
    """The buttons a grid worker needs for this report's current status (and version)."""
    if report.status == Status.ACCEPTED:
        first = out.button(t(lang, "work.resolve"), actions.work("resolve", report.id, report.version))
    else:
        first = out.button(t(lang, "work.accept"), actions.work("accept", report.id, report.version))
    return [
        [first],
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
) -> str:
    """The worker's card; `answers` are the category questions' lines (有人被困吗？ 是), one per line."""
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
    return card + "".join(f"\n❓ {line}" for line in answers or ())


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
) -> list[out.Message]:
    """A report arriving at a worker: the card on the first photo, the other photos, then a map pin."""
    card = work_card(lang, report, where=where, followers=followers, now=now, status=False, answers=answers)
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
