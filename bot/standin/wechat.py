"""A local stand-in for WeChat's servers (公众号), for tests and benchmarks: the API the bot calls, and the
callbacks WeChat would POST to the bot.

It is a fake of WeChat, not part of the bot: it imports nothing from ``bot`` outside ``bot.standin`` and does
not use ``wechatpy`` — signatures and safe-mode encryption are written here from WeChat's published algorithm,
so a test that passes proves the bot interoperates with an independent implementation. State lives in memory.

    standin = WeChatStandIn(appid="wx123", secret="s3cret")
    server = WebServer(standin.app); await server.start()          # bot.webserver, 127.0.0.1, free port
    settings = Settings(..., wechat_api_base=server.url, wechat_token="tok", wechat_appid="wx123", ...)
    callback = Callback(token="tok", appid="wx123", aes_key=None)  # or a 43-character EncodingAESKey
    params, body = callback.text("oRider1", "附近驿站", msg_id=1)
    httpx.post(f"{bot_url}/wechat", params=params, content=body)
    sent = await standin.wait_for_sent("oRider1", 1)               # what custom/send delivered

API surface (what the bot calls; ``{base}`` is the server's URL):
    GET  {base}/cgi-bin/token?grant_type=client_credential&appid=…&secret=…  -> {access_token, expires_in}
    GET  {base}/cgi-bin/media/get?access_token=…&media_id=…                  -> the bytes a test registered
    POST {base}/cgi-bin/media/upload?access_token=…&type=image  (multipart "media") -> {type, media_id, created_at}
    POST {base}/cgi-bin/message/custom/send?access_token=…       (JSON)     -> {errcode: 0} and recorded
    POST {base}/cgi-bin/menu/create?access_token=…               (JSON)     -> {errcode: 0} and recorded
Errors are WeChat's: HTTP 200 with {"errcode": …, "errmsg": …}. A test injects one with ``fail_next``, and makes
every issued token stale with ``expire_tokens`` (the next call answers 42001).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.standin.wire import ApiError, parse_multipart

TOKEN_TTL = 7200


@dataclass
class Injected:
    errcode: int
    errmsg: str
    times: int
    after: int = 0  # calls to let through first


@dataclass
class WeChatStandIn:
    appid: str = "wx-standin-appid"
    secret: str = "standin-secret"
    url: str = ""  # where it is served (set by whoever starts the server)
    sent: list[dict[str, Any]] = field(default_factory=list)  # custom/send bodies, in order
    menus: list[dict[str, Any]] = field(default_factory=list)  # menu/create bodies
    uploads: dict[str, bytes] = field(default_factory=dict)  # media_id -> bytes the bot uploaded
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every API call
    tokens_issued: int = 0
    # As WeChat does: a new token retires every earlier one (WeChat allows the old a few minutes' grace; none here,
    # so two processes fetching their own tokens would visibly break each other).
    one_valid_token: bool = False

    def __post_init__(self) -> None:
        self._tokens: set[str] = set()
        self._refused_errcode = 42001
        self._media: dict[str, tuple[bytes, str]] = {}
        self._faults: dict[str, list[Injected]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._media_gate: asyncio.Event | None = None
        self.downloads_waiting = 0
        self.app = Starlette(
            routes=[
                Route("/cgi-bin/token", self._token, methods=["GET"]),
                Route("/cgi-bin/media/get", self._media_get, methods=["GET"]),
                Route("/cgi-bin/media/upload", self._media_upload, methods=["POST"]),
                Route("/cgi-bin/message/custom/send", self._custom_send, methods=["POST"]),
                Route("/cgi-bin/menu/create", self._menu_create, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------ test controls

    def register_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """What a user's image message points at: media/get serves these bytes under the returned MediaId."""
        media_id = f"m-{next(self._ids)}-{secrets.token_hex(6)}"
        self._media[media_id] = (data, content_type)
        return media_id

    def fail_next(self, path: str, errcode: int, errmsg: str = "injected", *, times: int = 1, after: int = 0) -> None:
        """After `after` more successful calls, the next `times` calls to `path` (e.g.
        "/cgi-bin/message/custom/send") answer this errcode."""
        self._faults.setdefault(path, []).append(Injected(errcode, errmsg, times, after))

    def hold_media(self) -> asyncio.Event:
        """media/get answers only once the returned event is set (a slow download, held for as long as a test
        needs); `downloads_waiting` counts the requests held meanwhile."""
        self._media_gate = asyncio.Event()
        return self._media_gate

    def expire_tokens(self, errcode: int = 42001) -> None:
        """Every access token issued so far stops working (as after 2 h): the next call answers 42001 (or 40001,
        "invalid credential", as when another party fetched a new token)."""
        self._tokens.clear()
        self._refused_errcode = errcode

    def sent_to(self, openid: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("touser") == openid]

    async def wait_for_sent(self, openid: str, count: int, *, after: int = 0, timeout: float = 8.0) -> list[dict]:  # noqa: ASYNC109
        """The first `count` customer-service messages to `openid` after the first `after`; bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            mine = self.sent_to(openid)[after:]
            if len(mine) >= count:
                return mine[:count]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{openid} got {len(mine)} of {count} messages: {mine}")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.5))

    # ------------------------------------------------------------------ the API

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _fault(self, path: str) -> JSONResponse | None:
        queue = self._faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        if fault.after > 0:
            fault.after -= 1
            return None
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return JSONResponse({"errcode": fault.errcode, "errmsg": fault.errmsg})

    def _checked(self, request: Request) -> JSONResponse | None:
        self.calls.append((request.method, request.url.path))
        token = request.query_params.get("access_token", "")
        if not token:
            return JSONResponse({"errcode": 41001, "errmsg": "access_token missing"})
        if token not in self._tokens:
            errmsg = "access_token expired" if self._refused_errcode == 42001 else "invalid credential"
            return JSONResponse({"errcode": self._refused_errcode, "errmsg": errmsg})
        return self._fault(request.url.path)

    async def _token(self, request: Request) -> JSONResponse:
        self.calls.append((request.method, request.url.path))
        q = request.query_params
        if q.get("grant_type") != "client_credential":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        if q.get("appid") != self.appid or q.get("secret") != self.secret:
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        fault = self._fault(request.url.path)
        if fault is not None:
            return fault
        token = f"ACCESS_{secrets.token_hex(12)}"
        if self.one_valid_token:
            self._tokens.clear()
        self._tokens.add(token)
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "expires_in": TOKEN_TTL})

    async def _media_get(self, request: Request) -> Response:
        refused = self._checked(request)
        if refused is not None:
            return refused
        gate = self._media_gate
        if gate is not None and not gate.is_set():
            self.downloads_waiting += 1
            try:
                await gate.wait()
            finally:
                self.downloads_waiting -= 1
        found = self._media.get(request.query_params.get("media_id", ""))
        if found is None:
            return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
        data, content_type = found
        return Response(data, media_type=content_type, headers={"Content-Disposition": 'attachment; filename="a.jpg"'})

    async def _media_upload(self, request: Request) -> JSONResponse:
        refused = self._checked(request)
        if refused is not None:
            return refused
        if request.query_params.get("type") not in {"image", "voice", "video", "thumb"}:
            return JSONResponse({"errcode": 40004, "errmsg": "invalid media type"})
        try:
            _, files = parse_multipart(await request.body(), request.headers.get("content-type", ""))
        except ApiError:
            files = {}
        media = files.get("media")
        if media is None:
            return JSONResponse({"errcode": 41005, "errmsg": "media data missing"})
        data = media.content
        media_id = f"u-{next(self._ids)}-{secrets.token_hex(6)}"
        self.uploads[media_id] = data
        return JSONResponse(
            {"type": request.query_params["type"], "media_id": media_id, "created_at": int(time.time())}
        )

    async def _custom_send(self, request: Request) -> JSONResponse:
        refused = self._checked(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"errcode": 47001, "errmsg": "data format error"})
        kind = body.get("msgtype")
        if not body.get("touser") or kind not in {"text", "image", "msgmenu", "news", "link"}:
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        if kind == "image" and body["image"].get("media_id") not in self.uploads:
            return JSONResponse({"errcode": 40007, "errmsg": "invalid media_id"})
        self.sent.append(body)
        self._notify()
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def _menu_create(self, request: Request) -> JSONResponse:
        refused = self._checked(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"errcode": 47001, "errmsg": "data format error"})
        if not isinstance(body.get("button"), list) or not 1 <= len(body["button"]) <= 3:
            return JSONResponse({"errcode": 40016, "errmsg": "invalid button size"})
        self.menus.append(body)
        return JSONResponse({"errcode": 0, "errmsg": "ok"})


# ---------------------------------------------------------------------- callbacks, as WeChat signs and sends them


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted as strings and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class SafeMode:
    """WeChat's message encryption: AES-256-CBC, IV = the key's first 16 bytes, PKCS#7 padding to 32 bytes, over
    16 random bytes + the message length (4 bytes, network order) + the message + the appid."""

    def __init__(self, aes_key: str, appid: str) -> None:
        self.key = base64.b64decode(aes_key + "=")
        if len(self.key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.appid = appid

    def encrypt(self, text: str) -> str:
        raw = text.encode()
        plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + self.appid.encode()
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        if plain[20 + length :].decode() != self.appid:
            raise ValueError("appid mismatch")
        return plain[20 : 20 + length].decode()


def _xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, int | float):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _tag(xml: str, name: str) -> str | None:
    """One tag's text from WeChat's flat XML (CDATA or plain); enough for reading replies in tests."""
    start = xml.find(f"<{name}>")
    if start < 0:
        return None
    start += len(name) + 2
    end = xml.find(f"</{name}>", start)
    value = xml[start:end]
    if value.startswith("<![CDATA[") and value.endswith("]]>"):
        return value[9:-3]
    return value


@dataclass
class Callback:
    """Builds the signed (and, with an EncodingAESKey, encrypted) requests WeChat POSTs to the bot's server URL,
    and reads the bot's passive replies back."""

    token: str
    appid: str = "wx-standin-appid"
    aes_key: str | None = None
    account: str = "gh_standin"  # the official account's own id (ToUserName of user messages)

    def __post_init__(self) -> None:
        self._safe = SafeMode(self.aes_key, self.appid) if self.aes_key else None
        self._clock = itertools.count(int(time.time()))

    def signed_params(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        return {"signature": sha1_signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}

    def verify_url(self, echostr: str = "echo-12345") -> dict[str, str]:
        """The GET WeChat sends when the server URL is saved in the 公众号 settings."""
        return {**self.signed_params(), "echostr": echostr}

    def wrap(self, xml: str, *, openid: str = "") -> tuple[dict[str, str], bytes]:
        params = self.signed_params()
        if openid:
            params["openid"] = openid
        if self._safe is None:
            return params, xml.encode()
        encrypted = self._safe.encrypt(xml)
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sha1_signature(self.token, params["timestamp"], params["nonce"], encrypted)
        return params, _xml({"ToUserName": self.account, "Encrypt": encrypted}).encode()

    def _message(self, openid: str, kind: str, fields: dict[str, Any], create_time: int | None) -> dict[str, Any]:
        return {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": create_time if create_time is not None else next(self._clock),
            "MsgType": kind,
            **fields,
        }

    def _build(self, openid: str, message: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        return self.wrap(_xml(message), openid=openid)

    def text(
        self, openid: str, content: str, *, msg_id: int, menu_id: str | None = None, create_time: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        fields: dict[str, Any] = {"Content": content, "MsgId": msg_id}
        if menu_id is not None:  # a tap on a msgmenu option comes back as text carrying the option's id
            fields["bizmsgmenuid"] = menu_id
        return self._build(openid, self._message(openid, "text", fields, create_time))

    def location(
        self, openid: str, lat: float, lon: float, *, msg_id: int, label: str = "", create_time: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A location message: Location_X is the latitude, Location_Y the longitude, in GCJ-02 (pass them so)."""
        fields = {"Location_X": f"{lat:.6f}", "Location_Y": f"{lon:.6f}", "Scale": 15, "Label": label, "MsgId": msg_id}
        return self._build(openid, self._message(openid, "location", fields, create_time))

    def image(
        self, openid: str, media_id: str, *, msg_id: int, create_time: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        fields = {"PicUrl": f"http://mmbiz.invalid/{media_id}", "MediaId": media_id, "MsgId": msg_id}
        return self._build(openid, self._message(openid, "image", fields, create_time))

    def voice(self, openid: str, *, msg_id: int) -> tuple[dict[str, str], bytes]:
        fields = {"MediaId": "voice-1", "Format": "amr", "MsgId": msg_id}
        return self._build(openid, self._message(openid, "voice", fields, None))

    def event(
        self, openid: str, event: str, *, key: str | None = None, create_time: int | None = None, **extra: Any
    ) -> tuple[dict[str, str], bytes]:
        fields: dict[str, Any] = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        fields.update(extra)
        return self._build(openid, self._message(openid, "event", fields, create_time))

    def read_reply(self, body: bytes | str) -> dict[str, str] | None:
        """The bot's passive reply as a dict of its tags (decrypted in safe mode); None for "success"/empty."""
        text = body.decode() if isinstance(body, bytes) else body
        if text.strip() in {"", "success"}:
            return None
        if self._safe is not None:
            encrypted = _tag(text, "Encrypt")
            if encrypted is None:
                raise AssertionError(f"safe mode, but the reply is not encrypted: {text[:200]}")
            timestamp, nonce = _tag(text, "TimeStamp") or "", _tag(text, "Nonce") or ""
            if sha1_signature(self.token, timestamp, nonce, encrypted) != _tag(text, "MsgSignature"):
                raise AssertionError("the reply's MsgSignature is wrong")
            text = self._safe.decrypt(encrypted)
        names = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MediaId")
        return {n: v for n in names if (v := _tag(text, n)) is not None}
