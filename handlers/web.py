"""The HTTP doors, mounted on one Starlette app: each door contributes its routes, all over the same core."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.services.container import Services
from handlers import console, open311, ops, wechat


async def _health(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    places = len(services.finder.catalog)
    return JSONResponse({"ok": True, "places": places})


def build_web_app(services: Services) -> Starlette:
    routes: list[BaseRoute] = [Route("/healthz", _health)]
    routes += open311.routes()  # /open311/v2/… (docs/OPEN311.md)
    routes += wechat.routes()  # /wechat: the 公众号 callback (docs/WECHAT.md)
    routes += console.routes()  # /console/: the supervisors' web console (docs/CONSOLE.md)
    routes += ops.routes()  # /readyz, /metrics (docs/OPERATIONS.md)
    app = Starlette(routes=routes, middleware=[Middleware(ops.CountResponses)])
    app.state.services = services
    return app
