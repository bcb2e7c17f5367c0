"""Inline keyboards for finder answers: one row per result, paging and filters below, big enough for a thumb."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.keepers import actions as keeper_actions
from bot.places.model import Place
from bot.places.vocab import AMENITIES, KINDS
from bot.presenters.places import amap_url
from bot.services.finder import NearestAnswer
from bot.texts import t
from handlers.telegram import callback_data as cd

FILTER_AMENITIES = (
    "charging",
    "water",
    "microwave",
    "toilet",
    "rest",
    "meal_discount",
    "aircon",
    "first_aid",
)


def _short(name: str, limit: int = 10) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def nearest_keyboard(lang: str, answer: NearestAnswer) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    for n, hit in enumerate(answer.hits, answer.offset + 1):
        rows.append(
            [
                InlineKeyboardButton(
                    f"{t(lang, 'btn.venue', n=n)} {_short(hit.place.name)}",
                    callback_data=cd.place_action("venue", hit.place.id, answer.scope),
                ),
                InlineKeyboardButton(t(lang, "btn.nav"), url=amap_url(hit.place)),
            ]
        )
    if answer.status in {"ok", "none_nearby", "no_more"}:
        controls = []
        if answer.has_more:
            controls.append(
                InlineKeyboardButton(
                    t(lang, "btn.more"),
                    callback_data=cd.page(answer.scope, answer.amenity, answer.offset + len(answer.hits)),
                )
            )
        if answer.amenity:
            controls.append(InlineKeyboardButton(t(lang, "btn.filter_clear"), callback_data=cd.page(answer.scope)))
        else:
            controls.append(InlineKeyboardButton(t(lang, "btn.filter"), callback_data=cd.filter_menu(answer.scope)))
        rows.append(controls)
        other = "stations" if answer.scope == "friendly" else "friendly"
        rows.append([InlineKeyboardButton(t(lang, f"btn.{other}"), callback_data=cd.page(other))])
    return InlineKeyboardMarkup(rows) if rows else None


def filter_keyboard(lang: str, scope: str) -> InlineKeyboardMarkup:
    terms = [a for a in AMENITIES if a.token in FILTER_AMENITIES]
    buttons = [InlineKeyboardButton(f"{a.icon} {a.label(lang)}", callback_data=cd.page(scope, a.token)) for a in terms]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    # …or only one kind of place: just the hospitals, just the canteens
    kinds = [InlineKeyboardButton(f"{k.icon} {k.label(lang)}", callback_data=cd.page(k.token)) for k in KINDS]
    rows += [kinds[i : i + 3] for i in range(0, len(kinds), 3)]
    rows.append([InlineKeyboardButton(t(lang, "btn.filter_clear"), callback_data=cd.page(scope))])
    return InlineKeyboardMarkup(rows)


def venue_keyboard(lang: str, place: Place, scope: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "btn.nav"), url=amap_url(place)),
                InlineKeyboardButton(
                    t(lang, "btn.detail", n=""), callback_data=cd.place_action("detail", place.id, scope)
                ),
            ]
        ]
    )


def place_keyboard(lang: str, place: Place, scope: str = "stations") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "btn.venue", n=""), callback_data=cd.place_action("venue", place.id, scope)
                ),
                InlineKeyboardButton(t(lang, "btn.nav"), url=amap_url(place)),
            ],
            [InlineKeyboardButton(t(lang, "btn.nearby"), callback_data=cd.place_action("around", place.id, scope))],
            *_flag_row(lang, place),
        ]
    )


def _flag_row(lang: str, place: Place) -> list[list[InlineKeyboardButton]]:
    """⚠️ 信息有误 under a station's card: a rider's correction (bot/keepers/corrections.py)."""
    if not keeper_actions.fits("f", "-", place.id):
        return []
    return [[InlineKeyboardButton(t(lang, "flag.btn"), callback_data=keeper_actions.make("f", "-", place.id))]]


def choices_keyboard(places: list[Place]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(f"{p.name}（{p.city}{p.district}）", callback_data=cd.place_action("detail", p.id))]
            for p in places
        ]
    )
