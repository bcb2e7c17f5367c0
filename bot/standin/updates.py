"""Updates: what users do (inject_*) becomes queued updates, which getUpdates hands out by long polling."""

from __future__ import annotations

import copy
import time
from typing import Any

from .formatting import parse_text
from .model import _Chat
from .wire import ApiError, Params

_DEFAULT_UPDATE_TYPES = None  # None = all update types except chat_member/message_reaction*
_EXCLUDED_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


class UpdatesMixin:
    """Mixed into ``StandIn``: the update queue (``self._updates``) and its long-polling reader."""

    def _enqueue(self, kind: str, payload: dict) -> dict:
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return update

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
