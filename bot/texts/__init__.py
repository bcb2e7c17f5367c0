"""Every user-facing text, in one place: zh-CN first, English second.

Handlers and services ask for a text by key; nothing user-facing is written inline elsewhere, so a
translation is a change to one file and a missing key is caught by the test that compares catalogues.
"""

from __future__ import annotations

from bot.texts.console_en import TEXTS as _EN_CONSOLE
from bot.texts.console_zh_CN import TEXTS as _ZH_CONSOLE
from bot.texts.en import TEXTS as _EN_MAIN
from bot.texts.keepers_en import TEXTS as _EN_KEEPERS
from bot.texts.keepers_zh_CN import TEXTS as _ZH_KEEPERS
from bot.texts.ops_en import TEXTS as _EN_OPS
from bot.texts.ops_zh_CN import TEXTS as _ZH_OPS
from bot.texts.points_en import TEXTS as _EN_POINTS
from bot.texts.points_zh_CN import TEXTS as _ZH_POINTS
from bot.texts.questions_en import TEXTS as _EN_QUESTIONS
from bot.texts.questions_zh_CN import TEXTS as _ZH_QUESTIONS
from bot.texts.reports_en import TEXTS as _EN_REPORTS
from bot.texts.reports_zh_CN import TEXTS as _ZH_REPORTS
from bot.texts.schedule_en import TEXTS as _EN_SCHEDULE
from bot.texts.schedule_zh_CN import TEXTS as _ZH_SCHEDULE
from bot.texts.security_en import TEXTS as _EN_SECURITY
from bot.texts.security_zh_CN import TEXTS as _ZH_SECURITY
from bot.texts.sharing_en import TEXTS as _EN_SHARING
from bot.texts.sharing_zh_CN import TEXTS as _ZH_SHARING
from bot.texts.store_en import TEXTS as _EN_STORE
from bot.texts.store_zh_CN import TEXTS as _ZH_STORE
from bot.texts.ux_en import TEXTS as _EN_UX
from bot.texts.ux_zh_CN import TEXTS as _ZH_UX
from bot.texts.zh_CN import TEXTS as _ZH_MAIN

_ZH = {
    **_ZH_MAIN,
    **_ZH_REPORTS,
    **_ZH_SCHEDULE,
    **_ZH_KEEPERS,
    **_ZH_QUESTIONS,
    **_ZH_UX,
    **_ZH_POINTS,
    **_ZH_OPS,
    **_ZH_CONSOLE,
    **_ZH_STORE,
    **_ZH_SECURITY,
    **_ZH_SHARING,
}
_EN = {
    **_EN_MAIN,
    **_EN_REPORTS,
    **_EN_SCHEDULE,
    **_EN_KEEPERS,
    **_EN_QUESTIONS,
    **_EN_UX,
    **_EN_POINTS,
    **_EN_OPS,
    **_EN_CONSOLE,
    **_EN_STORE,
    **_EN_SECURITY,
    **_EN_SHARING,
}

DEFAULT_LANG = "zh-CN"
LANGS: dict[str, dict[str, str]] = {"zh-CN": _ZH, "en": _EN}


def normalise_lang(code: str | None) -> str:
    """Map a client's language code to one we speak; anything unknown gets the default (zh-CN)."""
    if code and code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG


def t(lang: str, key: str, **params: object) -> str:
    catalogue = LANGS.get(lang, _ZH)
    template = catalogue.get(key) or _ZH[key]
    return template.format(**params) if params else template


def all_labels(key: str) -> set[str]:
    """The same text in every language: a reply-keyboard tap arrives as text in whichever language was shown."""
    return {catalogue[key] for catalogue in LANGS.values()}
