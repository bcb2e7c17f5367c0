"""Locations in, nearest places out: one-off pins, live locations, the keyboard shortcuts and the buttons."""

from __future__ import annotations

import logging
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.presenters.places import amenity_label, nearest_text, place_text, venue_address
from bot.presenters.whereabouts import stale_text
from bot.services.finder import NearestAnswer, live_refresh_due
from bot.texts import t
from handlers.telegram import callback_data as cd
from handlers.telegram import render
from handlers.telegram.common import Who, answer_query, main_keyboard, who
from handlers.telegram.keyboards import filter_keyboard, nearest_keyboard, place_keyboard, venue_keyboard
from handlers.telegram.reports import send_reply

log = logging.getLogger(__name__)


async def _reply_nearest(message: Message, w: Who, answer: NearestAnswer, prefix: str = "") -> Message:
    text = (prefix + "\n\n" if prefix else "") + nearest_text(w.lang, answer)
    return await message.reply_text(text, reply_markup=nearest_keyboard(w.lang, answer))


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    location = message.location
    w = await who(update, context)
    await w.services.users.remember_location(w.user, location.latitude, location.longitude)
    pending = await w.services.location_answer(w.user, location.latitude, location.longitude)
    if pending is not None:  # where a suggested new place is, or the place of a report being written: not a search
        await send_reply(update, context, w, pending)
        return
    answer = w.services.finder.nearest(location.latitude, location.longitude)
    text = nearest_text(w.lang, answer)
    markup = nearest_keyboard(w.lang, answer)
    if answer.hits:  # open public hazards within 300 m, one line each, with 👍 我也遇到
        lines, hazard_buttons = await w.services.reports.hazard_lines(w.user, location.latitude, location.longitude)
        if lines:
            text += "\n" + "\n".join(lines)
            extra = render.inline_markup(hazard_buttons)
            rows = [*(markup.inline_keyboard if markup else ()), *(extra.inline_keyboard if extra else ())]
            markup = InlineKeyboardMarkup(rows)
    if location.live_period:
        text += "\n" + t(w.lang, "nearest.live")
    sent = await message.reply_text(text, reply_markup=markup)
    if location.live_period:
        context.user_data["live"] = (
            sent.message_id,
            location.latitude,
            location.longitude,
            w.services.clock.now().timestamp(),
        )


async def on_live_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    location = update.edited_message.location
    w = await who(update, context)
    await w.services.users.remember_location(w.user, location.latitude, location.longitude)
    live = context.user_data.get("live")
    now = w.services.clock.now().timestamp()
    if not live_refresh_due(live[1:] if live else None, location.latitude, location.longitude, now):
        return
    answer = w.services.finder.nearest(location.latitude, location.longitude)
    text = nearest_text(w.lang, answer) + "\n" + t(w.lang, "nearest.live")
    markup = nearest_keyboard(w.lang, answer)
    if live:
        try:
            await context.bot.edit_message_text(
                text, chat_id=update.effective_chat.id, message_id=live[0], reply_markup=markup
            )
            context.user_data["live"] = (live[0], location.latitude, location.longitude, now)
            return
        except BadRequest as exc:  # "message is not modified" or deleted: fall through to a fresh list
            if "not modified" in str(exc).lower():
                return
    sent = await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)
    context.user_data["live"] = (sent.message_id, location.latitude, location.longitude, now)


async def nearest_from_last(
    update: Update, context: ContextTypes.DEFAULT_TYPE, scope: str, amenity: str | None = None
) -> None:
    """Around the stored location — if it is fresh; an old one is described and confirmed, never reused silently."""
    w = await who(update, context)
    message = update.effective_message
    if w.user.last_lat is None or w.user.last_lon is None:
        if amenity:
            labels = "+".join(amenity_label(w.lang, a) for a in amenity.split("+"))
            text = t(w.lang, "ux.need_location_for", amenity=labels)
        else:
            text = t(w.lang, "need_location")
        await message.reply_text(text, reply_markup=main_keyboard(w.lang))
        return
    age = w.services.users.location_age(w.user)
    if age is not None and not w.services.users.location_fresh(w.user):
        text = stale_text(w.lang, w.services.finder, w.user, age, w.services.settings.tz)
        confirm = InlineKeyboardButton(t(w.lang, "ux.use_this"), callback_data=cd.page(scope, amenity))
        await message.reply_text(text, reply_markup=InlineKeyboardMarkup([[confirm]]))
        return
    answer = w.services.finder.nearest(w.user.last_lat, w.user.last_lon, scope=scope, amenity=amenity)
    await _reply_nearest(message, w, answer)


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    w = await who(update, context)
    payload = cd.parse(query.data)
    if payload is None:
        log.info("refused callback data %r from user %s", (query.data or "")[:80], w.user.id)
        await answer_query(query, t(w.lang, "callback.expired"), show_alert=True)
        return
    if isinstance(payload, cd.FilterMenu):
        await answer_query(query, t(w.lang, "filter.prompt", scope=t(w.lang, f"scope.{payload.scope}")))
        await _edit_or_send(update, context, None, filter_keyboard(w.lang, payload.scope, payload.amenity))
        return
    if isinstance(payload, cd.Page):
        if w.user.last_lat is None or w.user.last_lon is None:
            await answer_query(query, t(w.lang, "need_location"), show_alert=True)
            return
        answer = w.services.finder.nearest(
            w.user.last_lat,
            w.user.last_lon,
            scope=payload.scope,
            amenity=payload.amenity,
            offset=payload.offset,
        )
        await answer_query(query)
        await _edit_or_send(update, context, nearest_text(w.lang, answer), nearest_keyboard(w.lang, answer))
        return
    place = w.services.finder.place(payload.place_id)
    if place is None:
        await answer_query(query, t(w.lang, "callback.expired"), show_alert=True)
        return
    await answer_query(query)
    chat_id = update.effective_chat.id
    if payload.action == "venue":
        await context.bot.send_venue(
            chat_id,
            latitude=place.lat,
            longitude=place.lon,
            title=place.name,
            address=venue_address(w.lang, place),
            reply_markup=venue_keyboard(w.lang, place, payload.scope),
        )
    elif payload.action == "detail":
        state = w.services.finder.open_state(place)
        # No raw links in the text (a wall of %E5%BD%AD…): the 🧭 button opens the riding route, 📍 the pin
        text = place_text(w.lang, place, state, now=w.services.clock.now())
        await context.bot.send_message(chat_id, text, reply_markup=place_keyboard(w.lang, place, payload.scope))
        entrance = w.services.keepers.entrance_photo(w.lang, place)  # set by the station's keeper
        if entrance is not None:
            await render.send(context.bot, chat_id, entrance, w.services.photos, w.lang)
        await _send_route_map(context, chat_id, w, place.route_map)
    else:  # around: the rider picked a place as where they are
        await w.services.users.remember_location(w.user, place.lat, place.lon)
        answer = w.services.finder.nearest(place.lat, place.lon, scope=payload.scope)
        await context.bot.send_message(
            chat_id, nearest_text(w.lang, answer), reply_markup=nearest_keyboard(w.lang, answer)
        )


async def _send_route_map(context: ContextTypes.DEFAULT_TYPE, chat_id: int, w: Who, route_map: str) -> None:
    if not route_map:
        return
    if route_map.startswith("https://"):
        await context.bot.send_photo(chat_id, route_map, caption=t(w.lang, "place.route_map"))
        return
    path = Path(w.services.settings.stations_csv).parent / route_map
    if path.is_file():
        await context.bot.send_photo(chat_id, path.read_bytes(), caption=t(w.lang, "place.route_map"))
    else:
        log.warning("route map %s is missing", path)


async def _edit_or_send(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str | None,
    markup: InlineKeyboardMarkup | None,
) -> None:
    """Paging edits the list in place (fewer bubbles to scroll on a small screen); if it can't, send anew."""
    message = update.callback_query.message
    if isinstance(message, Message):
        try:
            if text is None:
                await message.edit_reply_markup(reply_markup=markup)
            else:
                await message.edit_text(text, reply_markup=markup)
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
    if text is not None:
        await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)
