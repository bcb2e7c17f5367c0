"""What riders type that is not a place name: "充电", "附近有厕所吗", "你好", "谢谢".

A rider on an e-bike types two characters, not a query language: the words of our amenity vocabulary (and a
few colloquial ones) become the matching filter around where the rider is; greetings and thanks get a friendly
answer instead of "没有找到「你好」".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.places.search import normalise
from bot.places.vocab import AMENITIES

# Colloquial words riders use beyond the vocabulary's labels and aliases.
_EXTRA = {
    "换电": "charging",
    "换电池": "charging",
    "电瓶": "charging",
    "没电": "charging",
    "上厕所": "toilet",
    "厕": "toilet",
    "水": "water",
    "喝水": "water",
    "热饭": "microwave",
    "热一下饭": "microwave",
    "歇": "rest",
    "歇一下": "rest",
    "休息一下": "rest",
    "坐一下": "rest",
}
# Words around the one that matters: "附近有厕所吗", "哪里可以充电", "我想喝水".
_FILLER = re.compile(
    r"(附近|周边|哪里|哪儿|那里|在哪里?|有没有|有无|可以|能不能|能|我想|想要|想|我要|要|去|找|一下|的|地方|吗|呢|么|吧|请问|有|"
    r"near ?by|nearby|near|where|is there|any|a |an |i need|need|find)"
)
_GREETINGS = {normalise(w) for w in ("你好", "您好", "嗨", "哈喽", "哈啰", "在吗", "在不在", "hi", "hello", "hey")}
_THANKS = {normalise(w) for w in ("谢谢", "谢谢你", "多谢", "谢了", "感谢", "辛苦了", "thanks", "thank you", "thx")}


def _amenity_words() -> dict[str, str]:
    words: dict[str, str] = {}
    for term in AMENITIES:
        for word in (term.zh, term.en, *term.aliases):
            words.setdefault(normalise(word), term.token)
    for word, token in _EXTRA.items():
        words.setdefault(normalise(word), token)
    return words


_AMENITY_WORDS = _amenity_words()


@dataclass(frozen=True)
class Intent:
    kind: str  # "greeting" | "thanks" | "amenity"
    amenities: tuple[str, ...] = ()


def understand(text: str) -> Intent | None:
    """The intent of a short message, or None (then it is a place name to look up)."""
    whole = normalise(text)
    if not whole or len(whole) > 20:
        return None
    if whole in _GREETINGS:
        return Intent("greeting")
    if whole in _THANKS:
        return Intent("thanks")
    bare = _FILLER.sub(" ", text.lower())
    parts = [normalise(p) for p in re.split(r"[和跟与及、,，+&/\s]|还有|and", bare)]
    tokens = [_AMENITY_WORDS.get(p) for p in parts if p]
    if tokens and all(tokens):
        return Intent("amenity", tuple(dict.fromkeys(t for t in tokens if t)))
    return None
