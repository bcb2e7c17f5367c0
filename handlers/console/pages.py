"""The queue (a sortable, paged table) and one report's page (photos, history, deadline, actions)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import Session
from bot.console.queries import SORTS, ConsoleFilter, list_reports, report_detail
from bot.reports import notices as n
from bot.reports.states import allowed_actions
from bot.store.reports import get_report
from bot.texts import t
from handlers.console.render import countdown, event_label, filter_bar, grid_choices, status_badge, when
from handlers.console.web import PREFIX, csrf_field, esc, flash, message_page, page, services_of, signed_in

COLUMNS = (("ref", "ref"), ("category", "category"), ("status", "status"), ("grid", None), ("assignee", None),
           ("created", "created"), ("due", "due"), ("photos", None))  # fmt: skip
CONSOLE_ACTIONS = ("accept", "transfer", "resolve", "reject", "reopen")


@signed_in
async def queue(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    console = services.console
    scope = console.scope(session)
    flt = ConsoleFilter.parse(request.query_params)
    sort = request.query_params.get("sort", "created")
    sort = sort if sort in SORTS else "created"
    desc = request.query_params.get("dir", "desc") != "asc"
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    now = services.clock.now()
    result = await list_reports(services.db, scope, flt, console.grids, now, sort=sort, desc=desc, page=number)
    base = flt.query()

    def link(**changes: object) -> str:
        query = {**base, "sort": sort, "dir": "desc" if desc else "asc", "page": str(result.page)}
        query.update({k: str(v) for k, v in changes.items()})
        return f"{PREFIX}/queue?{urlencode(query)}"

    head = ""
    for key, sort_key in COLUMNS:
        label = esc(t(lang, f"console.col.{key}"))
        if sort_key is None:
            head += f"<th>{label}</th>"
            continue
        arrow = (" ▼" if desc else " ▲") if sort == sort_key else ""
        flip = "asc" if sort == sort_key and desc else "desc"
        head += f'<th><a href="{esc(link(sort=sort_key, dir=flip, page=1))}">{label}{arrow}</a></th>'
    rows = ""
    tz = services.settings.tz
    for r in result.rows:
        due_text, _ = countdown(lang, result.dues.get(r.id), now)
        rows += (
            f'<tr data-id="{r.id}"><td><a href="{PREFIX}/reports/{r.id}">{esc(r.ref)}</a></td>'
            f"<td>{esc(n.category_text(lang, r.category))}</td>"
            f"<td>{status_badge(lang, r.status, r.id in result.late)}</td>"
            f"<td>{esc(r.grid_name or r.grid_id or '')}</td><td>{esc(r.assignee_name(lang))}</td>"
            f"<td>{esc(when(r.created_at, tz))}</td><td>{esc(due_text)}</td>"
            f"<td>{r.photos_before}+{r.photos_after}</td></tr>"
        )
    if not rows:
        rows = f'<tr><td colspan="{len(COLUMNS)}">{esc(t(lang, "console.queue.empty"))}</td></tr>'
    pager = f"<span>{esc(t(lang, 'console.queue.total', n=result.total))} · "
    pager += f"{esc(t(lang, 'console.page', page=result.page, pages=result.pages))}</span>"
    if result.page > 1:
        pager += f' <a href="{esc(link(page=result.page - 1))}">{esc(t(lang, "console.prev"))}</a>'
    if result.page < result.pages:
        pager += f' <a href="{esc(link(page=result.page + 1))}">{esc(t(lang, "console.next"))}</a>'
    body = (
        filter_bar(lang, flt, console.grids, scope, f"{PREFIX}/queue")
        + f'<div class="table-wrap"><table class="queue" id="queue"><thead><tr>{head}</tr></thead>'
        + f'<tbody>{rows}</tbody></table></div><p class="pager">{pager}</p>'
    )
    return await page(request, session, lang, active="queue", title=t(lang, "console.nav.queue"), body=body,
                      scripts=("live.js",), data={"live": f"{PREFIX}/events", "refresh": "#queue"})  # fmt: skip


@signed_in
async def report(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    report_id = int(request.path_params["report_id"])
    found = await get_report(services.db, report_id)
    if not await services.console.may_see(session, found):
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    now = services.clock.now()
    detail = await report_detail(services.db, report_id, now)
    assert detail is not None and found is not None
    row, tz = detail.file.report, services.settings.tz
    photos = {"before": "", "after": ""}
    for photo in detail.file.photos:
        if photo.hidden:  # hidden by a moderator: never served (api.photo refuses it too)
            continue
        photos[photo.phase] += (
            f'<a href="{PREFIX}/photos/{report_id}/{esc(photo.sha256)}" target="_blank">'
            f'<img src="{PREFIX}/photos/{report_id}/{esc(photo.sha256)}" alt="{esc(photo.phase)}" loading="lazy"></a>'
        )
    gallery = "".join(
        f"<figure><figcaption>{esc(t(lang, f'console.report.{phase}'))}</figcaption>"
        f'<div class="photos">{photos[phase] or esc(t(lang, "console.report.no_photos"))}</div></figure>'
        for phase in ("before", "after")
    )
    timeline = "".join(
        f"<li><time>{esc(when(e.at, tz))}</time> <b>{esc(event_label(lang, e.action))}</b>"
        f" {esc(n.status_text(lang, e.from_status) if e.from_status else '')}"
        f"{' → ' + esc(n.status_text(lang, e.to_status)) if e.to_status else ''}"
        f"{' · ' + esc(e.note) if e.note else ''}</li>"
        for e in detail.file.events
    )
    deadlines = ""
    for key, due in (("accept_due", found.accept_due), ("resolve_due", found.resolve_due)):
        if not due or (key == "accept_due" and found.status not in {"forwarded", "transferred", "reopened"}):
            continue
        text, over = countdown(lang, due, now)
        deadlines += (
            f'<p class="deadline{" over" if over else ""}">{esc(t(lang, f"console.report.{key}"))}: '
            f'{esc(when(due, tz))} · <span class="countdown" data-due="{esc(due)}">{esc(text)}</span></p>'
        )
    merged = "".join(f'<li><a href="{PREFIX}/reports/{m.id}">{esc(m.ref)}</a> {esc(when(m.created_at, tz))}</li>'
                     for m in detail.merged)  # fmt: skip
    facts = (
        f"<dl><dt>{esc(t(lang, 'console.report.description'))}</dt><dd class='desc'>{esc(row.description)}</dd>"
        f"<dt>{esc(t(lang, 'console.report.where'))}</dt><dd>{esc(row.grid_name or '')} "
        f"({row.lat:.5f}, {row.lon:.5f}) <a href='{PREFIX}/?{urlencode({'focus': report_id})}'>"
        f"{esc(t(lang, 'console.report.open_map'))}</a></dd>"
        f"<dt>{esc(t(lang, 'console.col.assignee'))}</dt><dd>{esc(row.assignee_name(lang))}</dd>"
        f"<dt>{esc(t(lang, 'console.col.created'))}</dt><dd>{esc(when(row.created_at, tz))}</dd></dl>"
        f"<p>{esc(t(lang, 'console.report.followers', n=row.followers))}"
        + (f" · {esc(t(lang, 'console.report.rating', stars='★' * row.rating))}" if row.rating else "")
        + "</p>"
    )
    notice = flash(request, session)
    body = (
        (f'<p class="flash" role="status">{esc(notice)}</p>' if notice else "")
        + f"<h1>{esc(t(lang, 'console.report.title', ref=row.ref))} {esc(n.category_text(lang, row.category))} "
        + f"{status_badge(lang, row.status, detail.late)}</h1>"
        + f'<div class="report">{facts}{deadlines}<section class="gallery">{gallery}</section>'
        + f"<section><h2>{esc(t(lang, 'console.report.actions'))}</h2>"
        + await _actions(request, session, lang, found)
        + "</section>"
        + f'<section><h2>{esc(t(lang, "console.report.timeline"))}</h2><ol class="timeline">{timeline}</ol></section>'
        + (f"<section><h2>{esc(t(lang, 'console.report.merged'))}</h2><ul>{merged}</ul></section>" if merged else "")
        + "</div>"
    )
    return await page(request, session, lang, active="queue", title=row.ref, body=body,
                      scripts=("live.js", "report.js"),
                      data={"live": f"{PREFIX}/events", "report": report_id, "version": found.version,
                            "now": now.isoformat(),
                            "texts": {"left": t(lang, "console.report.left", time="{time}"),
                                      "over": t(lang, "console.report.over", time="{time}")}})  # fmt: skip


async def _actions(request: Request, session: Session, lang: str, found: object) -> str:
    """One small form per action the state machine allows now; each names the version it was drawn for."""
    services = services_of(request)
    report = found
    allowed = {a.value for a in allowed_actions(report.status)} & set(CONSOLE_ACTIONS)  # type: ignore[attr-defined]
    if not allowed:
        return f"<p>{esc(t(lang, 'console.report.no_actions'))}</p>"
    hidden = csrf_field(session) + f'<input type="hidden" name="version" value="{report.version}">'  # type: ignore[attr-defined]
    action = f"{PREFIX}/reports/{report.id}"  # type: ignore[attr-defined]
    note = f'<input name="note" required maxlength="500" placeholder="{esc(t(lang, "console.act.note"))}">'
    forms = []
    for verb in CONSOLE_ACTIONS:
        if verb not in allowed:
            continue
        label = esc(t(lang, f"console.act.{verb}"))
        button = f'<button type="submit" class="act-{verb}">{label}</button>'
        if verb in {"accept", "reopen"}:
            forms.append(f'<form method="post" action="{action}/{verb}">{hidden}{button}</form>')
        elif verb == "reject":
            forms.append(f'<form method="post" action="{action}/reject">{hidden}{note}{button}</form>')
        elif verb == "resolve":
            forms.append(
                f'<form method="post" action="{action}/resolve" enctype="multipart/form-data">{hidden}'
                f"<label>{esc(t(lang, 'console.act.after_photo'))} "
                f'<input type="file" name="photo" accept="image/jpeg,image/png" required></label>{note}{button}</form>'
            )
        else:
            grids = [(f"grid:{gid}", name) for gid, name in grid_choices(services.console.grids,
                     services.console.scope(session)) if services.console.grids.get(gid).level == "grid"]  # fmt: skip
            departments = [(f"department:{code}", zh if lang == "zh-CN" else en)
                           for code, zh, en in await services.roles.departments()]  # fmt: skip
            options = "".join(f'<option value="{esc(v)}">{esc(text)}</option>' for v, text in grids + departments)
            forms.append(
                f'<form method="post" action="{action}/transfer">{hidden}<label>{esc(t(lang, "console.act.target"))}'
                f' <select name="target">{options}</select></label>{note}{button}</form>'
            )
    return '<div class="actions">' + "".join(forms) + "</div>"
