"""Opening a sign-in link, signing out, and (offline demo only) the one-tap sign-in of the demo supervisor.

Opening the link (GET) only shows who is about to sign in; the link is spent by the button (POST). Chat apps
fetch links to draw previews, and a preview must not use up the one-time link the person is about to tap.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.console.auth import SESSION_TTL, SignInError
from bot.texts import t
from handlers.console.web import (
    COOKIE,
    LANG_COOKIE,
    PREFIX,
    BadForm,
    _document,
    csrf_ok,
    current_session,
    esc,
    headers,
    lang_of,
    message_page,
    read_form,
    redirect,
    same_origin,
    secure,
    services_of,
)


async def login_page(request: Request) -> Response:
    services = services_of(request)
    token = request.query_params.get("t", "")
    lang = lang_of(request)
    try:
        user = await services.console.auth.link_owner(token)
    except SignInError as exc:
        return message_page(request, lang, t(lang, f"console.signin.{exc.code}"), status=403)
    lang = lang_of(request, None) if request.cookies.get(LANG_COOKIE) else user.lang
    roles = "、".join([await services.roles.describe(r, lang) for r in await services.roles.roles_of(user)])
    body = (
        f'<main class="notice"><h1>{esc(t(lang, "console.signin.title"))}</h1>'
        f"<p>{esc(t(lang, 'console.signin.confirm', name=user.display_name, roles=roles))}</p>"
        f'<form method="post" action="{PREFIX}/login"><input type="hidden" name="t" value="{esc(token)}">'
        f'<button type="submit" class="primary" id="signin">{esc(t(lang, "console.signin.button"))}</button>'
        "</form></main>"
    )
    return HTMLResponse(_document(lang, t(lang, "console.signin.title"), body), headers=headers(request))


async def login(request: Request) -> Response:
    if not same_origin(request):
        lang = lang_of(request)
        return message_page(request, lang, t(lang, "console.csrf"), status=403)
    try:
        form, _ = await read_form(request)
    except BadForm:
        form = {}
    return await _start_session(request, form.get("t", ""))


async def _start_session(request: Request, token: str) -> Response:
    services = services_of(request)
    lang = lang_of(request)
    try:
        session_token, _ = await services.console.auth.redeem(token)
    except SignInError as exc:
        return message_page(request, lang, t(lang, f"console.signin.{exc.code}"), status=403)
    response = redirect(f"{PREFIX}/")
    response.set_cookie(
        COOKIE,
        session_token,
        max_age=int(SESSION_TTL.total_seconds()),
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=secure(request),
    )
    return response


async def logout(request: Request) -> Response:
    session = await current_session(request)
    lang = lang_of(request, session)
    if session is not None:
        try:
            form, _ = await read_form(request)
        except BadForm:
            form = {}
        if not csrf_ok(session, form.get("csrf")):
            return message_page(request, lang, t(lang, "console.csrf"), status=403)
        await services_of(request).console.auth.sign_out(request.cookies.get(COOKIE, ""))
    response = message_page(request, lang, t(lang, "console.signed_out"))
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure(request))
    return response


async def switch_lang(request: Request) -> Response:
    to = "en" if request.query_params.get("to") == "en" else "zh-CN"
    back = request.query_params.get("back", "")
    # Only our own pages: an open redirect would make a sign-in link a phishing tool.
    response = redirect(back if back.startswith(f"{PREFIX}/") and "//" not in back else f"{PREFIX}/")
    response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, path=PREFIX, samesite="strict", secure=secure(request))
    return response


async def demo_signin(request: Request) -> Response:
    """Offline demo only (no Telegram token): the chat page's 社区书记 signs in with one tap."""
    services = services_of(request)
    if not services.settings.offline_demo:
        return Response(status_code=404)
    from bot.app import DEMO_SUPERVISOR
    from bot.store.users import find_user

    user = await find_user(services.db, "telegram", str(DEMO_SUPERVISOR))
    lang = lang_of(request)
    if user is None:  # demo_people off and the supervisor never wrote: nobody to sign in as
        return message_page(request, lang, t(lang, "console.signin.no_role"), status=403)
    try:
        token = await services.console.auth.issue_link(user)
    except SignInError as exc:
        return message_page(request, lang, t(lang, f"console.signin.{exc.code}"), status=403)
    return await _start_session(request, token)
