"""Typed text: the keyboard's shortcuts, or a place name to look up."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.places.search import MAX_QUERY
from bot.presenters.places import nearest_text, place_text, scope_text
from bot.services.intents import understand
from bot.texts import all_labels, t
from handlers.telegram.callback_data import combine
from handlers.telegram.common import main_keyboard, who
from handlers.telegram.finder import nearest_from_last
from handlers.telegram.keyboards import choices_keyboard, nearest_keyboard, place_keyboard
from handlers.telegram.reports import send_reply, start_report
from handlers.telegram.start import help_command

_STATIONS = all_labels("kb.stations")
_FRIENDLY = all_labels("kb.friendly")
_HELP = all_labels("kb.help")
_REPORT = all_labels("kb.report")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = (update.effective_message.text or "").strip()
    if text in _STATIONS:
        await nearest_from_last(update, context, "stations")
        return
    if text in _FRIENDLY:
        await nearest_from_last(update, context, "friendly")
        return
    if text in _HELP:
        await help_command(update, context)
        return
    if text in _REPORT:
        await start_report(update, context)
        return
    w = await who(update, context)
    pending = await w.services.text_answer(w.user, text)
    if pending is not None:  # an answer the core asked for (a report's words, a worker's reason)
        await send_reply(update, context, w, pending)
        return
    message = update.effective_message
    intent = understand(text)
    if intent is not None and intent.kind == "amenity":  # "充电", "附近有厕所吗": the filter around the rider
        await nearest_from_last(update, context, "stations", combine(intent.amenities))
        return
    if intent is not None:  # 你好 / 谢谢: a friendly word and the keyboard, not "没有找到「你好」"
        await message.reply_text(t(w.lang, f"ux.{'hello' if intent.kind == 'greeting' else 'thanks'}"),
                                 reply_markup=main_keyboard(w.lang))  # fmt: skip
        return
    near = (w.user.last_lat, w.user.last_lon) if w.user.last_lat is not None and w.user.last_lon is not None else None
    answer = await w.services.finder.search(text, near=near)
    if answer.status == "too_long":
        await message.reply_text(t(w.lang, "search.too_long", max=MAX_QUERY), reply_markup=main_keyboard(w.lang))
    elif answer.status == "unique":
        place = answer.matches[0]
        state = w.services.finder.open_state(place)
        await message.reply_text(
            place_text(w.lang, place, state, now=w.services.clock.now()), reply_markup=place_keyboard(w.lang, place)
        )
    elif answer.status == "choose":
        await message.reply_text(
            t(w.lang, "search.choose", q=answer.query[:30]), reply_markup=choices_keyboard(answer.matches)
        )
    elif answer.status == "city" and answer.geocoded:
        city, lat, lon = answer.geocoded
        await w.services.users.remember_location(w.user, lat, lon)  # paging and filters go on from the centre
        nearest = w.services.finder.nearest(lat, lon)
        head = t(w.lang, "ux.city_head", city=city, scope=scope_text(w.lang, nearest.scope))
        body = nearest_text(w.lang, nearest).split("\n", 1)[-1]
        await message.reply_text(head + "\n" + body, reply_markup=nearest_keyboard(w.lang, nearest))
    elif answer.status == "geocoded" and answer.geocoded:
        name, lat, lon = answer.geocoded
        await w.services.users.remember_location(w.user, lat, lon)
        nearest = w.services.finder.nearest(lat, lon)
        head = t(w.lang, "search.geocoded", name=name[:80], scope=scope_text(w.lang, nearest.scope))
        await message.reply_text(
            head + "\n\n" + nearest_text(w.lang, nearest), reply_markup=nearest_keyboard(w.lang, nearest)
        )
    else:
        await message.reply_text(t(w.lang, "search.none", q=answer.query[:30]), reply_markup=main_keyboard(w.lang))
