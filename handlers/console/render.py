"""Small pieces of HTML the console's pages share: the filter bar, durations, times, status badges."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.console.queries import AGES, ConsoleFilter
from bot.console.scope import Scope
from bot.reports import notices as n
from bot.reports.categories import CATEGORIES
from bot.reports.export import local_text, parse_stamp
from bot.reports.states import Status
from bot.texts import LANGS, t
from handlers.console.web import esc


def duration(lang: str, minutes: float) -> str:
    minutes = abs(int(minutes))
    if minutes < 60:
        return t(lang, "console.duration.minutes", n=minutes)
    if minutes < 24 * 60:
        return t(lang, "console.duration.hours", h=minutes // 60, m=minutes % 60)
    return t(lang, "console.duration.days", d=minutes // 1440, h=minutes % 1440 // 60)


def when(stamp: str | None, tz: tzinfo) -> str:
    return local_text(stamp, tz)


def countdown(lang: str, due: str | None, now: datetime) -> tuple[str, bool]:
    """("3 h 10 min left" | "2 d 1 h overdue", overdue?) for a deadline stamp."""
    if not due:
        return "", False
    minutes = (parse_stamp(due) - now).total_seconds() / 60
    if minutes >= 0:
        return t(lang, "console.report.left", time=duration(lang, minutes)), False
    return t(lang, "console.report.over", time=duration(lang, minutes)), True


def status_badge(lang: str, status: str, late: bool) -> str:
    badge = f'<span class="badge s-{esc(status)}">{esc(n.status_text(lang, status))}</span>'
    if late:
        badge += f' <span class="badge late">{esc(t(lang, "console.late"))}</span>'
    return badge


def event_label(lang: str, action: str) -> str:
    key = f"console.event.{action}"
    return t(lang, key) if key in LANGS["zh-CN"] else action


def grid_choices(grids: Any, scope: Scope) -> list[tuple[str, str]]:
    """(id, name) of the grids (all levels) a session may filter by."""
    if grids is None:
        return []
    found = []
    for level in ("street", "community", "grid"):
        for grid in grids.grids(level):
            if scope.everything or grid.id in scope.area_grids or grid.id in scope.worker_grids:
                found.append((grid.id, grid.name))
    return found


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str) -> str:
    opts = "".join(
        f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(text)}</option>' for v, text in options
    )
    return f'<label>{esc(label)} <select name="{esc(name)}">{opts}</select></label>'


def filter_bar(lang: str, flt: ConsoleFilter, grids: Any, scope: Scope, action: str, extra: str = "") -> str:
    """The same filters on the map, the queue and the exports (a GET form: the URL is the state)."""
    states = [(key, t(lang, f"console.filter.{key}")) for key in ("open", "late", "all")]
    states += [(s.value, n.status_text(lang, s.value)) for s in Status]
    categories = [("", t(lang, "console.filter.any"))] + [(c.token, c.label(lang)) for c in CATEGORIES]
    grid_opts = [("", t(lang, "console.filter.any")), *grid_choices(grids, scope)]
    ages = [("", t(lang, "console.filter.any"))] + [(str(d), t(lang, "console.filter.age_n", days=d)) for d in AGES]
    return (
        f'<form class="filters" method="get" action="{esc(action)}">'
        + _select("state", t(lang, "console.filter.state"), states, flt.state)
        + _select("category", t(lang, "console.filter.category"), categories, flt.category)
        + _select("grid", t(lang, "console.filter.grid"), grid_opts, flt.grid)
        + _select("age", t(lang, "console.filter.age"), ages, str(flt.age or ""))
        + f'<input type="search" name="q" value="{esc(flt.q)}" placeholder="{esc(t(lang, "console.filter.q"))}">'
        + extra
        + f'<button type="submit">{esc(t(lang, "console.filter.apply"))}</button></form>'
    )
