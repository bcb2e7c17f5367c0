"""The few WeChat server APIs the door calls, over httpx.AsyncClient, with the access token shared in SQLite.

Why not wechatpy's `WeChatClient`: it is synchronous (requests), so every call would need `asyncio.to_thread`
and a thread per in-flight request, and its token storage would need an adapter to our database. We call five
endpoints (token, media/get, media/upload, message/custom/send, menu/create); doing them with the async client
the rest of the bot already uses keeps them in the event loop, with our own timeouts and error mapping.
wechatpy still does what it is good at: signatures, safe-mode crypto, XML parsing and passive replies.

The access token lives in the `wechat_tokens` table, so several processes sharing one database share one
token (each fetch of a new token shortens the life of the old one: fetching per process would make them
invalidate each other). It is refreshed when it has less than five minutes left, and at once when WeChat says
it is invalid or expired (40001/40014/42001) — only if the stored token is still the one that failed, so two
callers that fail together refresh once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from bot.store.db import Database

log = logging.getLogger(__name__)

TOKEN_MARGIN_S = 300.0
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid credential, invalid access_token, access_token expired


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg[:200]}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    def __init__(
        self,
        db: Database,
        *,
        base: str,
        appid: str,
        secret: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.base = base.rstrip("/")
        self.appid = appid
        self.secret = secret
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=timeout, trust_env=False)
        self._refresh_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._own_client:
            await self.client.aclose()

    # ------------------------------------------------------------------ the access token

    async def _stored(self) -> tuple[str, float] | None:
        row = await self.db.fetchone("SELECT token, expires_at FROM wechat_tokens WHERE appid = ?", (self.appid,))
        return (row["token"], float(row["expires_at"])) if row else None

    async def token(self, *, failed: str | None = None) -> str:
        """A usable access token; `failed` names one WeChat just refused, which is then replaced."""
        stored = await self._stored()
        if stored and stored[0] != failed and stored[1] - time.time() > TOKEN_MARGIN_S:
            return stored[0]
        async with self._refresh_lock:
            stored = await self._stored()  # another task (or process) may have refreshed meanwhile
            if stored and stored[0] != failed and stored[1] - time.time() > TOKEN_MARGIN_S:
                return stored[0]
            return await self._fetch_token()

    async def _fetch_token(self) -> str:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        response = await self.client.get(f"{self.base}/cgi-bin/token", params=params)
        data = _json(response)
        if "access_token" not in data:
            raise WeChatApiError(int(data.get("errcode", -1)), str(data.get("errmsg", "")))
        token, now = str(data["access_token"]), time.time()
        expires_at = now + float(data.get("expires_in", 7200))
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wechat_tokens (appid, token, expires_at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(appid) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at,"
                " updated_at = excluded.updated_at",
                (self.appid, token, expires_at, now),
            )
        log.info("fetched a new WeChat access token (valid %d s)", int(expires_at - now))
        return token

    # ------------------------------------------------------------------ calls

    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """One API call with the token; a refused token is replaced and the call made once more."""
        token = await self.token()
        for attempt in (1, 2):
            query = {**(params or {}), "access_token": token}
            response = await self.client.request(method, f"{self.base}{path}", params=query, **kwargs)
            errcode = _errcode(response)
            if errcode in TOKEN_ERRORS and attempt == 1:
                token = await self.token(failed=token)
                continue
            if errcode:
                data = _json(response)
                raise WeChatApiError(errcode, str(data.get("errmsg", "")))
            return response
        raise AssertionError("unreachable")

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # UTF-8 as is: WeChat shows \\u escapes literally in some places (menu names), so never ensure_ascii.
        content = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        return _json(await self._call("POST", path, content=content, headers=headers))

    async def media_get(self, media_id: str, max_bytes: int) -> bytes:
        """A user's image (temporary media, kept 3 days by WeChat); larger than `max_bytes` is refused."""
        token = await self.token()
        for attempt in (1, 2):
            params = {"access_token": token, "media_id": media_id}
            async with self.client.stream("GET", f"{self.base}/cgi-bin/media/get", params=params) as response:
                kind = response.headers.get("content-type", "")
                if "json" in kind or "text/plain" in kind:
                    data = json.loads(await response.aread() or b"{}")
                    errcode = int(data.get("errcode", -1))
                    if errcode in TOKEN_ERRORS and attempt == 1:
                        token = await self.token(failed=token)
                        continue
                    raise WeChatApiError(errcode, str(data.get("errmsg", "")))
                response.raise_for_status()
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes:
                    raise MediaTooBig(declared)
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooBig(size)
                    chunks.append(chunk)
                return b"".join(chunks)
        raise AssertionError("unreachable")

    async def media_upload(self, data: bytes, *, kind: str = "image", filename: str = "photo.jpg") -> str:
        files = {"media": (filename, data, "image/jpeg" if filename.endswith(".jpg") else "application/octet-stream")}
        response = await self._call("POST", "/cgi-bin/media/upload", params={"type": kind}, files=files)
        media_id = _json(response).get("media_id")
        if not media_id:
            raise WeChatApiError(-1, "no media_id in the upload answer")
        return str(media_id)

    async def custom_send(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/cgi-bin/message/custom/send", body)

    async def menu_create(self, menu: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/cgi-bin/menu/create", menu)


class MediaTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"media of {size} bytes")
        self.size = size


def _json(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    try:
        data = response.json()
    except ValueError as exc:
        raise WeChatApiError(-1, "answer is not JSON") from exc
    if not isinstance(data, dict):
        raise WeChatApiError(-1, "answer is not a JSON object")
    return data


def _errcode(response: httpx.Response) -> int:
    if "json" not in response.headers.get("content-type", "") and not response.content.startswith(b"{"):
        return 0
    try:
        data = response.json()
    except ValueError:
        return 0
    return int(data.get("errcode", 0) or 0) if isinstance(data, dict) else 0
