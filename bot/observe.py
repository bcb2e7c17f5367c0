"""What the update being handled right now is, for log lines and metrics, without passing it through every call.

A door opens a `Handling` context per inbound update (a context variable, so concurrent chats never see each
other's); the handler that answers, the report it touched and how it ended are noted into it from wherever
they become known (one line each). Log lines carry it (bot/logjson.py), and the door reports it when done.

Chat ids are logged only as a keyed hash: stable within a deployment (to follow one chat through the logs)
but not reversible by hashing every plausible id, because the key is derived from the deployment's secret.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from dataclasses import dataclass

from bot.reports.model import ref_of

_key = b"rider-bot"


def set_hash_key(secret: str) -> None:
    """Called once at start with a deployment secret (the bot token); without one, hashes are merely stable."""
    global _key
    _key = hashlib.sha256(("rider-bot chat hash:" + secret).encode()).digest()


def chat_hash(chat_id: object) -> str:
    return hmac.new(_key, str(chat_id).encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class Handling:
    channel: str
    update_id: int | str
    chat: str  # chat_hash(...), never the id
    kind: str
    handler: str = "none"
    report: str = ""
    outcome: str = "ok"


_current: contextvars.ContextVar[Handling | None] = contextvars.ContextVar("rider_handling", default=None)


def begin(channel: str, update_id: int | str, chat_id: object, kind: str) -> contextvars.Token[Handling | None]:
    return _current.set(Handling(channel, update_id, chat_hash(chat_id) if chat_id is not None else "", kind))


def end(token: contextvars.Token[Handling | None]) -> None:
    _current.reset(token)


def current() -> Handling | None:
    return _current.get()


def step() -> str | None:
    """The update being handled, as "channel:id": a step that is not idempotent by itself (a toggle) records it
    with its effect, so that the same update handled again (re-run after a kill) does not act twice."""
    handling = _current.get()
    return f"{handling.channel}:{handling.update_id}" if handling is not None else None


def note_handler(name: str) -> None:
    handling = _current.get()
    if handling is not None:
        handling.handler = name


def note_report(report_id: int) -> None:
    handling = _current.get()
    if handling is not None:
        handling.report = ref_of(report_id)


def note_outcome(outcome: str) -> None:
    """'error', 'storage_error', 'duplicate', 'flood'; the first bad news wins over later ones."""
    handling = _current.get()
    if handling is not None and handling.outcome == "ok":
        handling.outcome = outcome
