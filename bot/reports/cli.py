"""`rider-bot reports list|show|export`: the reports as an admin at a terminal (or a nightly cron job) sees them.

Kept here rather than in bot/cli.py so the reports package owns its whole command; bot/cli.py only registers
the parser and dispatches. Reading and formatting records lives in `bot/reports/export.py`; this module turns
arguments into a `ReportFilter`, refuses what it cannot read before touching the database (exit 2), and speaks
the CLI's language. Exit status: 0 done, 1 nothing to act on (no database, no such report, cannot write), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.clock import SystemClock
from bot.config import Settings
from bot.presenters.places import distance_text
from bot.reports import export as ex
from bot.reports.categories import CATEGORIES, category
from bot.reports.model import parse_ref, ref_of
from bot.reports.notices import age_text, status_text
from bot.reports.questions_file import load as load_questions
from bot.reports.states import Status
from bot.store.db import Database
from bot.texts import t

DEFAULT_LIMIT = 100
NEAR_PLACE_M = 1000.0  # the same reach as the worker's card: further away a place name misleads more than helps


class UsageError(Exception):
    """An argument we cannot use; carries the text key and its parameters for the message."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", metavar="S[,S…]", help="only these statuses (e.g. forwarded,accepted)")
    p.add_argument("--since", metavar="DATE", help="created at or after (YYYY-MM-DD or ISO datetime, local time)")
    p.add_argument(
        "--until", metavar="DATE", help="created before (a date includes that whole local day; ISO datetime)"
    )
    p.add_argument("--category", action="append", metavar="C[,C…]", help="only these categories (e.g. fire_lane)")


def add_reports_parser(sub: argparse._SubParsersAction) -> None:
    reports = sub.add_parser("reports", help="随手拍 reports: list, show one, export (CSV / GeoJSON)")
    actions = reports.add_subparsers(dest="reports_action", required=True)
    listing = actions.add_parser("list", help="a table of reports, oldest first")
    _add_filters(listing)
    listing.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"at most N rows (default {DEFAULT_LIMIT})")
    show = actions.add_parser("show", help="one report: photos, followers, audit log, refusals")
    show.add_argument("ref", help="SP-000123, sp123 or 123")
    show.add_argument("--with-personal-data", action="store_true", help="ADMIN ONLY: the reporter's name and account")
    out = actions.add_parser("export", help="Open311-like CSV (UTF-8 with BOM, spreadsheet-safe) or GeoJSON")
    out.add_argument("--format", choices=("csv", "geojson"), default="csv")
    _add_filters(out)
    out.add_argument("--output", "-o", metavar="FILE", help="write FILE atomically (default: standard output)")
    out.add_argument(
        "--with-personal-data",
        action="store_true",
        help="ADMIN ONLY: add reporter id, display name, channel and channel user id",
    )


def _filter(args: argparse.Namespace, settings: Settings) -> ex.ReportFilter:
    statuses = ex.parse_list(args.status)
    bad = ex.unknown_statuses(statuses)
    if bad:
        raise UsageError("rcli.bad_status", value=", ".join(bad), allowed=", ".join(s.value for s in Status))
    categories = ex.parse_list(args.category)
    bad = ex.unknown_categories(categories)
    if bad:
        raise UsageError("rcli.bad_category", value=", ".join(bad), allowed=", ".join(c.token for c in CATEGORIES))
    since = until = None
    try:
        if args.since:
            since = ex.parse_moment(args.since, settings.tz)
        if args.until:
            until = ex.parse_moment(args.until, settings.tz, end=True)
    except ex.BadMoment as exc:
        raise UsageError("rcli.bad_date", value=str(exc)) from exc
    if since is not None and until is not None and since >= until:
        raise UsageError("rcli.bad_range")
    return ex.ReportFilter(since, until, tuple(dict.fromkeys(statuses)), tuple(dict.fromkeys(categories)))


def read_ref(text: str) -> int | None:
    """SP-000123 and sp123 as `parse_ref` reads them, and the bare number an admin types (123)."""
    found = parse_ref(text)
    if found is None and re.fullmatch(r"[0-9]{1,9}", text.strip()):
        found = int(text.strip())
    return found or None


async def run_reports(args: argparse.Namespace, settings: Settings, lang: str) -> int:
    flt, report_id = ex.ReportFilter(), 0
    try:
        if args.reports_action == "list":
            if args.limit < 1:
                raise UsageError("rcli.bad_limit")
            flt = _filter(args, settings)
        elif args.reports_action == "export":
            flt = _filter(args, settings)
        else:
            found = read_ref(args.ref)
            if found is None:
                raise UsageError("rcli.bad_ref", value=args.ref)
            report_id = found
    except UsageError as exc:
        print(t(lang, exc.key, **exc.params), file=sys.stderr)
        return 2
    # Opening a Database creates the file; a mistyped --db should say so instead of listing an empty new one.
    if not settings.database_url and not settings.db_path.exists():
        print(t(lang, "rcli.no_db", path=settings.db_path), file=sys.stderr)
        return 1
    async with Database(settings.database) as db:
        if args.reports_action == "list":
            return await _list(db, flt, args.limit, settings, lang)
        if args.reports_action == "export":
            return await _export(db, flt, args, settings, lang)
        return await _show(db, report_id, args.with_personal_data, settings, lang)


# ---------------------------------------------------------------------------------------------------- list


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two, so Chinese and English rows still line up."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in (header, *rows)]


def _age(lang: str, stamp: str, now: datetime) -> str:
    try:
        return age_text(lang, ex.parse_stamp(stamp).isoformat(), now)
    except ValueError:
        return "?"


def _category_name(lang: str, token: str) -> str:
    found = category(token)
    name = found.zh if lang.startswith("zh") else found.en
    return name if found.token == token else f"{name} ({token})"


async def _list(db: Database, flt: ex.ReportFilter, limit: int, settings: Settings, lang: str) -> int:
    now = SystemClock(settings.tz).now()
    rows: list[list[str]] = []
    more = False
    # One row past the limit says whether there is more, without a COUNT over the whole table.
    async with contextlib.aclosing(ex.iter_reports(db, flt, order="created", limit=limit + 1)) as found:
        async for row in found:
            if len(rows) == limit:
                more = True
                break
            rows.append(
                [
                    row.ref,
                    ex.local_text(row.created_at, settings.tz),
                    _category_name(lang, row.category),
                    row.status,
                    row.assignee_name(lang) if row.assignee else "-",
                    _age(lang, row.created_at, now),
                ]
            )
    if not rows:
        print(t(lang, "rcli.empty"))
        return 0
    keys = ("ref", "created", "category", "status", "assignee", "age")
    for line in table([t(lang, f"rcli.col.{k}") for k in keys], rows):
        print(line)
    print(t(lang, "rcli.footer", n=len(rows), tz=settings.timezone))
    if more:
        print(t(lang, "rcli.more", limit=limit))
    return 0


# ---------------------------------------------------------------------------------------------------- show


def _actor(lang: str, actor_id: int | None) -> str:
    return t(lang, "rcli.actor.system") if actor_id is None else t(lang, "rcli.actor.user", id=actor_id)


async def _show(db: Database, report_id: int, personal: bool, settings: Settings, lang: str) -> int:
    found = await ex.report_file(db, report_id)
    if found is None:
        print(t(lang, "rcli.not_found", ref=ref_of(report_id)), file=sys.stderr)
        return 1
    r, tz = found.report, settings.tz
    now = SystemClock(tz).now()
    lines = [
        t(
            lang,
            "rcli.show.title",
            ref=r.ref,
            category=_category_name(lang, r.category),
            status=status_text(lang, r.status),
            token=r.status,
        ),
        t(
            lang,
            "rcli.show.created",
            at=ex.local_text(r.created_at, tz, seconds=True),
            age=_age(lang, r.created_at, now),
        ),
        t(lang, "rcli.show.updated", at=ex.local_text(r.updated_at, tz, seconds=True)),
    ]
    if r.resolved_at:
        lines.append(t(lang, "rcli.show.resolved", at=ex.local_text(r.resolved_at, tz, seconds=True)))
    lines.append(t(lang, "rcli.show.where", lat=f"{r.lat:.6f}", lon=f"{r.lon:.6f}"))
    if r.hidden_at:
        lines.append(
            t(lang, "rcli.show.hidden", at=ex.local_text(r.hidden_at, tz, seconds=True), reason=r.hidden_reason)
        )
    lines.append(t(lang, "rcli.show.words", words=r.description or t(lang, "draft.no_words")))
    answers = json.loads(r.answers or "{}")
    if answers:
        questionnaire = load_questions(settings.categories_toml).questionnaire
        lines.append(t(lang, "rcli.show.answers"))
        lines += [
            t(lang, "rcli.show.answer_line", line=x) for x in questionnaire.lines(lang, r.category, answers.items())
        ]
    if r.grid_id:
        lines.append(t(lang, "rcli.show.grid", grid=f"{r.grid_name} ({r.grid_id})" if r.grid_name else r.grid_id))
    if r.assignee_kind or r.assignee:
        kind = t(lang, f"rcli.kind.{r.assignee_kind}") if r.assignee_kind in _KINDS else r.assignee_kind
        lines.append(t(lang, "rcli.show.assignee", kind=kind, name=r.assignee_name(lang), id=r.assignee))
    if r.rating is not None:
        lines.append(t(lang, "rcli.show.rating", rating=r.rating))
    if r.merged_into:
        lines.append(t(lang, "rcli.show.merged_into", ref=ref_of(r.merged_into)))
    if personal:
        lines.append(
            t(
                lang,
                "rcli.show.reporter_personal",
                id=r.reporter_id,
                name=r.reporter_name or "",
                channel=r.reporter_channel or "",
                external_id=r.reporter_external_id or "",
            )
        )
    else:
        lines.append(t(lang, "rcli.show.reporter", id=r.reporter_id))
    lines.append(t(lang, "rcli.show.followers", n=r.followers))
    lines.append(t(lang, "rcli.show.photos", total=len(found.photos), before=r.photos_before, after=r.photos_after))
    for photo in found.photos:
        phase = t(lang, f"rcli.phase.{photo.phase}") if photo.phase in ("before", "after") else photo.phase
        line = t(lang, "rcli.show.photo_line", phase=phase, seq=photo.seq, sha256=photo.sha256)
        lines.append(line + (t(lang, "rcli.hidden_photo") if photo.hidden else ""))
    lines.append(t(lang, "rcli.show.events", n=len(found.events), tz=settings.timezone))
    for event in found.events:
        lines.append(
            t(
                lang,
                "rcli.show.event_line",
                at=ex.local_text(event.at, tz, seconds=True),
                actor=_actor(lang, event.actor_id),
                action=event.action,
                from_status=event.from_status or "-",
                to_status=event.to_status or "-",
                note=t(lang, "rcli.show.note", note=event.note) if event.note else "",
            )
        )
    if not found.events:
        lines.append(t(lang, "rcli.show.none"))
    lines.append(t(lang, "rcli.show.refusals", n=len(found.refusals)))
    for refusal in found.refusals:
        lines.append(
            t(
                lang,
                "rcli.show.refusal_line",
                at=ex.local_text(refusal.at, tz, seconds=True),
                user=refusal.user_id if refusal.user_id is not None else "-",
                action=refusal.action,
                reason=refusal.reason,
            )
        )
    if not found.refusals:
        lines.append(t(lang, "rcli.show.none"))
    print("\n".join(lines))
    return 0


_KINDS = frozenset({"grid", "department", "street_queue", "unrouted"})


# ---------------------------------------------------------------------------------------------------- export


async def _nearby(db: Database) -> ex.Nearby | None:
    """The nearest known place's name within reach, as the record's address; None when we know no places."""
    from bot.services.places_admin import build_catalog

    catalog = await build_catalog(db)
    if len(catalog) == 0:
        return None

    def near(lat: float, lon: float) -> str:
        found = catalog.nearest(lat, lon, 1, max_distance_m=NEAR_PLACE_M)
        if not found:
            return ""
        place, metres = found[0]
        return f"{place.name} ({distance_text('zh-CN', metres)})"

    return near


async def _export(db: Database, flt: ex.ReportFilter, args: argparse.Namespace, settings: Settings, lang: str) -> int:
    fields = ex.export_fields(args.with_personal_data)
    writer = ex.write_csv if args.format == "csv" else ex.write_geojson
    if args.with_personal_data:
        print(t(lang, "rcli.personal_warning"), file=sys.stderr)
    near = await _nearby(db)
    # aclosing: when writing fails half-way, the cursor under the generator is closed now, not at collection.
    records = contextlib.aclosing(ex.export_records(db, flt, settings.tz, personal=args.with_personal_data, near=near))
    if not args.output:
        out = _stdout()
        try:
            async with records as rows:
                await writer(rows, out, fields)
        finally:
            out.flush()
            out.detach()
        return 0
    path = Path(args.output)
    try:
        async with records as rows:
            with ex.atomic_text_file(path) as handle:
                count = await writer(rows, handle, fields)
    except OSError as exc:
        print(t(lang, "rcli.write_failed", path=path, error=exc.strerror or exc), file=sys.stderr)
        return 1
    print(t(lang, "rcli.exported", n=count, path=path), file=sys.stderr)
    return 0


def _stdout() -> io.TextIOWrapper:
    """Standard output as UTF-8 with untranslated line endings, whatever the terminal's locale says."""
    sys.stdout.flush()
    return io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
