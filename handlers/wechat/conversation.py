"""What a WeChat message means, as calls on the core services: the WeChat twin of handlers/start.py, search.py,
finder.py, people.py and reports.py. Every answer is a list of channel-neutral messages; the door decides
whether it goes back in the HTTP response or through the outbox.

WeChat has no slash-command menu and no reply keyboard, so commands are words (开始, 附近驿站, 随手拍, …, in
every language we speak, from the text catalogues) and the custom menu's CLICK keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot import observe
from bot.console.auth import SignInError
from bot.geo.coords import gcj02_to_wgs84
from bot.keepers import actions as keeper_actions
from bot.outbox import messages as out
from bot.outbox.messages import Message
from bot.people.invites import FAILURE_WINDOW, InviteError
from bot.places.search import MAX_QUERY
from bot.presenters.places import nav_text, nearest_text, place_text, scope_text
from bot.reports import actions
from bot.reports.service import Reply
from bot.services.container import Services
from bot.services.finder import SCOPES
from bot.services.intents import understand
from bot.store.users import User
from bot.texts import LANGS, all_labels, t
from handlers.wechat.api import MediaTooBig, WeChatApi, WeChatApiError

log = logging.getLogger(__name__)

CHANNEL = "wechat"
PLACE_PREFIX = "wp:"  # our own msgmenu option: a place picked from a list of search matches
MAX_CHOICES = 8
STATION_KINDS = SCOPES["stations"] or frozenset()

# The custom menu's CLICK keys (published by `rider-bot wechat menu`).
NEARBY_STATIONS, FRIENDLY, REPORT, MY_REPORTS = "NEARBY_STATIONS", "FRIENDLY", "REPORT", "MY_REPORTS"
CLICK_KEYS = (NEARBY_STATIONS, FRIENDLY, REPORT, MY_REPORTS)

_COMMANDS = ("help", "stations", "friendly", "report", "my_reports", "points", "cancel", "lang", "use_last",
             "queue", "whoami", "console")  # fmt: skip
_SLASH = {"/start": "help", "/help": "help", "/report": "report", "/myreports": "my_reports", "/points": "points",
          "/cancel": "cancel", "/lang": "lang", "/queue": "queue", "/whoami": "whoami",
          "/console": "console"}  # fmt: skip
_KEYBOARD = {"kb.help": "help", "kb.stations": "stations", "kb.friendly": "friendly", "kb.report": "report",
             "draft.cancel": "cancel", "draft.use_last": "use_last"}  # fmt: skip


def _command_words() -> dict[str, str]:
    words: dict[str, str] = dict(_SLASH)
    for command in _COMMANDS:
        for catalogue in LANGS.values():
            for word in catalogue[f"wechat.cmd.{command}"].split("|"):
                if word.strip():
                    words[word.strip().casefold()] = command
    for key, command in _KEYBOARD.items():  # what Telegram users know from the keyboard works here too
        for label in all_labels(key):
            words[label.casefold()] = command
    return words


COMMAND_WORDS = _command_words()
JOIN_WORDS = {"/join"} | {
    w.strip().casefold() for c in LANGS.values() for w in c["wechat.cmd.join"].split("|") if w.strip()
}


MODERATION_WORDS = {"/hide", "/hidephoto", "/ban", "/unban"}


@dataclass(frozen=True)
class Inbound:
    """One WeChat message or event, reduced to what we use (parsed by wechatpy in the door)."""

    openid: str
    kind: str  # text | image | location | event | other
    text: str = ""
    menu_id: str = ""  # bizmsgmenuid: the msgmenu option tapped
    media_id: str = ""
    lat: str = ""
    lon: str = ""
    event: str = ""  # subscribe | unsubscribe | click | location | …
    key: str = ""  # EventKey


def reply_messages(reply: Reply) -> list[Message]:
    """A core reply as messages: a button's alert (a toast on Telegram) becomes a text when nothing else is said."""
    if reply.messages:
        return list(reply.messages)
    return [out.text(reply.alert)] if reply.alert else []


class Conversation:
    def __init__(self, services: Services, api: WeChatApi | None) -> None:
        self.services = services
        self.api = api

    async def handle(self, user: User, inbound: Inbound) -> list[Message]:
        if inbound.kind == "text":
            if inbound.menu_id:
                return await self.on_option(user, inbound.menu_id)
            return await self.on_text(user, inbound.text)
        if inbound.kind == "location":
            return await self.on_location(user, inbound.lat, inbound.lon)
        if inbound.kind == "image":
            return await self.on_image(user, inbound.media_id)
        if inbound.kind == "event":
            return await self.on_event(user, inbound)
        return [out.text(t(user.lang, "wechat.unsupported"))]

    # ------------------------------------------------------------------ events

    async def on_event(self, user: User, inbound: Inbound) -> list[Message]:
        lang = user.lang
        if inbound.event in {"subscribe", "subscribe_scan"}:
            return [out.text(t(lang, "wechat.welcome"))]
        if inbound.event == "click":
            return await self.on_click(user, inbound.key)
        if inbound.event == "location":
            # The periodic LOCATION event (when the user allowed it) is WGS-84: remember it, say nothing.
            try:
                lat, lon = float(inbound.lat), float(inbound.lon)
            except ValueError:
                return []
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                await self.services.users.remember_location(user, lat, lon)
            return []
        return []  # unsubscribe, VIEW, scans…: nothing to say

    async def on_click(self, user: User, key: str) -> list[Message]:
        if key == NEARBY_STATIONS:
            return self.nearest_from_last(user, "stations")
        if key == FRIENDLY:
            return self.nearest_from_last(user, "friendly")
        if key == REPORT:
            return reply_messages(await self.services.reports.begin(user))
        if key == MY_REPORTS:
            return reply_messages(await self.services.reports.my_reports(user))
        return [out.text(t(user.lang, "wechat.help"))]

    # ------------------------------------------------------------------ text

    async def on_text(self, user: User, text: str) -> list[Message]:
        text = text.strip()
        lang = user.lang
        services = self.services
        command = COMMAND_WORDS.get(text.casefold())
        if command is not None:
            return await self.on_command(user, command)
        first, _, rest = text.partition(" ")
        if first.casefold() in JOIN_WORDS:
            return await self.join(user, rest)
        if first.casefold() in MODERATION_WORDS:  # /hide, /hidephoto, /ban, /unban: the core checks who may
            return [out.text(await services.reports.moderation.command(user, first.casefold()[1:], rest))]
        if first.startswith("/"):  # keepers' commands, /redeem CODE, /suggest (bot/keepers/stations.py)
            ours = await services.stations.command(user, first[1:].casefold(), rest.split())
            if ours is not None:
                return reply_messages(ours)
        pending = await services.text_answer(user, text)
        if pending is not None:  # an answer the core asked for (a report's words, a worker's reason)
            return reply_messages(pending)
        intent = understand(text)
        if intent is not None and intent.kind == "amenity":  # "充电", "附近有厕所吗": the filter around the rider
            return self.nearest_from_last(user, "stations", "+".join(intent.amenities[:3]))
        if intent is not None:  # 你好 / 谢谢
            return [out.text(t(lang, "ux.hello" if intent.kind == "greeting" else "ux.thanks"))]
        near = (user.last_lat, user.last_lon) if user.last_lat is not None and user.last_lon is not None else None
        answer = await services.finder.search(text, near=near)
        if answer.status == "too_long":
            return [out.text(t(lang, "search.too_long", max=MAX_QUERY))]
        if answer.status == "city" and answer.geocoded:
            city, lat, lon = answer.geocoded
            await services.users.remember_location(user, lat, lon)
            nearest = services.finder.nearest(lat, lon)
            head = t(lang, "ux.city_head", city=city, scope=scope_text(lang, nearest.scope))
            return [out.text(head + "\n" + self._nearest_body(lang, nearest).split("\n", 1)[-1])]
        if answer.status == "unique":
            return [self.place_card(lang, answer.matches[0].id)]
        if answer.status == "choose":
            matches = answer.matches[:MAX_CHOICES]
            head = t(lang, "search.choose", q=answer.query[:30])
            if len(answer.matches) > MAX_CHOICES:
                head += "\n" + t(lang, "wechat.choose_more", n=len(answer.matches) - MAX_CHOICES)
            buttons = [[out.button(p.name[:40], f"{PLACE_PREFIX}{p.id}")] for p in matches]
            return [out.text(head, buttons)]
        if answer.status == "geocoded" and answer.geocoded:
            name, lat, lon = answer.geocoded
            await services.users.remember_location(user, lat, lon)
            nearest = services.finder.nearest(lat, lon)
            head = t(lang, "search.geocoded", name=name[:80], scope=scope_text(lang, nearest.scope))
            return [out.text(head + "\n\n" + self._nearest_body(lang, nearest))]
        return [out.text(t(lang, "search.none", q=answer.query[:30]))]

    async def on_command(self, user: User, command: str) -> list[Message]:
        services, lang = self.services, user.lang
        reports = services.reports
        if command == "help":
            return [out.text(t(lang, "wechat.help"))]
        if command in {"stations", "friendly"}:
            return self.nearest_from_last(user, command)
        if command == "report":
            return reply_messages(await reports.begin(user))
        if command == "my_reports":
            return reply_messages(await reports.my_reports(user))
        if command == "points":
            return reply_messages(await services.stations.points.show(user))
        if command == "cancel":
            return reply_messages(await reports.cancel(user, observe.step()))
        if command == "queue":
            return reply_messages(await reports.queue(user))
        if command == "whoami":
            return await self.whoami(user)
        if command == "console":
            return await self.console_link(user)
        if command == "use_last":
            pending = await services.text_answer(user, t(lang, "draft.use_last"))
            return reply_messages(pending) if pending is not None else [out.text(t(lang, "draft.nothing"))]
        new_lang = await services.users.toggle_lang(user, observe.step())  # "lang"
        return [out.text(t(new_lang, "lang.switched"))]

    async def join(self, user: User, code: str) -> list[Message]:
        lang = user.lang
        if not code.strip():
            return [out.text(t(lang, "join.usage"))]
        roles = self.services.roles
        try:
            role = await roles.invites.redeem(user, code)
        except InviteError as exc:
            minutes = int(FAILURE_WINDOW.total_seconds() // 60)
            return [out.text(t(lang, f"join.{exc.code}", minutes=minutes))]
        return [out.text(t(lang, "join.ok", role=await roles.describe(role, lang)))]

    async def console_link(self, user: User) -> list[Message]:
        """The web console's one-time sign-in link, as in the Telegram door (WeChat shows it as a text link)."""
        console = self.services.console
        if not console.base_url:
            return [out.text(t(user.lang, "console.not_configured"))]
        try:
            url = await console.link_for(user)
        except SignInError as exc:
            return [out.text(t(user.lang, f"console.{exc.code}"))]
        return [out.text(t(user.lang, "console.link", url=url), [[out.link(t(user.lang, "console.link_button"), url)]])]

    async def whoami(self, user: User) -> list[Message]:
        lang, roles = user.lang, self.services.roles
        held = await roles.roles_of(user)
        if not held:
            return [out.text(t(lang, "role.whoami_rider"))]
        lines = [t(lang, "role.whoami_line", role=await roles.describe(r, lang)) for r in held]
        return [out.text(t(lang, "role.whoami", lines="\n".join(lines)))]

    # ------------------------------------------------------------------ msgmenu options (our "buttons")

    async def on_option(self, user: User, data: str) -> list[Message]:
        """A tapped msgmenu option: its id is the button data we sent, trusted for nothing."""
        lang, reports = user.lang, self.services.reports
        if data.startswith(PLACE_PREFIX):
            place_id = data[len(PLACE_PREFIX) :]
            if self.services.finder.place(place_id) is None:
                return [out.text(t(lang, "callback.expired"))]
            return [self.place_card(lang, place_id)]
        if keeper_actions.parse(data) is not None:  # a station's, keeper's or reward's button
            return reply_messages(await self.services.stations.press(user, data))
        payload = actions.parse(data)
        if payload is None:
            await reports.refuse(user, None, data[:64], "malformed")
            return [out.text(t(lang, "callback.expired"))]
        if isinstance(payload, actions.DraftAction):
            reply = await reports.on_draft_button(user, payload)
        elif isinstance(payload, actions.WorkAction | actions.TargetChoice):
            reply = await reports.on_work_button(user, payload)
        elif isinstance(payload, actions.Rate):
            reply = await reports.rate(user, payload)
        elif isinstance(payload, actions.Reopen):
            reply = await reports.reopen(user, payload)
        elif isinstance(payload, actions.ModerationAction):
            reply = await reports.on_moderation_button(user, payload)
        elif isinstance(payload, actions.MeToo | actions.Resubmit | actions.Timeline):
            reply = await reports.rider_button(user, payload)
        else:
            reply = await reports.show(user, payload)
        for key in reply.queued:  # e.g. "已收到": an outbox row of the commit, sent now through the outbox's sender
            await self.services.send_now(key)
        return reply_messages(reply)

    # ------------------------------------------------------------------ places

    def place_card(self, lang: str, place_id: str) -> Message:
        finder = self.services.finder
        place = finder.place(place_id)
        assert place is not None
        card = place_text(lang, place, finder.open_state(place), now=finder.clock.now())
        card += "\n\n" + nav_text(lang, place)
        # ⚠️ 信息有误 on a station's card (an option makes it a customer-service message; other places' cards
        # stay a passive reply, which needs no quota)
        if place.kind not in STATION_KINDS or not keeper_actions.fits("f", "-", place.id):
            return out.text(card)
        return out.text(card, [[out.button(t(lang, "flag.btn"), keeper_actions.make("f", "-", place.id))]])

    def _nearest_body(self, lang: str, answer: Any) -> str:
        text = nearest_text(lang, answer)
        if answer.hits:
            text += "\n" + t(lang, "wechat.nearest_hint")
        return text

    def nearest_from_last(self, user: User, scope: str, amenity: str | None = None) -> list[Message]:
        if user.last_lat is None or user.last_lon is None:
            return [out.text(t(user.lang, "wechat.need_location"))]
        answer = self.services.finder.nearest(user.last_lat, user.last_lon, scope=scope, amenity=amenity)
        body = self._nearest_body(user.lang, answer)
        stale = self.services.reports.stale_location(user) if self.services.reports.stale_location else None
        # WeChat has no "use this location" button of ours: say where and when it was above the list, so an old
        # location is never reused silently, and sending a fresh one is one tap on "+" → 位置.
        return [out.text(stale + "\n\n" + body if stale else body)]

    async def on_location(self, user: User, x: str, y: str) -> list[Message]:
        """A location message: Location_X is the latitude, Location_Y the longitude, both GCJ-02 (Tencent maps).
        Converted to WGS-84 before anything else sees them: unconverted, the rider is 300–700 m off."""
        try:
            glat, glon = float(x), float(y)
        except ValueError:
            return [out.text(t(user.lang, "wechat.bad_location"))]
        if not (-90 <= glat <= 90 and -180 <= glon <= 180):
            return [out.text(t(user.lang, "wechat.bad_location"))]
        lat, lon = gcj02_to_wgs84(glat, glon)
        services = self.services
        await services.users.remember_location(user, lat, lon)
        pending = await services.location_answer(user, lat, lon)
        if pending is not None:  # where a suggested new place is, or the place of a report being written
            return reply_messages(pending)
        answer = services.finder.nearest(lat, lon)
        body = self._nearest_body(user.lang, answer)
        lines, hazard_buttons = await services.reports.hazard_lines(user, lat, lon) if answer.hits else ([], [])
        return [out.text("\n".join([body, *lines]), hazard_buttons or None)]

    # ------------------------------------------------------------------ images (随手拍)

    async def on_image(self, user: User, media_id: str) -> list[Message]:
        lang = user.lang
        photos = self.services.photos
        if self.api is None or not media_id:
            return [out.text(t(lang, "photo.download_failed"))]
        try:
            data = await self.api.media_get(media_id, photos.max_bytes)
        except MediaTooBig as exc:
            size = round(exc.size / 1024 / 1024, 1)
            return [out.text(t(lang, "photo.too_big", size=size, max=photos.max_bytes // 1024 // 1024))]
        except (WeChatApiError, httpx.HTTPError) as exc:
            log.warning("WeChat image download failed: %s", type(exc).__name__)
            return [out.text(t(lang, "photo.download_failed"))]
        return reply_messages(await self.services.photo_answer(user, data))
