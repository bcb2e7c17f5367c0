"""The operator's HTTP routes beside the doors: GET /readyz and GET /metrics (docs/OPERATIONS.md).

/metrics is not public: it answers a direct connection from 127.0.0.1 (or ::1), or anyone with the bearer token
(`metrics_token`, RIDER_METRICS_TOKEN). A request that came through a reverse proxy carries X-Forwarded-For,
Forwarded or X-Real-IP and is NOT treated as local even though its TCP peer is the proxy on 127.0.0.1: such
headers are never trusted to grant access, only to withdraw it. So behind a proxy the token is required.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.health import readiness
from bot.services.container import Services

LOCAL_PEERS = frozenset({"127.0.0.1", "::1"})
PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def _services(request: Request) -> Services:
    return request.app.state.services


async def ready(request: Request) -> JSONResponse:
    services = _services(request)
    settings = services.settings
    probe: Callable[[], Awaitable[object]] | None = getattr(request.app.state, "bot_probe", None)
    checks = await readiness(
        services.db,
        bot_api_max_age=settings.ready_bot_api_max_age,
        outbox_max_lag=settings.ready_outbox_max_lag,
        probe=probe,
        leader=services.leadership,
    )
    failing = [c.name for c in checks if not c.ok]
    body = {"ok": not failing, "failing": failing, "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return JSONResponse(body, status_code=503 if failing else 200)


def is_local(scope: Scope) -> bool:
    """A direct connection from this machine's 127.0.0.1/::1, not relayed by a proxy."""
    peer = (scope.get("client") or ("", 0))[0]
    headers = {name for name, _ in scope.get("headers", [])}
    return peer in LOCAL_PEERS and not any(h in headers for h in PROXY_HEADERS)


def authorised(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
            return True
    return is_local(request.scope)


async def scrape(request: Request) -> Response:
    services = _services(request)
    if not authorised(request, services.settings.metrics_token):
        headers = {"WWW-Authenticate": 'Bearer realm="rider-bot metrics"'}
        return Response("metrics: only from 127.0.0.1 or with the bearer token\n", 401, headers, "text/plain")
    await metrics.refresh(services.db, services.clock.now())
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE_LATEST)


def routes() -> list[BaseRoute]:
    return [Route("/readyz", ready), Route("/metrics", scrape)]


class CountResponses:
    """ASGI middleware: every HTTP answer of the doors counted by door and status code (rider_http_requests)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: dict[str, Any] = {"code": 500}

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            metrics.http_answered(scope.get("path", ""), status["code"])
