"""A simulated person in a chat with the bot, driving the stand-in the way a phone would.

Every wait is bounded: a bot that does not answer fails the test with what it did say instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.standin.server import StandIn

TIMEOUT = 8.0


class ChatUser:
    def __init__(self, standin: StandIn, user_id: int, first_name: str = "骑手") -> None:
        self.standin = standin
        self.user_id = user_id
        self.first_name = first_name

    async def _expect(self, before: int, replies: int, ignore: Callable[[dict], bool] | None = None) -> list[dict]:
        """Wait for `replies` bot messages after seq `before`, not counting those `ignore` says to skip."""
        if replies == 0:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        need = replies
        while True:
            got = await self.standin.wait_for_bot_messages(
                self.user_id, need, after_seq=before, timeout=max(0.1, deadline - loop.time())
            )
            kept = [m for m in got if ignore is None or not ignore(m)]
            if len(kept) >= replies:
                return kept
            need = len(got) + replies - len(kept)

    async def send(self, text: str | None = None, *, replies: int = 1, **kwargs: Any) -> list[dict]:
        """Send a message and wait for `replies` bot messages (new or edited)."""
        before = self.standin.last_seq(self.user_id)
        self.last_sent = self.standin.inject_message(self.user_id, text=text, first_name=self.first_name, **kwargs)
        return await self._expect(before, replies)

    async def share_location(self, lat: float, lon: float, *, replies: int = 1, **kwargs: Any) -> list[dict]:
        return await self.send(location=(lat, lon), replies=replies, **kwargs)

    async def move_live(self, message_id: int, lat: float, lon: float, *, replies: int = 1) -> list[dict]:
        before = self.standin.last_seq(self.user_id)
        self.standin.inject_edited_location(self.user_id, message_id, lat, lon)
        return await self._expect(before, replies)

    async def tap(
        self, message: dict, label: str, *, replies: int = 1, in_place: bool = False
    ) -> tuple[dict, list[dict]]:
        """Tap the inline button whose text contains `label`; returns (callback answer, bot messages)."""
        return await self.press(message, button(message, label)["callback_data"], replies=replies, in_place=in_place)

    async def press(
        self, message: dict, data: str, *, replies: int = 1, in_place: bool = False
    ) -> tuple[dict, list[dict]]:
        """Send callback data as if from a button on `message` (also for forged data).

        The pressed message with only its buttons changed (removed, or swapped for the next step's) is not a
        reply unless `in_place` says the answer is expected there (a menu swapped onto the same message);
        `current()` reads the message as it is now."""
        before = self.standin.last_seq(self.user_id)
        query_id = self.standin.inject_callback(self.user_id, message["message_id"], data)
        answer = await self.standin.wait_for_callback_answer(query_id, timeout=TIMEOUT)

        def spent(m: dict) -> bool:
            same = m["message_id"] == message["message_id"] and (not in_place or not buttons(m))
            return same and m.get("text") == message.get("text") and m.get("caption") == message.get("caption")

        return answer, await self._expect(before, replies, spent)

    def current(self, message: dict) -> dict:
        """The message as the person sees it now (edits applied)."""
        for m in self.standin.bot_messages(self.user_id):
            if m["message_id"] == message["message_id"]:
                return m
        raise AssertionError(f"message {message['message_id']} is gone")


def buttons(message: dict) -> list[dict]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button(message: dict, label: str) -> dict:
    for b in buttons(message):
        if label in b["text"]:
            return b
    raise AssertionError(f"no button {label!r} in {[b['text'] for b in buttons(message)]}")


async def settle(runtime: Any, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
    """Until every update injected so far has been fetched and handled (chats are handled side by side, so
    "my own next reply" no longer proves another chat's updates are done)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    application, standin = runtime.application, runtime.standin
    quiet_since = None
    while loop.time() < deadline:
        idle = (
            not standin._updates
            and application.update_queue.empty()
            and application.update_processor.current_concurrent_updates == 0
        )
        if idle:
            quiet_since = quiet_since or loop.time()
            if loop.time() - quiet_since > 0.2:  # idle across a couple of polls, not just between two updates
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.02)
    raise TimeoutError("the bot did not settle")
