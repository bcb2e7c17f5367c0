"""RIDER_LOG_FORMAT=json: one JSON object a line, for a log shipper (Loki, Elasticsearch, journald + jq).

Each line carries the update being handled (bot/observe.py): its id, a keyed hash of the chat id, the handler,
the report it touched, and — on the "update handled" line — the latency. What it never carries: the bot token
and other secrets (RedactSecrets runs first, and this formatter redacts again), phone numbers, and the texts
people send. Free text cannot be told apart from an identifier by looking at it, so the formatter keeps a log
call's arguments only when they are numbers or short ASCII words (an error class, a method, an update id) and
replaces anything else with "…"; the message template itself is ours, never user input.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

from bot import observe

_WORD = re.compile(r"^[A-Za-z0-9_.:/#-]{0,64}$")
_DIGITS = re.compile(r"\d{7,}")  # phone numbers (and long ids, which we would rather hash than print)
_EXTRA = ("latency_ms",)
_HIDDEN = "…"


def _safe_arg(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, BaseException):  # exception messages quote values (SQL, URLs with the token, input)
        return type(value).__name__
    text = str(value)
    if _WORD.match(text) and not _DIGITS.search(text):
        return text
    return _HIDDEN


class KeepTemplate(logging.Filter):
    """Runs before the redacting and escaping filters, which replace `msg` with the rendered text (user input
    included) when they change something: the JSON formatter works from the template and arguments kept here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "rider_template"):
            record.rider_template = (record.msg, record.args)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in secrets or [] if s]

    def _message(self, record: logging.LogRecord) -> str:
        msg, args = getattr(record, "rider_template", (record.msg, record.args))
        template = str(msg)
        if not args:
            return template if not _DIGITS.search(template) else _DIGITS.sub(_HIDDEN, template)
        args = args if isinstance(args, tuple) else (args,)
        try:
            return template % tuple(_safe_arg(a) for a in args)
        except (TypeError, ValueError):  # a mapping-style or malformed call: the template alone
            return template

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self._message(record),
        }
        handling = observe.current()
        if handling is not None:
            entry.update(
                channel=handling.channel,
                update_id=handling.update_id,
                chat=handling.chat,
                kind=handling.kind,
                handler=handling.handler,
                outcome=handling.outcome,
            )
            if handling.report:
                entry["report"] = handling.report
        for name in _EXTRA:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            # The class and where it was raised; not the message, which may quote values (input, SQL, URLs).
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = [f"{f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno} {f.name}"
                              for f in traceback.extract_tb(record.exc_info[2])][-8:]  # fmt: skip
        elif record.exc_text:
            entry["error"] = record.exc_text.strip().splitlines()[-1].split(":", 1)[0][:80]
        line = json.dumps(entry, ensure_ascii=False)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line
