"""Webhooks: setWebhook/deleteWebhook/getWebhookInfo and the background task that POSTs updates to the bot.

Only loopback http:// URLs are accepted, so the stand-in never sends traffic off this machine."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from .updates import _DEFAULT_UPDATE_TYPES
from .wire import ApiError, Params, bad_request

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: ``post_to_webhook(secret_token=USE_WEBHOOK_SECRET)`` sends the secret set with setWebhook.
USE_WEBHOOK_SECRET: Any = object()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for all the stand-in's clients: httpx loads the CA bundle (~0.1–0.5 s of CPU) per client."""
    return httpx.create_ssl_context()


log = logging.getLogger(__name__)


class WebhookMixin:
    """Mixed into ``StandIn``: webhook state (``self._webhook``) and its delivery loop."""

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
        """The background task: POST pending updates to the webhook, oldest first, one at a time — or, with
        ``webhook_parallel`` > 1, several at once (see ``_deliver_in_parallel``)."""
        attempts = 0  # failed tries of the update at the head of the queue
        retry_at = 0.0
        generation = self._webhook_generation
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=self.webhook_timeout, trust_env=False, verify=_tls()) as client:
            while not self._closing:
                if self.webhook_parallel > 1:  # switched on after start (the attribute is read every round)
                    await self._deliver_in_parallel()
                    return
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

    async def _deliver_in_parallel(self) -> None:
        """Like Telegram with ``max_connections`` > 1: up to min(webhook_parallel, max_connections) deliveries in
        flight, oldest first, each update retried on its own back-off — but one chat's updates one at a time: the
        next only after the previous got a 2xx (or was given up), as the Bot API server queues them per chat
        (tdlib/telegram-bot-api, WebhookActor: one queue per update's chat, its head in flight or waiting for
        its retry). Different chats' updates reach the webhook side by side, in any order."""
        loop = asyncio.get_running_loop()
        in_flight: dict[int, asyncio.Task] = {}
        attempts: dict[int, int] = {}
        retry_at: dict[int, float] = {}
        generation = self._webhook_generation

        async def deliver(client: httpx.AsyncClient, hook: dict, update: dict, key: int, attempt: int) -> None:
            try:
                error = await self._post_update(client, hook, update, attempt)
                if error is None or attempt >= self.webhook_max_attempts:
                    if error is not None:
                        log.warning("stand-in: gave up delivering update %s after %d tries: %s", key, attempt, error)
                    self._updates = [u for u in self._updates if u is not update]
                    attempts.pop(key, None)
                    retry_at.pop(key, None)
                else:
                    first, longest = self.webhook_backoff
                    retry_at[key] = loop.time() + min(longest, first * 2 ** (attempt - 1))
            finally:
                in_flight.pop(key, None)
                self._notify()

        async with httpx.AsyncClient(timeout=self.webhook_timeout, trust_env=False) as client:
            try:
                while not self._closing:
                    event = self._changed
                    if generation != self._webhook_generation:  # set again: what waits is retried at once
                        generation = self._webhook_generation
                        retry_at.clear()
                    hook = self._webhook
                    self._updates = [u for u in self._updates if self._allowed(u)]
                    wait: float | None = None
                    if hook is not None:
                        limit = min(self.webhook_parallel, hook["max_connections"])
                        now = loop.time()
                        heads: set[object] = set()  # chats whose oldest pending update was seen: the rest wait
                        for update in self._updates:
                            if len(in_flight) >= limit:
                                break
                            key = int(update["update_id"])
                            queue = _queue_of(update)
                            if queue in heads:
                                continue
                            heads.add(queue)
                            if key in in_flight:
                                continue
                            if retry_at.get(key, 0.0) > now:
                                wait = min(wait if wait is not None else 1e9, retry_at[key] - now)
                                continue
                            attempts[key] = attempts.get(key, 0) + 1
                            in_flight[key] = asyncio.create_task(deliver(client, hook, update, key, attempts[key]))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), wait)
            finally:
                for task in list(in_flight.values()):
                    task.cancel()
                await asyncio.gather(*in_flight.values(), return_exceptions=True)

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
        async with httpx.AsyncClient(timeout=timeout, trust_env=False, verify=_tls()) as client:
            return await client.post(target, content=body, headers=headers)


def _queue_of(update: dict) -> object:
    """The delivery queue of an update: its chat (or its sender when it has no chat), else a queue of its own."""
    for kind, value in update.items():
        if kind == "update_id" or not isinstance(value, dict):
            continue
        message = value.get("message") if kind == "callback_query" else value
        chat = (message or {}).get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("chat", sender["id"])
    return ("update", update.get("update_id"))
