"""Scripted riders for the scale-out test (and the benchmarks): each acts in its own chat through the fake
Telegram, reacting to what the bot says, like tests/test_crash.py's riders but webhook-agnostic.

A rider's script: /start; a burst of finder questions (locations at known stations, sent without waiting, so
consecutive updates of one chat reach different processes at once); a complete 随手拍 report (photo → location
→ category → the category's questions → ✅ 提交, each step answering the bot's prompt); again a burst and a
report; then bursts until it has sent its quota of updates. What it expects is recorded for the checks: the
order of its finder answers, the report numbers it was told ("已收到，编号 SP-…").
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from bot.standin.server import StandIn
from tests.reporting import jpeg
from tests.riderchat import ACK, action_of, answer_data, bot_messages_after, category_data, community_point, newest_seen

FINDER = "📍 离你最近的驿站"


@dataclass
class Spot:
    """A station whose own location makes it the first answer of the finder: its name identifies the answer."""

    name: str
    lat: float
    lon: float


@dataclass
class Rider:
    telegram: StandIn
    user_id: int
    spots: list[Spot]
    rng: random.Random
    updates: int = 20  # the quota of updates this rider sends
    step_timeout: float = 90.0  # a kill costs a retry through nginx and a restart (slow on a loaded machine)
    sent: int = 0
    acks: list[str] = field(default_factory=list)
    bursts: list[list[str]] = field(default_factory=list)  # the station names asked, in the order sent
    seen_id: int = 0
    update_ids: list[int] = field(default_factory=list)  # of every update this rider caused, in order

    def _send(self, **kwargs: Any) -> None:
        self.telegram.inject_message(self.user_id, first_name="骑手", **kwargs)
        self.update_ids.append(self.telegram._next_update_id - 1)
        self.sent += 1

    def _tap(self, message: dict, data: str) -> None:
        self.telegram.inject_callback(self.user_id, message["message_id"], data)
        self.update_ids.append(self.telegram._next_update_id - 1)
        self.sent += 1

    async def _wait(self, predicate: Any) -> Any:
        """Poll the chat (cheaply, bounded) until `predicate(new messages)` is truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        while True:
            fresh = bot_messages_after(self.telegram, self.user_id, self.seen_id)
            result = predicate(fresh)
            if result:
                return result
            if loop.time() > deadline:
                tail = [m.get("text", m.get("caption", ""))[:60] for m in fresh[-4:]]
                raise AssertionError(f"rider {self.user_id}: no expected answer in {self.step_timeout:g}s; {tail}")
            await asyncio.sleep(0.1)

    async def run(self) -> None:
        self._send(text="/start")
        await self._wait(lambda fresh: fresh)
        self._mark()
        for round_no in range(2):
            await self.burst(3)
            await self.report(round_no)
        while self.sent < self.updates:
            await self.burst(min(3, self.updates - self.sent))

    def _mark(self) -> None:
        self.seen_id = newest_seen(self.telegram, self.user_id, self.seen_id)

    async def burst(self, n: int) -> None:
        """n locations at once; waits until n finder answers came (their order is checked at the end)."""
        spots = self.rng.sample(self.spots, n)
        self.bursts.append([s.name for s in spots])
        for spot in spots:
            self._send(location=(spot.lat, spot.lon))
        await self._wait(lambda fresh: sum(FINDER in (m.get("text") or "") for m in fresh) >= n)
        self._mark()

    async def report(self, round_no: int) -> None:
        colour = (self.rng.randrange(256), self.rng.randrange(256), self.rng.randrange(256))
        self._send(photo=jpeg(colour, (32, 24)), caption=f"scale {self.user_id}-{round_no}")
        for _ in range(20):
            prompt = await self._wait(self._prompt)
            self._mark()
            action = action_of(prompt)
            if action == "done":
                self.acks.append(ACK.search(prompt["text"]).group(1))
                return
            if action == "photo":
                self._send(photo=jpeg(colour, (32, 24)))
            elif action == "location":
                self._send(location=community_point(self.rng))
            elif action == "answer":
                data = answer_data(prompt)
                if data is not None:
                    self._tap(prompt, data)
                else:
                    self._send(text="1")
            elif action == "category":
                self._tap(prompt, category_data(prompt, self.rng))
            else:  # ok / new / skip / submit
                self._tap(prompt, f"rd:{action}")
        raise AssertionError(f"rider {self.user_id} could not file a report")

    @staticmethod
    def _prompt(fresh: list[dict]) -> dict | None:
        for message in reversed(fresh):
            if action_of(message) is not None:
                return message
        return None


def finder_answers(telegram: StandIn, chat_id: int) -> list[str]:
    """The finder answers in a chat, in the order the chat shows them: each one's first station (its 2nd line)."""
    answers = []
    for message in telegram.bot_messages(chat_id):
        text = message.get("text") or ""
        if text.startswith(FINDER):
            lines = text.split("\n")
            answers.append(lines[1] if len(lines) > 1 else "")
    return answers
