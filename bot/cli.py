"""The `rider-bot` command: run the bot, validate and import place lists, query the finder."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from bot.geo.coords import CRS
from bot.places.csv_io import RowError, read_places_file
from bot.presenters.places import distance_text, kind_label, open_text
from bot.store.errors import DatabaseUnavailable
from bot.store.url import check_url
from bot.texts import normalise_lang, t


def _lang(args: argparse.Namespace) -> str:
    return normalise_lang(getattr(args, "lang", None) or os.environ.get("RIDER_LANG"))


def describe_error(lang: str, error: RowError) -> str:
    where = t(lang, "csv.line", line=error.line)
    return f"{where}: {t(lang, 'csv.' + error.code, column=error.column, value=error.value)}"


def _print_errors(lang: str, path: str, rows: int, errors: list[RowError]) -> None:
    for error in errors:
        print(describe_error(lang, error), file=sys.stderr)
    print(t(lang, "cli.invalid", path=path, count=len(errors), rows=rows), file=sys.stderr)


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    lang = _lang(args)
    result = read_places_file(args.file, args.crs)
    if not result.ok:
        _print_errors(lang, args.file, result.rows, result.errors)
        return 1
    print(t(lang, "cli.valid", path=args.file, rows=result.rows))
    return 0


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from bot.services.places_admin import import_places
    from bot.store.db import Database

    lang = _lang(args)
    async with Database(settings.database) as db:
        bar = tqdm(total=None, unit=" places", disable=None, file=sys.stderr)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            bar.update(n - done)
            done = n

        report = await import_places(db, args.file, args.crs, progress)
        bar.close()
    if not report.ok:
        _print_errors(lang, args.file, report.parsed.rows, report.parsed.errors)
        print(t(lang, "cli.not_imported"), file=sys.stderr)
        return 1
    print(
        t(
            lang,
            "cli.imported",
            path=args.file,
            inserted=report.inserted,
            updated=report.updated,
            total=report.total,
        )
    )
    return 0


def describe_grid_error(lang: str, error: RowError) -> str:
    """Like `describe_error`, but grid-specific codes read their text under ``grids.``."""
    from bot.grids.csv_io import error_text_key

    where = t(lang, "csv.line", line=error.line)
    return f"{where}: {t(lang, error_text_key(error.code), column=error.column, value=error.value)}"


def cmd_grids(args: argparse.Namespace, settings: Settings) -> int:
    """`grids validate` reads parents already in the database (when there is one) but writes nothing;
    `grids import` validates the same way, then upserts every row in one transaction or none."""
    if not Path(args.file).is_file():
        print(t(_lang(args), "grids.no_file", path=args.file), file=sys.stderr)
        return 1
    use_db = args.action == "import" or bool(settings.database_url) or settings.db_path.exists()
    return asyncio.run(_grids(args, settings, use_db))


async def _grids(args: argparse.Namespace, settings: Settings, use_db: bool) -> int:
    from bot.services.grids_admin import import_grids, validate_grids
    from bot.store.db import Database

    lang = _lang(args)
    report = None
    if not use_db:
        parsed = await validate_grids(None, args.file, args.crs)
    else:
        async with Database(settings.database) as db:
            if args.action == "validate":
                parsed = await validate_grids(db, args.file, args.crs)
            else:
                report = await import_grids(db, args.file, args.crs)
                parsed = report.parsed
    if not parsed.ok:
        for error in parsed.errors:
            print(describe_grid_error(lang, error), file=sys.stderr)
        print(t(lang, "cli.invalid", path=args.file, count=len(parsed.errors), rows=parsed.rows), file=sys.stderr)
        if report is not None:
            print(t(lang, "cli.not_imported"), file=sys.stderr)
        return 1
    if report is None:
        print(t(lang, "cli.valid", path=args.file, rows=parsed.rows))
    else:
        print(
            t(
                lang,
                "grids.imported",
                path=args.file,
                inserted=report.inserted,
                updated=report.updated,
                total=report.total,
            )
        )
    return 0


async def _nearest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.container import open_services

    lang = _lang(args)
    services = await open_services(settings)
    try:
        lat, lon = args.lat, args.lon
        if args.crs != CRS.WGS84:
            from bot.geo.coords import to_wgs84

            lat, lon = to_wgs84(lat, lon, args.crs)
        answer = services.finder.nearest(lat, lon, scope=args.kind or "all", amenity=args.amenity, k=args.k)
        hits = answer.hits if answer.status in {"ok", "none_nearby"} else []
        if not hits and answer.status == "none_nearby":
            hits = []
        if args.json:
            out = [
                {
                    "id": h.place.id,
                    "name": h.place.name,
                    "kind": h.place.kind,
                    "city": h.place.city,
                    "lat": h.place.lat,
                    "lon": h.place.lon,
                    "distance_m": round(h.distance_m, 1),
                    "ride_minutes": h.ride_minutes,
                    "open": h.open_state.state,
                    "amenities": sorted(h.place.amenities),
                    "phone": h.place.phone,
                }
                for h in hits
            ]
            print(json.dumps(out, ensure_ascii=False, indent=2))
        elif not hits:
            print(t(lang, "cli.no_results"))
        else:
            for n, h in enumerate(hits, 1):
                print(
                    f"{n}. {h.place.name} [{h.place.id}] {kind_label(lang, h.place.kind)}"
                    f" {distance_text(lang, h.distance_m)} {open_text(lang, h.open_state)}"
                )
        return 0
    finally:
        await services.close()


def cmd_wechat_menu(args: argparse.Namespace, settings: Settings) -> int:
    from handlers.wechat.menu import count_buttons, menu, publish_menu

    lang = _lang(args)
    if args.dry_run:
        print(json.dumps(menu(lang), ensure_ascii=False, indent=2))
        return 0
    if not settings.wechat_appid or not settings.wechat_secret:
        print(t(lang, "wechat.cli.not_configured"), file=sys.stderr)
        return 2
    import httpx

    from handlers.wechat.api import WeChatApiError

    try:
        body = asyncio.run(publish_menu(settings, lang))
    except WeChatApiError as exc:
        print(t(lang, "wechat.cli.failed", error=f"{exc.errcode} {exc.errmsg[:200]}"), file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:  # httpx's messages carry the URL (and so the token): name the kind only
        print(t(lang, "wechat.cli.failed", error=type(exc).__name__), file=sys.stderr)
        return 1
    print(t(lang, "wechat.cli.published", buttons=count_buttons(body)))
    return 0


async def _doctor(settings: Settings, lang: str) -> int:
    """Wiring: the doctor is core, the WeChat token is fetched by the door's own client (shared token store)."""
    from bot.ops.cli import run_doctor

    if not (settings.wechat_appid and settings.wechat_secret):
        return await run_doctor(settings, lang, None)
    from bot.ops.doctor import token_store
    from bot.store.db import Database
    from handlers.wechat.api import WeChatApi

    # The bot's own token store when the database is sound and current (opening it then changes nothing), so
    # the check reuses the bot's token instead of replacing it; otherwise a throwaway one.
    db = Database(settings.database_url or token_store(settings.db_path))
    try:
        await db.open()
    except Exception:  # PostgreSQL unreachable: the database check reports it; the token check still runs
        db = await Database(":memory:").open()
    api = WeChatApi(db, base=settings.wechat_api_base, appid=settings.wechat_appid, secret=settings.wechat_secret)
    try:
        return await run_doctor(settings, lang, api.token)
    finally:
        await api.close()
        await db.close()


def _add_csv_group(sub: Any, name: str, text: str) -> Any:
    """`NAME validate FILE` and `NAME import FILE`, with the default CRS for rows that do not say theirs."""
    group = sub.add_parser(name, help=text).add_subparsers(dest="action", required=True)
    for action, help_text in (("validate", "check a CSV file, report every bad row"),
                              ("import", "validate, then upsert all in one transaction")):  # fmt: skip
        command = group.add_parser(action, help=help_text)
        command.add_argument("file")
        command.add_argument(
            "--crs",
            type=CRS,
            choices=list(CRS),
            default=CRS.WGS84,
            help="coordinate system of rows whose coord_system is empty (default wgs84)",
        )
    return group


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rider-bot", description=__doc__)
    parser.add_argument("--config", help="TOML config file (default: $RIDER_CONFIG)")
    parser.add_argument("--db", help="SQLite database path or postgresql:// URL (overrides RIDER_DB_PATH/_URL)")
    parser.add_argument("--lang", choices=["zh-CN", "en"], help="language of messages (default zh-CN)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (offline demo with chat page when TELEGRAM_TOKEN is unset)")
    stale = _add_csv_group(sub, "stations", "place lists").add_parser(
        "stale", help="places nobody (import, keeper, admin) confirmed for --days days"
    )
    stale.add_argument("--days", type=int, default=90)
    near = sub.add_parser("nearest", help="the k nearest places to a point")
    near.add_argument("lat", type=float)
    near.add_argument("lon", type=float)
    near.add_argument("-k", type=int, default=5)
    near.add_argument("--kind", help="station, canteen, community, merchant, hospital, stations or friendly")
    near.add_argument("--amenity", help="e.g. charging, water, toilet")
    near.add_argument("--crs", type=CRS, choices=list(CRS), default=CRS.WGS84)
    near.add_argument("--json", action="store_true")
    _add_csv_group(sub, "grids", "grid lists (street → community → grid)")
    from bot.people.cli import add_invite_parser

    add_invite_parser(sub)
    from bot.points.cli import add_parsers as add_points_parsers

    add_points_parsers(sub)
    from bot.reports.cli import add_reports_parser

    add_reports_parser(sub)
    from bot.reports.admin_cli import add_parsers as add_admin_parsers

    add_admin_parsers(sub)
    wechat = sub.add_parser("wechat", help="the WeChat official account (docs/WECHAT.md)").add_subparsers(
        dest="action", required=True
    )
    wechat_menu = wechat.add_parser("menu", help="publish the custom menu (附近驿站 · 友好场所 · 随手拍)")
    wechat_menu.add_argument("--dry-run", action="store_true", help="print the menu JSON, publish nothing")
    from bot.schedule.cli import add_parsers as add_schedule_parsers

    add_schedule_parsers(sub)
    from bot.ops.cli import add_parsers as add_ops_parsers

    add_ops_parsers(sub)
    from bot.dbcli import add_db_parser

    add_db_parser(sub)
    keys = sub.add_parser("apikey", help="Open311 API keys (docs/OPEN311.md)")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    keys_sub.add_parser("create", help="make a key for NAME and print it once").add_argument("name")
    keys_sub.add_parser("list", help="names, created, revoked (never the keys)")
    keys_sub.add_parser("revoke", help="revoke the live key of NAME").add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> int:
    # Everything the bot writes (database, photos, exports, anything SQLite or a library adds) is its user's
    # alone; the explicit modes in bot/store/private_files.py hold even for code that does not go through here.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    if args.db:
        from dataclasses import replace

        if "://" in args.db:
            try:
                check_url(args.db)
            except ValueError as exc:
                print(t(_lang(args), "db.bad_url", reason=exc), file=sys.stderr)
                return 2
            settings = replace(settings, database_url=args.db)
        else:
            settings = replace(settings, db_path=Path(args.db), database_url=None)
    try:
        return _dispatch(args, settings)
    except DatabaseUnavailable as exc:
        print(t(_lang(args), "db.unavailable", database=exc.database, reason=exc.reason), file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bot.main import serve

        asyncio.run(serve(settings))
        return 0
    if args.command == "stations":
        if args.action == "stale":
            from bot.keepers.cli import run_stale

            return asyncio.run(run_stale(args, settings, _lang(args)))
        if args.action == "validate":
            return cmd_validate(args, settings)
        return asyncio.run(_import(args, settings))
    if args.command == "nearest":
        if not 1 <= args.k <= 100:
            print("-k must be between 1 and 100", file=sys.stderr)
            return 2
        return asyncio.run(_nearest(args, settings))
    if args.command == "grids":
        return cmd_grids(args, settings)
    if args.command == "invite":
        from bot.people.cli import run_invite

        return asyncio.run(run_invite(args, settings, _lang(args)))
    if args.command in {"stats", "sla"}:
        from bot.schedule.cli import run as run_schedule

        return asyncio.run(run_schedule(args, settings, _lang(args)))
    if args.command == "wechat":
        return cmd_wechat_menu(args, settings)
    if args.command == "reports":
        from bot.reports.cli import run_reports

        return asyncio.run(run_reports(args, settings, _lang(args)))
    if args.command in {"questions", "hide", "users", "audit"}:
        from bot.reports.admin_cli import run as run_admin

        return asyncio.run(run_admin(args, settings, _lang(args)))
    if args.command in {"rewards", "points"}:
        from bot.points.cli import run as run_points

        return asyncio.run(run_points(args, settings, _lang(args)))
    if args.command == "doctor":
        return asyncio.run(_doctor(settings, _lang(args)))
    if args.command in {"outbox", "backup", "restore"}:
        from bot.ops.cli import run as run_ops

        return asyncio.run(run_ops(args, settings, _lang(args)))
    if args.command == "apikey":
        from handlers.open311.cli import run_apikey

        return asyncio.run(run_apikey(args, settings))
    if args.command == "db":
        from bot.dbcli import run_db

        return asyncio.run(run_db(args, settings, _lang(args)))
    return 2


if __name__ == "__main__":
    sys.exit(main())
