"""`rider-bot doctor`: what would stop the bot from working here, checked before riders find out.

Each check answers ✅ or ❌ with what it saw and, for ❌, what to do. Nothing is changed, with one exception
that is safe: the WeChat check asks for the access token the way the bot does (reusing a stored one that is
still valid, and storing a new one where the running bot will find it), so it never invalidates the bot's.

The Bot API is plain HTTPS: getMe and getWebhookInfo are called with httpx directly, so the doctor needs no
chat library; the WeChat token is fetched by the door's own client, which bot/cli.py hands in.
"""

from __future__ import annotations

import os
import shutil
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from bot.store import probe
from bot.store.url import redact
from bot.texts import t
from bot.tls import client_context

MIN_FREE_BYTES = 1024**3  # 1 GiB: SQLite needs room for the WAL and for checkpoints; photos are ~100 KB each
MIN_FREE_SHARE = 0.05
MAX_SKEW_S = 30.0  # deadlines and quiet hours are minutes; Telegram's own timestamps are seconds
WEBHOOK_ERROR_WINDOW_S = 3600
WEBHOOK_BACKLOG = 100


@dataclass(frozen=True)
class Finding:
    key: str  # the check's text key: ops.doctor.check.<key>
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class _BotApi:
    me: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None
    server_date: datetime | None = None
    local_at_answer: datetime | None = None
    error: str = ""
    rejected: bool = False


def mask(value: str | None) -> str:
    """Enough to tell two secrets apart (the last four characters), never enough to use one."""
    if not value:
        return "-"
    return "***" + value[-4:] if len(value) >= 12 else "***"


async def _bot_api(settings: Settings, client: httpx.AsyncClient) -> _BotApi:
    found = _BotApi()
    base = f"{settings.telegram_base_url.rstrip('/')}{settings.telegram_token}"
    try:
        response = await client.post(f"{base}/getMe")
        found.local_at_answer = datetime.now(UTC)
        if "date" in response.headers:
            found.server_date = parsedate_to_datetime(response.headers["date"])
        body = response.json()
        if response.status_code in (401, 404):
            found.rejected = True
            found.error = str(body.get("description", response.status_code))[:200]
            return found
        found.me = body.get("result")
        info = (await client.post(f"{base}/getWebhookInfo")).json()
        found.webhook = info.get("result")
    except (httpx.HTTPError, ValueError) as exc:  # the URL holds the token: name the kind of failure only
        found.error = type(exc).__name__
    return found


def _config(lang: str, settings: Settings) -> Finding:
    shown = {
        "mode": settings.mode,
        "database": settings.database_name,
        "http": f"{settings.http_host}:{settings.http_port}" if settings.http_port is not None else "-",
        "telegram_token": mask(settings.telegram_token),
        "webhook_secret": mask(settings.webhook_secret),
        "metrics_token": mask(settings.metrics_token),
        "wechat_secret": mask(settings.wechat_secret),
        "admins": len(settings.admins),
    }
    detail = " ".join(f"{k}={v}" for k, v in shown.items())
    if settings.mode == "webhook" and not (settings.webhook_url or "").startswith("https://"):
        return Finding("config", False, detail, t(lang, "ops.doctor.fix.webhook_https"))
    return Finding("config", True, detail)


def _token(lang: str, settings: Settings, api: _BotApi | None) -> Finding:
    if not settings.telegram_token:
        return Finding("token", False, t(lang, "ops.doctor.no_token"), t(lang, "ops.doctor.fix.no_token"))
    assert api is not None
    if api.rejected:
        return Finding("token", False, api.error, t(lang, "ops.doctor.fix.token_rejected"))
    if api.me is None:
        return Finding("token", False, api.error or "?", t(lang, "ops.doctor.fix.unreachable"))
    return Finding("token", True, f"@{api.me.get('username', '?')} (id {api.me.get('id', '?')})")


def _webhook(lang: str, settings: Settings, api: _BotApi | None) -> Finding | None:
    if api is None or api.webhook is None:
        return None  # the token check already says why
    info = api.webhook
    url, pending = info.get("url", ""), int(info.get("pending_update_count", 0))
    detail = t(lang, "ops.doctor.webhook", url=url or "-", pending=pending)
    error_at = int(info.get("last_error_date", 0) or 0)
    if settings.mode == "polling":
        return Finding("webhook", True, detail + (" " + t(lang, "ops.doctor.webhook_polling") if url else ""))
    if url and url != settings.webhook_url:
        return Finding("webhook", False, detail, t(lang, "ops.doctor.fix.webhook_other", url=settings.webhook_url))
    if error_at and time.time() - error_at < WEBHOOK_ERROR_WINDOW_S:
        error = str(info.get("last_error_message", ""))[:200]
        return Finding("webhook", False, f"{detail} · {error}", t(lang, "ops.doctor.fix.webhook_error"))
    if pending > WEBHOOK_BACKLOG:
        return Finding("webhook", False, detail, t(lang, "ops.doctor.fix.webhook_backlog"))
    return Finding("webhook", True, detail)


def _database(lang: str, settings: Settings) -> Finding:
    path = settings.db_path
    latest = probe.latest_version()
    if not path.exists():
        if os.access(_existing_parent(path), os.W_OK):
            return Finding("database", True, t(lang, "ops.doctor.db_new", path=path, latest=latest))
        return Finding("database", False, str(path), t(lang, "ops.doctor.fix.db_dir", path=path.parent))
    try:
        found = probe.sqlite_file(path)
    except probe.ProbeFailed as exc:
        return Finding("database", False, str(exc), t(lang, "ops.doctor.fix.db_broken"))
    check, version = found.check, found.version
    detail = t(lang, "ops.doctor.db", path=path, version=version, latest=latest, check=check)
    if check != "ok":
        return Finding("database", False, detail, t(lang, "ops.doctor.fix.db_broken"))
    if version > latest:
        return Finding("database", False, detail, t(lang, "ops.doctor.fix.db_newer"))
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return Finding("database", False, detail, t(lang, "ops.doctor.fix.db_readonly", path=path))
    if path.stat().st_mode & 0o077:
        return Finding("database", False, detail, t(lang, "ops.doctor.fix.private", path=path, mode="600"))
    return Finding("database", True, detail)


async def _postgres(lang: str, url: str) -> Finding:
    """Connect and read the schema version, nothing more (opening it as a `Database` would migrate it)."""
    where = redact(url)
    try:
        found = await probe.postgres(url)
    except probe.ProbeFailed as exc:
        return Finding("database", False, f"{where}: {exc}", t(lang, "ops.doctor.fix.pg_unreachable"))
    detail = t(lang, "ops.doctor.pg", url=where, version=found.version, latest=found.latest)
    detail += " · " + (t(lang, "ops.doctor.pg_leader", leader=found.leader) if found.leader
                       else t(lang, "ops.doctor.pg_no_leader"))  # fmt: skip
    if found.version > found.latest:
        return Finding("database", False, detail, t(lang, "ops.doctor.fix.db_newer"))
    if found.writable:
        return Finding("database", False, f"{detail} · {found.writable}", t(lang, "ops.doctor.fix.pg_readonly"))
    return Finding("database", True, detail)


def token_store(db_path: Path) -> Path:
    """The database itself if it is a sound one at the newest schema, else an in-memory stand-in (so the doctor
    never migrates, or fails on, the database it is examining)."""
    try:
        found = probe.sqlite_file(db_path)
    except probe.ProbeFailed:
        return Path(":memory:")
    return db_path if found.check == "ok" and found.version == found.latest else Path(":memory:")


def _existing_parent(path: Path) -> Path:
    current = path.parent
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _disk(lang: str, settings: Settings) -> Finding:
    usage = shutil.disk_usage(_existing_parent(settings.db_path / "x"))
    detail = t(lang, "ops.doctor.disk", free=f"{usage.free / 1024**3:.1f}", share=f"{usage.free / usage.total:.0%}")
    if usage.free < MIN_FREE_BYTES or usage.free / usage.total < MIN_FREE_SHARE:
        return Finding("disk", False, detail, t(lang, "ops.doctor.fix.disk"))
    return Finding("disk", True, detail)


def _photos(lang: str, settings: Settings) -> Finding:
    if settings.database_url:  # PostgreSQL: photos are rows every process reads (bot/store/photos.py), no folder
        return Finding("photos", True, t(lang, "db.photos_in_database"))
    root = settings.photo_dir or settings.db_path.parent / "photos"
    if not root.exists():
        if os.access(_existing_parent(root), os.W_OK):
            return Finding("photos", True, t(lang, "ops.doctor.photos_new", path=root))
        return Finding("photos", False, str(root), t(lang, "ops.doctor.fix.db_dir", path=root))
    mode = root.stat().st_mode & 0o777
    detail = f"{root} ({mode:o})"
    if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
        return Finding("photos", False, detail, t(lang, "ops.doctor.fix.photos_writable", path=root))
    if mode & 0o077:
        return Finding("photos", False, detail, t(lang, "ops.doctor.fix.private", path=root, mode="700"))
    return Finding("photos", True, detail)


def clock_finding(lang: str, settings: Settings, server: datetime | None, local: datetime | None) -> Finding:
    now = datetime.now(settings.tz)
    detail = t(lang, "ops.doctor.clock", tz=settings.timezone, now=now.strftime("%Y-%m-%d %H:%M:%S %z"))
    if server is None or local is None:
        return Finding("clock", True, detail + " · " + t(lang, "ops.doctor.clock_unknown"))
    # The Date header has whole seconds: allow for that, then compare.
    skew = (local - server).total_seconds()
    detail += " · " + t(lang, "ops.doctor.skew", skew=f"{skew:+.0f}")
    if abs(skew) > MAX_SKEW_S + 1:
        return Finding("clock", False, detail, t(lang, "ops.doctor.fix.clock"))
    return Finding("clock", True, detail)


async def _wechat(lang: str, token: Callable[[], Awaitable[str]]) -> Finding:
    try:
        value = await token()
    except Exception as exc:  # WeChatApiError carries errcode/errmsg; httpx errors carry a URL with the secret
        code = getattr(exc, "errcode", None)
        detail = f"errcode {code}: {getattr(exc, 'errmsg', '')[:120]}" if code is not None else type(exc).__name__
        return Finding("wechat", False, detail, t(lang, "ops.doctor.fix.wechat"))
    return Finding("wechat", True, t(lang, "ops.doctor.wechat_ok", token=mask(value)))


async def examine(
    settings: Settings, lang: str, *, wechat_token: Callable[[], Awaitable[str]] | None = None
) -> list[Finding]:
    api = None
    if settings.telegram_token:
        async with httpx.AsyncClient(timeout=10, trust_env=False, verify=client_context()) as client:
            api = await _bot_api(settings, client)
    findings = [_config(lang, settings), _token(lang, settings, api)]
    webhook = _webhook(lang, settings, api)
    if webhook is not None:
        findings.append(webhook)
    database = await _postgres(lang, settings.database_url) if settings.database_url else _database(lang, settings)
    findings += [database, _disk(lang, settings), _photos(lang, settings)]
    findings.append(
        clock_finding(lang, settings, api.server_date if api else None, api.local_at_answer if api else None)
    )
    if wechat_token is not None:
        findings.append(await _wechat(lang, wechat_token))
    return findings


def _columns(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(lang: str, findings: list[Finding]) -> str:
    """Plain text, one check a line and its fix indented below: readable in a terminal, a mail, a ticket."""
    lines = []
    width = max(_columns(t(lang, f"ops.doctor.check.{f.key}")) for f in findings)
    for f in findings:
        name = t(lang, f"ops.doctor.check.{f.key}")
        lines.append(f"{'✅' if f.ok else '❌'} {name}{' ' * (width - _columns(name))}  {f.detail}")
        if not f.ok and f.fix:
            lines.append(f"   {' ' * width}  → {f.fix}")
    return "\n".join(lines)
