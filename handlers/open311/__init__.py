"""The Open311 GeoReport v2 door (``/open311/v2/…``), mounted on the HTTP doors' Starlette app. See docs/OPEN311.md."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from handlers.open311.door import endpoint

PREFIX = "/open311/v2"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def routes() -> list[BaseRoute]:
    """One catch-all route: every answer below the prefix, errors included, is in the spec's format."""
    return [Route(PREFIX + "/{path:path}", endpoint, methods=METHODS)]
