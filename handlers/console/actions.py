"""The report page's buttons: CSRF first, then scope, then the same ReportService calls the chat makes.

The order matters: a forged or stale form changes nothing (403 before anything is read), a report outside the
session's scope is a recorded 404, and everything after that is the chat's own code (state machine, audit
log, outbox), so the rider and the workers hear about a console action exactly as about a chat action.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import Session
from bot.media.photos import PhotoRejected
from bot.reports.common import Reply
from bot.store.reports import get_report
from bot.texts import t
from handlers.console.web import (
    PREFIX,
    BadForm,
    csrf_ok,
    flash,
    message_page,
    read_form,
    redirect,
    same_origin,
    services_of,
    signed_in,
)

VERBS = ("accept", "transfer", "resolve", "reject", "reopen")


def _reply_text(reply: Reply) -> str:
    """What the chat would have said to the person: the messages, or the short alert of a refusal."""
    said = "\n".join(str(m.get("text") or m.get("caption") or "") for m in reply.messages)
    return said or reply.alert or ""


@signed_in
async def act(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    verb = request.path_params["verb"]
    report_id = int(request.path_params["report_id"])
    try:
        fields, files = await read_form(request)
    except BadForm as exc:
        return message_page(request, lang, t(lang, "console.bad_request", detail=str(exc)), status=400)
    if not same_origin(request) or not csrf_ok(session, fields.get("csrf")):
        return message_page(request, lang, t(lang, "console.csrf"), status=403)
    if verb not in VERBS:
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    report = await get_report(services.db, report_id)
    if not await services.console.may_see(session, report, action=f"console_{verb}"):
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    try:
        version = int(fields.get("version", ""))
    except ValueError:
        return message_page(request, lang, t(lang, "console.bad_request", detail="version"), status=400)
    reports, user, note = services.reports, session.user, fields.get("note", "")
    if verb == "accept":
        reply = await reports.act_accept(user, report_id, version)
    elif verb == "reopen":
        reply = await reports.act_reopen(user, report_id, version)
    elif verb == "reject":
        reply = await reports.act_reject(user, report_id, version, note)
    elif verb == "transfer":
        kind, _, target = fields.get("target", "").partition(":")
        reply = await reports.act_transfer(user, report_id, version, kind, target, note)
    else:
        data = files.get("photo")
        if not data:
            reply = await reports.act_resolve(user, report_id, version, [], note)
        else:
            try:
                stored = await services.photos.put(data)
            except PhotoRejected:
                flash(request, session, t(lang, "console.act.bad_photo"))
                return redirect(f"{PREFIX}/reports/{report_id}")
            reply = await reports.act_resolve(user, report_id, version, [stored.sha256], note)
    flash(request, session, _reply_text(reply))
    return redirect(f"{PREFIX}/reports/{report_id}")
