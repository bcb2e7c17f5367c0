"""The chat page's own endpoints (/_standin/...): the browser plays the user through these."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .model import DEFAULT_USERS
from .model import json_response as _json
from .wire import Params

STATIC_DIR = Path(__file__).with_name("static")


class ChatPageMixin:
    """Mixed into ``StandIn``: the page's control API, over the same inject/inspect methods the tests use."""

    async def _c_presets(self, request: Request) -> Response:
        return _json(self.presets)

    async def _c_info(self, request: Request) -> Response:
        return _json({"bot": self._m_getMe(Params({})), "users": DEFAULT_USERS, "links": self.links})

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
                "boot": self.boot_id,
            }
        )

    async def _c_calls(self, request: Request) -> Response:
        method = request.query_params.get("method")
        calls = [c for c in self.calls if method is None or c["method"].lower() == method.lower()]
        return _json(json.loads(json.dumps(calls, default=str)))

    async def _page(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "chat.html", headers={"Cache-Control": "no-store"})

    def _page_routes(self) -> list[BaseRoute]:
        return [
            Route("/", self._page, methods=["GET"]),
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
            Mount("/_standin/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        ]
