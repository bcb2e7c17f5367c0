"""Inline-button payloads: short, parseable, and trusted for nothing.

Telegram caps callback data at 64 bytes and anyone can forge it, so a payload only names what to show
(a page, a place id); the location it applies to is read from our own store, never from the button.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.places.vocab import AMENITY_BY_TOKEN, KIND_BY_TOKEN
from bot.services.finder import SCOPES

MAX_OFFSET = 500


@dataclass(frozen=True)
class Page:
    scope: str
    amenity: str | None
    offset: int


@dataclass(frozen=True)
class PlaceAction:
    action: str  # "venue" | "detail" | "around"
    place_id: str
    scope: str = "stations"


@dataclass(frozen=True)
class FilterMenu:
    scope: str
    amenity: str | None = None  # the filters already on, so the menu's toggles start from them


Payload = Page | PlaceAction | FilterMenu
_ACTIONS = {"v": "venue", "d": "detail", "a": "around"}
_CODES = {v: k for k, v in _ACTIONS.items()}


def page(scope: str, amenity: str | None = None, offset: int = 0) -> str:
    return f"n:{scope}:{amenity or '-'}:{offset}"


def place_action(action: str, place_id: str, scope: str = "stations") -> str:
    return f"{_CODES[action]}:{scope[0]}:{place_id}"


MAX_FILTERS = 3


def combine(amenities: tuple[str, ...] | list[str]) -> str | None:
    """Several filters as one payload field, in the vocabulary's order ("charging+toilet"), at most three."""
    order = list(AMENITY_BY_TOKEN)
    chosen = sorted(set(amenities), key=order.index)[:MAX_FILTERS]
    return "+".join(chosen) or None


def toggle(current: str | None, token: str) -> str | None:
    """The filters after one tap on `token`: on if it was off, off if it was on."""
    now = set(current.split("+")) if current else set()
    return combine(tuple(now ^ {token}))


def filter_menu(scope: str, amenity: str | None = None) -> str:
    return f"f:{scope}:{amenity}" if amenity else f"f:{scope}"


def _amenities(field: str) -> str | bool | None:
    """The filter field, canonical; False when it names anything we did not make."""
    if field == "-":
        return None
    tokens = field.split("+")
    if len(tokens) > MAX_FILTERS or any(t not in AMENITY_BY_TOKEN for t in tokens) or len(set(tokens)) != len(tokens):
        return False
    return combine(tokens)


def _scope(code: str) -> str | None:
    """A scope group (stations / friendly / all, or their first letter) or a single kind (hospital, …)."""
    for scope in SCOPES:
        if code in (scope, scope[0]):
            return scope
    return code if code in KIND_BY_TOKEN else None


def parse(data: str | None) -> Payload | None:
    """None for anything we did not make (old formats, forgeries, garbage)."""
    if not data or len(data.encode()) > 64:
        return None
    parts = data.split(":")
    kind = parts[0]
    if kind == "n" and len(parts) == 4:
        scope = _scope(parts[1])
        amenity = _amenities(parts[2])
        if scope is None or amenity is False:
            return None
        if not parts[3].isdigit() or int(parts[3]) > MAX_OFFSET:
            return None
        return Page(scope, amenity or None, int(parts[3]))
    if kind in _ACTIONS and len(parts) == 3 and parts[2]:
        scope = _scope(parts[1])
        return PlaceAction(_ACTIONS[kind], parts[2], scope) if scope else None
    if kind == "f" and len(parts) in (2, 3):
        scope = _scope(parts[1])
        amenity = _amenities(parts[2]) if len(parts) == 3 else None
        return FilterMenu(scope, amenity) if scope and amenity is not False else None
    return None
