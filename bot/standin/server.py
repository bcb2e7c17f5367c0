"""A local stand-in for the Telegram Bot API, for tests, the offline demo and benchmarks.

It is a fake of Telegram, not part of the bot: it imports nothing from ``bot`` outside ``bot.standin``
and does not use the ``telegram`` package. State lives in memory.

    standin = StandIn(presets=[{"name": "...", "lat": 31.2, "lon": 121.4}])
    await standin.start()                       # 127.0.0.1, free port
    app = ApplicationBuilder().token(DEMO_TOKEN).base_url(standin.base_url)
          .base_file_url(standin.base_file_url).build()
    standin.inject_message(1001, text="/start")
    [reply] = await standin.wait_for_bot_messages(1001, 1)
    await standin.stop()

HTTP surface (all on 127.0.0.1):
    /bot{token}/{method}              Bot API (GET/POST; form, JSON or multipart bodies)
    /file/bot{token}/{file_path}      file downloads (getFile's file_path)
    /                                 the phone-sized chat page (static/chat.html, .js, .css)
    /_standin/presets                 GET  the presets passed in
    /_standin/info                    GET  {"bot": getMe, "users": DEFAULT_USERS}
    /_standin/commands                GET  ?language_code= -> commands set with setMyCommands
    /_standin/users/{id}/messages     POST {text?, location?: {latitude, longitude, live_period?},
                                           photo_base64?, caption?, first_name?, language_code?} -> Message
    /_standin/users/{id}/location_edits  POST {message_id, latitude, longitude} -> edited Message
    /_standin/users/{id}/callbacks    POST {message_id, data} -> {text, show_alert[, url]} or {} after 5 s
    /_standin/chats/{id}/messages     GET  ?after=SEQ&wait=S (<= 25) -> {messages, last_seq, reply_keyboard,
                                           force_reply}; deleted messages come as {message_id, _deleted: true}
    /_standin/calls                   GET  ?method= -> recorded Bot API calls
    /_standin/files/{file_id}         GET  file content (the page's <img>)

Webhooks: after ``setWebhook(url=...)`` the stand-in POSTs pending updates as JSON to that URL, in order and
one at a time, with ``X-Telegram-Bot-Api-Secret-Token`` when a secret was set; ``getUpdates`` then answers 409
until ``deleteWebhook``. Only http:// URLs on 127.0.0.1 / localhost / [::1] are accepted (anything else is
"Bad Request: bad webhook: ..."), so the stand-in never sends traffic off this machine. A delivery that gets a
non-2xx answer or a connection error is retried with a doubling back-off (``webhook_backoff``) and given up
after ``webhook_max_attempts`` tries; ``getWebhookInfo`` reports ``last_error_date``/``last_error_message``
and every attempt is logged in ``webhook_deliveries``. ``post_to_webhook`` lets a test POST a raw update
to the bot with a chosen, wrong or missing secret header.

Everything runs in the caller's event loop; call the inject_* methods from that loop's thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import inspect
import ipaddress
import itertools
import json
import logging
import mimetypes
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .faults import Faults
from .formatting import FormattingError, parse_text, utf16_len
from .media import image_size, photo_sizes
from .wire import ApiError, Params, Upload, bad_request, decode_body

__all__ = ["DEFAULT_USERS", "DEMO_TOKEN", "StandIn"]

log = logging.getLogger(__name__)

DEMO_TOKEN = "123456789:STANDIN-offline-demo-token"
STATIC_DIR = Path(__file__).with_name("static")
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_TEXT = 4096
MAX_CAPTION = 1024
#: The people the chat page offers; also the names used when the bot writes to a chat it has not seen.
DEFAULT_USERS: list[dict] = [
    {"id": 1001, "first_name": "骑手小王", "role": "骑手"},
    {"id": 2001, "first_name": "网格员老李", "role": "网格员"},
    {"id": 3001, "first_name": "社区书记", "role": "社区"},
]
_DEFAULT_UPDATE_TYPES = None  # None = all update types except chat_member/message_reaction*
_EXCLUDED_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: ``post_to_webhook(secret_token=USE_WEBHOOK_SECRET)`` sends the secret set with setWebhook.
USE_WEBHOOK_SECRET: Any = object()
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)


@dataclass
class _Entry:
    message: dict
    from_bot: bool
    seq: int
    deleted: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class _Chat:
    chat: dict
    entries: dict[int, _Entry] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict | None = None
    force_reply: dict | None = None
    last_action: dict | None = None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    content: bytes | None
    mime_type: str
    url: str | None = None


class _QuietServer(uvicorn.Server):
    """uvicorn.Server that leaves the host program's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _AsgiEndpoint:
    """Wraps a raw ASGI coroutine so Starlette's Route does not wrap it in request/response."""

    def __init__(self, func: Callable[[Scope, Receive, Send], Any]) -> None:
        self.func = func

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.func(scope, receive, send)


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _summary(msg: dict) -> str:
    for key in ("text", "caption"):
        if msg.get(key):
            text = msg[key].replace("\n", " ⏎ ")
            return f"#{msg.get('message_id')} {key}={text[:80]!r}"
    for key in ("venue", "location", "photo", "document"):
        if key in msg:
            return f"#{msg.get('message_id')} <{key}>"
    return f"#{msg.get('message_id')} <{', '.join(k for k in msg if not k.startswith('_'))}>"


class StandIn:
    """In-memory fake of the Telegram Bot API plus a browser chat page. See the module docstring."""

    def __init__(
        self,
        *,
        token: str = DEMO_TOKEN,
        presets: list[dict] | None = None,
        bot_username: str = "rider_helper_bot",
        bot_first_name: str = "骑手助手",
    ) -> None:
        self.token = token
        self.presets: list[dict] = list(presets or [])
        head = token.split(":", 1)[0]
        self.bot_user: dict = {
            "id": int(head) if head.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[dict] = []
        self.callback_answers: dict[str, dict] = {}
        self.faults = Faults()
        #: When True the bot may only write to chats that have written to it (else "chat not found").
        self.known_chats_only = False
        #: User ids that "blocked" the bot: sends to them get 403 Forbidden.
        self.blocked: set[int] = set()
        self.default_names: dict[int, str] = {u["id"]: u["first_name"] for u in DEFAULT_USERS}

        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, dict] = {}
        self._updates: list[dict] = []
        # Like Telegram, update ids start "from a certain positive number": a different one per stand-in start,
        # so a bot that remembers the update ids it has seen (to drop redeliveries) is not confused by a restart.
        self._next_update_id = 100_000_001 + int(time.time() * 1000) % 800_000_000
        self._allowed_updates: list[str] | None = _DEFAULT_UPDATE_TYPES
        self._poll_gen = 0
        self._seq = 0
        self._files: dict[str, _File] = {}
        self._files_by_path: dict[str, _File] = {}
        self._photo_sets: dict[str, list[dict]] = {}
        self._documents: dict[str, dict] = {}
        self._file_counter = itertools.count(1)
        self._callbacks: dict[str, dict] = {}
        self._callback_counter = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict]] = {}
        self._menu_buttons: dict[int | None, dict] = {}
        #: Webhook delivery: tries per update before giving up, and the (first, longest) pause between tries.
        self.webhook_max_attempts = 6
        self.webhook_backoff: tuple[float, float] = (0.05, 1.0)
        self.webhook_timeout = 10.0
        #: Every delivery attempt: {"update_id", "url", "attempt", "status" (None: no answer), "error", "ts"}.
        self.webhook_deliveries: list[dict] = []
        self._webhook: dict | None = None  # {"url", "secret_token", "max_connections", "ip_address"}
        self._webhook_error: tuple[int, str] | None = None  # (unix time, message) of the last failed delivery
        self._webhook_generation = 0
        self._delivery_task: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task | None = None
        self._sock: socket.socket | None = None
        self._transports: dict[tuple, asyncio.BaseTransport] = {}
        self.port = 0
        self.host = "127.0.0.1"
        self._methods: dict[str, tuple[str, Callable[[Params], Any]]] = {}
        for name in (
            "getMe",
            "getUpdates",
            "setWebhook",
            "deleteWebhook",
            "getWebhookInfo",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "setChatMenuButton",
            "getChatMenuButton",
            "sendMessage",
            "sendVenue",
            "sendLocation",
            "sendPhoto",
            "sendDocument",
            "sendChatAction",
            "editMessageText",
            "editMessageReplyMarkup",
            "editMessageCaption",
            "deleteMessage",
            "answerCallbackQuery",
            "getFile",
            "getChat",
        ):
            self._methods[name.lower()] = (name, getattr(self, "_m_" + name))
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._serve_task is not None:
            raise RuntimeError("StandIn already started")
        self._closing = False
        # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
        # and without it every response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        transports = self._transports

        class _TrackingH11(H11Protocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                if self.client:
                    transports[tuple(self.client)] = transport

            def connection_lost(self, exc: Exception | None) -> None:
                if self.client:
                    transports.pop(tuple(self.client), None)
                super().connection_lost(exc)

        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            http=_TrackingH11,
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="standin-uvicorn")
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()
                raise RuntimeError("stand-in server exited during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("stand-in server did not start within 10 s")
            await asyncio.sleep(0.005)
        self._delivery_task = asyncio.create_task(self._deliver_webhook_updates(), name="standin-webhook")

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
            self._delivery_task = None
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            try:
                await asyncio.wait_for(self._serve_task, timeout=5)
            except TimeoutError:
                self._serve_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._serve_task
        if self._sock is not None:
            self._sock.close()
        self._serve_task = None
        self._server = None
        self._sock = None

    async def __aenter__(self) -> StandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_until(self, predicate: Callable[[], Any], timeout: float) -> Any:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return result
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _bump(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ chats, users, messages

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> dict:
        user = self._users.get(user_id)
        if user is None:
            user = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name or self.default_names.get(user_id, f"用户{user_id}"),
            }
            self._users[user_id] = user
        if first_name:
            user["first_name"] = first_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _private_chat(self, user: dict) -> _Chat:
        state = self._chats.get(user["id"])
        if state is None:
            state = _Chat(chat={"id": user["id"], "first_name": user["first_name"], "type": "private"})
            self._chats[user["id"]] = state
        state.chat["first_name"] = user["first_name"]
        if user.get("username"):
            state.chat["username"] = user["username"]
        return state

    def _chat_for_bot(self, chat_id: int | None) -> _Chat:
        if chat_id is None:
            raise bad_request("chat_id is empty")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        state = self._chats.get(chat_id)
        if state is not None:
            return state
        if self.known_chats_only or chat_id == 0:
            raise bad_request("chat not found")
        if chat_id > 0:
            return self._private_chat(self._user(chat_id))
        state = _Chat(chat={"id": chat_id, "title": f"群组{chat_id}", "type": "group"})
        self._chats[chat_id] = state
        return state

    def _add_message(
        self, state: _Chat, sender: dict, from_bot: bool, content: dict, extra: dict | None = None
    ) -> _Entry:
        message_id = state.next_message_id
        state.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(state.chat),
            "date": int(time.time()),
            **content,
        }
        entry = _Entry(message=message, from_bot=from_bot, seq=self._bump(), extra=extra or {})
        state.entries[message_id] = entry
        self._notify()
        return entry

    def _item(self, entry: _Entry) -> dict:
        if entry.deleted:
            return {
                "message_id": entry.message["message_id"],
                "_deleted": True,
                "_from_bot": entry.from_bot,
                "_seq": entry.seq,
            }
        item = copy.deepcopy(entry.message)
        item.update(copy.deepcopy(entry.extra))
        item["_from_bot"] = entry.from_bot
        item["_seq"] = entry.seq
        return item

    def _enqueue(self, kind: str, payload: dict) -> dict:
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return update

    def _reply_to(self, state: _Chat, message_id: int | None, allow_without: bool = False) -> dict | None:
        if message_id is None:
            return None
        entry = state.entries.get(message_id)
        if entry is None or entry.deleted:
            if allow_without:
                return None
            raise bad_request("message to be replied not found")
        replied = copy.deepcopy(entry.message)
        replied.pop("reply_to_message", None)
        return replied

    # ------------------------------------------------------------------ files

    def _new_file(
        self,
        content: bytes | None,
        *,
        size: int | None,
        mime_type: str,
        folder: str,
        ext: str,
        prefix: str,
        url: str | None = None,
    ) -> _File:
        n = next(self._file_counter)
        uid = base64.urlsafe_b64encode(n.to_bytes(6, "big")).decode().rstrip("=")
        file_id = f"{prefix}AAxkBAAI{uid}{base64.urlsafe_b64encode(str(n * 7919).encode()).decode().rstrip('=')}"
        record = _File(
            file_id=file_id,
            file_unique_id=f"AQAD{uid}",
            file_path=f"{folder}/file_{n}.{ext}",
            size=size if size is not None else len(content or b""),
            content=content,
            mime_type=mime_type,
            url=url,
        )
        self._files[file_id] = record
        self._files_by_path[record.file_path] = record
        return record

    def _photo(self, content: bytes | None, url: str | None = None) -> list[dict]:
        dims = image_size(content) if content else None
        width, height = dims or (1280, 960)
        mime = "image/png" if content and content[:4] == b"\x89PNG" else "image/jpeg"
        ext = "png" if mime == "image/png" else "jpg"
        sizes: list[dict] = []
        for w, h in photo_sizes(width, height):
            record = self._new_file(
                content,
                size=None,
                mime_type=mime,
                folder="photos",
                ext=ext,
                prefix="AgACAgUAAxkBAAI",
                url=url,
            )
            entry = {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "width": w,
                "height": h,
            }
            if content is not None:
                entry["file_size"] = record.size
            sizes.append(entry)
        for entry in sizes:
            self._photo_sets[entry["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _document(
        self,
        content: bytes | None,
        file_name: str,
        mime_type: str,
        size: int | None = None,
        url: str | None = None,
    ) -> dict:
        ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
        record = self._new_file(
            content,
            size=size,
            mime_type=mime_type,
            folder="documents",
            ext=ext,
            prefix="BQACAgUAAxkBAAI",
            url=url,
        )
        doc = {
            "file_name": file_name,
            "mime_type": mime_type,
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
        }
        if content is not None or size is not None:
            doc["file_size"] = record.size
        self._documents[record.file_id] = doc
        return dict(doc)

    # ------------------------------------------------------------------ injection (the user's side)

    def inject_message(
        self,
        user_id: int,
        *,
        text: str | None = None,
        caption: str | None = None,
        location: tuple[float, float] | None = None,
        live_period: int | None = None,
        photo: bytes | None = None,
        document: tuple[bytes, str, str] | None = None,
        document_size: int | None = None,
        first_name: str = "骑手",
        username: str | None = None,
        language_code: str | None = "zh-hans",
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
    ) -> dict:
        """A user sends a message. Returns the Message dict; enqueues Update {update_id, message}.

        For ``chat_type`` other than "private" the chat id is ``chat_id`` (default ``-user_id``)."""
        user = self._user(user_id, first_name, username, language_code)
        if chat_type == "private":
            state = self._private_chat(user)
        else:
            cid = chat_id if chat_id is not None else -abs(user_id)
            state = self._chats.get(cid) or _Chat(chat={"id": cid, "title": f"群组{cid}", "type": chat_type})
            self._chats[cid] = state
        content: dict[str, Any] = {}
        reply = self._reply_to(state, reply_to_message_id, allow_without=True)
        if reply is not None:
            content["reply_to_message"] = reply
        if text is not None:
            parsed, entities = parse_text(text, None)
            content["text"] = parsed
            if entities:
                content["entities"] = entities
        if photo is not None:
            content["photo"] = self._photo(photo)
        if document is not None:
            data, file_name, mime_type = document
            content["document"] = self._document(data, file_name, mime_type, size=document_size)
        if caption is not None and ("photo" in content or "document" in content):
            parsed, entities = parse_text(caption, None)
            content["caption"] = parsed
            if entities:
                content["caption_entities"] = entities
        if location is not None:
            lat, lon = float(location[0]), float(location[1])
            loc: dict[str, Any] = {"latitude": lat, "longitude": lon}
            if live_period:
                loc["live_period"] = int(live_period)
                loc["horizontal_accuracy"] = 20.0
            content["location"] = loc
        if not any(k in content for k in ("text", "photo", "document", "location")):
            raise ValueError("inject_message needs text, location, photo or document")
        entry = self._add_message(state, user, False, content)
        self._enqueue("message", entry.message)
        return copy.deepcopy(entry.message)

    def inject_edited_location(self, user_id: int, message_id: int, lat: float, lon: float) -> dict:
        """The user's live location moves: edits their location message and enqueues Update {edited_message}.
        Returns the edited Message dict (with ``edit_date``)."""
        state = self._chats.get(user_id)
        entry = state.entries.get(message_id) if state else None
        if entry is None or entry.deleted or entry.from_bot or "location" not in entry.message:
            raise ValueError(f"chat {user_id} has no location message {message_id} from the user")
        loc = entry.message["location"]
        loc["latitude"], loc["longitude"] = float(lat), float(lon)
        entry.message["edit_date"] = max(int(time.time()), entry.message["date"] + 1)
        entry.seq = self._bump()
        self._notify()
        self._enqueue("edited_message", entry.message)
        return copy.deepcopy(entry.message)

    def inject_callback(self, user_id: int, message_id: int, data: str) -> str:
        """The user taps an inline button. Enqueues Update {callback_query}; returns the callback query id."""
        user = self._user(user_id)
        state = self._chats.get(user_id) or self._private_chat(user)
        entry = state.entries.get(message_id)
        if entry is not None and not entry.deleted:
            message = copy.deepcopy(entry.message)
        else:  # InaccessibleMessage
            message = {"chat": dict(state.chat), "message_id": message_id, "date": 0}
        query_id = str(4_382_000_000_000_000_000 + user_id % 1_000_000 * 1_000_000 + next(self._callback_counter))
        self._callbacks[query_id] = {"chat_id": state.chat["id"], "message_id": message_id, "answered": False}
        query = {
            "id": query_id,
            "from": dict(user),
            "message": message,
            "chat_instance": str((state.chat["id"] * 2654435761) % (2**62)),
            "data": data,
        }
        self._enqueue("callback_query", query)
        return query_id

    def inject_update(self, update: dict) -> int:
        """Enqueue a raw update (for fuzzing). Assigns update_id when missing; returns it."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    # ------------------------------------------------------------------ inspection

    def transcript(self, chat_id: int) -> list[dict]:
        """The chat as the user sees it: user and bot messages in order with edits applied (deleted ones
        left out). Each dict has ``_from_bot`` and ``_seq``; non-inline reply markup sent by the bot is kept
        under ``_reply_markup``."""
        state = self._chats.get(chat_id)
        if state is None:
            return []
        return [self._item(e) for e in state.entries.values() if not e.deleted]

    def bot_messages(self, chat_id: int) -> list[dict]:
        return [m for m in self.transcript(chat_id) if m["_from_bot"]]

    def last_seq(self, chat_id: int) -> int:
        state = self._chats.get(chat_id)
        if state is None or not state.entries:
            return 0
        return max(e.seq for e in state.entries.values())

    def reply_keyboard(self, chat_id: int) -> dict | None:
        """The ReplyKeyboardMarkup the user currently sees in this chat, if any."""
        state = self._chats.get(chat_id)
        return copy.deepcopy(state.reply_keyboard) if state else None

    async def wait_for_bot_messages(
        self,
        chat_id: int,
        count: int,
        *,
        after_seq: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[dict]:
        """Wait until at least ``count`` bot messages have ``_seq > after_seq`` (new, or edited since) and
        return them in chat order. Raises TimeoutError describing what did arrive."""

        def ready() -> list[dict] | None:
            found = [m for m in self.bot_messages(chat_id) if m["_seq"] > after_seq]
            return found if len(found) >= count else None

        found = await self._wait_until(ready, timeout)
        if found:
            return found
        got = [m for m in self.bot_messages(chat_id) if m["_seq"] > after_seq]
        errors = [f"{c['method']}: {c.get('error')}" for c in self.calls[-20:] if not c["ok"]]
        chat = [("bot " if m["_from_bot"] else "user ") + _summary(m) for m in self.transcript(chat_id)][-10:]
        raise TimeoutError(
            f"waited {timeout:g}s for {count} bot message(s) in chat {chat_id} after seq {after_seq}; "
            f"got {len(got)}: {[_summary(m) for m in got]}; last of the chat: {chat}"
            + (f"; failed calls: {errors}" if errors else "")
            + f"; pending updates: {len(self._updates)}"
            + (f"; webhook {self._webhook['url']}" if self._webhook else "")
            + (f", last webhook error: {self._webhook_error[1]}" if self._webhook and self._webhook_error else "")
        )

    async def wait_for_callback_answer(
        self,
        callback_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict:
        found = await self._wait_until(lambda: self.callback_answers.get(callback_query_id), timeout)
        if found:
            return found
        raise TimeoutError(
            f"waited {timeout:g}s for answerCallbackQuery({callback_query_id!r}); answered so far: "
            f"{list(self.callback_answers)}; recent calls: {[c['method'] for c in self.calls[-10:]]}"
        )

    # ------------------------------------------------------------------ reply markup

    def _markup(self, p: Params) -> dict | None:
        markup = p.json("reply_markup", "reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("object expected as reply markup")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
                    if not button["text"].strip():
                        raise bad_request("BUTTON_TEXT_INVALID")
                    actions = [a for a in _INLINE_ACTIONS if a in button]
                    if not actions:
                        raise bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                            raise bad_request("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not re.match(r"^(https?://[^\s/]+|tg://)\S*$", url):
                            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
            return markup
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = (
                        button
                        if isinstance(button, str)
                        else (button.get("text") if isinstance(button, dict) else None)
                    )
                    if not isinstance(text, str) or not text:
                        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _apply_markup(self, state: _Chat, markup: dict | None, content: dict, extra: dict) -> None:
        if markup is None:
            return
        if "inline_keyboard" in markup:
            content["reply_markup"] = markup
            return
        extra["_reply_markup"] = markup
        if "keyboard" in markup:
            state.reply_keyboard = markup
            state.force_reply = None
        elif markup.get("remove_keyboard"):
            state.reply_keyboard = None
        elif markup.get("force_reply"):
            state.force_reply = markup

    # ------------------------------------------------------------------ Bot API methods

    def _m_getMe(self, p: Params) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _allowed(self, update: dict) -> bool:
        kinds = [k for k in update if k != "update_id"]
        kind = kinds[0] if kinds else ""
        if self._allowed_updates is None:
            return kind not in _EXCLUDED_BY_DEFAULT
        return kind in self._allowed_updates

    async def _m_getUpdates(self, p: Params) -> list[dict]:
        if self._webhook is not None:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        offset = p.int("offset")
        limit = min(max(p.int("limit", 100) or 100, 1), 100)
        timeout = min(max(p.int("timeout", 0) or 0, 0), 60)
        allowed = p.json("allowed_updates", "allowed_updates JSON array")
        if allowed is not None:
            self._allowed_updates = list(allowed) or _DEFAULT_UPDATE_TYPES
        self._poll_gen += 1
        generation = self._poll_gen
        self._notify()  # an earlier long poll, if any, now answers 409
        self._confirm(offset)

        def ready() -> bool:
            self._updates = [u for u in self._updates if self._allowed(u)]
            return bool(self._updates) or generation != self._poll_gen

        if timeout:
            await self._wait_until(ready, timeout)
        else:
            ready()
        if self._webhook is not None:  # setWebhook arrived during the long poll
            raise ApiError(409, _WEBHOOK_CONFLICT)
        if generation != self._poll_gen:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        return copy.deepcopy(self._updates[:limit])

    async def _m_setWebhook(self, p: Params) -> bool:
        url = (p.str("url") or "").strip()
        if not url:  # Telegram: setWebhook with an empty url removes the webhook
            self._remove_webhook()
            if p.bool("drop_pending_updates"):
                self._updates.clear()
            return True
        await self._check_webhook_url(url)
        secret = p.str("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = p.int("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = p.json("allowed_updates", "allowed_updates JSON array")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise bad_request("can't parse allowed_updates JSON array")
            self._allowed_updates = list(allowed) or _DEFAULT_UPDATE_TYPES
        if p.bool("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "ip_address": p.str("ip_address"),
        }
        self._webhook_generation += 1  # a fresh setWebhook retries at once, without the pending back-off
        self._poll_gen += 1  # a long poll in progress now answers 409
        self._notify()
        return True

    async def _check_webhook_url(self, url: str) -> None:
        """Only plain-HTTP loopback URLs: the stand-in must never send updates off this machine."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            raise bad_request("bad webhook: invalid port in the URL") from None
        if parts.scheme != "http" or host not in _LOOPBACK_NAMES or parts.username or parts.password:
            raise bad_request(
                f"bad webhook: the stand-in delivers only to http://127.0.0.1, http://localhost or http://[::1], "
                f"not {parts.scheme}://{parts.hostname}"
            )
        if host == "localhost":  # a hosts file could map it elsewhere: every address must be loopback
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise bad_request(f"bad webhook: failed to resolve host: {exc}") from None
            if not infos or not all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos):
                raise bad_request("bad webhook: localhost does not resolve to a loopback address here")

    def _remove_webhook(self) -> None:
        if self._webhook is not None:
            self._webhook = None
            self._webhook_error = None
            self._webhook_generation += 1
            self._notify()

    def _m_deleteWebhook(self, p: Params) -> bool:
        self._remove_webhook()
        if p.bool("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getWebhookInfo(self, p: Params) -> dict:
        return self.webhook_info()

    def webhook_info(self) -> dict:
        """What getWebhookInfo answers: url ("" when none), pending_update_count, last_error_*."""
        self._updates = [u for u in self._updates if self._allowed(u)]
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook["ip_address"]:
                info["ip_address"] = self._webhook["ip_address"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    # ------------------------------------------------------------------ webhook delivery

    async def _deliver_webhook_updates(self) -> None:
        """The background task: POST pending updates to the webhook, oldest first, one at a time."""
        attempts = 0  # failed tries of the update at the head of the queue
        retry_at = 0.0
        generation = self._webhook_generation
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=self.webhook_timeout, trust_env=False) as client:
            while not self._closing:
                event = self._changed
                if generation != self._webhook_generation:  # webhook set again or removed: start afresh
                    generation, attempts, retry_at = self._webhook_generation, 0, 0.0
                hook = self._webhook
                self._updates = [u for u in self._updates if self._allowed(u)]
                wait: float | None = None
                if hook is None or not self._updates:
                    wait = None
                elif loop.time() < retry_at:
                    wait = retry_at - loop.time()
                else:
                    update = self._updates[0]
                    attempts += 1
                    error = await self._post_update(client, hook, update, attempts)
                    if error is None:
                        self._updates = [u for u in self._updates if u is not update]
                        attempts, retry_at = 0, 0.0
                    elif attempts >= self.webhook_max_attempts:
                        log.warning(
                            "stand-in: gave up delivering update %s after %d tries: %s",
                            update.get("update_id"),
                            attempts,
                            error,
                        )
                        self._updates = [u for u in self._updates if u is not update]
                        attempts, retry_at = 0, 0.0
                    else:
                        first, longest = self.webhook_backoff
                        retry_at = loop.time() + min(longest, first * 2 ** (attempts - 1))
                    self._notify()
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wait)

    async def _post_update(self, client: httpx.AsyncClient, hook: dict, update: dict, attempt: int) -> str | None:
        """One delivery attempt; returns the error (None when the webhook answered 2xx)."""
        headers = {"Content-Type": "application/json"}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        record: dict[str, Any] = {
            "update_id": update.get("update_id"),
            "url": hook["url"],
            "attempt": attempt,
            "status": None,
            "error": None,
            "ts": time.time(),
        }
        try:
            body = json.dumps(update, ensure_ascii=False).encode("utf-8")
            response = await client.post(hook["url"], content=body, headers=headers)
            record["status"] = response.status_code
            if not 200 <= response.status_code < 300:
                reason = response.reason_phrase or ""
                record["error"] = f"Wrong response from the webhook: {response.status_code} {reason}".strip()
        except httpx.TimeoutException:
            record["error"] = "Read timeout expired"
        except httpx.HTTPError as exc:
            record["error"] = f"Connection failed: {type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self.webhook_deliveries.append(record)
        if record["error"] is not None:
            self._webhook_error = (int(time.time()), record["error"])
        return record["error"]

    async def wait_for_webhook(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy; it is re-checked after every delivery attempt and every other
        change. Returns its value, or raises TimeoutError describing the webhook's state."""
        result = await self._wait_until(predicate, timeout)
        if result:
            return result
        raise TimeoutError(
            f"waited {timeout:g}s on the webhook; info: {self.webhook_info()}; "
            f"last deliveries: {self.webhook_deliveries[-5:]}"
        )

    async def post_to_webhook(
        self,
        update: dict | bytes,
        *,
        secret_token: str | None = USE_WEBHOOK_SECRET,
        url: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> httpx.Response:
        """POST one raw update to the bot's webhook directly, bypassing the queue (for tests of the bot's
        webhook endpoint). ``secret_token``: the one set with setWebhook by default, ``None`` for no header,
        or any string. ``update`` may be raw bytes (e.g. broken JSON); a dict gets an ``update_id`` if it has
        none. ``url`` defaults to the webhook set with setWebhook; it too must be a loopback http:// URL."""
        hook = self._webhook
        target = url or (hook["url"] if hook else None)
        if not target:
            raise RuntimeError("no webhook is set and no url given")
        try:
            await self._check_webhook_url(target)
        except ApiError as exc:
            raise ValueError(exc.description) from None
        if secret_token is USE_WEBHOOK_SECRET:
            secret_token = hook["secret_token"] if hook else None
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        if isinstance(update, dict):
            update = copy.deepcopy(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        else:
            body = update
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            return await client.post(target, content=body, headers=headers)

    @staticmethod
    def _commands_key(p: Params) -> tuple[str, str]:
        scope = p.json("scope", "BotCommandScope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), p.str("language_code") or ""

    def _m_setMyCommands(self, p: Params) -> bool:
        commands = p.json("commands", "commands JSON array")
        if not isinstance(commands, list):
            raise bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise bad_request("too many commands")
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(p)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_getMyCommands(self, p: Params) -> list[dict]:
        return copy.deepcopy(self._commands.get(self._commands_key(p), []))

    def _m_deleteMyCommands(self, p: Params) -> bool:
        self._commands.pop(self._commands_key(p), None)
        return True

    def commands(self, language_code: str | None = None) -> list[dict]:
        """Commands a private-chat user with this language would see in the menu."""
        lang = (language_code or "").split("-")[0]
        for scope in ({"type": "all_private_chats"}, {"type": "default"}):
            key = json.dumps(scope, sort_keys=True)
            for code in (lang, ""):
                if (key, code) in self._commands:
                    return copy.deepcopy(self._commands[(key, code)])
        return []

    def _m_setChatMenuButton(self, p: Params) -> bool:
        button = p.json("menu_button", "menu button JSON object") or {"type": "default"}
        self._menu_buttons[p.int("chat_id")] = button
        return True

    def _m_getChatMenuButton(self, p: Params) -> dict:
        chat_id = p.int("chat_id")
        return copy.deepcopy(self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "commands"})

    def _text_and_entities(
        self, p: Params, text_key: str, entities_key: str, limit: int, too_long: str
    ) -> tuple[str, list[dict]]:
        raw = p.str(text_key) or ""
        try:
            text, entities = parse_text(raw, p.str("parse_mode"), p.json(entities_key, "entities JSON array"))
        except FormattingError as exc:
            raise bad_request(str(exc)) from exc
        if utf16_len(text) > limit:
            raise bad_request(too_long)
        return text, entities

    def _bot_send(self, p: Params, content: dict) -> dict:
        state = self._chat_for_bot(p.int("chat_id"))
        extra: dict = {}
        markup = self._markup(p)
        reply_params = p.json("reply_parameters", "reply parameters JSON object")
        if isinstance(reply_params, dict):
            reply = self._reply_to(
                state, reply_params.get("message_id"), bool(reply_params.get("allow_sending_without_reply"))
            )
        else:
            reply = self._reply_to(state, p.int("reply_to_message_id"), p.bool("allow_sending_without_reply"))
        if reply is not None:
            content = {"reply_to_message": reply, **content}
        self._apply_markup(state, markup, content, extra)
        entry = self._add_message(state, self.bot_user, True, content, extra)
        return copy.deepcopy(entry.message)

    def _m_sendMessage(self, p: Params) -> dict:
        if not (p.str("text") or "").strip():
            raise bad_request("message text is empty")
        text, entities = self._text_and_entities(p, "text", "entities", MAX_TEXT, "message is too long")
        if not text.strip():
            raise bad_request("message text is empty")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        preview = p.json("link_preview_options", "link preview options JSON object")
        if isinstance(preview, dict) and preview:
            content["link_preview_options"] = preview
        return self._bot_send(p, content)

    def _coords(self, p: Params) -> dict:
        lat, lon = p.float("latitude"), p.float("longitude")
        if lat is None or lon is None:
            raise bad_request("latitude and longitude are required")
        if not -90 <= lat <= 90 or not -180 <= lon <= 180:
            raise bad_request("wrong latitude or longitude")
        return {"latitude": lat, "longitude": lon}

    def _m_sendLocation(self, p: Params) -> dict:
        self._chat_for_bot(p.int("chat_id"))
        loc = self._coords(p)
        for key, conv in (
            ("horizontal_accuracy", p.float),
            ("live_period", p.int),
            ("heading", p.int),
            ("proximity_alert_radius", p.int),
        ):
            value = conv(key)
            if value is not None:
                loc[key] = value
        return self._bot_send(p, {"location": loc})

    def _m_sendVenue(self, p: Params) -> dict:
        self._chat_for_bot(p.int("chat_id"))
        loc = self._coords(p)
        title, address = p.str("title"), p.str("address")
        if not title:
            raise bad_request("venue title is empty")
        if address is None:
            raise bad_request("venue address is empty")
        venue: dict[str, Any] = {"location": dict(loc), "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if p.str(key):
                venue[key] = p.str(key)
        return self._bot_send(p, {"venue": venue, "location": loc})

    def _caption(self, p: Params, content: dict) -> None:
        if p.str("caption"):
            caption, entities = self._text_and_entities(
                p, "caption", "caption_entities", MAX_CAPTION, "message caption is too long"
            )
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
            if p.bool("show_caption_above_media"):
                content["show_caption_above_media"] = True
        if p.bool("has_media_spoiler"):
            content["has_media_spoiler"] = True

    @staticmethod
    def _is_url(value: str) -> bool:
        return bool(re.match(r"^https?://\S+$", value))

    def _m_sendPhoto(self, p: Params) -> dict:
        self._chat_for_bot(p.int("chat_id"))
        source = p.file("photo")
        if source is None:
            raise bad_request("there is no photo in the request")
        if isinstance(source, Upload):
            if not source.content:
                raise bad_request("file must be non-empty")
            sizes = self._photo(source.content)
        elif source in self._photo_sets:
            sizes = copy.deepcopy(self._photo_sets[source])
        elif source in self._files:
            record = self._files[source]
            if record.content is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            sizes = self._photo(record.content)
        elif self._is_url(source):
            sizes = self._photo(None, url=source)
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content: dict[str, Any] = {"photo": sizes}
        self._caption(p, content)
        return self._bot_send(p, content)

    def _m_sendDocument(self, p: Params) -> dict:
        self._chat_for_bot(p.int("chat_id"))
        source = p.file("document")
        if source is None:
            raise bad_request("there is no document in the request")
        if isinstance(source, Upload):
            if not source.content:
                raise bad_request("file must be non-empty")
            mime = source.content_type
            if mime in ("", "application/octet-stream"):
                mime = mimetypes.guess_type(source.filename)[0] or "application/octet-stream"
            doc = self._document(source.content, source.filename, mime)
        elif source in self._documents:
            doc = dict(self._documents[source])
        elif self._is_url(source):
            name = source.rstrip("/").rsplit("/", 1)[-1] or "file"
            doc = self._document(None, name, mimetypes.guess_type(name)[0] or "application/octet-stream", url=source)
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        content: dict[str, Any] = {"document": doc}
        self._caption(p, content)
        return self._bot_send(p, content)

    def _m_sendChatAction(self, p: Params) -> bool:
        state = self._chat_for_bot(p.int("chat_id"))
        action = p.str("action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        state.last_action = {"action": action, "ts": time.time()}
        return True

    def _editable(self, p: Params) -> tuple[_Chat, _Entry]:
        if p.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        state = self._chat_for_bot(p.int("chat_id"))
        message_id = p.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        entry = state.entries.get(message_id)
        if entry is None or entry.deleted:
            raise bad_request("message to edit not found")
        if not entry.from_bot:
            raise bad_request("message can't be edited")
        return state, entry

    def _finish_edit(self, state: _Chat, entry: _Entry, new: dict) -> dict:
        old = {k: v for k, v in entry.message.items() if k != "edit_date"}
        if new == old:
            raise bad_request(_NOT_MODIFIED)
        new["edit_date"] = max(int(time.time()), entry.message["date"])
        entry.message = new
        entry.seq = self._bump()
        self._notify()
        return copy.deepcopy(new)

    def _edited_markup(self, p: Params, state: _Chat, new: dict) -> None:
        markup = self._markup(p)
        new.pop("reply_markup", None)
        if markup is not None:
            if "inline_keyboard" not in markup:
                raise bad_request("inline keyboard expected")
            if markup["inline_keyboard"]:
                new["reply_markup"] = markup

    def _m_editMessageText(self, p: Params) -> dict:
        state, entry = self._editable(p)
        if "text" not in entry.message:
            raise bad_request("there is no text in the message to edit")
        if not (p.str("text") or "").strip():
            raise bad_request("message text is empty")
        text, entities = self._text_and_entities(p, "text", "entities", MAX_TEXT, "message is too long")
        new = {k: v for k, v in copy.deepcopy(entry.message).items() if k not in ("edit_date", "entities")}
        new["text"] = text
        if entities:
            new["entities"] = entities
        self._edited_markup(p, state, new)
        return self._finish_edit(state, entry, new)

    def _m_editMessageCaption(self, p: Params) -> dict:
        state, entry = self._editable(p)
        if not any(k in entry.message for k in ("photo", "document", "video", "audio", "animation")):
            raise bad_request("there is no caption in the message to edit")
        new = {
            k: v
            for k, v in copy.deepcopy(entry.message).items()
            if k not in ("edit_date", "caption", "caption_entities")
        }
        self._caption(p, new)
        self._edited_markup(p, state, new)
        return self._finish_edit(state, entry, new)

    def _m_editMessageReplyMarkup(self, p: Params) -> dict:
        state, entry = self._editable(p)
        new = {k: v for k, v in copy.deepcopy(entry.message).items() if k != "edit_date"}
        self._edited_markup(p, state, new)
        return self._finish_edit(state, entry, new)

    def _m_deleteMessage(self, p: Params) -> bool:
        state = self._chat_for_bot(p.int("chat_id"))
        entry = state.entries.get(p.int("message_id") or 0)
        if entry is None or entry.deleted:
            raise bad_request("message to delete not found")
        entry.deleted = True
        entry.seq = self._bump()
        self._notify()
        return True

    def _m_answerCallbackQuery(self, p: Params) -> bool:
        query_id = p.str("callback_query_id") or ""
        info = self._callbacks.get(query_id)
        if info is None or info["answered"]:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        if len(p.str("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        info["answered"] = True
        answer = {"callback_query_id": query_id, "text": p.str("text"), "show_alert": p.bool("show_alert")}
        if p.str("url"):
            answer["url"] = p.str("url")
        if p.int("cache_time") is not None:
            answer["cache_time"] = p.int("cache_time")
        self.callback_answers[query_id] = answer
        self._notify()
        return True

    def _m_getFile(self, p: Params) -> dict:
        record = self._files.get(p.str("file_id") or "")
        if record is None:
            raise bad_request("wrong file_id or the file is temporarily unavailable")
        if record.size > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.size,
            "file_path": record.file_path,
        }

    def _m_getChat(self, p: Params) -> dict:
        chat_id = p.int("chat_id")
        state = self._chats.get(chat_id) if chat_id is not None else None
        if state is None:
            raise bad_request("chat not found")
        info = dict(state.chat)
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        user = self._users.get(chat_id or 0)
        if user and user.get("username"):
            info["username"] = user["username"]
        return info

    # ------------------------------------------------------------------ HTTP: Bot API

    async def _abort(self, scope: Scope) -> bool:
        transport = self._transports.get(tuple(scope.get("client") or ()))
        if transport is None:
            return False
        transport.abort()
        await asyncio.sleep(0.01)  # let connection_lost mark the cycle disconnected
        return True

    async def _bot_api_asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        token = request.path_params["token"]
        method = request.path_params["method"]
        if token != self.token:
            await _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)(scope, receive, send)
            return
        known = self._methods.get(method.lower())
        if known is None:
            await _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)(scope, receive, send)
            return
        name, handler = known
        call: dict[str, Any] = {"method": name, "params": {}, "ok": False, "ts": time.time()}
        try:
            raw, files = decode_body(request.headers.get("content-type", ""), await request.body())
            params = Params({**request.query_params, **raw}, files)
            call["params"] = params.decoded()
        except ApiError as exc:
            call["error"] = exc.description
            self.calls.append(call)
            await _json(exc.payload(), exc.code)(scope, receive, send)
            return
        fault = self.faults.pick(name)
        if fault == "drop" and self.faults.drop_when == "before":
            call.update(error="fault: dropped before acting", fault="drop")
            self.calls.append(call)
            if await self._abort(scope):
                return
        if fault in ("429", "5xx"):
            if fault == "429":
                retry = int(self.faults.retry_after)
                exc = ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
            else:
                exc = ApiError(502, "Bad Gateway")
            call.update(error=exc.description, fault=fault)
            self.calls.append(call)
            await _json(exc.payload(), exc.code)(scope, receive, send)
            return
        try:
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            call["error"] = exc.description
            self.calls.append(call)
            await _json(exc.payload(), exc.code)(scope, receive, send)
            return
        except Exception:
            log.exception("stand-in: %s failed", name)
            call["error"] = "Internal Server Error"
            self.calls.append(call)
            await _json({"ok": False, "error_code": 500, "description": "Internal Server Error"}, 500)(
                scope, receive, send
            )
            return
        call.update(ok=True, result=result)
        if fault == "drop":
            call.update(ok=False, error="fault: dropped after acting", fault="drop")
        self.calls.append(call)
        if fault == "drop" and await self._abort(scope):
            return
        await _json({"ok": True, "result": result})(scope, receive, send)

    async def _file_download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        record = self._files_by_path.get(request.path_params["file_path"])
        return self._serve_file(record)

    def _serve_file(self, record: _File | None) -> Response:
        if record is None:
            return _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if record.content is None:
            if record.url:
                return RedirectResponse(record.url)
            return _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        return Response(record.content, media_type=record.mime_type)

    # ------------------------------------------------------------------ HTTP: control API for the page

    async def _c_presets(self, request: Request) -> Response:
        return _json(self.presets)

    async def _c_info(self, request: Request) -> Response:
        return _json({"bot": self._m_getMe(Params({})), "users": DEFAULT_USERS})

    async def _c_commands(self, request: Request) -> Response:
        return _json(self.commands(request.query_params.get("language_code")))

    @staticmethod
    async def _body(request: Request) -> dict:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _uid(request: Request) -> int:
        return int(request.path_params["user_id"])

    async def _c_send(self, request: Request) -> Response:
        body = await self._body(request)
        kwargs: dict[str, Any] = {
            "first_name": str(body.get("first_name") or self.default_names.get(self._uid(request), "骑手")),
            "language_code": body.get("language_code", "zh-hans"),
        }
        if body.get("username"):
            kwargs["username"] = str(body["username"])
        if isinstance(body.get("text"), str) and body["text"].strip():
            kwargs["text"] = body["text"]
        loc = body.get("location")
        if isinstance(loc, dict):
            try:
                lat, lon = float(loc["latitude"]), float(loc["longitude"])
            except (KeyError, TypeError, ValueError):
                return _json({"error": "位置需要数字形式的纬度和经度"}, 400)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                return _json({"error": "纬度须在 -90~90，经度须在 -180~180 之间"}, 400)
            kwargs["location"] = (lat, lon)
            if loc.get("live_period"):
                kwargs["live_period"] = int(loc["live_period"])
        if isinstance(body.get("photo_base64"), str):
            try:
                kwargs["photo"] = base64.b64decode(body["photo_base64"].split(",")[-1], validate=False)
            except (binascii.Error, ValueError):
                return _json({"error": "图片数据无效"}, 400)
            if body.get("caption"):
                kwargs["caption"] = str(body["caption"])
        if body.get("reply_to_message_id"):
            kwargs["reply_to_message_id"] = int(body["reply_to_message_id"])
        if not any(k in kwargs for k in ("text", "location", "photo")):
            return _json({"error": "消息不能为空"}, 400)
        return _json(self.inject_message(self._uid(request), **kwargs))

    async def _c_location_edit(self, request: Request) -> Response:
        body = await self._body(request)
        try:
            message = self.inject_edited_location(
                self._uid(request), int(body["message_id"]), float(body["latitude"]), float(body["longitude"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(message)

    async def _c_callback(self, request: Request) -> Response:
        body = await self._body(request)
        try:
            query_id = self.inject_callback(self._uid(request), int(body["message_id"]), str(body["data"]))
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        try:
            answer = await self.wait_for_callback_answer(query_id, timeout=5.0)
        except TimeoutError:
            return _json({})
        out = {"text": answer.get("text"), "show_alert": answer.get("show_alert", False)}
        if answer.get("url"):
            out["url"] = answer["url"]
        return _json(out)

    async def _c_messages(self, request: Request) -> Response:
        chat_id = int(request.path_params["chat_id"])
        try:
            after = int(request.query_params.get("after", "0") or 0)
            wait = min(max(float(request.query_params.get("wait", "0") or 0), 0.0), 25.0)
        except ValueError:
            return _json({"error": "after/wait must be numbers"}, 400)

        def fresh() -> list[dict]:
            state = self._chats.get(chat_id)
            if state is None:
                return []
            return [self._item(e) for e in sorted(state.entries.values(), key=lambda e: e.seq) if e.seq > after]

        items = await self._wait_until(fresh, wait) if wait else fresh()
        state = self._chats.get(chat_id)
        return _json(
            {
                "messages": items or [],
                "last_seq": max([after, *(m["_seq"] for m in items or [])]),
                "reply_keyboard": state.reply_keyboard if state else None,
                "force_reply": bool(state and state.force_reply),
            }
        )

    async def _c_calls(self, request: Request) -> Response:
        method = request.query_params.get("method")
        calls = [c for c in self.calls if method is None or c["method"].lower() == method.lower()]
        return _json(json.loads(json.dumps(calls, default=str)))

    async def _c_file(self, request: Request) -> Response:
        return self._serve_file(self._files.get(request.path_params["file_id"]))

    async def _page(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "chat.html", headers={"Cache-Control": "no-store"})

    def _build_app(self) -> Starlette:
        routes = [
            Route("/", self._page, methods=["GET"]),
            Route("/bot{token}/{method}", _AsgiEndpoint(self._bot_api_asgi), methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", self._file_download, methods=["GET"]),
            Route("/_standin/presets", self._c_presets, methods=["GET"]),
            Route("/_standin/info", self._c_info, methods=["GET"]),
            Route("/_standin/commands", self._c_commands, methods=["GET"]),
            Route("/_standin/users/{user_id:int}/messages", self._c_send, methods=["POST"]),
            Route("/_standin/users/{user_id:int}/location_edits", self._c_location_edit, methods=["POST"]),
            Route("/_standin/users/{user_id:int}/callbacks", self._c_callback, methods=["POST"]),
            Route("/_standin/chats/{chat_id}/messages", self._c_messages, methods=["GET"]),
            Route("/_standin/calls", self._c_calls, methods=["GET"]),
            Route("/_standin/files/{file_id}", self._c_file, methods=["GET"]),
            Mount("/_standin/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        ]
        return Starlette(routes=routes)
