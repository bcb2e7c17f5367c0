"""Logging that never prints the bot token and never lets user-supplied text forge a log line.

PTB and httpx put the token in request URLs and error messages, so it is redacted. Riders type whatever they
like, and a forged button press can carry any callback data: a newline or an ANSI escape in a logged value
would start a line of its own, or repaint the operator's terminal. Rather than trusting every call site to
remember `%r`, the handler escapes control characters in every rendered message, once, here.
"""

from __future__ import annotations

import logging
import re
import traceback
from types import TracebackType
from urllib.parse import quote

from bot import observe
from bot.config import Settings
from bot.logjson import JsonFormatter, KeepTemplate

# C0 and C1 controls and DEL, the Unicode line/paragraph separators, and the bidirectional overrides and
# isolates (which reorder what an operator reads without changing what is stored).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """`a\\nb` for a newline, `\\x1b` for ESC, `\\u2028` for a line separator: one physical line, readable."""

    def one(match: re.Match[str]) -> str:
        ch = match.group()
        return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")

    return _CONTROLS.sub(one, text)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def format_exception(exc_info: ExcInfo) -> str:
    """The traceback as Python prints it, except that each exception's own message (and its notes) is escaped:
    `ValueError(rider_text)` is user-controlled, and a newline in it would start a line that looks like ours.
    The frames (file, line, code) are ours and stay as they are; the chain (cause, context) is walked whole."""
    top = traceback.TracebackException(*exc_info, compact=True)
    pending, seen = [top], set()
    while pending:
        one = pending.pop()
        if id(one) in seen:
            continue
        seen.add(id(one))
        one._str = escape_controls(one._str)  # the message, as format() prints it
        if isinstance(getattr(one, "msg", None), str):  # a SyntaxError prints msg and the offending text instead
            one.msg = escape_controls(one.msg)
            one.text = escape_controls(one.text.rstrip("\r\n")) if isinstance(one.text, str) else one.text
        notes = getattr(one, "__notes__", None)
        if notes:
            one.__notes__ = [escape_controls(str(note)) for note in notes]
        pending.extend(e for e in (one.__cause__, one.__context__) if e is not None)
        pending.extend(getattr(one, "exceptions", None) or ())  # an ExceptionGroup's members
    return "".join(top.format()).rstrip("\n")


def _exc_info(record: logging.LogRecord) -> ExcInfo | None:
    info = record.exc_info
    if not info or info[1] is None:
        return None
    return info  # type: ignore[return-value]


def _rendered(record: logging.LogRecord) -> str | None:
    try:
        return record.getMessage()
    except Exception:  # a malformed log call: let logging report it as usual
        return None


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = _rendered(record)
        if message is None:
            return True
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***").replace(quote(secret, safe=""), "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        exc_info = _exc_info(record)
        if exc_info is not None:
            text = format_exception(exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "***")
            record.exc_text, record.exc_info = text, None
        return True


class EscapeControls(logging.Filter):
    """One record, one line: control characters in the message are escaped. A traceback stays multi-line, as
    Python prints it (its frames are ours), but each exception's own message in it is escaped as well
    (`format_exception`), so an exception quoting what a user sent cannot forge a line either."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _rendered(record)
        if message is not None:
            escaped = escape_controls(message)
            if escaped != message:
                record.msg, record.args = escaped, None
        exc_info = _exc_info(record)
        if exc_info is not None:
            # Rendered here rather than by the formatter (which would reuse exc_text, so another handler's plain
            # rendering is replaced); exc_info stays for formatters that read it (JSON).
            record.exc_text = format_exception(exc_info)
        return True


def setup_logging(settings: Settings, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([settings.telegram_token or "", settings.webhook_secret or ""]))
    handler.addFilter(EscapeControls())  # after redaction, which matches the secret as it was configured
    _json_option(settings, handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _json_option(settings: Settings, handler: logging.Handler) -> None:
    """RIDER_LOG_FORMAT=json (bot/logjson.py); in text mode the per-update lines stay quiet (metrics count them)."""
    observe.set_hash_key(settings.telegram_token or "")
    updates = logging.getLogger("bot.updates")
    if settings.log_format == "json":
        secrets = [settings.telegram_token, settings.webhook_secret, settings.wechat_secret, settings.metrics_token]
        handler.setFormatter(JsonFormatter([s for s in secrets if s]))
        handler.filters.insert(0, KeepTemplate())
        updates.setLevel(logging.NOTSET)  # set either way: a second setup (a restart in-process, tests) may switch
    else:
        updates.setLevel(logging.WARNING)
