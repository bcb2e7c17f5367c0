"""The few WeChat server APIs the door calls, over httpx.AsyncClient, with the access token shared in SQLite.

Why not wechatpy's `WeChatClient`: it is synchronous (requests), so every call would need `asyncio.to_thread`
and a thread per in-flight request, and its token storage would need an adapter to our database. We call five
endpoints (token, media/get, media/upload, message/custom/send, menu/create); doing them with the async client
the rest of the bot already uses keeps them in the event loop, with our own timeouts and error mapping.
wechatpy still does what it is good at: signatures, safe-mode crypto, XML parsing and passive replies.

The access token lives in the `wechat_tokens` table, so several processes sharing one database share one
token (each fetch of a new token shortens the life of the old one: fetching per process would make them
invalidate each other). It is refreshed when it has less than five minutes left, and at once when WeChat says
it is invalid or expired (40001/40014/42001) — only if the stored token is still the one that failed, and only
by the one caller in any process that claimed the refresh (bot/store/wechat_tokens.py); the others wait for
its result and read it, or fail with its error during a short back-off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from bot.store import wechat_tokens
from bot.store.db import Database
from bot.tls import client_context

log = logging.getLogger(__name__)

TOKEN_MARGIN_S = 300.0  # refreshed this long before it expires, so callers never meet an expired one
LEASE_S = 30.0  # one refresh may take this long (well past the client's timeout) before another process may try
FAILURE_BACKOFF_S = 10.0  # after WeChat refused to give a token, nobody asks again for this long
REFRESH_WAIT_S = 20.0  # how long a caller waits for another process's refresh
WAIT_STEP_S = 0.1
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
        self.client = client or httpx.AsyncClient(timeout=timeout, trust_env=False, verify=client_context())
        self._refresh_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._own_client:
            await self.client.aclose()

    # ------------------------------------------------------------------ the access token

    async def token(self, *, failed: str | None = None) -> str:
        """A usable access token; `failed` names one WeChat just refused, which is then replaced (once, by one
        process: see bot/store/wechat_tokens.py)."""
        row = await wechat_tokens.read(self.db, self.appid)
        if _valid(row, failed, time.time(), TOKEN_MARGIN_S):
            return row.token  # type: ignore[union-attr]
        async with self._refresh_lock:  # one task per channel goes on to the database's lease
            loop = asyncio.get_running_loop()
            deadline = loop.time() + REFRESH_WAIT_S
            while True:
                now = time.time()
                row = await wechat_tokens.read(self.db, self.appid)
                if _valid(row, failed, now, TOKEN_MARGIN_S):
                    return row.token  # type: ignore[union-attr]
                if row is not None and row.refresh_until > now:
                    if row.failed_at:  # the last fetch failed moments ago: the same answer, WeChat not asked again
                        raise _stored_error(row.last_error)
                    if _valid(row, failed, now, 0.0):  # another process is refreshing; the old one still works
                        return row.token
                elif await wechat_tokens.claim_refresh(self.db, self.appid, row, now, LEASE_S):
                    return await self._fetch_token()
                if loop.time() >= deadline:
                    raise WeChatApiError(-1, "another process's access token refresh did not finish")
                await asyncio.sleep(WAIT_STEP_S)

    async def _fetch_token(self) -> str:
        """Only with the lease held: ask WeChat, store the answer (or why not) for every process."""
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        try:
            data = _json(await self.client.get(f"{self.base}/cgi-bin/token", params=params))
        except WeChatApiError as exc:
            await wechat_tokens.store_failure(self.db, self.appid, time.time(), f"{exc.errcode}:{exc.errmsg}", 0.0)
            raise
        except Exception as exc:  # WeChat unreachable: the lease is given back, the next caller tries again
            await wechat_tokens.store_failure(self.db, self.appid, time.time(), f"-1:{type(exc).__name__}", 0.0)
            raise
        if "access_token" not in data:
            errcode, errmsg = int(data.get("errcode", -1)), str(data.get("errmsg", ""))
            now = time.time()
            await wechat_tokens.store_failure(self.db, self.appid, now, f"{errcode}:{errmsg}", FAILURE_BACKOFF_S)
            raise WeChatApiError(errcode, errmsg)
        token, now = str(data["access_token"]), time.time()
        expires_at = now + float(data.get("expires_in", 7200))
        await wechat_tokens.store_token(self.db, self.appid, token, expires_at, now)
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


def _valid(row: wechat_tokens.TokenRow | None, failed: str | None, now: float, margin: float) -> bool:
    return row is not None and bool(row.token) and row.token != failed and row.expires_at - now > margin


def _stored_error(last_error: str) -> WeChatApiError:
    code, _, message = last_error.partition(":")
    try:
        return WeChatApiError(int(code), message)
    except ValueError:
        return WeChatApiError(-1, last_error)


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
