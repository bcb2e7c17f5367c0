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
    /_standin/info                    GET  {"bot": getMe, "users": DEFAULT_USERS, "links": StandIn.links}
    /_standin/commands                GET  ?language_code= -> commands set with setMyCommands
    /_standin/users/{id}/messages     POST {text?, location?: {latitude, longitude, live_period?},
                                           photo_base64?, caption?, first_name?, language_code?} -> Message
    /_standin/users/{id}/location_edits  POST {message_id, latitude, longitude} -> edited Message
    /_standin/users/{id}/callbacks    POST {message_id, data} -> {text, show_alert[, url]} or {} after 5 s
    /_standin/chats/{id}/messages     GET  ?after=SEQ&wait=S (<= 25) -> {messages, last_seq, boot, reply_keyboard,
                                           force_reply}; deleted messages come as {message_id, _deleted: true}
    /_standin/calls                   GET  ?method= -> recorded Bot API calls
    /_standin/files/{file_id}         GET  file content (the page's <img>)

Webhooks: after ``setWebhook(url=...)`` the stand-in POSTs pending updates as JSON to that URL, in order and
one at a time, with ``X-Telegram-Bot-Api-Secret-Token`` when a secret was set; ``getUpdates`` then answers 409
until ``deleteWebhook``. Only http:// URLs on 127.0.0.1 / localhost / [::1] are accepted (anything else is
"Bad Request: bad webhook: ..."), so the stand-in never sends traffic off this machine. With ``webhook_parallel``
> 1 up to that many deliveries (at most max_connections) are in flight at once, as Telegram does. A delivery that gets a
non-2xx answer or a connection error is retried with a doubling back-off (``webhook_backoff``) and given up
after ``webhook_max_attempts`` tries; ``getWebhookInfo`` reports ``last_error_date``/``last_error_message``
and every attempt is logged in ``webhook_deliveries``. ``post_to_webhook`` lets a test POST a raw update
to the bot with a chosen, wrong or missing secret header.

Everything runs in the caller's event loop; call the inject_* methods from that loop's thread.

Layout, one concern per module, mixed into ``StandIn`` here (lifecycle, HTTP dispatch, routes):
    model.py    records (chats, messages, files)       chats.py    message store and the tests' view of it
    updates.py  inject_* and getUpdates long polling   webhook.py  setWebhook and the delivery task
    methods.py  send*/edit*/delete/commands/getChat    markup.py   reply_markup checks
    files.py    photos, documents, getFile, downloads  page.py     the chat page's /_standin/ endpoints
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .chats import ChatsMixin
from .faults import Faults
from .files import FilesMixin
from .markup import MarkupMixin
from .methods import BotApiMixin
from .model import DEFAULT_USERS, _Chat, _File
from .model import json_response as _json
from .page import ChatPageMixin
from .updates import _DEFAULT_UPDATE_TYPES, UpdatesMixin
from .webhook import USE_WEBHOOK_SECRET, WebhookMixin
from .wire import ApiError, Params, decode_body

# _Chat and USE_WEBHOOK_SECRET are re-exported: tests reach them here.
__all__ = ["DEFAULT_USERS", "DEMO_TOKEN", "USE_WEBHOOK_SECRET", "StandIn", "_Chat"]

log = logging.getLogger(__name__)

DEMO_TOKEN = "123456789:STANDIN-offline-demo-token"


class _QuietServer(uvicorn.Server):
    """uvicorn.Server that leaves the host program's signal handlers alone, and stops at once when asked (uvicorn
    looks at `should_exit` every 0.1 s; every test starts and stops a stand-in)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _AsgiEndpoint:
    """Wraps a raw ASGI coroutine so Starlette's Route does not wrap it in request/response."""

    def __init__(self, func: Callable[[Scope, Receive, Send], Any]) -> None:
        self.func = func

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.func(scope, receive, send)


class StandIn(ChatsMixin, UpdatesMixin, WebhookMixin, FilesMixin, MarkupMixin, BotApiMixin, ChatPageMixin):
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
        self.boot_id = secrets.token_hex(6)  # the chat page notices a restart (a new stand-in) by this changing
        self.presets: list[dict] = list(presets or [])
        #: Links the chat page shows in its top bar ({"label", "url", "title"?}), e.g. the offline demo's console.
        self.links: list[dict] = []
        head = token.split(":", 1)[0]
        self.bot_user: dict = {
            "id": int(head) if head.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.calls: list[dict] = []
        #: Every file download (/file/bot<token>/<file_path>): {"file_path", "found"}.
        self.downloads: list[dict] = []
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
        #: Deliveries in flight at once (capped by setWebhook's max_connections); 1: strictly one after another.
        self.webhook_parallel = 1
        #: Every delivery attempt: {"update_id", "url", "attempt", "status" (None: no answer), "error", "ts"}.
        self.webhook_deliveries: list[dict] = []
        self._webhook: dict | None = None  # {"url", "secret_token", "max_connections", "ip_address"}
        self._webhook_error: tuple[int, str] | None = None  # (unix time, message) of the last failed delivery
        self._webhook_generation = 0
        self._delivery_task: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._server: _QuietServer | None = None
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
            self._server.request_exit()
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

    def _build_app(self) -> Starlette:
        routes = [
            *self._page_routes(),
            Route("/bot{token}/{method}", _AsgiEndpoint(self._bot_api_asgi), methods=["GET", "POST"]),
            Route("/file/bot{token}/{file_path:path}", self._file_download, methods=["GET"]),
        ]
        return Starlette(routes=routes)
