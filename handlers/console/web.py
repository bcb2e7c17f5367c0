"""What every console page shares: the session behind the cookie, the CSRF check, escaping and the page frame.

Everything a person typed (descriptions, notes, names) reaches HTML only through `esc`, and the Content
Security Policy allows no inline script at all, so a report saying ``<script>`` is just text on the page.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from email import policy as email_policy
from email.parser import BytesParser
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.console.auth import Session
from bot.services.container import Services
from bot.texts import normalise_lang, t

COOKIE = "rider_console"
LANG_COOKIE = "rider_console_lang"
PREFIX = "/console"


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def services_of(request: Request) -> Services:
    return request.app.state.services


def secure(request: Request) -> bool:
    """Behind HTTPS (directly, or a reverse proxy that says so, or a configured https:// console URL)."""
    base = services_of(request).console.base_url
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https" or base.startswith("https://")


def lang_of(request: Request, session: Session | None = None) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen:
        return normalise_lang(chosen)
    return session.user.lang if session else "zh-CN"


async def current_session(request: Request) -> Session | None:
    return await services_of(request).console.auth.session(request.cookies.get(COOKIE))


def headers(request: Request) -> dict[str, str]:
    """Framing only by ourselves (the big screen), no referrer to other sites (a sign-in link must not leak),
    scripts only from our own files."""
    tiles = services_of(request).settings.console_tiles or ""
    tile_origin = ""
    if tiles.startswith(("https://", "http://")):
        host = tiles.split("/")[2].replace("{s}", "*")
        tile_origin = " " + tiles.split("/")[0] + "//" + host
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tile_origin}; connect-src 'self'; frame-ancestors 'self'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def message_page(request: Request, lang: str, text: str, status: int = 200) -> HTMLResponse:
    """A plain page with one sentence on it: refusals, expired links, sign-out."""
    body = f'<main class="notice"><h1>{esc(t(lang, "console.title"))}</h1><p>{esc(text)}</p></main>'
    return HTMLResponse(_document(lang, t(lang, "console.title"), body), status_code=status, headers=headers(request))


def _document(lang: str, title: str, body: str, scripts: tuple[str, ...] = (), styles: tuple[str, ...] = ()) -> str:
    links = "".join(f'<link rel="stylesheet" href="{PREFIX}/static/{esc(s)}">' for s in (*styles, "console.css"))
    tags = "".join(f'<script src="{PREFIX}/static/{esc(s)}" defer></script>' for s in scripts)
    html_lang = "zh-CN" if lang == "zh-CN" else "en"
    return (
        f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>{links}{tags}</head><body>{body}</body></html>"
    )


async def page(
    request: Request,
    session: Session,
    lang: str,
    *,
    active: str,
    title: str,
    body: str,
    scripts: tuple[str, ...] = (),
    styles: tuple[str, ...] = (),
    data: dict[str, Any] | None = None,
    bare: bool = False,
) -> HTMLResponse:
    """The frame: navigation (keeping the filters), who is signed in, sign-out (a POST with the CSRF token)."""
    services = services_of(request)
    named = [await services.roles.describe(r, lang) for r in session.roles[:2]]
    roles = "、".join(named) + (f" +{len(session.roles) - 2}" if len(session.roles) > 2 else "")
    keep = {k: v for k, v in request.query_params.items() if k in {"state", "category", "grid", "age", "q"}}
    query = ("?" + urlencode(keep)) if keep else ""
    nav = "".join(
        f'<a href="{PREFIX}/{path}{query if path in {"", "queue"} else ""}"'
        f"{' class=active' if key == active else ''}>{esc(t(lang, f'console.nav.{key}'))}</a>"
        for key, path in (("map", ""), ("queue", "queue"), ("numbers", "numbers"), ("screen", "screen"))
    )
    exports = "".join(
        f'<a href="{PREFIX}/export.{ext}{query}" download>{esc(t(lang, f"console.nav.{key}"))}</a>'
        for key, ext in (("csv", "csv"), ("geojson", "geojson"))
    )
    other = "en" if lang == "zh-CN" else "zh-CN"
    switch = f"{PREFIX}/lang?" + urlencode({"to": other, "back": request.url.path + query})
    header = (
        f'<header class="top"><strong class="brand">{esc(t(lang, "console.title"))}</strong>'
        f'<nav>{nav}</nav><span class="exports">{exports}</span>'
        f'<span class="who">{esc(t(lang, "console.signed_in", name=session.user.display_name, roles=roles))}</span>'
        f'<span id="live" class="live" hidden>● {esc(t(lang, "console.live"))}</span>'
        f'<a class="lang" href="{esc(switch)}">{esc(t(lang, "console.other_lang"))}</a>'
        f'<form method="post" action="{PREFIX}/logout" class="inline">{csrf_field(session)}'
        f'<button type="submit">{esc(t(lang, "console.nav.sign_out"))}</button></form></header>'
    )
    payload = ""
    if data is not None:
        blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
        payload = f'<script type="application/json" id="console-data">{blob}</script>'
    if bare:  # the big screen: no navigation, the whole screen for the picture
        header = ""
    main = f'<main id="main"{" class=bare" if bare else ""}>{body}</main>'
    document = _document(lang, title, header + main + payload, scripts, styles)
    return HTMLResponse(document, headers=headers(request))


def csrf_field(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(session.csrf)}">'


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf, str(sent))


def same_origin(request: Request) -> bool:
    """A browser's POST names its page's origin; one from another site is refused before anything is read
    (defence in depth beside the CSRF token, and the only guard of the sign-in form, which has no session yet)."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser form (curl, the tests' client): the token checks still apply
        return True
    base = services_of(request).console.base_url
    ours = {f"{request.url.scheme}://{request.url.netloc}"}
    if request.headers.get("host"):
        ours |= {f"http://{request.headers['host']}", f"https://{request.headers['host']}"}
    if base.startswith(("http://", "https://")):
        ours.add("/".join(base.split("/")[:3]))
    return origin in ours


Handler = Callable[[Request, Session, str], Awaitable[Response]]


def signed_in(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Pages and APIs: a live session or the sign-in hint (401; a page request gets the hint as a page)."""

    async def endpoint(request: Request) -> Response:
        session = await current_session(request)
        if session is None:
            lang = lang_of(request)
            return message_page(request, lang, t(lang, "console.signin.needed"), status=401)
        return await handler(request, session, lang_of(request, session))

    return endpoint


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


MAX_BODY = 12 * 1024 * 1024  # a form with one phone photo; the PhotoStore refuses more than 10 MB anyway


class BadForm(ValueError):
    """The body is too big or not a form we can read."""


async def read_form(request: Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """(fields, files) of an urlencoded or multipart form, with the standard library's parsers.

    Starlette's own form parser needs python-multipart; the console's one upload (an after-photo) does not
    justify another dependency, and `email` reads multipart/form-data correctly.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadForm("too_big")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadForm("too_big")
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded") or not body:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v for k, v in pairs}, {}
    if not ctype.startswith("multipart/form-data"):
        raise BadForm("content_type")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadForm("multipart")
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            if payload:
                files[str(name)] = payload
        else:
            fields[str(name)] = payload.decode(part.get_content_charset() or "utf-8", "replace")
    return fields, files


def flash(request: Request, session: Session, text: str | None = None) -> str | None:
    """One message carried from an action to the page it redirects to (kept in memory, per session)."""
    store: dict[str, str] = request.app.state.__dict__.setdefault("console_flash", {})
    if text is not None:
        if len(store) > 1000:  # bounded: forgotten flashes of closed tabs must not pile up
            store.clear()
        store[session.csrf] = text
        return None
    return store.pop(session.csrf, None)
