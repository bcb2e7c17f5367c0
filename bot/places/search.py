"""Finding places by what riders type: partial names, aliases, traditional characters, Latin spellings.

Riders type fast and loosely ("米兰", "綠城深藍", "xuzhou"), so matching works on a normalised form (NFKC,
traditional→simplified, case-folded, spaces and punctuation removed) and falls back from exact to partial to
"most of the characters" matches. An inverted index on characters keeps it from scoring every place.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from opencc import OpenCC

from bot.places.model import Place

_T2S = OpenCC("t2s")
MAX_QUERY = 100


def _keep(text: str) -> str:
    return "".join(ch for ch in text.casefold() if unicodedata.category(ch)[0] in "LN")


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    return _keep(_T2S.convert(unicodedata.normalize("NFKC", text or "")))


def normalise_many(texts: list[str]) -> list[str]:
    """The same as `normalise` for each text, with one OpenCC pass for all: at 100k places, per-text
    conversion dominated start-up."""
    joined = "\n".join(unicodedata.normalize("NFKC", t or "").replace("\n", " ") for t in texts)
    converted = _T2S.convert(joined).split("\n") if texts else []
    return [_keep(c) for c in converted]


@dataclass(frozen=True)
class Match:
    place: Place
    score: float


class PlaceSearch:
    def __init__(self, places: Sequence[Place]) -> None:
        self._places = list(places)
        self._names: list[str] = []
        self._aliases: list[tuple[str, ...]] = []
        self._others: list[str] = []
        postings: dict[str, set[int]] = {}
        texts: list[str] = []
        for p in self._places:
            texts += [p.name, " ".join((p.city, p.district, p.address)), *p.aliases]
        flat = iter(normalise_many(texts))
        for i, p in enumerate(self._places):
            name, others = next(flat), next(flat)
            aliases = tuple(next(flat) for _ in p.aliases)
            self._names.append(name)
            self._aliases.append(aliases)
            self._others.append(others)
            for ch in set(name + "".join(aliases) + others):
                postings.setdefault(ch, set()).add(i)
        self._postings = postings

    def search(self, query: str, limit: int = 8) -> list[Match]:
        q = normalise(query[:MAX_QUERY])
        if not q:
            return []
        chars = set(q)
        need = max(1, math.ceil(len(chars) * 0.7))
        hits: Counter[int] = Counter()
        for ch in chars:
            for i in self._postings.get(ch, ()):
                hits[i] += 1
        scored = []
        for i, n in hits.items():
            if n < need:
                continue
            score = self._score(i, q, n / len(chars))
            if score > 0:
                scored.append(Match(self._places[i], score))
        scored.sort(key=lambda m: (-m.score, m.place.name, m.place.id))
        return scored[:limit]

    def _score(self, i: int, q: str, overlap: float) -> float:
        name, aliases, others = self._names[i], self._aliases[i], self._others[i]
        if q == name:
            return 100.0
        if q in aliases:
            return 95.0
        if name.startswith(q):
            return 85.0 + 10 * len(q) / max(len(name), 1)
        if q in name:
            return 75.0 + 10 * len(q) / max(len(name), 1)
        if any(q in a for a in aliases):
            return 70.0
        if q in others:
            return 50.0
        # "Most of the characters" suits Chinese, where each character carries meaning; Latin letters
        # would match nearly any English alias, so Latin queries need a real substring match above.
        if len(q) >= 2 and overlap >= 0.7 and any("\u4e00" <= ch <= "\u9fff" for ch in q):
            return 40.0 * overlap
        return 0.0
