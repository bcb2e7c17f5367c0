"""Reply markup: validation of inline and reply keyboards as Telegram does it, and its effect on a chat."""

from __future__ import annotations

import re

from .model import _Chat
from .wire import Params, bad_request

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


class MarkupMixin:
    """Mixed into ``StandIn``: reply_markup checks shared by the send and edit methods."""

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
