"""The Bot API methods a bot calls to talk (getMe, commands, send*, edit*, delete, callbacks, getChat).

Updates, webhooks and files have their own modules; the HTTP dispatch is in ``server``."""

from __future__ import annotations

import copy
import json
import mimetypes
import re
import time
from typing import Any

from .formatting import FormattingError, parse_text, utf16_len
from .model import _Chat, _Entry
from .wire import Params, Upload, bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024
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
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)


class BotApiMixin:
    """Mixed into ``StandIn``: the ``_m_<method>`` handlers it dispatches to."""

    def _m_getMe(self, p: Params) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

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
