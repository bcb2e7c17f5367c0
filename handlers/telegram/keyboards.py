"""Inline keyboards for finder answers: one row per result, paging and filters below, big enough for a thumb."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.keepers import actions as keeper_actions
from bot.places.model import Place
from bot.places.vocab import AMENITIES, AMENITY_BY_TOKEN, KINDS
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


QUICK_FILTERS = ("charging", "water", "toilet")  # on the answer itself: one tap to add or drop each


def _short(name: str, limit: int = 10) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _toggles(lang: str, scope: str, current: str | None, tokens: tuple[str, ...]) -> list[InlineKeyboardButton]:
    on = set(current.split("+")) if current else set()
    buttons = []
    for token in tokens:
        term = AMENITY_BY_TOKEN[token]
        mark = "✅" if token in on else term.icon
        buttons.append(
            InlineKeyboardButton(f"{mark}{term.label(lang)}", callback_data=cd.page(scope, cd.toggle(current, token)))
        )
    return buttons


def nearest_keyboard(lang: str, answer: NearestAnswer) -> InlineKeyboardMarkup | None:
    """The lead's 🧭 route and card first, the rest by number, filters that toggle in one tap, paging both ways."""
    rows: list[list[InlineKeyboardButton]] = []
    numbered = list(enumerate(answer.hits, answer.offset + 1))
    if numbered and not answer.offset:
        _, lead = numbered.pop(0)
        rows.append(
            [
                InlineKeyboardButton(f"{t(lang, 'ux.route')} {_short(lead.place.name)}", url=amap_url(lead.place)),
                InlineKeyboardButton(
                    t(lang, "ux.details"), callback_data=cd.place_action("detail", lead.place.id, answer.scope)
                ),
            ]
        )
    if numbered:
        rows.append(
            [
                InlineKeyboardButton(f"ℹ️{n}", callback_data=cd.place_action("detail", hit.place.id, answer.scope))
                for n, hit in numbered
            ]
        )
    if answer.status in {"ok", "none_nearby", "no_more"}:
        if answer.scope != "friendly":
            rows.append(
                [
                    *_toggles(lang, answer.scope, answer.amenity, QUICK_FILTERS),
                    InlineKeyboardButton(
                        t(lang, "ux.more_filters"), callback_data=cd.filter_menu(answer.scope, answer.amenity)
                    ),
                ]
            )
        paging = []
        if answer.offset:
            back = max(0, answer.offset - answer.per_page)
            paging.append(
                InlineKeyboardButton(t(lang, "ux.prev"), callback_data=cd.page(answer.scope, answer.amenity, back))
            )
            paging.append(
                InlineKeyboardButton(t(lang, "ux.nearest"), callback_data=cd.page(answer.scope, answer.amenity))
            )
        if answer.has_more:
            paging.append(
                InlineKeyboardButton(
                    t(lang, "btn.more"),
                    callback_data=cd.page(answer.scope, answer.amenity, answer.offset + len(answer.hits)),
                )
            )
        other = "stations" if answer.scope == "friendly" else "friendly"
        paging.append(InlineKeyboardButton(t(lang, f"btn.{other}"), callback_data=cd.page(other)))
        rows.append(paging)
    return InlineKeyboardMarkup(rows) if rows else None


def filter_keyboard(lang: str, scope: str, current: str | None = None) -> InlineKeyboardMarkup:
    """Every filter as a toggle (✅ when on): each tap shows the list with that filter added or dropped."""
    terms = tuple(a.token for a in AMENITIES if a.token in FILTER_AMENITIES)
    buttons = _toggles(lang, scope if scope in ("stations", "all") else "stations", current, terms)
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
                InlineKeyboardButton(t(lang, "ux.route"), url=amap_url(place)),
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
                InlineKeyboardButton(t(lang, "ux.route"), url=amap_url(place)),
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
