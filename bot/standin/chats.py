"""Chats, users and messages as the stand-in keeps them, and the test-side view of them (transcripts, waits)."""

from __future__ import annotations

import copy
import time

from .model import _Chat, _Entry
from .model import summary as _summary
from .wire import ApiError, bad_request


class ChatsMixin:
    """Mixed into ``StandIn``: its message store. Uses ``self._chats``, ``self._users`` and ``self._notify``."""

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
