"""The web console door (网格管理看板): /console/ on the HTTP doors' server, for supervisors, departments and
admins. Thin like the other doors: sign-in, scope, reads and figures live in bot/console/, actions in the
ReportService the chat uses. docs/CONSOLE.md describes it."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from handlers.console import actions, api, pages, signin, views
from handlers.console.web import PREFIX, redirect

STATIC = Path(__file__).with_name("static")


async def _to_slash(request: object) -> object:
    return redirect(f"{PREFIX}/")


def routes() -> list[BaseRoute]:
    return [
        Route(PREFIX, _to_slash, methods=["GET"]),
        Route(f"{PREFIX}/", views.map_page, methods=["GET"]),
        Route(f"{PREFIX}/queue", pages.queue, methods=["GET"]),
        Route(f"{PREFIX}/numbers", views.numbers_page, methods=["GET"]),
        Route(f"{PREFIX}/screen", views.screen_page, methods=["GET"]),
        Route(f"{PREFIX}/reports/{{report_id:int}}", pages.report, methods=["GET"]),
        Route(f"{PREFIX}/reports/{{report_id:int}}/{{verb}}", actions.act, methods=["POST"]),
        Route(f"{PREFIX}/photos/{{report_id:int}}/{{sha}}", api.photo, methods=["GET"]),
        Route(f"{PREFIX}/api/map", api.map_data, methods=["GET"]),
        Route(f"{PREFIX}/api/grids", api.grids_data, methods=["GET"]),
        Route(f"{PREFIX}/api/numbers", api.numbers_data, methods=["GET"]),
        Route(f"{PREFIX}/events", api.events, methods=["GET"]),
        Route(f"{PREFIX}/export.csv", api.export_csv, methods=["GET"]),
        Route(f"{PREFIX}/export.geojson", api.export_geojson, methods=["GET"]),
        Route(f"{PREFIX}/login", signin.login_page, methods=["GET"]),
        Route(f"{PREFIX}/login", signin.login, methods=["POST"]),
        Route(f"{PREFIX}/logout", signin.logout, methods=["POST"]),
        Route(f"{PREFIX}/lang", signin.switch_lang, methods=["GET"]),
        Route(f"{PREFIX}/demo", signin.demo_signin, methods=["GET"]),
        Mount(f"{PREFIX}/static", app=StaticFiles(directory=STATIC), name="console-static"),
    ]
